"""KServe V1 and MLflow's /invocations through the Flask test client: every request form answers as /score does."""

from __future__ import annotations

import json

import pytest
from protocol_helpers import FEATURES, MODEL, PROBA_MODEL, ROWS, score_answer
from service_helpers import make_client

RECORDS = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]


# --- KServe V1 -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"instances": ROWS}, {"inputs": ROWS}, {"instances": RECORDS}])
def test_v1_predict_answers_as_score(nocode, body):
    response = nocode.post(f"/v1/models/{MODEL}:predict", json=body)
    assert response.get_json() == {"predictions": score_answer(nocode)}


def test_v1_predict_proba_and_model_status(nocode_proba):
    response = nocode_proba.post(f"/v1/models/{PROBA_MODEL}:predict_proba", json={"instances": ROWS})
    assert response.get_json() == {"predictions": score_answer(nocode_proba, method="predict_proba")["probabilities"]}
    assert nocode_proba.get(f"/v1/models/{PROBA_MODEL}").get_json() == {"name": PROBA_MODEL, "ready": True}
    assert nocode_proba.get("/v1/models").get_json() == {"models": [PROBA_MODEL]}


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (f"/v1/models/{MODEL}:predict", {"rows": ROWS}, 400, 'with "instances" (or "inputs")'),
        (
            f"/v1/models/{MODEL}:predict",
            {"instances": [[1.0, 2.0, 3.0]]},
            400,
            'Input "instances" has 3 columns, but model sklearn-iris (version 1) is expecting 4 features as input',
        ),
        ("/v1/models/other:predict", {"instances": ROWS}, 404, "this service serves model 'sklearn-iris'"),
        (f"/v1/models/{MODEL}:predict_proba", {"instances": ROWS}, 400, "has no predict_proba"),
    ],
)
def test_v1_errors_are_kserve_shaped(nocode, path, body, status, message):
    response = nocode.post(path, json=body)
    assert response.status_code == status
    assert list(response.get_json()) == ["error"] and message in response.get_json()["error"]


# --- MLflow ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": FEATURES, "data": ROWS}},
        {"dataframe_split": {"columns": FEATURES[::-1], "data": [row[::-1] for row in ROWS], "index": [0] * 6}},
        {"dataframe_records": RECORDS},
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {name: [row[j] for row in ROWS] for j, name in enumerate(FEATURES)}},
        {"instances": RECORDS, "params": {}},
    ],
    ids=["split", "split-reordered", "records", "instances", "inputs", "inputs-columns", "empty-params"],
)
def test_invocations_json_forms_answer_as_score(nocode, body):
    response = nocode.post("/invocations", data=json.dumps(body), content_type="application/json")
    assert response.get_json() == {"predictions": score_answer(nocode)}


def test_invocations_csv(nocode):
    csv = ",".join(FEATURES[::-1]) + "\n" + "\n".join(",".join(map(str, row[::-1])) for row in ROWS) + "\n"
    response = nocode.post("/invocations", data=csv, content_type="text/csv")
    assert response.get_json() == {"predictions": score_answer(nocode)}


def test_invocations_predict_proba_by_params(nocode_proba):
    body = {"dataframe_split": {"columns": FEATURES, "data": ROWS}, "params": {"method": "predict_proba"}}
    response = nocode_proba.post("/invocations", json=body)
    assert response.get_json() == {"predictions": score_answer(nocode_proba, method="predict_proba")["probabilities"]}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ({"data": ROWS}, "application/json", 400, "exactly one of dataframe_split, dataframe_records, instances"),
        ({"instances": ROWS, "inputs": ROWS}, "application/json", 400, "exactly one of"),
        ({"instances": ROWS, "params": {"temperature": 1}}, "application/json", 400, '"params" may hold only'),
        (
            {"dataframe_records": [{"sepal length (cm)": 5.1}]},
            "application/json",
            400,
            'Record 0 of input "dataframe_records" is missing 3 features',
        ),
        (
            {"instances": [[5.1, 3.5, None, 0.2]]},
            "application/json",
            400,
            "contains null at row 0, column 2 (petal length (cm))",
        ),
        ({"instances": ROWS}, "text/plain", 415, "Content-Type must be application/json or text/csv"),
    ],
)
def test_invocations_errors_are_mlflow_shaped(nocode, body, content_type, status, message):
    response = nocode.post("/invocations", data=json.dumps(body), content_type=content_type)
    assert response.status_code == status
    document = response.get_json()
    assert document["error_code"] == "BAD_REQUEST" and message in document["message"]


def test_ping_health_version(nocode):
    for path in ("/ping", "/health"):
        assert (nocode.get(path).status_code, nocode.get(path).get_data()) == (200, b"\n")
    assert nocode.get("/version").get_data(as_text=True) == __import__("service").__version__


def test_readiness_routes_follow_the_runner(iris_model_dir):
    """A worker that is shutting down (SIGTERM) is not ready in every protocol's own terms."""
    client = make_client(None, iris_model_dir)
    client.application.extensions["scoring"].runner.begin_shutdown()
    v2 = client.get("/v2/health/ready")
    assert (v2.status_code, v2.get_json()) == (400, {"error": "The service is shutting down."})  # the spec's 4xx
    assert v2.headers["Retry-After"] == "1"
    assert client.get(f"/v2/models/{MODEL}/ready").status_code == 400
    assert client.get("/v2/health/live").status_code == 200
    v1 = client.get(f"/v1/models/{MODEL}")
    assert (v1.status_code, v1.get_json()) == (503, {"error": "The service is shutting down."})  # as KServe answers
    ping = client.get("/ping")
    assert ping.status_code == 503 and ping.get_json()["error_code"] == "TEMPORARILY_UNAVAILABLE"


def csv_body(header: list[str], rows: list[list[object]]) -> str:
    return "\n".join(",".join(map(str, line)) for line in [header, *rows]) + "\n"


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (
            [*FEATURES[:3], "petal width (mm)"],
            ROWS[:2],
            'Record 0 of input "csv" is missing 1 feature',
        ),
        (
            FEATURES,
            [[5.1, 3.5, "abc", 0.2]],
            "Input \"csv\" has a non-numeric value 'abc' at row 0, column 2 (petal length (cm)); model "
            "sklearn-iris (version 1) expects float64 values.",
        ),
        (FEATURES, [ROWS[0], ROWS[1][:3]], "CSV row 1 has 3 values, but the header has 4 columns."),
        (FEATURES[::-1], [ROWS[0][::-1], ROWS[1][:2]], "CSV row 1 has 2 values, but the header has 4 columns."),
        (FEATURES, [[5.1, 3.5, "", 0.2]], "Input \"csv\" has a non-numeric value '' at row 0, column 2"),
    ],
    ids=["unknown-header", "abc", "short-row", "short-row-reordered", "empty-value"],
)
def test_invocations_bad_csv_is_400_with_the_conversion_messages(nocode, header, rows, message):
    response = nocode.post("/invocations", data=csv_body(header, rows), content_type="text/csv")
    assert response.status_code == 400, response.get_json()
    document = response.get_json()
    assert document["error_code"] == "BAD_REQUEST" and message in document["message"]
