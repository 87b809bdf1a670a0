"""The behaviour matrix again, over real HTTP to `python -m service` (gunicorn gthread) with CORS and a key set."""

from __future__ import annotations

import json

import pytest
import requests
from service_helpers import SCRIPTS, ServiceProcess

pytestmark = pytest.mark.slow
KEY = "matrix-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"Content-Type": "application/json", **AUTH}
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def server(iris_model_dir):
    env = {"SCORING_API_KEY": KEY, "AML_CORS_ORIGINS": "http://a.example"}
    args = ["--entry_script", str(SCRIPTS / "iris_score.py"), "--model_dir", str(iris_model_dir)]
    with ServiceProcess.ours(*args, env=env) as started:
        yield started.wait_ready()


def call(server, method, path, body=None, headers=None):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return requests.request(method, server.url + path, data=data, headers=headers or JSON, timeout=30)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        ("POST", "/score", {"data": [ROW, [6.5, 3.0, 5.5, 1.8]]}, 200, [0, 2]),
        ("POST", "/score", {"data": [["5.1", "3.5", "1.4", "0.2"]], "extra": 1}, 200, [0]),
        ("GET", "/score?data=[[5.1,3.5,1.4,0.2]]", None, 200, [0]),
        ("POST", "/score", '{"data": [[5.1,', 400, "POST body could not be decoded as JSON"),
        ("POST", "/score", "", 400, "POST body is empty"),
        ("POST", "/score", "[1]", 400, "POST body should be a JSON dictionary"),
        ("POST", "/score", {"rows": [ROW]}, 400, "A value is not provided for the 'data' parameter."),
        ("POST", "/score", {"data": [[1.0, 2.0, 3.0]]}, 400, "3 columns"),
        ("POST", "/score", {"data": [ROW, [1.0]]}, 400, '"data"'),
        ("POST", "/score", {"data": [["a", 1, 2, 3]]}, 400, "'a'"),
        ("POST", "/score", {"data": [[None, 1, 2, 3]]}, 400, '"data"'),
        ("POST", "/score", {"data": []}, 400, "0 rows"),
        ("POST", "/score", {"data": "abc"}, 400, '"data"'),
        ("POST", "/score", b'{"data": "\xff"}', 400, "UTF-8"),
    ],
)
def test_score_matrix(server, method, path, body, status, expected):
    response = call(server, method, path, body)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == expected
        assert response.headers["x-ms-run-function-failed"] == "False"
        assert float(response.headers["x-ms-run-fn-exec-ms"]) >= 0
    else:
        assert expected in response.json()["message"]
        assert response.json()["request_id"] == response.headers["x-request-id"]


def test_content_type_is_415(server):
    response = call(server, "POST", "/score", {"data": [ROW]}, {"Content-Type": "text/plain", **AUTH})
    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/score?data=[[5.1,3.5,1.4,0.2]]", "/swagger.json", "/model"])
def test_key_is_required(server, path):
    assert requests.get(server.url + path, timeout=30).status_code == 401
    assert requests.get(server.url + path, headers={"Authorization": "Bearer nope"}, timeout=30).status_code == 401
    assert requests.get(server.url + path, headers=AUTH, timeout=30).status_code == 200


@pytest.mark.parametrize("path", ["/", "/health/live", "/health/ready", "/metrics"])
def test_health_and_metrics_stay_open(server, path):
    assert requests.get(server.url + path, timeout=30).status_code == 200


def test_head_and_options_on_score(server):
    assert requests.head(server.url + "/score", headers=AUTH, timeout=30).status_code == 405
    preflight = requests.options(
        server.url + "/score",
        headers={"Origin": "http://a.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://a.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST"


def test_request_ids_and_431(server):
    response = call(server, "POST", "/score", {"data": [ROW]}, {**JSON, "x-ms-client-request-id": "c-9"})
    assert response.headers["x-ms-request-id"] == response.headers["x-ms-client-request-id"] == "c-9"
    assert call(server, "POST", "/score", {"data": [ROW]}, {**JSON, "x-request-id": "x" * 101}).status_code == 431


def test_unrouted_urls(server):
    missing = requests.get(server.url + "/nope", timeout=30)
    assert missing.status_code == 404 and "x-request-id" not in missing.headers
    assert requests.put(server.url + "/score", timeout=30).status_code == 405
