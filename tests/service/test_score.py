"""service/score.py (the no-code entry script) running unchanged under the REFERENCE server, azmlinfsrv 1.5.1, and ours.

The reference loads it like any Azure entry script; only ``PYTHONPATH`` points at the repository so that
``service.conversion`` and ``service.model_dir`` import. Ours runs it in process here (Flask test client) and as a
real server in test_differential.py.
"""

import hashlib
import json
import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
import requests
from service_helpers import REPO, make_client, reference_server
from sklearn.datasets import load_iris
from sklearn.linear_model import Ridge
from sklearn.svm import SVC

from service.model_dir import load_model

SCORE_PY = REPO / "service" / "score.py"
NAMES = list(load_iris().feature_names)
ROWS = load_iris().data[::10].tolist()


class Reference:
    """The reference server running score.py for one model directory."""

    def __init__(self, process):
        self.process = process

    def post_json(self, payload) -> tuple[int, object]:
        response = requests.post(self.process.url + "/score", json=payload, timeout=30)
        return response.status_code, response.json()

    def get_json(self, path: str) -> tuple[int, object]:
        response = requests.get(self.process.url + path, timeout=30)
        return response.status_code, response.json()


def _serve(reference_python, model_dir):
    return reference_server(reference_python, "--entry_script", str(SCORE_PY), "--model_dir", str(model_dir))


@pytest.fixture(scope="module")
def proba_server(reference_python, iris_proba_model_dir):
    with _serve(reference_python, iris_proba_model_dir) as process:
        yield Reference(process.wait_ready())


@pytest.fixture(scope="module")
def plain_server(reference_python, iris_model_dir):
    with _serve(reference_python, iris_model_dir) as process:
        yield Reference(process.wait_ready())


@pytest.fixture(scope="module")
def proba_model(iris_proba_model_dir):
    return load_model(iris_proba_model_dir)[0]


@pytest.mark.reference
def test_predict_rows(proba_server, proba_model):
    assert proba_server.post_json({"data": ROWS}) == (200, proba_model.predict(np.array(ROWS)).tolist())
    assert proba_server.post_json({"data": ROWS[:1], "method": "predict"}) == (200, [0])


@pytest.mark.reference
def test_predict_proba_returns_classes_and_probabilities(proba_server, proba_model):
    status, body = proba_server.post_json({"data": ROWS, "method": "predict_proba"})
    assert status == 200
    assert body["classes"] == [0, 1, 2]
    assert body["probabilities"] == proba_model.predict_proba(np.array(ROWS)).tolist()


@pytest.mark.reference
def test_records_with_feature_names_in_any_order(proba_server, proba_model):
    records = [dict(reversed(list(zip(NAMES, row, strict=True)))) for row in ROWS]
    assert proba_server.post_json({"data": records}) == (200, proba_model.predict(np.array(ROWS)).tolist())


@pytest.mark.reference
def test_numeric_strings_are_coerced_like_the_reference(proba_server):
    assert proba_server.post_json({"data": [[str(v) for v in ROWS[0]]]}) == (200, [0])


@pytest.mark.reference
def test_unknown_method_is_a_400_from_the_script(proba_server):
    status, body = proba_server.post_json({"data": ROWS[:1], "method": "decision_function"})
    assert status == 400
    assert body == {
        "message": "Input \"method\" is 'decision_function', but model sklearn-iris-proba (version 1) supports only: "
        "predict, predict_proba."
    }


@pytest.mark.reference
def test_predict_proba_without_it_is_a_400(plain_server):
    status, body = plain_server.post_json({"data": ROWS[:1], "method": "predict_proba"})
    assert status == 400
    assert body == {
        "message": "Model sklearn-iris (version 1) has no predict_proba (estimator sklearn.svm._classes.SVC); use "
        '"method": "predict", or train the model with probability estimates.'
    }
    assert plain_server.post_json({"data": ROWS[:1]}) == (200, [0])


@pytest.mark.reference
def test_swagger_is_built_from_model_json(proba_server, iris_proba_model_dir):
    sidecar = json.loads((iris_proba_model_dir / "model.json").read_text())
    status, doc = proba_server.get_json("/swagger.json?version=3")
    assert status == 200
    service_input = doc["components"]["schemas"]["ServiceInput"]
    assert service_input["example"] == {"data": sidecar["input_sample"], "method": "predict"}
    assert service_input["properties"]["data"]["items"]["items"] == {"type": "number", "format": "double"}
    assert service_input["properties"]["method"] == {"type": "string"}
    assert doc["components"]["schemas"]["ServiceOutput"]["example"] == sidecar["output_sample"]


@pytest.mark.reference
def test_bad_input_is_the_reference_500_with_our_message_in_its_log(proba_server):
    """The reference turns every conversion error into a generic 500; our message still reaches its log."""
    status, body = proba_server.post_json({"data": [[1, 2, 3]]})
    assert status == 500
    assert body == {"message": "An unexpected error occurred in scoring script. Check the logs for more info."}
    assert 'ConversionError: Input "data" has 3 columns, but model sklearn-iris-proba (version 1) is expecting 4' in (
        proba_server.process.output
    )


# ---- the same script under our service, in process (Flask test client of create_app) -----------------------------


@pytest.fixture(scope="module")
def ours(iris_proba_model_dir):
    return make_client(None, iris_proba_model_dir)  # no entry script: the no-code score.py


def test_ours_predicts_and_returns_probabilities(ours, proba_model):
    assert ours.post("/score", json={"data": ROWS}).get_json() == proba_model.predict(np.array(ROWS)).tolist()
    body = ours.post("/score", json={"data": ROWS, "method": "predict_proba"}).get_json()
    assert body == {"classes": [0, 1, 2], "probabilities": proba_model.predict_proba(np.array(ROWS)).tolist()}
    records = [dict(zip(NAMES, row, strict=True)) for row in ROWS]
    assert ours.post("/score", json={"data": records}).get_json() == proba_model.predict(np.array(ROWS)).tolist()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([[1, 2, 3]], 'Input "data" has 3 columns, but model sklearn-iris-proba (version 1) is expecting 4 features'),
        ([[1, 2, "abc", 4]], "non-numeric value 'abc' at row 0, column 2 (petal length (cm))"),
        ([dict(zip(NAMES[:3], ROWS[0][:3], strict=True))], "is missing 1 feature: 'petal width (cm)'"),
        ([], 'Input "data" has 0 rows (shape=(0,)) while a minimum of 1 is required by model sklearn-iris-proba'),
    ],
)
def test_ours_answers_bad_input_with_400_naming_the_model(ours, data, message):
    response = ours.post("/score", json={"data": data})
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_ours_swagger_example_is_the_sidecar_sample(ours, iris_proba_model_dir):
    sidecar = json.loads((iris_proba_model_dir / "model.json").read_text())
    doc = ours.get("/swagger.json").get_json()
    assert doc["definitions"]["ServiceInput"]["example"] == {"data": sidecar["input_sample"], "method": "predict"}


def _model_dir_with(model, tmp_path, iris_model_dir, **sidecar_changes):
    """A copy of the iris model directory holding ``model`` instead, its sha256 (and ``sidecar_changes``) updated."""
    model_dir = tmp_path / "other-iris" / "1"
    shutil.copytree(iris_model_dir, model_dir)
    joblib.dump(model, model_dir / "model.joblib")
    sidecar = json.loads((model_dir / "model.json").read_text())
    sidecar.update(sidecar_changes, sha256=hashlib.sha256((model_dir / "model.joblib").read_bytes()).hexdigest())
    (model_dir / "model.json").write_text(json.dumps(sidecar))
    return model_dir


@pytest.mark.filterwarnings("error")  # sklearn warns when a DataFrame-fitted model gets a bare array
def test_a_model_fitted_on_a_dataframe_gets_its_column_names(tmp_path, iris_model_dir):
    iris = load_iris()
    model = SVC(kernel="linear").fit(pd.DataFrame(iris.data, columns=NAMES), iris.target)
    client = make_client(None, _model_dir_with(model, tmp_path, iris_model_dir))
    response = client.post("/score", json={"data": ROWS})
    assert response.status_code == 200
    assert response.get_json() == model.predict(pd.DataFrame(ROWS, columns=NAMES)).tolist()


def test_a_regressor_predicts_numbers_and_refuses_predict_proba(tmp_path, iris_model_dir):
    iris = load_iris()
    model = Ridge().fit(iris.data, iris.target)
    changes = {"estimator": "sklearn.linear_model._ridge.Ridge", "task": "regression", "classes": None}
    client = make_client(None, _model_dir_with(model, tmp_path, iris_model_dir, has_predict_proba=False, **changes))
    assert client.post("/score", json={"data": ROWS}).get_json() == model.predict(np.array(ROWS)).tolist()
    response = client.post("/score", json={"data": ROWS, "method": "predict_proba"})
    assert response.status_code == 400
    assert "has no predict_proba (estimator sklearn.linear_model._ridge.Ridge)" in response.get_json()["message"]


def test_the_scripts_400s_carry_the_request_id_under_ours(iris_model_dir):
    client = make_client(None, iris_model_dir)
    for method in ("decision_function", "predict_proba"):
        response = client.post("/score", json={"data": ROWS[:1], "method": method}, headers={"x-request-id": "r-42"})
        body = response.get_json()
        assert (response.status_code, list(body), body["request_id"]) == (400, ["message", "request_id"], "r-42")
    # Other JSON answers are left as the script wrote them.
    assert client.post("/score", json={"data": ROWS[:1]}).get_json() == [0]


def test_without_a_model_dir_the_script_refuses_to_load(monkeypatch):
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    with pytest.raises(Exception, match="AZUREML_MODEL_DIR is not set, but the no-code entry script needs a model"):
        make_client(None, None)
