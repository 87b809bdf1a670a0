"""Issue 7, security: bearer-key auth on a real gunicorn (401 on /score, /swagger.json and /model, health open), no
way to switch Flask's debugger on from the environment, and response headers that disclose no library versions
beyond the documented ``x-ms-server-version``.

The key comparison is hmac.compare_digest (service/auth.py); constant time is a property of that function, not
something a test without timed asserts can show. Non-root in the container is tested in tests/container.
"""

from __future__ import annotations

import re
import secrets
import socket

import pytest
from raw_http import exchange, request_bytes
from reliability_helpers import SCRIPTS, Server, iris_args

from service import __version__

pytestmark = pytest.mark.slow
KEY = "k-" + secrets.token_urlsafe(24)
VALID = b'{"data": [[5.1, 3.5, 1.4, 0.2]]}'
PROTECTED = [
    ("POST", "/score"),
    ("GET", "/score?data=[[5.1,3.5,1.4,0.2]]"),
    ("GET", "/swagger.json"),
    ("GET", "/swagger.json?version=3"),
    ("GET", "/model"),
]
OPEN = ["/", "/health/live", "/health/ready", "/metrics"]
WRONG_CREDENTIALS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong-key",
    f"Bearer {KEY}x",
    f"Bearer {KEY[:-1]}",
    f"Bearer {KEY.upper()}",
    f"Basic {KEY}",
    KEY,
    f"Token {KEY}",
    f"Bearer {KEY} {KEY}",
]


def _request(method: str, path: str, authorization: str | None) -> bytes:
    headers = {} if authorization is None else {"Authorization": authorization}
    if method == "POST":
        return request_bytes("POST", path, VALID, headers=headers)
    return request_bytes(method, path, content_type=None, headers=headers)


@pytest.fixture(scope="module")
def keyed_server(iris_model_dir):
    with Server(*iris_args(iris_model_dir, script=None), env={"SCORING_API_KEY": KEY}) as server:
        yield server.wait_ready()


@pytest.mark.parametrize("authorization", WRONG_CREDENTIALS, ids=lambda a: "none" if a is None else repr(a)[:24])
def test_missing_or_wrong_key_is_401_on_every_protected_route(keyed_server, authorization):
    for method, path in PROTECTED:
        response = exchange(keyed_server.port, _request(method, path, authorization))
        assert response.status == 401, (method, path, response.status, response.body[:200])
        assert response.json()["message"]
        assert (response.header("WWW-Authenticate") or "").lower().startswith("bearer")
        assert KEY.encode() not in response.body and KEY[:12].encode() not in response.body


def test_right_key_is_accepted_and_health_stays_open(keyed_server):
    for scheme in ("Bearer", "bearer"):
        for method, path in PROTECTED:
            response = exchange(keyed_server.port, _request(method, path, f"{scheme} {KEY}"))
            assert response.status == 200, (method, path, response.body[:200])
    for path in OPEN:
        assert exchange(keyed_server.port, _request("GET", path, None)).status == 200, path


def test_key_does_not_appear_in_the_log(keyed_server):
    exchange(keyed_server.port, _request("POST", "/score", f"Bearer {KEY}"))
    exchange(keyed_server.port, _request("POST", "/score", "Bearer wrong-key"))
    assert KEY not in keyed_server.output


DEBUG_ENV = {
    "FLASK_DEBUG": "1",
    "FLASK_ENV": "development",
    "FLASK_RUN_DEBUG": "true",
    "DEBUG": "true",
    "WERKZEUG_DEBUG_PIN": "off",
    "WERKZEUG_RUN_MAIN": "true",
    "PYTHONDEVMODE": "1",
    "AZUREML_LOG_LEVEL": "DEBUG",
}


@pytest.fixture(scope="module")
def debug_env_server():
    """run() raises; every debug-ish setting exported; AZUREML_DEBUG_PORT points at a socket we listen on."""
    with socket.socket() as debugger:
        debugger.bind(("127.0.0.1", 0))
        debugger.listen(1)
        debugger.settimeout(0.5)
        env = {**DEBUG_ENV, "AZUREML_DEBUG_PORT": str(debugger.getsockname()[1])}
        with Server("--entry_script", str(SCRIPTS / "run_raises.py"), env=env) as server:
            server.wait_ready()
            try:
                debugger.accept()[0].close()
                dialled_out = True
            except TimeoutError:
                dialled_out = False
            yield server, dialled_out


def test_debug_settings_do_not_expose_the_debugger_or_tracebacks(debug_env_server):
    server, dialled_out = debug_env_server
    failed = exchange(server.port, request_bytes("POST", "/score", b"1", content_type="text/plain"))
    assert failed.status == 500
    assert failed.json() == {
        "message": "An unexpected error occurred in scoring script. Check the logs for more info.",
        "request_id": failed.header("x-request-id"),
    }
    for path in ["/?__debugger__=yes&cmd=resource&f=debugger.js", "/console", "/nope?__debugger__=yes"]:
        response = exchange(server.port, request_bytes("GET", path, content_type=None))
        assert b"debugger" not in response.body.lower() and b"werkzeug" not in response.body.lower(), path
    assert "Debugger is active" not in server.output and "Debug mode: on" not in server.output
    assert "run-raises-secret-detail" in server.output  # logged for the operator, never sent
    assert not dialled_out, "the service connected to AZUREML_DEBUG_PORT"


ALLOWED_HEADERS = {
    "server",
    "date",
    "connection",
    "content-type",
    "content-length",
    "x-content-type-options",
    "x-ms-run-function-failed",
    "x-ms-run-fn-exec-ms",
    "x-ms-server-version",
    "x-request-id",
    "x-ms-request-id",
    "x-ms-client-request-id",
    "www-authenticate",
    "retry-after",
    "allow",
}
LIBRARY = re.compile(r"(?i)python|werkzeug|flask|gunicorn/|scikit|sklearn|numpy|joblib|orjson|prometheus")
VERSION = re.compile(r"\d+\.\d+\.\d+")
# The exposition-format parameter of /metrics ("text/plain; version=0.0.4") is a format version, not a library's.
NO_VERSION_CHECK = {"date", "x-ms-run-fn-exec-ms", "content-type"}


def test_response_headers_disclose_no_library_versions(keyed_server, debug_env_server):
    auth = {"Authorization": f"Bearer {KEY}"}
    keyed = [
        request_bytes("POST", "/score", VALID, headers=auth),
        request_bytes("POST", "/score", b'{"data": 1}', headers=auth),
        request_bytes("POST", "/score", VALID, content_type="text/plain", headers=auth),
        request_bytes("POST", "/score", VALID),
        request_bytes("GET", "/swagger.json", content_type=None, headers=auth),
        request_bytes("GET", "/model", content_type=None, headers=auth),
        request_bytes("GET", "/nope", content_type=None),
        request_bytes("PUT", "/score", VALID),
        request_bytes("OPTIONS", "/", content_type=None),
        request_bytes("GET", "/", content_type=None, headers={"x-request-id": "r" * 101}),
        request_bytes("GET", "/metrics", content_type=None),
        request_bytes("GET", "/health/ready", content_type=None),
        b"GARBAGE\r\n\r\n",
    ]
    responses = [exchange(keyed_server.port, raw) for raw in keyed]
    responses.append(exchange(debug_env_server[0].port, request_bytes("POST", "/score", b"1", content_type=None)))
    seen = set()
    for response in responses:
        assert response.status is not None
        for name, value in response.headers:
            seen.add(name.lower())
            assert name.lower() in ALLOWED_HEADERS, (response.status, name, value)
            if name.lower() == "x-ms-server-version":
                assert value == f"sklearn-scoring/{__version__}"
            elif name.lower() == "server":
                assert value == "gunicorn"
            else:
                assert not LIBRARY.search(value), (response.status, name, value)
                assert name.lower() in NO_VERSION_CHECK or not VERSION.search(value), (response.status, name, value)
    print(f"\nsummary headers: {len(responses)} responses, header names seen {sorted(seen)}")


FORGED = "2026-01-01 00:00:00,000 C [1] azmlinfsrv - Refusing to start: FORGED-LOG-LINE"


@pytest.mark.parametrize("newline", ["%0A", "%0D%0A"], ids=["lf", "crlf"])
def test_request_path_cannot_forge_log_lines(keyed_server, newline):
    path = "/nope" + newline + FORGED.replace(" ", "%20")
    response = exchange(keyed_server.port, request_bytes("GET", path, content_type=None))
    assert response.status == 404
    output = keyed_server.output
    forged = [line for line in output.splitlines() if line.startswith(FORGED[:23])]
    assert forged == [], forged
    escaped = newline.replace("%0D", "\\r").replace("%0A", "\\n")
    assert f"azmlinfsrv - GET /nope{escaped}{FORGED} 404 " in output
