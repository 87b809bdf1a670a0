"""service.cors: flask-cors's answers for the reference's configuration, without a server (test_drop_in.py compares
them with the real reference)."""

import pytest
from flask import Flask, Response, request

from service.cors import add_cors_headers

APP = Flask(__name__)


def _headers(origins, method="GET", **headers):
    with APP.test_request_context("/score", method=method, headers=headers):
        response = Response("")
        add_cors_headers(request, response, tuple(origins))
        return {k: v for k, v in response.headers.items() if k.startswith("Access-Control") or k == "Vary"}


@pytest.mark.parametrize(
    ("origins", "origin", "expected"),
    [
        (["*"], "http://x", {"Access-Control-Allow-Origin": "http://x", "Vary": "Origin"}),
        (["http://a.example"], "HTTP://A.example", {"Access-Control-Allow-Origin": "HTTP://A.example"}),
        (["http://a.example", "http://b.example"], "http://b.example",
         {"Access-Control-Allow-Origin": "http://b.example", "Vary": "Origin"}),
        ([r"http://.*\.example"], "http://c.example",
         {"Access-Control-Allow-Origin": "http://c.example", "Vary": "Origin"}),
        (["http://a.example"], "http://evil.test", {}),
        ([], "http://x", {}),
    ],
)
def test_origins(origins, origin, expected):
    assert _headers(origins, Origin=origin) == expected


def test_preflight_lists_the_requested_headers_sorted_with_their_case_and_the_methods():
    headers = _headers(["*"], "OPTIONS", Origin="http://x", **{
        "Access-Control-Request-Method": "post", "Access-Control-Request-Headers": "X-Foo, content-type,authorization"})
    assert headers == {
        "Access-Control-Allow-Origin": "http://x",
        "Access-Control-Allow-Headers": "X-Foo, authorization, content-type",
        "Access-Control-Allow-Methods": "GET, POST",
        "Vary": "Origin",
    }


def test_a_preflight_for_another_method_gets_only_the_origin():
    headers = _headers(["*"], "OPTIONS", Origin="http://x", **{"Access-Control-Request-Method": "PUT"})
    assert headers == {"Access-Control-Allow-Origin": "http://x", "Vary": "Origin"}
