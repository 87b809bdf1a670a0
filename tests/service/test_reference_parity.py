"""Our answers next to the real reference server's (azureml-inference-server-http 1.5.1 from .venv-reference):
swagger documents byte-equal, and the status/body/header rules of the non-scoring routes the same."""

from __future__ import annotations

import json

import pytest
import requests
from service_helpers import SCRIPTS, ServiceProcess, reference_server

pytestmark = [pytest.mark.reference, pytest.mark.slow]
SWAGGER_ENV = {"SERVICE_NAME": "iris-svc", "SERVICE_VERSION": "2.3", "SERVICE_PATH_PREFIX": "/api/v1/"}


@pytest.fixture(scope="module", params=["iris_score.py", "query_echo.py"])
def pair(request, reference_python, iris_model_dir):
    """(reference, ours) serving the same entry script with the same swagger settings."""
    args = ["--entry_script", str(SCRIPTS / request.param), "--model_dir", str(iris_model_dir)]
    with reference_server(reference_python, *args, env=SWAGGER_ENV) as reference:
        with ServiceProcess.ours(*args, env={"AML_APP_ROOT": str(SCRIPTS), **SWAGGER_ENV}) as ours:
            yield reference.wait_ready(), ours.wait_ready()


@pytest.mark.parametrize("query", ["", "?version=2", "?version=2.0", "?version=3", "?version=3.0", "?version=3.1"])
def test_swagger_documents_are_byte_equal(pair, query):
    reference, ours = (requests.get(s.url + "/swagger.json" + query, timeout=30) for s in pair)
    assert ours.status_code == reference.status_code == 200
    assert ours.content == reference.content
    assert ours.headers["Content-Type"] == reference.headers["Content-Type"]


@pytest.mark.parametrize("query", ["?version=4", "?version="])
def test_unknown_swagger_versions_match(pair, query):
    reference, ours = (requests.get(s.url + "/swagger.json" + query, timeout=30) for s in pair)
    assert ours.status_code == reference.status_code == 404
    assert ours.json()["message"] == reference.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("HEAD", "/"),
        ("OPTIONS", "/"),
        ("OPTIONS", "/score"),
        ("HEAD", "/score"),
        ("POST", "/"),
        ("PUT", "/score"),
        ("GET", "/nope"),
        ("POST", "/score/"),
    ],
)
def test_route_statuses_bodies_and_id_headers_match(pair, method, path):
    reference, ours = (
        requests.request(method, s.url + path, headers={"x-request-id": "rid-7"}, timeout=30) for s in pair
    )
    assert ours.status_code == reference.status_code
    assert ours.content == reference.content or ours.json() == reference.json()
    for header in ["x-request-id", "x-ms-request-id", "x-ms-run-function-failed"]:
        assert ours.headers.get(header) == reference.headers.get(header), header
    # Flask builds Allow from a set, so only its members are comparable.
    assert set(ours.headers.get("Allow", "").split(", ")) == set(reference.headers.get("Allow", "").split(", "))


def test_request_id_rules_match(pair):
    sent = {"x-ms-client-request-id": "client-1", "TraceId": "trace-1"}
    reference, ours = (requests.get(s.url + "/", headers=sent, timeout=30) for s in pair)
    for header in ["x-ms-request-id", "x-ms-client-request-id", "TraceId"]:
        assert ours.headers[header] == reference.headers[header]
    too_long = {"x-request-id": "r" * 101}
    reference, ours = (requests.get(s.url + "/", headers=too_long, timeout=30) for s in pair)
    assert ours.status_code == reference.status_code == 431
    assert ours.json()["message"] == reference.json()["message"]
    assert "x-request-id" not in ours.headers and "x-request-id" not in reference.headers


def test_valid_score_bodies_are_equal_json(pair):
    reference, ours = pair
    body = json.dumps({"data": [[5.1, 3.5, 1.4, 0.2], [6.5, 3.0, 5.5, 1.8]]})
    headers = {"Content-Type": "application/json"}
    answers = [requests.post(s.url + "/score", data=body, headers=headers, timeout=30) for s in (reference, ours)]
    assert answers[1].status_code == answers[0].status_code == 200
    assert answers[1].json() == answers[0].json()


@pytest.fixture(scope="module")
def contract_pair(request, reference_python):
    """(reference, ours) serving one of the contract scripts, chosen by indirect parametrisation."""
    args = ["--entry_script", str(SCRIPTS / request.param)]
    with reference_server(reference_python, *args) as reference:
        with ServiceProcess.ours(*args, env={"AML_APP_ROOT": str(SCRIPTS)}) as ours:
            yield reference.wait_ready(), ours.wait_ready()


@pytest.mark.parametrize("contract_pair", ["returns.py"], indirect=True)
@pytest.mark.parametrize(
    "kind",
    [
        "list",
        "tuple",
        "none",
        "string",
        "json-string",
        "unicode",
        "bigint",
        "aml-text",
        "aml-json",
        "aml-none",
        "aml-503",
        "flask-500",
    ],
)
def test_return_values_match_the_reference(contract_pair, kind):
    reference, ours = (requests.post(s.url + "/score", data=kind, timeout=30) for s in contract_pair)
    assert ours.status_code == reference.status_code
    assert ours.headers["Content-Type"] == reference.headers["Content-Type"]
    if reference.headers["Content-Type"] == "application/json":
        assert ours.json() == reference.json()
    else:
        assert ours.content == reference.content
    for header in ["x-ms-run-function-failed", "Custom"]:
        assert ours.headers.get(header) == reference.headers.get(header), header


@pytest.mark.parametrize("contract_pair", ["rawhttp_echo.py"], indirect=True)
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_rawhttp_matches_the_reference(contract_pair, method):
    answers = [
        requests.request(
            method, s.url + "/score?x=1&x=2", data="body", headers={"Content-Type": "text/plain"}, timeout=30
        )
        for s in contract_pair
    ]
    reference, ours = (answer.json() for answer in answers)
    assert ours.pop("is_aml_request") is True  # the reference passes a LocalProxy, not an AMLRequest
    reference.pop("is_aml_request")
    assert ours == reference
    assert answers[1].status_code == answers[0].status_code == 207
    assert answers[1].headers["X-A"] == answers[0].headers["X-A"] == "1, 2"


@pytest.mark.parametrize("contract_pair", ["request_headers.py"], indirect=True)
def test_request_headers_match_the_reference(contract_pair):
    reference, ours = (
        requests.post(s.url + "/score", data="payload", headers={"X-Custom": "abc"}, timeout=30).json()
        for s in contract_pair
    )
    assert ours == reference == {"data": "payload", "custom": "abc", "type": "dict"}


@pytest.fixture(scope="module")
def cors_pair(reference_python):
    env = {"AML_CORS_ORIGINS": "http://a.example, http://b.example"}
    args = ["--entry_script", str(SCRIPTS / "query_echo.py")]
    with reference_server(reference_python, *args, env=env) as reference:
        with ServiceProcess.ours(*args, env={"AML_APP_ROOT": str(SCRIPTS), **env}) as ours:
            yield reference.wait_ready(), ours.wait_ready()


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("POST", {"Origin": "http://a.example"}),
        ("POST", {"Origin": "http://evil.example"}),
        ("GET", {"Origin": "http://b.example"}),
        (
            "OPTIONS",
            {
                "Origin": "http://b.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        ),
    ],
)
def test_cors_headers_match_the_reference(cors_pair, method, headers):
    reference, ours = (requests.request(method, s.url + "/score", headers=headers, timeout=30) for s in cors_pair)
    assert ours.status_code == reference.status_code
    for name in ["Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Vary"]:
        assert ours.headers.get(name) == reference.headers.get(name), name
