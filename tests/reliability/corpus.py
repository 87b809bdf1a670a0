"""The bad-input corpus: malformed requests as data, each with an id, the raw bytes sent and the statuses allowed.

Requests are raw bytes so that what HTTP clients refuse to send (bad request lines, truncated bodies, lying
Content-Length, oversized heads) can be sent too. Every answer but HEAD's is a JSON ``{"message": ...}`` body,
including gunicorn-level rejections (service/worker.py). ``echo`` is a piece of the input of which no more than 40
consecutive characters may come back in the body (service.conversion quotes offending values up to that length).
``bug`` marks a case the service fails today: its test is a strict xfail with that reason until it is fixed.

The corpus targets the no-code entry script serving the plain iris SVC (no predict_proba) with
``MAX_REQUEST_BODY_BYTES=BODY_LIMIT``.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass

from raw_http import request_bytes
from reliability_helpers import ROW

BODY_LIMIT = 1024 * 1024
READ_TIMEOUT_S = 2
"""REQUEST_READ_TIMEOUT_S of the corpus server: a request not in full after this long is answered 408."""
CANARY = "CANARY-5c1e9d0b7a2f4e6c8d3b1a0f9e8d7c6b-ECHO-CHECK-0123456789abcdefghijklmnopqrstuvwxyz"
CANARY_B = CANARY.encode()
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@dataclass(frozen=True)
class Case:
    """One malformed request and what the service may answer."""

    id: str
    request: bytes
    expected: tuple[int, ...]
    echo: bytes | None = None
    shutdown_write: bool = False
    bug: str | None = None


def _post(body: bytes | str, content_type: str | None = "application/json", path: str = "/score", **kw) -> bytes:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return request_bytes("POST", path, data, content_type=content_type, **kw)


def _doc(document: object) -> bytes:
    return _post(json.dumps(document))


def _data(value: object, **extra: object) -> bytes:
    return _doc({"data": value, **extra})


def _get(path: str, **kw) -> bytes:
    return request_bytes("GET", path, content_type=None, **kw)


def _raw(text: str) -> bytes:
    return text.encode("latin-1")


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(case_id: str, request: bytes, *expected: int, **kw) -> None:
        c.append(Case(case_id, request, tuple(expected) or (400,), **kw))

    # -- malformed and truncated JSON ---------------------------------------------------------------------------------
    for i, text in enumerate(
        [
            "{",
            '{"data": [[5.1, 3.5,',
            '{"data": }',
            "{'data': [[5.1, 3.5, 1.4, 0.2]]}",
            '{"data": [[5.1, 3.5, 1.4, 0.2]],}',
            '{"data": [[5.1, 3.5, 1.4, 0.2]]}}',
            '{"data": [[5.1 3.5 1.4 0.2]]}',
            '{"data": [[0x10, 1, 1, 1]]}',
            '{"data": [[.5, 1, 1, 1]]}',
            '{"data": [[01, 1, 1, 1]]}',
            '{"data": [[+1, 1, 1, 1]]}',
            '{"data": [[1, 1, 1, 1]]} // comment',
            '{"data" [[1, 1, 1, 1]]}',
            '{"data": [[1, 1, 1, 1]]',
            "nul",
            "tru",
            '"unterminated',
            "[[[[",
            "   ",
            "\x00\x00\x00\x00",
            '{"data": "\\x41"}',
            '{"data": "\\ud800"}',
        ]
    ):
        add(f"json-malformed-{i:02d}", _post(text))
    add("json-empty-body", _post(""))
    add("json-canary-in-bad-json", _post('{"' + CANARY + '": [[1,2,3,4]'), echo=CANARY_B)
    add("json-body-is-list", _post(json.dumps([ROW])))
    add("json-body-is-number", _post("42"))
    add("json-body-is-null", _post("null"))
    add("json-body-is-string", _post(json.dumps(CANARY)), echo=CANARY_B)
    add("json-body-is-true", _post("true"))

    # -- content types ------------------------------------------------------------------------------------------------
    valid = json.dumps({"data": [ROW]})
    for i, content_type in enumerate(
        [
            None,
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "text/json",
            "application/jsonx",
            "json",
            "",
            "application/octet-stream",
        ]
    ):
        add(f"content-type-{i:02d}", _post(valid, content_type=content_type), 415)

    # -- encodings ----------------------------------------------------------------------------------------------------
    add("utf8-invalid-start-byte", _post(b'{"data": [[5.1, 3.5, 1.4, 0.2]], "x": "\xff"}'))
    add("utf8-latin1-string", _post(b'{"data": [["caf\xe9", 1, 1, 1]]}'))
    add("utf8-overlong", _post(b'{"data": "\xc0\xaf"}'))
    add("utf8-encoded-surrogate", _post(b'{"data": "\xed\xa0\x80"}'))
    add("utf8-lone-continuation", _post(b"\x80\x80\x80\x80"))
    add("utf16-odd-length", _post('{"data": 1}'.encode("utf-16-le") + b"\x00"))
    add("utf16-bad-json", _post('{"data": [[1, 2, 3, 4]]'.encode("utf-16")))
    add("utf16-lone-surrogate", _post(b'\xff\xfe{\x00"\x00d\x00"\x00:\x00 \x00\x00\xd8}\x00'))
    add("gzip-body-without-support", _post(gzip.compress(valid.encode()), headers={"Content-Encoding": "gzip"}))
    add("utf32-wrong-keys", _post('{"nodata": [[1, 2, 3, 4]]}'.encode("utf-32")))

    # -- wrong and missing keys ---------------------------------------------------------------------------------------
    add("keys-empty-object", _doc({}))
    add("keys-input-data", _doc({"input_data": [ROW]}))
    add("keys-capitalised", _doc({"Data": [ROW]}))
    add("keys-trailing-space", _doc({"data ": [ROW]}))
    add("keys-canary-only", _doc({CANARY: [ROW]}), echo=CANARY_B)
    add("keys-10000-without-data", _doc({f"k{i}": i for i in range(10_000)}))
    add("keys-duplicate-last-bad", _post('{"data": [[5.1, 3.5, 1.4, 0.2]], "data": "junk"}'))

    # -- data of the wrong type ---------------------------------------------------------------------------------------
    for name, value in [
        ("null", None),
        ("string", CANARY),
        ("empty-string", ""),
        ("object", {"a": 1}),
        ("number", 5.1),
        ("int", 7),
        ("true", True),
        ("object-10000-keys", {f"k{i}": i for i in range(10_000)}),
    ]:
        add(f"data-{name}", _data(value), echo=CANARY_B if value == CANARY else None)

    # -- dimensions and shapes ----------------------------------------------------------------------------------------
    add("shape-0d-list", _data([]))
    add("shape-empty-row", _data([[]]))
    add("shape-1d", _data(ROW))
    add("shape-3d", _data([[ROW]]))
    add("shape-4d", _data([[[ROW]]]))
    add("shape-3-columns", _data([ROW[:3]]))
    add("shape-5-columns", _data([[*ROW, 1.0]]))
    add("shape-1-column", _data([[1.0]]))
    add("shape-100-columns", _data([[1.0] * 100]))
    add("shape-ragged-short-second", _data([ROW, ROW[:3]]))
    add("shape-ragged-long-second", _data([ROW, [*ROW, 9.9]]))
    add("shape-row-is-number", _data([ROW, 5.1]))
    add("shape-row-is-null", _data([ROW, None]))
    add("shape-row-is-object", _data([ROW, {"a": 1}]))
    add("shape-row-is-string", _data([ROW, "5.1,3.5,1.4,0.2"]))
    add("shape-cell-is-list", _data([[[5.1], 3.5, 1.4, 0.2]]))
    add("shape-cell-is-object", _data([[{"v": 5.1}, 3.5, 1.4, 0.2]]))

    # -- values -------------------------------------------------------------------------------------------------------
    add("value-string", _data([["abc", 3.5, 1.4, 0.2]]))
    add("value-canary-string", _data([[CANARY, 3.5, 1.4, 0.2]]), echo=CANARY_B)
    add("value-empty-string", _data([["", 3.5, 1.4, 0.2]]))
    add("value-null", _data([[None, 3.5, 1.4, 0.2]]))
    add("value-all-null", _data([[None, None, None, None]]))
    add("value-bool-strings", _data([["true", "false", "true", "false"]]))
    add("value-nan-string", _data([["nan", 3.5, 1.4, 0.2]]))
    add("value-inf-string", _data([["inf", 3.5, 1.4, 0.2]]))
    add("value-nan-literal", _post('{"data": [[NaN, 3.5, 1.4, 0.2]]}'))
    add("value-infinity-literal", _post('{"data": [[Infinity, 3.5, 1.4, 0.2]]}'))
    add("value-minus-infinity-literal", _post('{"data": [[-Infinity, 3.5, 1.4, 0.2]]}'))
    add("value-1e400", _post('{"data": [[1e400, 3.5, 1.4, 0.2]]}'))
    add("value-minus-1e400", _post('{"data": [[-1e400, 3.5, 1.4, 0.2]]}'))
    add("value-huge-int", _post('{"data": [[' + "9" * 400 + ", 3.5, 1.4, 0.2]]}"))
    add("value-huge-int-over-4300-digits", _post('{"data": [[' + "9" * 5000 + ", 3.5, 1.4, 0.2]]}"))
    add("value-long-string", _data([["x" * 100_000, 3.5, 1.4, 0.2]]), echo=b"x" * 100)
    add("value-nan-in-second-row", _post('{"data": [[5.1, 3.5, 1.4, 0.2], [NaN, 1, 1, 1]]}'))

    # -- deep nesting -------------------------------------------------------------------------------------------------
    add("nesting-100000-open-brackets", _post("[" * 100_000))
    add("nesting-100000-balanced", _post("[" * 100_000 + "]" * 100_000))
    add("nesting-data-900-deep", _post('{"data": ' + "[" * 900 + "1" + "]" * 900 + "}"))
    add("nesting-data-5000-deep", _post('{"data": ' + "[" * 5000 + "1" + "]" * 5000 + "}"))
    add("nesting-objects-5000-deep", _post('{"data": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"))

    # -- records (column names) ---------------------------------------------------------------------------------------
    record = dict(zip(FEATURES, ROW, strict=True))
    add("records-missing-column", _data([{k: v for k, v in record.items() if k != FEATURES[0]}]))
    add("records-unknown-column", _data([{**record, CANARY: 1.0}]), echo=CANARY_B)
    add("records-wrong-names", _data([{"a": 1, "b": 2, "c": 3, "d": 4}]))
    add("records-mixed-with-rows", _data([record, ROW]))
    add("records-string-value", _data([{**record, FEATURES[1]: "abc"}]))
    add("records-nul-column-name", _data([{"\x00": 1.0}]))
    add("records-null-value", _data([{**record, FEATURES[1]: None}]))

    # -- the method parameter (no-code script) ------------------------------------------------------------------------
    for name, method in [
        ("fit", "fit"),
        ("dunder", "__class__"),
        ("canary", CANARY),
        ("number", 123),
        ("list", ["predict"]),
        ("object", {"name": "predict"}),
        ("empty", ""),
        ("upper", "PREDICT"),
        ("proba-on-plain-svc", "predict_proba"),
        ("decision-function", "decision_function"),
    ]:
        add(f"method-{name}", _data([ROW], method=method), echo=CANARY_B if method == CANARY else None)

    # -- query strings on GET /score and /swagger.json ----------------------------------------------------------------
    add("get-score-no-query", _get("/score"))
    add("get-score-data-garbage", _get("/score?data=garbage"))
    add("get-score-data-3-columns", _get("/score?data=[[1,2,3]]"))
    add("get-score-data-bad-percent-utf8", _get("/score?data=%ff%fe"))
    add("get-score-data-empty", _get("/score?data="))
    add("get-score-canary-key", _get(f"/score?{CANARY}=1"), echo=CANARY_B)
    add("swagger-version-4", _get("/swagger.json?version=4"), 404)
    add("swagger-version-text", _get("/swagger.json?version=abc"), 404)
    add(
        "swagger-version-canary",
        _get(f"/swagger.json?version={CANARY}"),
        404,
        echo=CANARY_B,
    )

    # -- unknown routes and methods -----------------------------------------------------------------------------------
    add("route-unknown", _get("/nope"), 404)
    add("route-score-trailing-slash", _post(valid, path="/score/"), 404)
    add("route-traversal", _get("/../../etc/passwd"), 404, 400)
    add("route-encoded-traversal", _get("/%2e%2e/%2e%2e/etc/passwd"), 404)
    add("route-canary", _get(f"/{CANARY}"), 404, echo=CANARY_B)
    add("route-console", _get("/console"), 404)
    add("method-put-score", request_bytes("PUT", "/score", valid.encode()), 405)
    add("method-delete-score", request_bytes("DELETE", "/score", content_type=None), 405)
    add("method-patch-score", request_bytes("PATCH", "/score", valid.encode()), 405)
    add("method-post-root", request_bytes("POST", "/", valid.encode()), 405)
    add("method-post-swagger", request_bytes("POST", "/swagger.json", valid.encode()), 405)
    add("method-head-score", request_bytes("HEAD", "/score", content_type=None), 405)
    add("method-trace-root", request_bytes("TRACE", "/", content_type=None), 405)
    add("method-custom-token", request_bytes("FROB", "/score", content_type=None), 405, 400)
    add("method-post-metrics", request_bytes("POST", "/metrics", b"{}"), 405)
    add("method-delete-model", request_bytes("DELETE", "/model", content_type=None), 405)

    # -- body size and truncation -------------------------------------------------------------------------------------
    big = json.dumps({"data": [ROW] * (BODY_LIMIT // 18)}).encode()
    add("body-over-limit", _post(big), 413)
    add("body-declared-over-limit-not-sent", _post(b"{", content_length=BODY_LIMIT * 50), 413)
    add(
        "body-chunked-over-limit",
        _raw("POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        + f"{len(big):x}\r\n".encode()
        + big
        + b"\r\n0\r\n\r\n",
        413,
    )
    add("body-truncated-half-close", _post(valid[:20], content_length=len(valid)), 400, shutdown_write=True)
    add(
        "body-chunked-truncated",
        _raw("POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        + b"100\r\n"
        + valid.encode()[:20],
        400,
        shutdown_write=True,
    )
    add(
        "body-chunked-bad-size",
        _raw("POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        + b"zz\r\n"
        + valid.encode()
        + b"\r\n0\r\n\r\n",
        400,
    )

    # -- request lines and headers gunicorn rejects -------------------------------------------------------------------
    for i, line in enumerate(
        [
            "GARBAGE\r\n\r\n",
            "GET\r\n\r\n",
            "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
            "get / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTX/1.1\r\nHost: x\r\n\r\n",
            "\r\n\r\n\r\nGET",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded: continuation\r\n\r\n",
            "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
            "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        ]
    ):
        add(f"http-bad-{i:02d}", _raw(line), 400, 501, 505)
    add(
        "http-bad-request-line-echo",
        _raw(f"{CANARY} / HTTP/1.1\r\nHost: x\r\n\r\n"),
        400,
        echo=CANARY_B,
    )
    add("http-request-line-too-long", _get("/score?data=" + "1" * 5000), 414)
    add("http-header-too-large", _get("/", headers={"X-Big": CANARY * 200}), 431, 400, echo=CANARY_B)
    add(
        "http-too-many-headers",
        _get("/", headers={f"X-H{i}": "v" for i in range(150)}),
        431,
        400,
    )
    add("http-request-id-101-chars", _get("/score?data=1", headers={"x-request-id": "r" * 101}), 431)
    add("http-client-request-id-101", _get("/", headers={"x-ms-client-request-id": "c" * 101}), 431)
    return c


CASES: list[Case] = _cases()
