"""service.worker on a real gunicorn (`python -m service` on 127.0.0.1): framing, HTTP/1.1 rules, rejections as JSON,
nosniff everywhere, 413 closing its connection, pipelining, idle and slow connections costing no thread, and the
gunicorn seams the worker relies on (gunicorn==27.0.1 is pinned)."""

import json
import socket
import threading
import time

import pytest
import requests
from gunicorn.http import RequestParser
from gunicorn.http.wsgi import Response as GunicornResponse
from service_helpers import SCRIPTS, ServiceProcess, wait_for_held_runs
from tcp_queues import wait_until_read

from service.http11 import NOSNIFF, ChunkedWalk, SettingsSnapshot, WorkerResponse, chunked_end

ROW_BODY = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'
JSON_TYPE = {"Content-Type": "application/json"}
ALL = "the whole buffer"


def _request(path: str = "/score", body: bytes = ROW_BODY, *, version: str = "HTTP/1.1", host: bool = True, **headers):
    lines = [f"POST {path} {version}" if body else f"GET {path} {version}"]
    if host:
        lines.append("Host: 127.0.0.1")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _read_all(sock: socket.socket, timeout: float = 30) -> bytes:
    """Everything the server sends until it closes (bounded by ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _responses(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """Split back-to-back responses (each with a Content-Length) into (status line, headers, body)."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", len(rest)))
        found.append((lines[0], headers, rest[:length]))
        data = rest[length:]
    return found


def _exchange(port: int, raw: bytes, timeout: float = 30) -> list[tuple[str, dict[str, str], bytes]]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        return _responses(_read_all(sock, timeout))


# --- pure helpers and gunicorn seams ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "limit", "expected"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", None, 15),
        (b"5;ext=1\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", None, 21),  # pipelined bytes are not part of the body
        (b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", None, 29),
        (b"5\r\nhel", None, None),
        (b"5\r\nhello\r\n0\r\n", None, None),
        (b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", 10, -1),
        (b"zz\r\nhello\r\n", None, 11),  # malformed: "ends here", so gunicorn's parser names the error
        (b"-6\r\nhello\r\n", None, ALL),  # int(, 16) reads -6: the walk went backwards, forever
        (b"+6\r\nhello!\r\n0\r\n\r\n", None, ALL),
        (b" 6\r\nhello!\r\n0\r\n\r\n", None, ALL),
        (b"0x6\r\nhello!\r\n0\r\n\r\n", None, ALL),
        (b"6_0\r\nhello!\r\n0\r\n\r\n", None, ALL),
        (b"00000000000000006\r\nhello!\r\n0\r\n\r\n", None, ALL),  # over 16 hex digits
        (b"6 ;ext\r\nhello!\r\n0\r\n\r\n", None, 21),  # whitespace before an extension is allowed
        (b"1\r\nx\r\n" * 18000 + b"0\r\n\r\n", 20000, -1),  # 18000 data bytes, 108 KB on the wire
        ((b"1;" + b"e" * 1000 + b"\r\nx\r\n") * 100, 4096, -1),  # extensions count as framing too
        (b"0\r\nX: " + b"t" * 9000, None, ALL),  # trailers that never end: handed to gunicorn's parser
    ],
)
def test_chunked_framing_is_walked_without_reading_the_data(body, limit, expected):
    assert chunked_end(bytearray(body), ChunkedWalk(0, 0), limit) == (len(body) if expected is ALL else expected)


def test_the_chunked_walk_goes_on_from_where_it_stopped():
    """Each recv walks only the bytes that came since the last: the walk keeps its place and the data total."""
    body = b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"
    buffer, walk = bytearray(), ChunkedWalk(0, 0)
    ends = []
    for byte in body:
        buffer.append(byte)
        ends.append(chunked_end(buffer, walk, None))
    assert ends == [None] * (len(body) - 1) + [len(body)]
    assert walk.data == 11
    # The walk resumes at its recorded position: bytes before it are not looked at again.
    buffer[:10] = b"#" * 10
    assert chunked_end(buffer, walk, None) == len(body)


def test_gunicorn_parses_a_request_from_an_iterable_and_keeps_what_follows():
    """The seam the worker uses: RequestParser over an iterable, its unreader holding bytes past the request."""
    from gunicorn.config import Config

    raw = _request() + b"GET / HTTP/1.1\r\n"
    parser = RequestParser(Config(), (raw,), ("127.0.0.1", 1))
    request = next(parser)
    assert (request.method, request.path, request.body.read()) == ("POST", "/score", ROW_BODY)
    assert parser.unreader.take_buffered() == b"GET / HTTP/1.1\r\n"


@pytest.mark.parametrize("peer", [("127.0.0.1", 1), ("10.1.2.3", 1)])
def test_forwarding_headers_are_trusted_as_gunicorn_decides_and_the_decision_is_kept_per_peer(peer):
    """The seam: _Request remembers gunicorn's trust decision (FORWARDED_ALLOW_IPS, loopback by default) per peer
    address; a trusted peer's X-Forwarded-Proto sets the scheme, anyone else's is ignored, on every request."""
    from gunicorn.config import Config

    from service.http11 import WorkerRequestParser

    settings = SettingsSnapshot(Config(), 5.0)
    raw = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n\r\n"
    expected = "https" if peer[0] == "127.0.0.1" else "http"
    for _ in range(2):
        request = next(WorkerRequestParser(settings, (raw,), peer))
        assert request.scheme == expected
        assert next(RequestParser(Config(), (raw,), peer)).scheme == expected  # gunicorn's own answer
    assert list(settings.forwarding_trust) == [peer[0]]


def test_the_response_subclass_sends_head_and_body_in_one_write():
    """The seam: gunicorn's Response with send_headers/_emit_body overridden (one send per answer, nosniff)."""
    from gunicorn.config import Config

    class Recorder:
        def __init__(self):
            self.writes = []

        def send(self, data):
            self.writes.append(bytes(data))
            return len(data)

    parser = RequestParser(Config(), (_request(),), ("127.0.0.1", 1))
    sock = Recorder()
    response = WorkerResponse(next(parser), sock, SettingsSnapshot(Config(), 5.0))
    assert isinstance(response, GunicornResponse)
    response.start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "3")])
    response.write(b"[0]")
    response.close()
    assert len(sock.writes) == 1
    head, _, body = sock.writes[0].partition(b"\r\n\r\n")
    assert body == b"[0]" and b"\r\nX-Content-Type-Options: nosniff" in head


def _answer(sock, body: bytes, write_timeout: float):
    from gunicorn.config import Config

    request = next(RequestParser(Config(), (_request(),), ("127.0.0.1", 1)))
    response = WorkerResponse(request, sock, SettingsSnapshot(Config(), write_timeout))
    headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
    response.start_response("200 OK", headers)
    response.write(body)
    response.close()


def test_an_answer_larger_than_the_socket_buffer_reaches_a_client_that_reads_slowly():
    """The worker's sockets are non-blocking: what the first send leaves over is sent with the write timeout, and
    the socket is non-blocking again afterwards."""
    body = bytes(range(256)) * 40_000  # 10 MB, far more than a socket buffer holds
    server, client = socket.socketpair()
    server.setblocking(False)
    received = bytearray()

    def read_slowly():
        time.sleep(0.3)
        while chunk := client.recv(1 << 20):
            received.extend(chunk)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        _answer(server, body, write_timeout=10.0)
        assert server.gettimeout() == 0.0
    finally:
        server.close()
        reader.join(10)
        client.close()
    assert received.endswith(body) and received.startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_answer_to_a_client_that_never_reads_stops_at_the_write_timeout():
    server, client = socket.socketpair()
    server.setblocking(False)
    started = time.monotonic()
    try:
        with pytest.raises(OSError):  # socket.timeout is an OSError: the worker closes the connection on it
            _answer(server, b"x" * 10_000_000, write_timeout=0.5)
    finally:
        server.close()
        client.close()
    assert 0.4 <= time.monotonic() - started < 5


# --- on a real server ------------------------------------------------------------------------------------------------


def _iris_server(model_dir, **env):
    args = ["--entry_script", str(SCRIPTS / "iris_score.py"), "--model_dir", str(model_dir)]
    return ServiceProcess.ours(*args, env=env)


@pytest.fixture(scope="module")
def server(iris_model_dir):
    with _iris_server(iris_model_dir, MAX_REQUEST_BODY_BYTES="4096", REQUEST_READ_TIMEOUT_S="2") as running:
        yield running.wait_ready()


@pytest.mark.slow
def test_pipelined_requests_are_answered_in_order(server):
    raw = _request(x_request_id="first") + _request("/health/live", b"") + _request(x_request_id="third")
    answers = _exchange(server.port, raw)
    assert [(status, body) for status, _, body in answers] == [
        ("HTTP/1.1 200 OK", b"[0]"),
        ("HTTP/1.1 200 OK", b'{"status":"alive"}'),
        ("HTTP/1.1 200 OK", b"[0]"),
    ]
    assert [answers[0][1]["x-request-id"], answers[2][1]["x-request-id"]] == ["first", "third"]


@pytest.mark.slow
def test_every_answer_says_nosniff(server):
    port = server.port
    answers = {
        "score": _exchange(port, _request()),
        "health": _exchange(port, _request("/", b"")),
        "app-404": _exchange(port, _request("/nope", b"")),
        "431": _exchange(port, _request(x_request_id="x" * 101)),
        "413": _exchange(port, _request(body=b"x" * 5000)),
        "worker-400": _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nBAD HEADER: v\r\n\r\n"),
        "worker-414": _exchange(port, b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    }
    statuses = {name: found[0][0].split(" ")[1] for name, found in answers.items()}
    assert statuses == {
        "score": "200",
        "health": "200",
        "app-404": "404",
        "431": "431",
        "413": "413",
        "worker-400": "400",
        "worker-414": "414",
    }
    assert {name: found[0][1].get("x-content-type-options") for name, found in answers.items()} == dict.fromkeys(
        answers, "nosniff"
    )


@pytest.mark.slow
def test_trace_id_is_capped_like_the_other_request_ids(server):
    ok = requests.post(server.url + "/score", json={"data": [[5.1, 3.5, 1.4, 0.2]]}, headers={"TraceId": "t" * 100})
    assert (ok.status_code, ok.headers["TraceId"]) == (200, "t" * 100)
    too_long = requests.post(
        server.url + "/score", json={"data": [[5.1, 3.5, 1.4, 0.2]]}, headers={"TraceId": "t" * 101}
    )
    assert too_long.status_code == 431
    assert too_long.json()["message"] == "TraceId must not exceed 100 characters"
    assert "TraceId" not in too_long.headers
    # the ids checked before it are kept: the 431 still names the request
    assert too_long.headers["x-ms-request-id"] == too_long.headers["x-request-id"] == too_long.json()["request_id"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (_request("/health/live", b"", host=False), "400"),  # HTTP/1.1 requires Host (RFC 9112 §3.2)
        (_request("/health/live", b"", version="HTTP/1.2"), "400"),
        (_request("/health/live", b"", version="HTTP/1.9"), "400"),
        (_request("/health/live", b"", version="HTTP/1.0", host=False), "200"),  # HTTP/1.0 needs no Host
    ],
    ids=["1.1-without-host", "1.2", "1.9", "1.0-without-host"],
)
def test_http_version_and_host_rules(server, raw, status):
    (answer,) = _exchange(server.port, raw)
    assert answer[0].split(" ")[1] == status
    if status == "400":
        assert json.loads(answer[2]) == {"message": "The request is not valid HTTP/1.1 and was not processed."}


@pytest.mark.slow
def test_413_closes_the_connection_and_a_pipelined_request_is_not_left_waiting(server):
    too_large = _request(body=b"x" * 5000)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        # Head and part of the body, then a request pipelined behind it; the rest of the body never comes.
        sock.sendall(too_large[:-4000] + _request("/health/live", b""))
        started = time.monotonic()
        data = _read_all(sock, timeout=30)
        waited = time.monotonic() - started
    answers = _responses(data)
    assert len(answers) == 1
    status, headers, body = answers[0]
    assert status.split(" ")[:2] == ["HTTP/1.1", "413"]
    assert headers["connection"] == "close"
    assert "exceeds the limit of 4096 bytes" in json.loads(body)["message"]
    # Closed by the server, not by our read timeout (nor by the 2 s read deadline).
    assert waited < 30 and server.proc.poll() is None


SLOW_READ_TIMEOUT_S = 10
"""REQUEST_READ_TIMEOUT_S of the server holding slow connections: far beyond the time the test takes to send its own
requests meanwhile, even on a busy machine, so no 408 can come before they are answered unless a thread was held."""


@pytest.mark.slow
def test_slow_and_idle_connections_hold_no_thread(iris_model_dir):
    """Far more idle and slow connections than the worker has threads: health and /score answer while every one of
    them is still open, and the slow ones are then answered 408 at the read deadline."""
    with _iris_server(iris_model_dir, REQUEST_READ_TIMEOUT_S=str(SLOW_READ_TIMEOUT_S)) as running:
        server = running.wait_ready()
        answered, still_open, timed_out = _answers_while_slow_and_idle_connections_are_held(server)
    assert answered == [200, 200]
    assert all(still_open)  # health and /score were answered before any slow connection was given up
    assert set(timed_out) == {"HTTP/1.1 408 Request Timeout"}


def _answers_while_slow_and_idle_connections_are_held(server):
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(100)]
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(50)]
    try:
        for sock in slow:
            sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")  # a head that never ends
        wait_until_read(*slow)  # the worker holds every slow connection before the requests below arrive
        answered = [
            requests.get(server.url + "/health/live", timeout=30).status_code,
            requests.post(server.url + "/score", json={"data": [[5.1, 3.5, 1.4, 0.2]]}, timeout=30).status_code,
        ]
        still_open = [_nothing_received(sock) for sock in slow]
        timed_out = [_responses(_read_all(sock, timeout=SLOW_READ_TIMEOUT_S + 30))[0][0] for sock in slow]
    finally:
        for sock in idle + slow:
            sock.close()
    return answered, still_open, timed_out


def _nothing_received(sock: socket.socket) -> bool:
    """Whether the server has sent nothing on ``sock`` yet (read without waiting)."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # an answer's first byte, or b"" once the server has closed
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


@pytest.mark.slow
def test_health_answers_while_every_run_turn_is_busy(tmp_path):
    """A run() held on the loop's thread takes the one run turn and a second call waits for it: both are handed over,
    and the loop goes on serving health on a spare thread."""
    body = str(tmp_path).encode()
    held = f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    with ServiceProcess.ours("--entry_script", str(SCRIPTS / "held_run.py")) as slow_server:
        slow_server.wait_ready()
        calls = [socket.create_connection(("127.0.0.1", slow_server.port), timeout=90) for _ in range(2)]
        try:
            for sock in calls:
                sock.sendall(held)
            wait_until_read(*calls)  # both calls are in the worker...
            wait_for_held_runs(tmp_path, 1)  # ...and the first is in run(), which returns only after the release
            health = [requests.get(slow_server.url + path, timeout=30).status_code for path in ("/health/ready", "/")]
            busy = [_nothing_received(sock) for sock in calls]
            (tmp_path / "release").touch()
            answers = [_responses(_read_answer(sock, timeout=90)) for sock in calls]
        finally:
            (tmp_path / "release").touch()
            for sock in calls:
                sock.close()
    assert health == [200, 200] and busy == [True, True]
    assert [[(status, body) for status, _, body in found] for found in answers] == [
        [("HTTP/1.1 200 OK", b'"released"')]
    ] * 2


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


@pytest.mark.parametrize(
    ("raw", "chunked", "close"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False, False),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False, True),
        (b"GET / HTTP/1.0\r\n\r\n", False, True),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, False),
    ],
)
def test_the_response_head_is_gunicorns_plus_nosniff(raw, chunked, close):
    """WorkerResponse.default_headers (Date formatted once a second) writes the lines gunicorn's own would, then
    nosniff."""
    from gunicorn.config import Config

    settings = SettingsSnapshot(Config(), 5.0)
    headers = [("Content-Type", "text/plain")] if chunked else [("Content-Length", "0")]
    ours = WorkerResponse(next(RequestParser(Config(), (raw,), ("127.0.0.1", 1))), None, settings)
    theirs = GunicornResponse(next(RequestParser(Config(), (raw,), ("127.0.0.1", 1))), None, Config())
    for response in (ours, theirs):
        response.start_response("200 OK", headers)
    expected = theirs.default_headers()
    assert ours.default_headers() in (expected + [NOSNIFF], theirs.default_headers() + [NOSNIFF])  # a second may tick
    assert ("Connection: close\r\n" in expected) == close and ("Transfer-Encoding: chunked\r\n" in expected) == chunked


def test_the_settings_snapshot_answers_as_gunicorns_config():
    """The seam: SettingsSnapshot stands in for gunicorn's Config in the parser and the response."""
    from gunicorn.config import Config

    config = Config()
    config.set("limit_request_line", 1234)
    snapshot = SettingsSnapshot(config, 5.0)
    assert (snapshot.limit_request_line, snapshot.is_ssl) == (1234, config.is_ssl)
    assert all(getattr(snapshot, name) == setting.get() for name, setting in config.settings.items())
    assert snapshot.forwarded_allow_networks() == config.forwarded_allow_networks()  # methods are the Config's


def _chunked(body: bytes, chunk_size: int) -> bytes:
    chunks = (body[at : at + chunk_size] for at in range(0, len(body), chunk_size))
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


_CHUNKED_HEAD = (
    b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("size", [b"-6", b"+6", b" 6", b"0x6", b"1" * 17])
def test_a_malformed_chunk_size_is_rejected_and_health_still_answers(server, size):
    """A negative size once made the walk go backwards: the loop thread spun, unmarked as busy, until gunicorn
    killed the worker."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(_CHUNKED_HEAD + size + b"\r\nhello!\r\n0\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        answer = _read_all(sock, timeout=15)
    health = requests.get(server.url + "/health/live", timeout=15)
    assert health.status_code == 200
    assert answer.startswith(b"HTTP/1.1 400 ")


@pytest.fixture(scope="module")
def roomy_server(iris_model_dir):
    with _iris_server(iris_model_dir, MAX_REQUEST_BODY_BYTES="1000000") as running:
        yield running.wait_ready()


@pytest.mark.slow
def test_a_body_of_many_one_byte_chunks_is_answered(roomy_server):
    """One piece holding the whole body made gunicorn's ChunkedReader copy the rest of it once per chunk: 40k
    one-byte chunks took 3 s of CPU on the loop thread, 200k more than 40 s; fed in pieces they parse like any body."""
    body = ROW_BODY + b" " * (200_000 - len(ROW_BODY))
    with socket.create_connection(("127.0.0.1", roomy_server.port), timeout=20) as sock:
        sock.sendall(_CHUNKED_HEAD + _chunked(body, 1))
        sock.shutdown(socket.SHUT_WR)
        answers = _responses(_read_all(sock, timeout=20))
    assert [(status, body) for status, _, body in answers] == [("HTTP/1.1 200 OK", b"[0]")]


@pytest.fixture(scope="module")
def keyed_server(iris_model_dir):
    with _iris_server(iris_model_dir, SCORING_API_KEY="s3cret-key") as running:
        yield running.wait_ready()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "status"),
    [(_request(), "401"), (_CHUNKED_HEAD + _chunked(ROW_BODY, 5), "401"), (_request("/nope"), "404")],
    ids=["401", "401-chunked", "404"],
)
def test_an_answer_without_reading_the_body_keeps_the_connection(keyed_server, first, status):
    """The app answers without reading the body; the rest of it is dropped and the connection kept, as the
    answer's "Connection: keep-alive" says (it used to be closed after that)."""
    raw = first + _request(Authorization="Bearer s3cret-key")
    with socket.create_connection(("127.0.0.1", keyed_server.port), timeout=30) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answers = _responses(_read_all(sock, timeout=30))
    assert [(line.split(" ")[1], headers["connection"]) for line, headers, _ in answers] == [
        (status, "keep-alive"),
        ("200", "keep-alive"),
    ]


def _read_answer(sock: socket.socket, timeout: float = 10) -> bytes:
    """One head (and the body its Content-Length announces) from a kept connection; b"" if none came in time."""
    sock.settimeout(timeout)
    data = b""
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            lengths = [line for line in data[:head_end].lower().split(b"\r\n") if line.startswith(b"content-length:")]
            if len(data) >= head_end + 4 + sum(int(line.split(b":")[1]) for line in lengths):
                return data
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data
        if not chunk:
            return data
        data += chunk


@pytest.mark.slow
def test_every_request_expecting_100_continue_gets_exactly_one(server):
    """Once per request, on each request of a kept connection (gunicorn's own 100 is not sent again)."""
    head, _, body = _request(Expect="100-continue").partition(b"\r\n\r\n")
    answers = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        for _ in range(2):
            sock.sendall(head + b"\r\n\r\n")
            answers.append(_read_answer(sock))
            sock.sendall(body)
            answers.append(_read_answer(sock).split(b"\r\n")[0])
    assert answers == [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK"] * 2


@pytest.mark.slow
def test_a_body_over_the_limit_gets_413_and_no_100_continue(server):
    head = _request(body=b"x" * 5000, Expect="100-continue").partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        answer = _read_all(sock, timeout=30)
    assert answer.startswith(b"HTTP/1.1 413 ")


@pytest.mark.slow
def test_an_http_1_0_request_gets_no_100_continue(server):
    """RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request must be ignored."""
    head, _, body = _request(version="HTTP/1.0", Expect="100-continue").partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + b"\r\n\r\n")
        wait_until_read(sock)  # the worker has the head alone first (where the 100 was sent)
        sock.sendall(body)
        answer = _read_all(sock, timeout=30)
    assert answer.startswith(b"HTTP/1.0 200 OK\r\n")


def test_the_parser_flags_100_continue_where_the_worker_clears_it():
    """The seam: gunicorn's Request sets _expected_100_continue (HTTP/1.1 only), and wsgi.create sends a 100 for
    it; the worker clears it after parsing, as it answers Expect itself."""
    from gunicorn.config import Config

    flags = {
        version: next(
            RequestParser(Config(), (_request(version=version, Expect="100-continue"),), ("127.0.0.1", 1))
        )._expected_100_continue
        for version in ("HTTP/1.1", "HTTP/1.0")
    }
    assert flags == {"HTTP/1.1": True, "HTTP/1.0": False}


@pytest.mark.slow
def test_uploads_still_arriving_are_held_to_the_worker_budget(iris_model_dir):
    """Three uploads of 1.5 MB each, declared 2 MB, with MAX_BUFFERED_BYTES at 4 MB: the one that takes the worker
    past its budget is answered 503 (Retry-After, Connection: close) at once; the others, health and a complete
    request are served as usual."""
    limits = {"MAX_REQUEST_BODY_BYTES": "2000000", "MAX_BUFFERED_BYTES": "4000000", "REQUEST_READ_TIMEOUT_S": "20"}
    head = _request(body=b"")[: -len(b"\r\n\r\n")].replace(b"GET", b"POST")
    head += b"\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n"
    with _iris_server(iris_model_dir, **limits) as running:
        server = running.wait_ready()
        uploads = [socket.create_connection(("127.0.0.1", server.port), timeout=20) for _ in range(3)]
        try:
            for sock in uploads[:2]:
                sock.sendall(head + b" " * 1_500_000)
                wait_until_read(sock)  # the worker holds all of it, as the budget counts
            held = [_nothing_received(sock) for sock in uploads[:2]]
            try:
                uploads[2].sendall(head + b" " * 1_500_000)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the 503 may close the connection before the rest of the upload is sent; it is still readable
            refused = _read_answer(uploads[2], timeout=15)  # well before the 20 s read deadline's 408
            assert held == [True, True]
            status, headers, body = _responses(refused)[0]
            assert status == "HTTP/1.1 503 Service Unavailable"
            assert headers["retry-after"] == "1" and headers["connection"] == "close"
            assert "MAX_BUFFERED_BYTES=4000000" in json.loads(body)["message"]
            assert requests.get(server.url + "/health/live", timeout=10).status_code == 200
            assert requests.post(server.url + "/score", data=ROW_BODY, headers=JSON_TYPE, timeout=10).json() == [0]
        finally:
            for sock in uploads:
                sock.close()
