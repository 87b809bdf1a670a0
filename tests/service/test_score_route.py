"""POST/GET /score through the Flask test client: the reference's answers for valid input, our 4xx for bad input."""

from __future__ import annotations

import json

import pytest
from service_helpers import make_client

ROW = [5.1, 3.5, 1.4, 0.2]
THREE_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.5, 3.0, 5.5, 1.8], [5.9, 3.0, 4.2, 1.5]]


def post(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/score", data=data, content_type=content_type, headers=headers)


def assert_error(response, status, *fragments):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"message", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    for fragment in fragments:
        assert fragment in body["message"]
    assert "Traceback" not in body["message"]
    return body["message"]


def test_valid_rows_give_the_reference_predictions_and_headers(iris):
    response = post(iris, {"data": THREE_ROWS})
    assert response.status_code == 200
    assert response.get_json() == [0, 2, 1]
    assert response.mimetype == "application/json"
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert float(response.headers["x-ms-run-fn-exec-ms"]) >= 0
    assert response.headers["x-ms-request-id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/foo+json"],
)
def test_json_content_types_are_accepted(iris, content_type):
    assert post(iris, {"data": [ROW]}, content_type).get_json() == [0]


def test_utf16_json_body_is_accepted_like_the_reference(iris):
    assert post(iris, json.dumps({"data": [ROW]}).encode("utf-16")).get_json() == [0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_32_bodies_whose_code_units_hold_quote_and_bracket_bytes_are_valid(iris, encoding):
    # U+2200 is the bytes 00 22 ('"') and U+5B5B the bytes 5B 5B ('[['): an invalid-JSON body here is not too deep.
    note = "\u2200" + "\u5b5b" * 1100
    body = json.dumps({"data": [ROW], "note": note}, ensure_ascii=False).encode(encoding)
    assert post(iris, body).get_json() == [0]
    assert_error(post(iris, body[:-4]), 400, "POST body could not be decoded as JSON")


@pytest.mark.parametrize(
    "body",
    [
        {"data": [["5.1", "3.5", "1.4", "0.2"]]},
        {"data": [[5, 3, 1, 0]]},
        {"data": [ROW], "extra": 1},
    ],
    ids=["numeric-strings", "ints", "extra-key"],
)
def test_coercions_and_extra_keys_are_accepted(iris, body):
    assert post(iris, body).status_code == 200


def test_duplicate_key_last_wins(iris):
    assert post(iris, '{"data": "junk", "data": [[5.1, 3.5, 1.4, 0.2]]}').get_json() == [0]


@pytest.mark.parametrize("content_type", [None, "text/plain"])
def test_non_json_content_type_is_415(iris, content_type):
    response = iris.post("/score", data=json.dumps({"data": [ROW]}), content_type=content_type)
    assert_error(response, 415, "Expects Content-Type to be application/json")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"data": [[5.1, 3.5,', "POST body could not be decoded as JSON"),
        ("  ", "POST body could not be decoded as JSON"),
        ("", "POST body is empty. Expecting a JSON dictionary."),
        ("[1, 2]", "POST body should be a JSON dictionary"),
        ("null", "POST body should be a JSON dictionary"),
        ('{"input_data": [[1, 2, 3, 4]]}', "A value is not provided for the 'data' parameter."),
        ("{}", "A value is not provided for the 'data' parameter."),
        ('{"data": [[NaN, 1, 2, 3]]}', "POST body could not be decoded as JSON"),
        (b'{"data": [[5.1, 3.5, 1.4, 0.2]], "x": "\xff"}', "could not be decoded as UTF-8"),
    ],
    ids=["malformed", "blank", "empty", "list", "null", "wrong-key", "no-key", "nan-literal", "non-utf8"],
)
def test_envelope_errors_are_400(iris, body, fragment):
    assert_error(post(iris, body), 400, fragment)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([[5.1, 3.5, 1.4]], "3 columns"),
        ([[5.1, 3.5, 1.4, 0.2, 9.9]], "5 columns"),
        (ROW, '"data"'),
        ([[ROW]], '"data"'),
        ([], "0 rows"),
        ([[]], '"data"'),
        ([ROW, [5.1, 3.5]], '"data"'),
        (None, '"data"'),
        ("abc", '"data"'),
        ({}, '"data"'),
        ([["a", 3.5, 1.4, 0.2]], "'a'"),
        ([[None, 3.5, 1.4, 0.2]], '"data"'),
        ([["Infinity", 3.5, 1.4, 0.2]], '"data"'),
        ([[True, 3.5, 1.4, 0.2], ["x", 1, 2, 3]], '"data"'),
    ],
    ids=[
        "3-cols",
        "5-cols",
        "1-d",
        "3-d",
        "no-rows",
        "empty-row",
        "ragged",
        "null",
        "string",
        "object",
        "non-numeric",
        "null-element",
        "infinity-string",
        "mixed",
    ],
)
def test_schema_violations_are_400_not_500(iris, data, fragment):
    """The reference answers these with 500 'error in scoring script'; they are the client's errors."""
    response = post(iris, {"data": data})
    message = assert_error(response, 400, fragment)
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert len(message) < 400


def test_error_messages_do_not_echo_large_input(iris):
    huge = "x" * 5000
    message = assert_error(post(iris, {"data": [[huge, 1, 2, 3]]}), 400)
    assert huge not in message


def test_get_score_takes_json_query_values(iris):
    assert iris.get("/score?data=[[5.1,3.5,1.4,0.2]]").get_json() == [0]
    response = iris.get("/score?data=[5.1,3.5,1.4,0.2]&data=[6.5,3.0,5.5,1.8]")
    assert response.get_json() == [0, 2]


def test_get_score_without_query_is_400(iris):
    assert_error(iris.get("/score"), 400, "A value is not provided for the 'data' parameter.")


def test_options_score_is_empty_200_and_head_score_is_405(iris):
    options = iris.options("/score")
    assert (options.status_code, options.get_data(), options.mimetype) == (200, b"", "text/html")
    assert "Allow" not in options.headers
    head = iris.head("/score")
    assert head.status_code == 405
    assert head.headers["x-ms-run-function-failed"] == "False"
    assert "x-request-id" in head.headers


def test_run_exception_is_a_generic_500_and_the_detail_is_logged(caplog):
    client = make_client("raises.py")
    response = client.post("/score", data="anything")
    message = assert_error(response, 500, "An unexpected error occurred in scoring script")
    assert "secret-detail-xyz" not in message
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert "secret-detail-xyz" in caplog.text


def test_request_headers_parameter_gets_a_dict_of_headers():
    client = make_client("request_headers.py")
    response = client.post("/score", data="payload", headers={"X-Custom": "abc"})
    assert response.get_json() == {"data": "payload", "custom": "abc", "type": "dict"}


def test_undecorated_run_gets_raw_body_or_json_query_string():
    client = make_client("query_echo.py")
    assert client.post("/score", data="not json at all").get_json() == {"received": "not json at all"}
    assert client.post("/score", data=b"").get_json() == {"received": ""}
    response = client.get("/score?kind=echo&a=1&b=[1,2]&c=x&c=y&d=null")
    received = json.loads(response.get_json()["received"])
    assert received == {"kind": "echo", "a": 1, "b": [1, 2], "c": ["x", "y"], "d": None}


def test_undecorated_run_with_non_utf8_body_is_400():
    client = make_client("query_echo.py")
    assert_error(client.post("/score", data=b"\xff\xfe"), 400, "Input cannot be decoded as UTF-8")
