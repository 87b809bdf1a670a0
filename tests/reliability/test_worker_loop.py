"""ScoringWorker's leader/follower loop on a real gunicorn (127.0.0.1): after pipelined requests that are handed over
mid-way, exactly one thread runs the loop again; a loop that fails stops its worker so gunicorn replaces it.

The number of threads running the loop is read from /proc: a thread waiting in the selector has the kernel wait
channel ``do_epoll_wait`` (the watchdog sleeps, idle threads wait on a futex).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from raw_http import RawResponse, exchange, parse_response, request_bytes
from reliability_helpers import SCRIPTS, Server

pytestmark = pytest.mark.slow
PIPELINED = 3
CONNECTIONS = 3
SETTLE_S = 10.0
"""Bound on the wait for the relieved threads to leave the loop (they do so as soon as they finish)."""


def _threads_in_select(pid: int) -> int:
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            count += (task / "wchan").read_text() == "do_epoll_wait"
        except OSError:
            pass  # the thread has ended
    return count


def _settled_leaders(pid: int) -> int:
    """The number of threads in the selector: 1 once it is so in 5 readings in a row, else the last reading after
    SETTLE_S (a leader that is running rather than waiting, as on a busy machine, reads 0 for a moment)."""
    deadline = time.monotonic() + SETTLE_S
    readings: list[int] = []
    while time.monotonic() < deadline:
        readings = [*readings[-4:], _threads_in_select(pid)]
        if readings == [1] * 5:
            break
        time.sleep(0.1)
    return readings[-1]


def _pipelined(port: int, seconds: str, count: int) -> list[RawResponse]:
    """``count`` POST /score requests sent back to back on one connection (the last one closes it), every answer."""
    keep = request_bytes("POST", "/score", seconds.encode(), content_type=None, headers={"Connection": "keep-alive"})
    last = request_bytes("POST", "/score", seconds.encode(), content_type=None)
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(keep * (count - 1) + last)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (chunk := sock.recv(65536)):
            data += chunk
    answers = []
    while data:
        answer = parse_response(data)
        answers.append(answer)
        if answer.status is None:
            break
        data = data.partition(b"\r\n\r\n")[2][len(answer.body) :]
    return answers


def test_after_pipelined_slow_requests_one_thread_runs_the_loop():
    """Each slow request is handed over to a spare thread after 20 ms; the relieved thread serving the next pipelined
    request from the returned connection must not go on running the loop alongside the new leader. Every pipelined
    request is answered (none left waiting for its read deadline, 408)."""
    env = {"REQUEST_READ_TIMEOUT_S": "3"}
    with Server("--entry_script", str(SCRIPTS / "loop_faults.py"), env=env) as server:
        server.wait_ready()
        (worker,) = server.workers()
        before = _settled_leaders(worker)
        results: list[list[RawResponse]] = []
        clients = [
            threading.Thread(target=lambda: results.append(_pipelined(server.port, "0.1", PIPELINED)))
            for _ in range(CONNECTIONS)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        after = _settled_leaders(worker)
        health = exchange(server.port, request_bytes("GET", "/health/live", content_type=None)).status
        output = server.stop()
    assert [[(answer.status, answer.json()) for answer in answers] for answers in results] == [
        [(200, "slept")] * PIPELINED
    ] * CONNECTIONS, output[-3000:]
    assert (before, after, health) == (1, 1, 200), output[-3000:]


def test_a_failed_loop_stops_its_worker_and_gunicorn_starts_another():
    """The loop's selector breaks under it (its epoll descriptor closed): the worker logs the failure with its
    traceback and exits, and gunicorn's new worker answers; it does not sit dead until WORKER_TIMEOUT."""
    with Server("--entry_script", str(SCRIPTS / "loop_faults.py")) as server:
        server.wait_ready()
        (first,) = server.workers()
        try:
            exchange(server.port, request_bytes("POST", "/score", b"break-loop", content_type=None), timeout=5)
        except OSError:
            pass  # the worker may exit before or after the answer leaves
        server.wait_ready(timeout=60)
        replaced = server.workers()
        output = server.stop()
    assert first not in replaced and len(replaced) == 1, output[-3000:]
    assert "The worker's event loop failed; stopping the worker so that gunicorn replaces it" in output
    assert "Traceback (most recent call last)" in output


def test_a_parent_change_is_logged_once_while_a_request_finishes(tmp_path):
    """The master dies (SIGKILL) while a request is in flight: the orphaned worker says so once, finishes the request
    within its graceful timeout and exits; the line is not repeated on every watchdog tick meanwhile."""
    env = {"GUNICORN_CMD_ARGS": "--graceful-timeout 10"}
    server = Server("--entry_script", str(SCRIPTS / "loop_faults.py"), env=env)
    worker = None
    started = tmp_path / "started"
    body = f"1 {started}".encode()
    try:
        server.wait_ready()
        (worker,) = server.workers()
        answers: list[RawResponse] = []
        client = threading.Thread(
            target=lambda: answers.append(
                exchange(server.port, request_bytes("POST", "/score", body, content_type=None), timeout=30)
            )
        )
        client.start()
        while not started.exists() and client.is_alive():  # bounded: the request is answered within 30 s
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(10)
        client.join(30)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker_gone = not Path(f"/proc/{worker}").exists()
    finally:
        if worker is not None and Path(f"/proc/{worker}").exists():
            os.kill(worker, signal.SIGKILL)
        output = server.stop()
    assert worker_gone, output[-3000:]
    assert [(answer.status, answer.json()) for answer in answers] == [(200, "slept")], output[-3000:]
    assert output.count("Parent changed, shutting down") == 1, output[-3000:]
