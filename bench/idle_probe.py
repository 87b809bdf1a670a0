"""Issue 15's hostile-client probe: hold many idle, slow-header or slow-body connections to one of our workers on
127.0.0.1, and measure health and 1-row /score latency while they are held, when each slow connection is closed
(REQUEST_READ_TIMEOUT_S, 408), and the worker memory each idle connection costs.

Bounded: a fixed number of connections and requests per kind, every wait has a deadline, every socket is closed.
"""

from __future__ import annotations

import http.client
import resource
import selectors
import socket
import threading
import time
from dataclasses import asdict, dataclass

from bench.servers import RunningServer

KINDS = ("idle", "slow-header", "slow-body")
SCORE_BODY = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'
_FIRST_BYTES = {
    "idle": b"",
    "slow-header": b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "slow-body": b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4096\r\n\r\n" + SCORE_BODY[:10],
}


@dataclass
class ProbeResult:
    """One kind of hostile connection, held ``held`` at once."""

    kind: str
    held: int
    health_p99_ms: float
    score_p99_ms: float
    unloaded_score_p99_ms: float
    closed: int
    """How many of the held connections the server closed by the read deadline plus 2 s."""
    answered_408: int
    close_after_s_max: float | None
    """The latest close, in seconds after the connection's first byte (idle: after connecting)."""
    rss_per_connection_kb: float
    failures: int


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _latencies(port: int, method: str, path: str, body: bytes | None, count: int) -> tuple[list[float], int]:
    """``count`` requests on one keep-alive connection: their latencies in ms and how many did not get a 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body else {}
    latencies, failures = [], 0
    try:
        for _ in range(count):
            started = time.perf_counter()
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                response.read()
                failures += response.status != 200
            except (OSError, http.client.HTTPException):
                failures += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        connection.close()
    return latencies, failures


def _trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """One more byte on every slow connection each second (a slow-loris client), until ``stop``."""
    while not stop.wait(1.0):
        for sock in sockets:
            try:
                sock.send(b"a", socket.MSG_DONTWAIT)
            except OSError:
                pass


def _wait_closed(sockets: list[socket.socket], first_byte: float, deadline: float) -> tuple[int, int, float | None]:
    """Read every socket until the server closes it or ``deadline``: (closed, answered 408, latest close after
    ``first_byte``)."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, bytearray())
    closed = answered = 0
    latest = None
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(max(0.0, min(1.0, deadline - time.monotonic()))):
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                key.data.extend(chunk)
                continue
            selector.unregister(key.fileobj)
            closed += 1
            answered += key.data.startswith(b"HTTP/1.1 408")
            latest = max(latest or 0.0, time.monotonic() - first_byte)
    selector.close()
    return closed, answered, latest


def probe(server: RunningServer, read_timeout_s: float, connections: int, samples: int) -> list[dict]:
    """Run every kind against ``server`` (which must serve with REQUEST_READ_TIMEOUT_S=``read_timeout_s``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * connections + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    unloaded, _ = _latencies(server.port, "POST", "/score", SCORE_BODY, samples)
    results = []
    for kind in KINDS:
        rss_before = server.memory()["total_rss_mb"]
        sockets = []
        try:
            for _ in range(connections):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                if _FIRST_BYTES[kind]:
                    sock.sendall(_FIRST_BYTES[kind])
                sockets.append(sock)
            first_byte = time.monotonic()
            time.sleep(0.5)  # the server has accepted and read them all
            rss_after = server.memory()["total_rss_mb"]
            stop = threading.Event()
            trickler = threading.Thread(target=_trickle, args=(sockets, stop), daemon=True)
            if kind != "idle":
                trickler.start()
            health, health_failures = _latencies(server.port, "GET", "/health/live", None, samples)
            score, score_failures = _latencies(server.port, "POST", "/score", SCORE_BODY, samples)
            stop.set()
            if trickler.is_alive():
                trickler.join(5)
            closed, answered, latest = _wait_closed(sockets, first_byte, first_byte + read_timeout_s + 2.0)
        finally:
            for sock in sockets:
                sock.close()
        results.append(
            asdict(
                ProbeResult(
                    kind=kind,
                    held=connections,
                    health_p99_ms=_p99(health),
                    score_p99_ms=_p99(score),
                    unloaded_score_p99_ms=_p99(unloaded),
                    closed=closed,
                    answered_408=answered,
                    close_after_s_max=latest,
                    rss_per_connection_kb=(rss_after - rss_before) * 1024 / connections,
                    failures=health_failures + score_failures,
                )
            )
        )
    return results


def evaluate(results: list[dict], read_timeout_s: float) -> list[dict]:
    """The issue's targets for the probe, one row per kind and target."""
    targets = []
    for r in results:
        kind = r["kind"]
        slow = kind != "idle"
        on_time = r["closed"] == r["held"] and (r["close_after_s_max"] or 0) <= read_timeout_s + 1.0
        targets += [
            {
                "target": f"{r['held']} {kind} connections held: health p99 ≤ 50 ms",
                "key": f"probe {kind} health_p99_ms",
                "threshold": 50.0,
                "value": r["health_p99_ms"],
                "met": r["health_p99_ms"] <= 50.0 and r["failures"] == 0,
            },
            {
                "target": f"{r['held']} {kind} connections held: 1-row /score p99 ≤ 2× unloaded "
                f"({r['unloaded_score_p99_ms']:.2f} ms)",
                "key": f"probe {kind} score_p99_ratio",
                "threshold": 2.0,
                "value": r["score_p99_ms"] / r["unloaded_score_p99_ms"],
                "met": r["score_p99_ms"] <= 2 * r["unloaded_score_p99_ms"] and r["failures"] == 0,
            },
            {
                "target": f"every {kind} connection closed at the read deadline ({read_timeout_s:g} s)"
                + (", answered 408" if slow else ""),
                "key": f"probe {kind} closed",
                "threshold": float(r["held"]),
                "value": float(r["answered_408"] if slow else r["closed"]),
                "met": on_time and (not slow or r["answered_408"] == r["held"]),
            },
        ]
    return targets


def markdown(results: list[dict]) -> list[str]:
    """The probe's table."""
    lines = [
        "",
        "| held connections | health p99 ms | 1-row /score p99 ms (unloaded) | closed / 408 | latest close s "
        "| worker RSS per connection KB | failed requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        latest = "–" if r["close_after_s_max"] is None else f"{r['close_after_s_max']:.1f}"
        lines.append(
            f"| {r['held']} {r['kind']} | {r['health_p99_ms']:.2f} | {r['score_p99_ms']:.2f} "
            f"({r['unloaded_score_p99_ms']:.2f}) | {r['closed']} / {r['answered_408']} | {latest} "
            f"| {r['rss_per_connection_kb']:.1f} | {r['failures']} |"
        )
    return lines
