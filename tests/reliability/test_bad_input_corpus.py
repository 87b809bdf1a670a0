"""Issue 7, bad input: every request of corpus.CASES against a real gunicorn gets its documented 4xx, a JSON
``{"message": ...}`` body where the service answers, no 5xx, nothing leaked; slow clients cannot starve the worker;
the server still scores correctly afterwards."""

from __future__ import annotations

import socket
from collections import Counter

import pytest
from corpus import CASES, READ_TIMEOUT_S
from raw_http import exchange, read_response, request_bytes
from reliability_helpers import WORKER_THREADS, leaks
from tcp_queues import wait_until_read

pytestmark = pytest.mark.slow
VALID = request_bytes("POST", "/score", b'{"data": [[5.1, 3.5, 1.4, 0.2], [6.5, 3.0, 5.5, 1.8]]}')
LORIS_DEADLINE_S = 10.0


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=f"{case.bug}: reported to the service owners")] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


def _check(case, response) -> list[str]:
    """Everything wrong with ``response`` as the answer to ``case`` (empty when it is right)."""
    problems = []
    if response.status not in case.expected:
        problems.append(f"status {response.status}, expected one of {case.expected}")
    problems += leaks(response.body, case.echo)
    is_head = case.request.startswith(b"HEAD ")
    if not is_head and response.status is not None:
        if (response.header("Content-Type") or "").split(";")[0] != "application/json":
            problems.append(f"Content-Type {response.header('Content-Type')!r}, expected application/json")
        try:
            document = response.json()
        except ValueError:
            problems.append("body is not JSON")
        else:
            if (
                not isinstance(document, dict)
                or not isinstance(document.get("message"), str)
                or not document["message"]
            ):
                problems.append('body is not {"message": "..."}')
    return problems


def test_corpus_has_at_least_100_distinct_cases():
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids) >= 100
    assert len({case.request for case in CASES}) == len(CASES), "two cases send the same bytes"


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_request_gets_a_clean_4xx(no_code_server, case):
    response = exchange(no_code_server.port, case.request, shutdown_write=case.shutdown_write)
    problems = _check(case, response)
    assert not problems, f"{case.id}: {problems}; body {response.body[:300]!r}"


def test_server_survives_the_whole_corpus_and_still_scores(no_code_server):
    workers = no_code_server.workers()
    statuses = Counter()
    failing = []
    for case in CASES:
        response = exchange(no_code_server.port, case.request, shutdown_write=case.shutdown_write)
        statuses[response.status] += 1
        if _check(case, response):
            failing.append(case.id)
    answer = exchange(no_code_server.port, VALID)
    server_errors = sum(n for status, n in statuses.items() if status is not None and status >= 500)
    print(
        f"\ncorpus: {len(CASES)} requests, statuses {dict(sorted(statuses.items(), key=str))}, 5xx={server_errors}, "
        f"failing={failing}"
    )
    assert (answer.status, answer.json()) == (200, [0, 2])
    assert no_code_server.workers() == workers, "a worker died or was replaced during the corpus"
    known_bugs = sorted(case.id for case in CASES if case.bug)
    assert sorted(failing) == known_bugs


def _open_slow_clients(port: int, count: int) -> list[socket.socket]:
    """Half send an unfinished head, half a head and the start of a 100-byte body; none ever finishes."""
    heads = [
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        + b'{"data"',
    ]
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(heads[i % 2])
        sockets.append(sock)
    wait_until_read(*sockets)  # the worker holds every slow connection before the valid request arrives
    return sockets


def _answers_during_slow_clients(port: int, count: int) -> tuple[int | None, list[int | None]]:
    """The status of a valid request sent while ``count`` slow clients are connected, and theirs."""
    sockets = _open_slow_clients(port, count)
    try:
        status = exchange(port, VALID, timeout=LORIS_DEADLINE_S).status
        return status, [read_response(sock, timeout=LORIS_DEADLINE_S).status for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_fewer_slow_clients_than_threads_do_not_block_scoring(no_code_server):
    status, slow = _answers_during_slow_clients(no_code_server.port, WORKER_THREADS - 1)
    assert status == 200
    assert slow == [408] * (WORKER_THREADS - 1)


def test_slow_clients_cannot_starve_the_worker(no_code_server):
    """Each request must arrive within REQUEST_READ_TIMEOUT_S of its first byte; slow ones get 408 and free their
    thread, so a valid request waits for them at most that long."""
    status, slow = _answers_during_slow_clients(no_code_server.port, 2 * WORKER_THREADS)
    assert status == 200, f"a valid request got {status} within {LORIS_DEADLINE_S} s while slow clients were connected"
    assert slow == [408] * (2 * WORKER_THREADS)
    recovered = exchange(no_code_server.port, VALID, timeout=30)
    assert (recovered.status, recovered.json()) == (200, [0, 2])


def test_slow_client_gets_a_json_408_naming_the_limit(no_code_server):
    [sock] = _open_slow_clients(no_code_server.port, 1)
    with sock:
        response = read_response(sock, timeout=LORIS_DEADLINE_S)
    assert response.status == 408
    assert response.header("Connection") == "close"
    assert response.json()["message"] == (
        f"The request did not arrive in full within {READ_TIMEOUT_S} s of its first byte (REQUEST_READ_TIMEOUT_S)."
    )
