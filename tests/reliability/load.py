"""Bounded load generation for the reliability suite: N client threads, each sending a fixed number of requests.

Each client cycles through the payload mix with ``http.client`` (keep-alive by default, or a new connection per
request), compares every 200 body with the expected bytes, and counts anything else as an error by kind. A run stops
at its request count or its deadline, whichever comes first, so a stuck server can never hang a test.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from reliability_helpers import ROW

ROWS_100 = [
    [4.3 + (i % 36) * 0.1, 2.0 + (i % 24) * 0.1, 1.0 + (i % 59) * 0.1, 0.1 + (i % 25) * 0.1] for i in range(100)
]
# The mix of issue 7: 1-row and 100-row predict, and predict_proba.
MIX = [
    ("predict-1", json.dumps({"data": [ROW]}).encode()),
    ("predict-100", json.dumps({"data": ROWS_100}).encode()),
    ("proba-1", json.dumps({"data": [ROW], "method": "predict_proba"}).encode()),
    ("proba-100", json.dumps({"data": ROWS_100, "method": "predict_proba"}).encode()),
]
HEADERS = {"Content-Type": "application/json"}


@dataclass
class LoadResult:
    """What a load run saw: requests sent, answers by status, failures by kind, wrong bodies, and the wall time."""

    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    wrong_bodies: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def errors(self) -> int:
        """Requests that did not end in a 200 with the expected body."""
        return self.sent - self.statuses[200] + self.wrong_bodies

    def summary(self) -> str:
        """One line with every figure, for the test output and the report."""
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (
            f"sent={self.sent} ok={self.statuses[200] - self.wrong_bodies} errors={self.errors} "
            f"statuses={dict(self.statuses)} failures={dict(self.failures)} wrong_bodies={self.wrong_bodies} "
            f"seconds={self.seconds:.1f} req/s={rate:.0f}"
        )


def expected_bodies(port: int) -> dict[str, bytes]:
    """The server's answer to each payload of the mix, taken once before a run (every later answer must match)."""
    bodies = {}
    for name, payload in MIX:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/score", payload, HEADERS)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise AssertionError(f"{name}: expected 200, got {response.status} {body[:200]!r}")
        bodies[name] = body
    return bodies


def run_load(
    port: int,
    *,
    clients: int,
    requests_per_client: int,
    expected: dict[str, bytes],
    deadline_s: float,
    keep_alive: bool = True,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Run ``clients`` threads of ``requests_per_client`` requests each; returns the counts when all have finished.

    A client stops early when ``stop`` is set, ``deadline_s`` has passed, or its connection is refused.
    """
    result = LoadResult()
    stop = stop or threading.Event()
    deadline = time.monotonic() + deadline_s

    def client(index: int) -> None:
        connection = None
        for i in range(requests_per_client):
            if stop.is_set() or time.monotonic() > deadline:
                break
            name, payload = MIX[(index + i) % len(MIX)]
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, body, failure = _one(connection, payload, keep_alive)
            if failure or not keep_alive:
                connection.close()
                connection = None
            with result.lock:
                result.sent += 1
                if failure:
                    result.failures[failure] += 1
                else:
                    result.statuses[status] += 1
                    if status == 200 and body != expected[name]:
                        result.wrong_bodies += 1
            if failure == "ConnectionRefusedError":
                break  # nothing listens any more (the server is stopping): the run is over for this client
        if connection is not None:
            connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 35)
    result.seconds = time.monotonic() - started
    return result


def _one(connection: http.client.HTTPConnection, payload: bytes, keep_alive: bool) -> tuple[int, bytes, str | None]:
    headers = HEADERS if keep_alive else {**HEADERS, "Connection": "close"}
    try:
        connection.request("POST", "/score", payload, headers)
        response = connection.getresponse()
        return response.status, response.read(), None
    except (OSError, http.client.HTTPException) as exc:
        return 0, b"", type(exc).__name__


class BackgroundLoad:
    """``run_load`` in a thread of its own, started at once, for tests that act on the server while it runs."""

    def __init__(self, port: int, **options) -> None:
        self._outcome: list[LoadResult] = []
        self._thread = threading.Thread(target=lambda: self._outcome.append(run_load(port, **options)))
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Waits up to ``timeout`` seconds for the run to finish."""
        self._thread.join(timeout)

    @property
    def result(self) -> LoadResult:
        """The finished run's counts. Raises AssertionError if the run has not finished."""
        if not self._outcome:
            raise AssertionError("the background load has not finished")
        return self._outcome[0]
