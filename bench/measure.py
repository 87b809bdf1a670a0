"""What one load run measured, and the Python load client (used for the one-request workload and when wrk is absent).

The Python client keeps one connection per thread; http.client reopens it by itself after a ``Connection: close``
response, which the reference server sends every time. Its own CPU use is measured so the report can show it.
"""

import http.client
import resource
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class LoadResult:
    """One measured run of ``requests`` identical POSTs. Latencies in ms; ``errors`` counts failed exchanges by kind."""

    client: str
    requests: int
    non200: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    client_cpu_s: float
    errors: dict[str, int] = field(default_factory=dict)
    first_non200: str = ""
    """Status and start of the body of the first answer that was not a 200, for the report."""

    @property
    def error_count(self) -> int:
        return self.non200 + sum(self.errors.values())

    def to_dict(self) -> dict:
        return asdict(self)


def _client_worker(host, port, path, body, count, deadline, latencies, statuses, errors, samples, lock):
    conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json"}
    mine, codes, failed = [], [], 0
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                body_text = response.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()  # the next request opens a fresh connection
                continue
            mine.append(time.perf_counter() - start)
            codes.append(response.status)
            if response.status != 200 and not samples:
                samples.append(f"{response.status} {body_text[:200]!r}")
    finally:
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)
            errors["read"] += failed


def run_python(url: str, path: str, body: bytes, total: int, connections: int, time_limit: float) -> LoadResult:
    """POST ``body`` ``total`` times over ``connections`` threads (one connection each), stopping at ``time_limit`` s.

    Raises:
        ValueError: ``total`` or ``connections`` is not a positive integer.
    """
    if total < 1 or connections < 1:
        raise ValueError(f"total and connections must be >= 1, got total={total}, connections={connections}")
    host, port = url.removeprefix("http://").split(":")
    shares = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    latencies, statuses, samples, errors, lock = [], [], [], {"read": 0, "timeout": 0}, threading.Lock()
    deadline = time.monotonic() + time_limit
    threads = [
        threading.Thread(
            target=_client_worker,
            args=(host, int(port), path, body, share, deadline, latencies, statuses, errors, samples, lock),
        )
        for share in shares
        if share
    ]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    done = len(statuses)
    if done + errors["read"] < total:
        errors["timeout"] = total - done - errors["read"]
    lat_ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return LoadResult(
        client="python",
        requests=done,
        non200=sum(1 for s in statuses if s != 200),
        duration_s=duration,
        p50_ms=float(np.percentile(lat_ms, 50)),
        p90_ms=float(np.percentile(lat_ms, 90)),
        p99_ms=float(np.percentile(lat_ms, 99)),
        client_cpu_s=(cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
        errors=errors,
        first_non200=samples[0] if samples else "",
    )
