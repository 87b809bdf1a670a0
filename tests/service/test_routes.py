"""Routes and header rules through the Flask test client: health, unrouted URLs, request ids, CORS, swagger."""

from __future__ import annotations

import json
import uuid

import pytest
from service_helpers import make_client, make_settings, score

from service.app import create_app

NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling "
    "and try again."
)


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


def test_long_swagger_version_is_quoted_up_to_40_characters(iris):
    version = "v" * 39 + "-END-OF-A-LONG-VALUE"
    message = iris.get(f"/swagger.json?version={version}").get_json()["message"]
    assert message == f"Swagger version [{'v' * 37}...] is not valid. Supported versions: [2, 3, 3.1]."
    exact = iris.get(f"/swagger.json?version={'w' * 40}").get_json()["message"]
    assert f"[{'w' * 40}]" in exact


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
