"""Every other route and header rule through the Flask test client (anchor-server.md §4-§10 and our additions)."""

from __future__ import annotations

import io
import json
import threading
import uuid

import pytest
from service_helpers import make_client, make_settings

from service.app import create_app

ROW = [5.1, 3.5, 1.4, 0.2]
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling "
    "and try again."
)


@pytest.fixture(scope="module")
def iris(iris_model_dir):
    return make_client("iris_score.py", iris_model_dir)


def score(client, body=None, **headers):
    body = {"data": [ROW]} if body is None else body
    return client.post("/score", data=json.dumps(body), content_type="application/json", headers=headers)


# --- health and unrouted URLs ----------------------------------------------------------------------------------------


def test_health_root_is_healthy_text(iris):
    response = iris.get("/")
    assert (response.status_code, response.get_data(), response.mimetype) == (200, b"Healthy", "text/html")
    assert "x-ms-run-function-failed" not in response.headers
    head = iris.head("/")
    assert (head.status_code, head.get_data(), head.headers["Content-Length"]) == (200, b"", "7")


@pytest.mark.parametrize("path", ["/", "/swagger.json"])
def test_options_on_get_routes_lists_allowed_methods(iris, path):
    response = iris.options(path)
    assert response.status_code == 200
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "GET", "HEAD"}
    assert "x-request-id" in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/"), ("post", "/swagger.json"), ("put", "/score"), ("delete", "/score"), ("patch", "/score")],
)
def test_app_level_405_is_the_reference_body_without_id_headers(iris, method, path):
    response = getattr(iris, method)(path, headers={"x-request-id": "rid-1"})
    assert response.status_code == 405
    assert response.get_json() == {"message": "The method is not allowed for the requested URL."}
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert "x-request-id" not in response.headers and "x-ms-server-version" not in response.headers


@pytest.mark.parametrize("path", ["/nope", "/score/"])
def test_app_level_404_is_the_reference_body_without_id_headers(iris, path):
    response = iris.post(path, headers={"x-request-id": "rid-1"})
    assert response.status_code == 404
    assert response.get_json() == {"message": NOT_FOUND}
    assert "x-request-id" not in response.headers


def test_liveness_and_readiness(iris):
    assert iris.get("/health/live").get_json() == {"status": "alive"}
    assert iris.get("/health/ready").get_json() == {"status": "ready"}


# --- request ids (§8) ----------------------------------------------------------------------------------------------


def test_new_request_id_is_a_uuid_echoed_twice(iris):
    response = iris.get("/")
    request_id = response.headers["x-request-id"]
    assert uuid.UUID(request_id).version == 4
    assert response.headers["x-ms-request-id"] == request_id
    assert "x-ms-client-request-id" not in response.headers


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({"x-request-id": "rid-1"}, {"x-request-id": "rid-1", "x-ms-request-id": "rid-1"}),
        ({"x-ms-request-id": "legacy-1"}, {"x-ms-request-id": "legacy-1", "x-ms-client-request-id": "legacy-1"}),
        ({"x-ms-client-request-id": "c-1"}, {"x-ms-request-id": "c-1", "x-ms-client-request-id": "c-1"}),
        (
            {"x-request-id": "rid-1", "x-ms-request-id": "legacy-1", "x-ms-client-request-id": "c-1", "TraceId": "t-1"},
            {"x-request-id": "rid-1", "x-ms-request-id": "legacy-1", "x-ms-client-request-id": "c-1", "TraceId": "t-1"},
        ),
    ],
    ids=["request-id", "legacy", "client", "all"],
)
def test_request_id_echo_rules(iris, sent, expected):
    response = score(iris, **sent)
    assert response.status_code == 200
    for name, value in expected.items():
        assert response.headers[name] == value
    if "x-request-id" not in sent:
        assert uuid.UUID(response.headers["x-request-id"])


def test_overlong_request_id_is_431_without_x_request_id(iris):
    response = score(iris, **{"x-request-id": "r" * 101})
    assert response.status_code == 431
    assert response.get_json()["message"] == "x-request-id must not exceed 100 characters"
    assert "x-request-id" not in response.headers
    assert score(iris, **{"x-request-id": "r" * 100}).status_code == 200


@pytest.mark.parametrize("header", ["x-ms-request-id", "x-ms-client-request-id"])
def test_overlong_client_request_id_is_431_with_x_request_id(iris, header):
    response = score(iris, **{header: "c" * 101})
    assert response.status_code == 431
    message = "x-ms-request-id and x-ms-client-request-id must not exceed 100 characters"
    assert response.get_json() == {"message": message, "request_id": response.headers["x-request-id"]}


def test_server_version_header_can_be_turned_off(iris, iris_model_dir):
    assert iris.get("/").headers["x-ms-server-version"].startswith("sklearn-scoring/")
    quiet = make_client("iris_score.py", iris_model_dir, SERVER_VERSION_LOG_RESPONSE_ENABLED="false")
    assert "x-ms-server-version" not in quiet.get("/").headers


# --- CORS (§9) -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cors(iris_model_dir):
    return make_client("iris_score.py", iris_model_dir, AML_CORS_ORIGINS="http://a.example, http://b.example")


def test_cors_allowed_origin_is_echoed(cors):
    response = score(cors, Origin="http://a.example")
    assert response.headers["Access-Control-Allow-Origin"] == "http://a.example"
    assert "Origin" in response.headers["Vary"]


def test_cors_disallowed_origin_is_served_without_cors_headers(cors):
    response = score(cors, Origin="http://evil.example")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_preflight(cors):
    response = cors.options(
        "/score",
        headers={
            "Origin": "http://b.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://b.example"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST"


def test_no_cors_headers_without_configured_origins(iris):
    assert "Access-Control-Allow-Origin" not in score(iris, Origin="http://a.example").headers


# --- return values and AMLResponse (§10) ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def returns():
    return make_client("returns.py")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("list", [1, 2]),
        ("tuple", [1, 2]),
        ("none", {}),
        ("string", "hello"),
        ("json-string", '{"a": 1}'),
        ("unicode", {"k": "é€"}),
        ("bigint", 2**70),
        ("nonfinite", [None, None, None]),
        ("ndarray", [[1.5, None], [None, 2.0]]),
        ("np-int", 7),
        ("np-float32-in-dict", {"a": 1.5}),
        ("dataframe", [{"a": 1, "b": 0.5}, {"a": 2, "b": None}]),
        ("set", [3]),
    ],
)
def test_return_values_are_valid_json(returns, kind, expected):
    response = returns.post("/score", data=kind)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True)) == expected  # stdlib json: NaN would not be valid here
    assert b"NaN" not in response.get_data() and b"Infinity" not in response.get_data()


def test_unserialisable_return_value_is_an_internal_500(returns):
    response = returns.post("/score", data="bytes")
    assert response.status_code == 500
    assert response.get_json()["message"] == "An unexpected internal error occurred. Check the logs for more info."
    assert response.headers["x-ms-run-function-failed"] == "False"


def test_aml_response_text_with_comma_split_headers(returns):
    response = returns.post("/score", data="aml-text")
    assert (response.status_code, response.get_data(), response.mimetype) == (200, b"plain text", "text/plain")
    assert response.headers.getlist("Custom") == ["a", "b"]
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert "x-ms-run-fn-exec-ms" in response.headers


@pytest.mark.parametrize(
    ("kind", "status", "body", "failed"),
    [("aml-json", 201, {"a": 1}, "False"), ("aml-none", 202, {}, "False"), ("aml-503", 503, None, "True")],
)
def test_aml_response_statuses(returns, kind, status, body, failed):
    response = returns.post("/score", data=kind)
    assert response.status_code == status
    if body is not None:
        assert response.get_json() == body
    assert response.headers["x-ms-run-function-failed"] == failed


def test_flask_response_500_gets_run_function_failed(returns):
    response = returns.post("/score", data="flask-500")
    assert (response.status_code, response.get_data()) == (500, b"x")
    assert response.headers["x-ms-run-function-failed"] == "True"


@pytest.mark.parametrize("method", ["get", "post", "options", "head"])
def test_rawhttp_run_gets_a_real_aml_request_for_every_method(method):
    client = make_client("rawhttp_echo.py")
    response = getattr(client, method)("/score?x=1&x=2", data="body-bytes", content_type="text/plain")
    assert response.status_code == 207
    assert response.headers.getlist("X-A") == ["1", "2"]
    if method != "head":
        info = response.get_json()
        assert info["is_aml_request"] is True
        assert info["method"] == method.upper()
        assert info["args"] == {"x": ["1", "2"]}


def test_rawhttp_still_405_for_unrouted_methods():
    assert make_client("rawhttp_echo.py").put("/score").status_code == 405


# --- swagger ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("", "2.0"),
        ("?version=2", "2.0"),
        ("?version=2.0", "2.0"),
        ("?version=3", "3.0.3"),
        ("?version=3.0", "3.0.3"),
        ("?version=3.1", "3.1.0"),
    ],
)
def test_swagger_versions(iris, query, kind):
    response = iris.get("/swagger.json" + query)
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document.get("swagger", document.get("openapi")) == kind


@pytest.mark.parametrize("version", ["4", ""])
def test_unknown_swagger_version_is_404(iris, version):
    response = iris.get(f"/swagger.json?version={version}")
    assert response.status_code == 404
    expected = f"Swagger version [{version}] is not valid. Supported versions: [2, 3, 3.1]."
    assert response.get_json()["message"] == expected


def test_swagger_for_undecorated_run_has_object_schemas():
    document = make_client("query_echo.py").get("/swagger.json").get_json()
    assert document["definitions"]["ServiceInput"] == {"type": "object", "example": {}}
    assert document["definitions"]["ServiceOutput"] == {"type": "object", "example": {}}


def test_swagger_path_prefix_and_names(iris_model_dir):
    client = make_client(
        "iris_score.py", iris_model_dir, SERVICE_NAME="iris-svc", SERVICE_VERSION="2.3", SERVICE_PATH_PREFIX="/api/v1/"
    )
    document = client.get("/swagger.json").get_json()
    assert document["info"] == {
        "title": "iris-svc",
        "description": "API specification for the Azure Machine Learning service iris-svc",
        "version": "2.3",
    }
    assert list(document["paths"]) == ["/api/v1/", "/api/v1/score", "/api/v1/swagger.json"]


def test_user_swagger_override_is_served(tmp_path, iris_model_dir):
    (tmp_path / "swagger3.json").write_text(json.dumps({"openapi": "3.0.3", "custom": True}))
    settings = make_settings("iris_score.py", iris_model_dir, AML_APP_ROOT=str(tmp_path))
    client = create_app(settings).test_client()
    assert client.get("/swagger.json?version=3").get_json() == {"openapi": "3.0.3", "custom": True}
    assert client.get("/swagger.json").get_json()["swagger"] == "2.0"


# --- auth, body limit, model metadata, metrics -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed(iris_model_dir):
    return make_client("iris_score.py", iris_model_dir, SCORING_API_KEY="s3cret-key")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic s3cret-key", "s3cret-key", "Bearer "])
@pytest.mark.parametrize("path", ["/score", "/swagger.json", "/model"])
def test_key_is_required_on_protected_routes(keyed, authorization, path):
    headers = {"Authorization": authorization} if authorization else {}
    response = keyed.get(path + ("?data=[[5.1,3.5,1.4,0.2]]" if path == "/score" else ""), headers=headers)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.get_json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_right_key_is_accepted_and_health_stays_open(keyed):
    assert score(keyed, Authorization="Bearer s3cret-key").get_json() == [0]
    assert keyed.get("/swagger.json", headers={"Authorization": "bearer s3cret-key"}).status_code == 200
    for path in ["/", "/health/live", "/health/ready", "/metrics"]:
        assert keyed.get(path).status_code == 200
    assert keyed.options("/score").status_code == 200


def test_body_over_the_limit_is_413(iris_model_dir):
    client = make_client("iris_score.py", iris_model_dir, MAX_REQUEST_BODY_BYTES="200")
    assert score(client).status_code == 200
    response = score(client, {"data": [ROW] * 20})
    assert response.status_code == 413
    assert "exceeds the limit of 200 bytes" in response.get_json()["message"]


def test_chunked_body_over_the_limit_is_413(iris_model_dir):
    client = make_client("iris_score.py", iris_model_dir, MAX_REQUEST_BODY_BYTES="200")
    body = io.BytesIO(json.dumps({"data": [ROW] * 20}).encode())
    environ = {"wsgi.input_terminated": True}
    response = client.post(
        "/score",
        input_stream=body,
        content_type="application/json",
        environ_overrides=environ,
        headers={"Transfer-Encoding": "chunked"},
    )
    assert response.status_code == 413


def test_model_route_describes_the_sidecar(iris, iris_model_dir):
    sidecar = json.loads((iris_model_dir / "model.json").read_text())
    body = iris.get("/model").get_json()
    assert body["sha256"] == sidecar["sha256"]
    assert body["feature_names"] == sidecar["feature_names"]
    assert body["classes"] == [0, 1, 2]


def test_model_route_is_404_without_a_model_dir():
    response = make_client("query_echo.py").get("/model")
    assert response.status_code == 404
    assert "AZUREML_MODEL_DIR" in response.get_json()["message"]


def test_metrics_count_requests_by_route_and_status(iris_model_dir):
    client = make_client("iris_score.py", iris_model_dir)
    for _ in range(3):
        score(client)
    score(client, {"data": [[1.0]]})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'scoring_requests_total{method="POST",route="/score",status="200"} 3.0' in text
    assert 'scoring_requests_total{method="POST",route="/score",status="400"} 1.0' in text
    assert 'scoring_request_duration_seconds_count{route="/score"} 4.0' in text
    assert "scoring_requests_in_flight 1.0" in text  # the /metrics request itself
    assert "scoring_model_load_seconds" in text


# --- readiness and timeouts ----------------------------------------------------------------------------------------


def test_readiness_is_503_until_a_background_init_finishes(tmp_path, monkeypatch):
    release = tmp_path / "release"
    monkeypatch.setenv("SLOW_INIT_RELEASE", str(release))
    settings = make_settings("slow_init.py", SCORING_TIMEOUT_MS="200")
    failures = []
    client = create_app(settings, init_in_background=True, on_init_failure=failures.append).test_client()
    assert client.get("/health/live").status_code == 200
    # /score waits up to SCORING_TIMEOUT_MS for init() before giving up with 503.
    for path in ["/health/ready", "/", "/score?data=1"]:
        response = client.get(path)
        assert response.status_code == 503, path
        assert "init() has not finished" in response.get_json()["message"]
    runner = client.application.extensions["scoring"].runner
    done = threading.Event()
    release.touch()
    for _ in range(600):
        if runner.ready:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set() and not failures
    assert client.get("/health/ready").status_code == 200
    assert client.get("/score?data=1").get_json() == "ok"


def test_background_init_failure_is_reported():
    failures = []
    client = create_app(
        make_settings("init_fails.py"), init_in_background=True, on_init_failure=failures.append
    ).test_client()
    runner = client.application.extensions["scoring"].runner
    for _ in range(600):
        if failures:
            break
        threading.Event().wait(0.05)
    assert isinstance(failures[0], RuntimeError)
    assert client.get("/health/ready").status_code == 503
    assert runner.state.value == "failed"


def test_scoring_timeout_is_504_in_a_thread():
    client = make_client("slow_run.py", SCORING_TIMEOUT_MS="200")
    assert client.post("/score", data="0").get_json() == "slept"
    response = client.post("/score", data="2")
    assert response.status_code == 504
    assert response.get_json()["message"] == "Scoring timeout after 200 ms"
    assert response.headers["x-ms-run-function-failed"] == "True"


def test_timed_out_python_loop_is_stopped():
    """The spin lasts 30 s unless the timeout's asynchronous exception stops it."""
    client = make_client("busy_run.py", SCORING_TIMEOUT_MS="500")
    assert client.post("/score", data="spin").status_code == 504
    stopped = threading.Event()
    for _ in range(200):  # up to 10 s, far less than the 30 s spin
        if client.post("/score", data="stopped?").get_json() == 1:
            stopped.set()
            break
        stopped.wait(0.05)
    assert stopped.is_set()


def test_a_stuck_call_gives_its_turn_back_on_timeout():
    client = make_client("slow_run.py", SCORING_TIMEOUT_MS="300")
    assert client.post("/score", data="2").status_code == 504
    assert client.post("/score", data="0").get_json() == "slept"


@pytest.mark.parametrize(("limit", "expected"), [(None, {1}), ("4", {1, 2, 3, 4})])
def test_run_calls_are_one_at_a_time_unless_raised(limit, expected):
    env = {"MAX_CONCURRENT_RUNS": limit} if limit else {}
    client = make_client("concurrency_probe.py", **env)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(client.post("/score", data="x").get_json())) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and set(results) <= expected
