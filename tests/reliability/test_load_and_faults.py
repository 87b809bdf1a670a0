"""Issue 7, load and faults on a real gunicorn: mixed concurrent load without errors or memory growth, a worker
SIGKILLed mid-load, the master SIGTERMed mid-load, and run() calls that hang past SCORING_TIMEOUT_MS.

Figures are printed on one ``summary`` line per test (run with ``-s`` to see them). The load size defaults to
8 clients x 625 requests (5 000 in all) to keep the suite within its time budget; set
``RELIABILITY_REQUESTS_PER_CLIENT=5000`` for issue 7's full 8 x 5 000.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from load import BackgroundLoad, expected_bodies, run_load
from raw_http import exchange, read_response, request_bytes
from reliability_helpers import START_TIMEOUT_S, WORKER_THREADS, Server, iris_args
from tcp_queues import wait_until_read

from service.runner import SPARE_THREADS

pytestmark = pytest.mark.slow
CLIENTS = 8
REQUESTS_PER_CLIENT = int(os.environ.get("RELIABILITY_REQUESTS_PER_CLIENT", "625"))
WARM_UP_PER_CLIENT = 50
RECOVERY_LIMIT_S = START_TIMEOUT_S
"""A new worker must serve within the time a fresh server is given to start: its figure (about 2 s on a quiet machine,
4 s or more on a busy one) is printed, not asserted; speed is measured by `make bench`."""
GRACEFUL_TIMEOUT_S = 30  # the launcher's gunicorn graceful_timeout
SCORING_TIMEOUT_MS = 500
HANG_LIMIT_S = 8.0  # scripts/iris_faults.py: how long a "python" hang lasts before run() returns by itself
# A worker's threads (service/worker.py): one always runs the loop, the others can each be held by a stuck run().
STUCK_CAPACITY = WORKER_THREADS + SPARE_THREADS - 1
VALID = request_bytes("POST", "/score", b'{"data": [[5.1, 3.5, 1.4, 0.2]]}')


def _seconds_until_a_new_worker_serves(server: Server, old_workers: list[int], since: float) -> float | None:
    """Seconds from ``since`` until a worker that is not in ``old_workers`` logs a 200 /score (None: not within
    RECOVERY_LIMIT_S).

    The log is read incrementally and /proc scanned only until the new PID is known, so the watcher itself takes
    little CPU from the worker that is booting.
    """
    _, offset = server.output_from(0)
    new_pids: set[int] = set()
    while time.monotonic() - since < RECOVERY_LIMIT_S:
        if not new_pids:
            new_pids = set(server.workers()) - set(old_workers)
        text, offset = server.output_from(offset)
        served = {int(pid) for pid in re.findall(r"\[(\d+)\] azmlinfsrv - POST /score 200", text)}
        if served & new_pids:
            return time.monotonic() - since
        time.sleep(0.05)
    return None


def _wait_until_served(server: Server, count: int, offset: int) -> None:
    """Return once the server has logged ``count`` answered /score requests after character ``offset`` of its log:
    the load is running. AssertionError after START_TIMEOUT_S."""
    served, deadline = 0, time.monotonic() + START_TIMEOUT_S
    while served < count:
        assert time.monotonic() < deadline, (
            f"the server answered {served} /score requests of the load within {START_TIMEOUT_S} s, expected {count}"
        )
        time.sleep(0.05)
        text, offset = server.output_from(offset)
        served += text.count("azmlinfsrv - POST /score 200")


def _wait_for_file(path: Path, request: threading.Thread) -> None:
    """Return once ``path`` exists (run() has started the request's call); AssertionError if the request ends first
    or after START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        assert request.is_alive(), f"the request ended before run() created {path.name}"
        assert time.monotonic() < deadline, f"run() did not create {path.name} within {START_TIMEOUT_S} s"
        time.sleep(0.01)


def test_mixed_load_has_no_errors_and_no_memory_growth(iris_proba_model_dir):
    with Server(*iris_args(iris_proba_model_dir, script=None), "--worker_count", "2") as server:
        server.wait_ready()
        expected = expected_bodies(server.port)
        warm_up = run_load(
            server.port, clients=CLIENTS, requests_per_client=WARM_UP_PER_CLIENT, expected=expected, deadline_s=120
        )
        rss_before = server.rss_bytes()
        result = run_load(
            server.port, clients=CLIENTS, requests_per_client=REQUESTS_PER_CLIENT, expected=expected, deadline_s=600
        )
        rss_after = server.rss_bytes()
    growth = (rss_after - rss_before) / rss_before * 100
    print(
        f"\nsummary mixed load {CLIENTS}x{REQUESTS_PER_CLIENT}: {result.summary()}; "
        f"RSS after warm-up {rss_before / 2**20:.1f} MiB, after load {rss_after / 2**20:.1f} MiB, "
        f"growth {growth:+.2f} %"
    )
    assert warm_up.errors == 0, warm_up.summary()
    assert result.sent == CLIENTS * REQUESTS_PER_CLIENT, result.summary()
    assert result.errors == 0, result.summary()
    assert growth < 10.0


@pytest.mark.parametrize("preload", ["false", "true"], ids=["default", "preload"])
def test_sigkilled_worker_is_replaced_and_only_in_flight_requests_fail(iris_proba_model_dir, preload):
    env = {"WORKER_PRELOAD": preload}
    with Server(*iris_args(iris_proba_model_dir, script=None), "--worker_count", "2", env=env) as server:
        server.wait_ready()
        expected = expected_bodies(server.port)
        _, offset = server.output_from(0)
        load = BackgroundLoad(
            server.port, clients=CLIENTS, requests_per_client=250, expected=expected, deadline_s=120, keep_alive=False
        )
        try:
            _wait_until_served(server, 10 * CLIENTS, offset)  # mid-load: 80 of its 2 000 requests answered
            old_workers = server.workers()
            victim = old_workers[0]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            recovery_s = _seconds_until_a_new_worker_serves(server, old_workers, killed_at)
        finally:
            load.join(150)
        result = load.result
        failed = sum(result.failures.values())
        after = exchange(server.port, VALID)
        output = server.output
    print(
        f"\nsummary SIGKILL worker {victim} (WORKER_PRELOAD={preload}): "
        f"new worker served after {recovery_s and round(recovery_s, 2)} s; {result.summary()}; "
        f"failed requests {failed}"
    )
    timeline = [line for line in output.splitlines() if re.search(r"Booting worker|init has completed|exited", line)]
    assert recovery_s is not None, timeline  # replaced, and serving, within RECOVERY_LIMIT_S
    # Each client has one request in flight at most, so only these can have been lost with the worker.
    assert failed <= CLIENTS
    assert result.statuses.keys() <= {200} and result.wrong_bodies == 0, result.summary()
    assert (after.status, after.json()) == (200, [0])


def test_sigterm_mid_load_lets_in_flight_requests_finish_and_exits_in_time(iris_model_dir, tmp_path):
    server = Server(*iris_args(iris_model_dir))
    stop_load = threading.Event()
    started = tmp_path / "started"
    try:
        server.wait_ready()
        expected = expected_bodies(server.port)
        _, offset = server.output_from(0)
        load = BackgroundLoad(
            server.port,
            clients=4,
            requests_per_client=100_000,
            expected=expected,
            deadline_s=90,
            keep_alive=False,
            stop=stop_load,
        )
        _wait_until_served(server, 10 * 4, offset)  # the load is running
        slow_answers = []
        slow_body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]], "delay_s": 1.5, "started": str(started)}).encode()

        def slow_request() -> None:
            slow_answers.append(exchange(server.port, request_bytes("POST", "/score", slow_body), timeout=60))

        slow = [threading.Thread(target=slow_request)]
        slow[0].start()
        _wait_for_file(started, slow[0])  # the 1.5 s request is now in run(), the load queued behind it
        server.proc.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        status = server.wait_exit(timeout=GRACEFUL_TIMEOUT_S + 10)
        exit_s = time.monotonic() - signalled_at
        for thread in slow:
            thread.join(60)
    finally:
        stop_load.set()
        output = server.stop()
    load.join(60)
    result = load.result
    answers = [(answer.status, answer.body) for answer in slow_answers]
    print(
        f"\nsummary SIGTERM mid-load: exit status {status} after {exit_s:.2f} s; in-flight answers {answers}; "
        f"load {result.summary()}"
    )
    assert answers == [(200, b"[0]")]
    assert status == 0
    assert exit_s < GRACEFUL_TIMEOUT_S
    assert "Shutting down: Master" in output
    # Every request the worker accepted is served during the drain (SIGTERM only turns readiness off); the rest
    # could not connect.
    assert result.statuses[200] > 0 and result.statuses.keys() <= {200}, result.summary()
    assert result.wrong_bodies == 0


def test_sigterm_serves_every_request_sent_before_it(iris_model_dir):
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]], "delay_s": 0.5}).encode()
    with Server(*iris_args(iris_model_dir)) as server:
        server.wait_ready()
        sent = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(WORKER_THREADS + 2)]
        try:
            for sock in sent:
                sock.sendall(request_bytes("POST", "/score", body))
            wait_until_read(*sent)  # every request is in the worker; the first is in run(), the others wait their turn
            server.proc.send_signal(signal.SIGTERM)
            answers = [read_response(sock, timeout=60) for sock in sent]
        finally:
            for sock in sent:
                sock.close()
        status = server.wait_exit(timeout=GRACEFUL_TIMEOUT_S + 10)
    print(f"\nsummary SIGTERM with {len(sent)} requests sent: statuses {[a.status for a in answers]}")
    assert status == 0
    assert [(answer.status, answer.body) for answer in answers] == [(200, b"[0]")] * len(sent)


@pytest.fixture(scope="module")
def release_fifo(tmp_path_factory):
    """(path, release): run() calls with ``"hang": "blocked"`` block in C until ``release()`` writes to the FIFO."""
    path = tmp_path_factory.mktemp("hang") / "release"
    os.mkfifo(path)
    # Held open read-write, so the byte written by release() stays readable until the module's tests are done.
    fd = os.open(path, os.O_RDWR)
    try:
        yield path, lambda: os.write(fd, b"x")
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def faults_server(iris_model_dir, release_fifo):
    env = {"SCORING_TIMEOUT_MS": str(SCORING_TIMEOUT_MS), "HANG_RELEASE_FIFO": str(release_fifo[0])}
    with Server(*iris_args(iris_model_dir), env=env) as server:
        yield server.wait_ready()


def _hang_all(port: int, kind: str, count: int, *, one_by_one: bool = False) -> list[tuple[int | None, float, bytes]]:
    """Send ``count`` hanging requests (all at once, or each after the previous one's answer)."""
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]], "hang": kind}).encode()
    answers = []

    def one() -> None:
        started = time.monotonic()
        response = exchange(port, request_bytes("POST", "/score", body), timeout=HANG_LIMIT_S + 20)
        answers.append((response.status, time.monotonic() - started, response.body))

    if one_by_one:
        for _ in range(count):
            one()
        return answers
    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_LIMIT_S + 30)
    return answers


def test_python_hang_times_out_and_the_worker_keeps_serving(faults_server):
    workers = faults_server.workers()
    answers = _hang_all(faults_server.port, "python", 2 * WORKER_THREADS)
    after = [exchange(faults_server.port, VALID) for _ in range(WORKER_THREADS)]
    slowest = max(seconds for _, seconds, _ in answers)
    print(f"\nsummary python hang x{len(answers)}: statuses {[a[0] for a in answers]}, slowest answer {slowest:.2f} s")
    assert [status for status, _, _ in answers] == [504] * len(answers)
    assert all(
        json.loads(body)["message"] == f"Scoring timeout after {SCORING_TIMEOUT_MS} ms" for _, _, body in answers
    )
    # Answered by the timeout, not by the hang ending on its own.
    assert slowest < HANG_LIMIT_S
    assert [(response.status, response.body) for response in after] == [(200, b"[0]")] * WORKER_THREADS
    assert faults_server.workers() == workers


def test_blocked_run_calls_beyond_the_threads_make_score_504_until_they_end(faults_server, release_fifo):
    """The documented limit: a run() blocked in C cannot be stopped. Each such call is answered 504 at the timeout
    but keeps its thread; once every thread but the loop's is held, every /score is answered 504 at once (health
    stays 200) until the blocked calls end, and then the same worker serves again."""
    port, timeout_message = faults_server.port, f"Scoring timeout after {SCORING_TIMEOUT_MS} ms"
    workers = faults_server.workers()
    try:
        # One by one, so that each really starts a run() call; the last two find no thread to spare.
        stuck = _hang_all(port, "blocked", STUCK_CAPACITY + 2, one_by_one=True)
        during = exchange(port, VALID, timeout=30)
        live = exchange(port, request_bytes("GET", "/health/live", content_type=None))
    finally:
        release_fifo[1]()
    # The released calls give their threads back as they return: /score is 504 until then, 200 after.
    after, deadline = [exchange(port, VALID, timeout=30)], time.monotonic() + START_TIMEOUT_S
    while after[-1].status == 504 and time.monotonic() < deadline:
        time.sleep(0.05)
        after.append(exchange(port, VALID, timeout=30))
    print(
        f"\nsummary blocked x{len(stuck)}: statuses {[a[0] for a in stuck]}, "
        f"then {len(after) - 1} x 504 and {after[-1].status}"
    )
    assert [(status, json.loads(body)["message"]) for status, _, body in stuck] == [(504, timeout_message)] * len(stuck)
    assert (during.status, during.json()["message"]) == (504, timeout_message)
    assert live.status == 200
    assert (after[-1].status, after[-1].body) == (200, b"[0]")
    assert faults_server.workers() == workers
