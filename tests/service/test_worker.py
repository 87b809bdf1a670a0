"""service.worker: the per-request read deadline on real socket pairs, and gunicorn-level rejections as JSON.

The worker on a real gunicorn is exercised by tests/reliability (slow clients, the bad-input corpus)."""

import json
import socket

import pytest
from service_helpers import SCRIPTS, ServiceProcess

from service.errors import RequestReadTimeout
from service.worker import _DeadlineSocket


@pytest.fixture
def pair():
    ours, peer = socket.socketpair()
    adopted = _DeadlineSocket.adopt(ours, limit_s=0.2)
    with adopted, peer:
        yield adopted, peer


def test_adopt_keeps_the_connection_and_its_blocking_mode(pair):
    sock, peer = pair
    assert sock.getblocking()
    peer.sendall(b"GET / HTTP/1.1\r\n")
    assert sock.recv(100) == b"GET / HTTP/1.1\r\n"


def test_armed_reads_stop_at_the_deadline_with_408(pair):
    sock, peer = pair
    sock.arm()
    peer.sendall(b"POST /score HTTP/1.1\r\n")
    assert sock.recv(100) == b"POST /score HTTP/1.1\r\n"
    with pytest.raises(RequestReadTimeout, match=r"within 0.2 s of its first byte") as caught:
        sock.recv(100)  # the client never sends the rest
    assert caught.value.status == 408 and caught.value.headers == {"Connection": "close"}
    with pytest.raises(RequestReadTimeout):
        sock.recv(100)  # the deadline has passed: no further wait
    assert sock.gettimeout() is None  # the socket's own timeout is restored for gunicorn's writes


def test_bytes_already_received_are_read_after_the_deadline(pair):
    sock, peer = pair
    sock.arm()
    peer.sendall(b"head")
    assert sock.recv(4) == b"head"
    with pytest.raises(RequestReadTimeout):
        sock.recv(4)  # waits out the deadline
    peer.sendall(b"body")
    assert sock.recv(4) == b"body"  # e.g. the app read the body only after a slow init()
    with pytest.raises(RequestReadTimeout):
        sock.recv(4)


def test_a_new_request_gets_a_new_deadline_and_disarmed_reads_are_not_limited(pair):
    sock, peer = pair
    sock.arm()
    peer.sendall(b"a")
    sock.recv(1)
    with pytest.raises(RequestReadTimeout):
        sock.recv(1)
    sock.arm()
    peer.sendall(b"b")
    assert sock.recv(1) == b"b"
    sock.disarm()
    sock.settimeout(0.05)
    with pytest.raises(TimeoutError):  # gunicorn's own timeout applies, not ours
        sock.recv(1)


@pytest.mark.slow
def test_gunicorn_level_rejections_are_json_without_the_input():
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "query_echo.py")) as server:
        server.wait_ready()
        answers = {}
        for name, raw in {
            "request-line": b"SECRET-REQUEST-LINE-abcdefghijklmnopqrstuvwxyz / HTTP/1.1\r\nHost: x\r\n\r\n",
            "header": b"GET / HTTP/1.1\r\nHost: x\r\nSECRET HEADER: v\r\n\r\n",
            "too-long": b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        }.items():
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(raw)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            answers[name] = (head.split(b"\r\n")[0], json.loads(body))
        output = server.output
    assert answers == {
        "request-line": (
            b"HTTP/1.1 400 Bad Request",
            {"message": "The request is not valid HTTP/1.1 and was not processed."},
        ),
        "header": (
            b"HTTP/1.1 400 Bad Request",
            {"message": "The request is not valid HTTP/1.1 and was not processed."},
        ),
        "too-long": (b"HTTP/1.1 414 URI Too Long", {"message": "The request line is too long."}),
    }
    assert output.count("gunicorn.error - Rejected a request from 127.0.0.1: ") == 3
    assert "LimitRequestLine (414 URI Too Long)" in output
    assert "SECRET" not in output
