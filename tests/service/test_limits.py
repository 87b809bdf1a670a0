"""Our additions through the Flask test client: bearer-key auth, the body limit, /model and /metrics."""

from __future__ import annotations

import io
import json

import pytest
from service_helpers import ROW, make_client, score

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
