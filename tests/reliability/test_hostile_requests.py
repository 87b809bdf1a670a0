"""Issue 14 over real HTTP: JSON nested past the depth limit is a 400 at every parser entry point, error bodies quote
no client text as markup, the access line redacts query values, and a run() status outside 100-599 is a logged 500.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from raw_http import exchange, request_bytes
from reliability_helpers import SCRIPTS, Server, iris_args

from service.inputs import MAX_JSON_DEPTH

pytestmark = pytest.mark.slow
MARKUP = "<img src=x onerror=alert(1)>&amp;"
ROW = [5.1, 3.5, 1.4, 0.2]
TOO_DEEP = f"nested too deeply; expected at most {MAX_JSON_DEPTH} levels of arrays and objects."


@pytest.fixture(scope="module")
def no_code(iris_model_dir):
    with Server(*iris_args(iris_model_dir, script=None)) as server:
        yield server.wait_ready()


@pytest.fixture(scope="module")
def untyped():
    """An undecorated run(data): the query reaches it as one JSON string."""
    with Server("--entry_script", str(SCRIPTS.parents[1] / "service" / "scripts" / "query_echo.py")) as server:
        yield server.wait_ready()


def _get(server: Server, target: str, headers: dict[str, str] | None = None):
    return exchange(server.port, request_bytes("GET", target, content_type=None, headers=headers))


def _post(server: Server, body: bytes, headers: dict[str, str] | None = None):
    return exchange(server.port, request_bytes("POST", "/score", body, headers=headers))


# --- depth limit ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [3000, MAX_JSON_DEPTH + 1])
def test_unclosed_deep_query_value_is_a_400_naming_the_parameter(no_code, untyped, depth):
    for server in (no_code, untyped):
        response = _get(server, "/score?data=" + "[" * depth)
        assert response.status == 400, response.body[:300]
        assert response.json()["message"] == f"Query parameter 'data' holds JSON {TOO_DEEP}"


def test_deep_query_value_that_parses_is_still_a_400_never_a_500(no_code, untyped):
    # 1000 levels: valid JSON, within orjson's limit but past the stdlib's recursion limit (encoding, quoting).
    target = "/score?data=" + "[" * 1000 + "]" * 1000
    no_code_answer, untyped_answer = _get(no_code, target), _get(untyped, target)
    assert no_code_answer.status == 400 and "nested array" in no_code_answer.json()["message"]
    assert untyped_answer.status == 400 and untyped_answer.json()["message"].endswith(TOO_DEEP)


def test_deep_query_value_with_a_nan_takes_the_stdlib_path_and_is_a_400(no_code):
    response = _get(no_code, "/score?data=[NaN," + "[" * (MAX_JSON_DEPTH + 1))
    assert response.status == 400
    assert response.json()["message"] == f"Query parameter 'data' holds JSON {TOO_DEEP}"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_deep_body_is_a_400_with_the_same_limit(no_code, encoding):
    response = _post(no_code, ('{"data": ' + "[" * 3000 + "}").encode(encoding))
    assert response.status == 400
    assert response.json()["message"] == f"POST body holds JSON {TOO_DEEP}"


def test_shallow_query_still_scores(no_code):
    response = _get(no_code, "/score?data=" + urllib.parse.quote(json.dumps([ROW])))
    assert response.status == 200 and response.json() == [0]


# --- no markup echoed in error bodies ---------------------------------------------------------------------------------


def _markup_requests() -> dict[str, bytes]:
    quoted = urllib.parse.quote(MARKUP)
    return {
        "swagger version": request_bytes("GET", f"/swagger.json?version={quoted}", content_type=None),
        "no-code method": request_bytes("POST", "/score", json.dumps({"data": [ROW], "method": MARKUP}).encode()),
        "string value": request_bytes("POST", "/score", json.dumps({"data": [[MARKUP, 1, 2, 3]]}).encode()),
        "string input": request_bytes("POST", "/score", json.dumps({"data": MARKUP}).encode()),
        "object keys": request_bytes("POST", "/score", json.dumps({"data": {MARKUP: 1}}).encode()),
        "record columns": request_bytes("POST", "/score", json.dumps({"data": [{MARKUP: 1}]}).encode()),
        "nested value": request_bytes("POST", "/score", json.dumps({"data": [[[MARKUP], 1, 2, 3]]}).encode()),
        "query value": request_bytes("GET", f"/score?data={quoted}", content_type=None),
        "query key": request_bytes("GET", f"/score?data=1&{quoted}=" + "[" * 1100, content_type=None),
    }


@pytest.mark.parametrize("case", list(_markup_requests()))
def test_error_bodies_quote_client_text_without_markup(no_code, case):
    response = exchange(no_code.port, _markup_requests()[case])
    assert 400 <= response.status < 500, response.body[:300]
    assert not re.search(rb"[<>&]", response.body), response.body[:400]
    message = response.json()["message"]
    assert "\\u003cimg" in message, message  # quoted, escaped, still readable


ESCAPED_MARKUP = MARKUP.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": [["a", 1, 2, 3]]}, id="service error"),
        pytest.param({"data": [ROW], "method": "nope"}, id="the script's own JSON 4xx"),
    ],
)
def test_error_bodies_carry_the_client_request_id_without_markup(no_code, body):
    response = _post(no_code, json.dumps(body).encode(), headers={"x-request-id": MARKUP})
    assert response.status == 400, response.body[:300]
    assert response.header("x-request-id") == MARKUP  # the header echo is the reference's, unchanged
    assert not re.search(rb"[<>&]", response.body), response.body[:400]
    assert response.json()["request_id"] == ESCAPED_MARKUP


def test_an_unreadable_body_is_logged_under_the_reference_logger_name(no_code):
    before = len(no_code.output)
    head = "POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    raw = (head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode()
    response = exchange(no_code.port, raw)
    assert response.status == 400 and "chunked transfer encoding" in response.json()["message"], response.body[:300]
    logged = [line for line in no_code.output[before:].splitlines() if "Unreadable request body" in line]
    assert len(logged) == 1 and " azmlinfsrv - Unreadable request body: InvalidChunkSize" in logged[0], logged


# --- access line ------------------------------------------------------------------------------------------------------


def test_access_line_keeps_query_keys_and_redacts_their_values(no_code):
    secret = "tok-" + "s3cr3t" * 4
    row = urllib.parse.quote(json.dumps([ROW]))
    before = len(no_code.output)
    assert _get(no_code, f"/score?access_token={secret}&data={row}&flag").status == 200
    assert _post(no_code, json.dumps({"data": [ROW]}).encode()).status == 200
    lines = [line for line in no_code.output[before:].splitlines() if re.search(r" azmlinfsrv - [A-Z]+ /", line)]
    assert any("GET /score?access_token=<redacted>&data=<redacted>&flag 200" in line for line in lines), lines
    assert any("POST /score 200" in line for line in lines), lines
    assert secret not in no_code.output and "5.1" not in no_code.output[before:]


# --- run() status -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def status_server():
    with Server("--entry_script", str(SCRIPTS / "status_from_body.py")) as server:
        yield server.wait_ready()


@pytest.mark.parametrize("body", ["999", "0", "99", "600", "set:1000", "flask:999", "flask:0"])
def test_run_status_outside_100_to_599_is_a_logged_500(status_server, body):
    before = len(status_server.output)
    response = exchange(status_server.port, request_bytes("POST", "/score", body.encode(), content_type="text/plain"))
    assert response.raw.startswith(b"HTTP/1.1 500 "), response.raw[:100]
    assert response.header("x-ms-run-function-failed") == "True"
    assert response.json()["message"].startswith("An unexpected error occurred in scoring script.")
    log = status_server.output[before:]
    status = body.rpartition(":")[2]
    logged = [line for line in log.splitlines() if f"run() returned a response with status {status};" in line]
    assert len(logged) == 1 and "expected an HTTP status code from 100 to 599" in logged[0], log[-2000:]


def test_run_status_in_range_of_a_plain_flask_response_is_sent_as_is(status_server):
    response = exchange(status_server.port, request_bytes("POST", "/score", b"flask:201", content_type="text/plain"))
    assert response.status == 201 and response.body == b"made"


@pytest.mark.parametrize("status", [201, 418, 599])
def test_run_status_in_range_is_sent_as_is(status_server, status):
    response = exchange(status_server.port, request_bytes("POST", "/score", str(status).encode(), content_type=None))
    assert response.status == status and response.body == b"made"
