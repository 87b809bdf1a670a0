"""Prometheus metrics for /metrics: requests by route/method/status, latency, in-flight requests, init() time.

With several gunicorn workers the values live in PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode,
set up by the launcher before any worker imports prometheus_client), so every scrape sums all workers.
"""

from __future__ import annotations

from pathlib import Path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The service's metrics, registered in a registry of their own (one per app, so tests can build many)."""

    def __init__(self, multiprocess_dir: Path | None) -> None:
        # Imported here, not at module level: prometheus_client picks its multiprocess mode when first imported, and
        # the launcher imports service.app before it sets PROMETHEUS_MULTIPROC_DIR.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self._multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "scoring_requests",
            "HTTP requests answered, by route, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scoring_request_duration_seconds",
            "Time from the request reaching the app to the response being built, by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "scoring_requests_in_flight",
            "Requests being handled right now.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.model_load = Gauge(
            "scoring_model_load_seconds",
            "Time the entry script's init() took (the longest over the workers).",
            multiprocess_mode="max",
            registry=self.registry,
        )
        # labels() validates and looks its child up under a lock on every call; the few label sets repeat.
        self._children: dict[tuple[str, str, int], tuple] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children.setdefault(
                key, (self.requests.labels(route, method, str(status)), self.latency.labels(route))
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every worker's metrics."""
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self._multiprocess_dir))
        return generate_latest(registry)
