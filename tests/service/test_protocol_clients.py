"""The protocols against a real server (our launcher, gunicorn on 127.0.0.1) with the real clients: tritonclient[http]
(binary tensors, its default, and JSON), KServe's InferenceRESTClient (V1 and V2) and MLflow's ScoringServerClient
(each from its own venv), and MLflow's documented request bodies. Every answer must equal /score's for the same rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from protocol_helpers import FEATURES, PROBA_MODEL, ROWS
from service_helpers import REPO, ServiceProcess

pytestmark = pytest.mark.slow
KEY = "client-k3y"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(iris_proba_model_dir):
    """The no-code service on the calibrated iris SVC (predict and predict_proba), with a bearer key."""
    with ServiceProcess.ours("--model_dir", str(iris_proba_model_dir), env={"SCORING_API_KEY": KEY}) as process:
        yield process.wait_ready()


@pytest.fixture(scope="module")
def expected(server):
    """/score's answers for ROWS: predictions and probabilities."""
    answers = {}
    for method in ("predict", "predict_proba"):
        response = requests.post(f"{server.url}/score", json={"data": ROWS, "method": method}, headers=AUTH, timeout=30)
        assert response.status_code == 200, response.text
        answers[method] = response.json()
    assert answers["predict"] == [0, 1, 2, 0, 1, 2]
    return answers


@pytest.fixture(scope="module")
def mlflow_python():
    """.venv-mlflow's python (bench/mlflow_peer.py builds it); skips visibly only when the index is unreachable."""
    from bench import mlflow_peer

    try:
        return str(mlflow_peer.ensure_venv() / "python")
    except RuntimeError as exc:
        if re.search(r"connection|resolve|network|timed out", str(exc), re.IGNORECASE):
            pytest.skip(f"MLflow venv unavailable: {exc}")
        raise


@pytest.fixture(scope="module")
def kserve_python():
    """.venv-kserve's python (scripts/kserve-venv.sh); skips visibly only when the package index is unreachable."""
    result = subprocess.run(["bash", str(REPO / "scripts" / "kserve-venv.sh")], capture_output=True, text=True)
    if result.returncode == 3:
        pytest.skip(f"kserve venv unavailable: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("binary", [True, False], ids=["binary-tensors", "json-tensors"])
def test_tritonclient(server, expected, binary):
    auth = dict(AUTH)  # tritonclient adds its Inference-Header-Content-Length to the headers dict it is given
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(PROBA_MODEL, headers=auth)
        metadata = client.get_model_metadata(PROBA_MODEL, headers=auth)
        assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
        assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]
        tensor = triton.InferInput("input-0", [len(ROWS), 4], "FP64")
        tensor.set_data_from_numpy(np.asarray(ROWS, dtype=np.float64), binary_data=binary)
        outputs = None if binary else [triton.InferRequestedOutput("predict", binary_data=False)]
        result = client.infer(PROBA_MODEL, [tensor], model_version="1", outputs=outputs, request_id="t-1", headers=auth)
        assert result.as_numpy("predict").tolist() == expected["predict"]
        assert result.get_response()["id"] == "t-1"
        proba = [triton.InferRequestedOutput("predict_proba", binary_data=binary)]
        result = client.infer(PROBA_MODEL, [tensor], outputs=proba, headers=auth)
        assert result.as_numpy("predict_proba").tolist() == expected["predict_proba"]["probabilities"]
        with pytest.raises(triton.InferenceServerException, match="Missing or invalid credentials") as denied:
            client.infer(PROBA_MODEL, [tensor])
        assert denied.value.status() == "401"
    finally:
        client.close()


def test_kserve_inference_rest_client(server, expected, kserve_python):
    argv = [kserve_python, str(REPO / "tests/service/clients/kserve_client.py"), server.url, PROBA_MODEL]
    result = subprocess.run([*argv, json.dumps(ROWS), KEY], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert answers["v1_model_ready"] and answers["v2_server_live"] and answers["v2_server_ready"]
    assert answers["v2_model_ready"]
    assert answers["v1_predict"] == {"predictions": expected["predict"]}
    assert answers["v2_predict"] == {
        "id": "kserve-predict",
        "name": "predict",
        "datatype": "INT64",
        "values": expected["predict"],
    }
    assert answers["v2_predict_proba"]["values"] == expected["predict_proba"]["probabilities"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"dataframe_split": {"columns": FEATURES, "data": ROWS}}, "application/json"),
        ({"dataframe_records": [dict(zip(FEATURES, row, strict=True)) for row in ROWS]}, "application/json"),
        ({"instances": ROWS}, "application/json"),
        ({"inputs": ROWS}, "application/json; charset=utf-8"),
        (",".join(FEATURES) + "\n" + "\n".join(",".join(map(str, row)) for row in ROWS), "text/csv"),
    ],
    ids=["dataframe_split", "dataframe_records", "instances", "inputs", "csv"],
)
def test_mlflow_bodies(server, expected, body, content_type):
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {**AUTH, "Content-Type": content_type}
    response = requests.post(f"{server.url}/invocations", data=data, headers=headers, timeout=30)
    assert response.json() == {"predictions": expected["predict"]}
    assert requests.get(f"{server.url}/ping", timeout=30).status_code == 200


def test_mlflow_scoring_server_client(iris_proba_model_dir, mlflow_python):
    # MLflow's client sends no credentials: a server without a key.
    with ServiceProcess.ours("--model_dir", str(iris_proba_model_dir)) as keyless:
        keyless.wait_ready()
        body = {"data": ROWS, "method": "predict_proba"}
        proba = requests.post(f"{keyless.url}/score", json=body, timeout=30).json()["probabilities"]
        predict = requests.post(f"{keyless.url}/score", json={"data": ROWS}, timeout=30).json()
        argv = [mlflow_python, str(REPO / "tests/service/clients/mlflow_client.py"), "127.0.0.1", str(keyless.port)]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}  # no traffic off 127.0.0.1
        result = subprocess.run(
            [*argv, json.dumps(ROWS), json.dumps(FEATURES)], capture_output=True, text=True, timeout=120, env=env
        )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert answers["version"] == __import__("service").__version__
    assert answers["dataframe"] == answers["ndarray"] == predict
    assert answers["proba"] == proba
    assert answers["telemetry_disabled"] is True


def test_access_log_names_the_protocol_routes(server, expected):
    requests.post(f"{server.url}/v1/models/{PROBA_MODEL}:predict", json={"instances": ROWS}, headers=AUTH, timeout=30)
    metrics = requests.get(f"{server.url}/metrics", timeout=30).text
    assert 'route="/v1/models/<name>:predict",status="200"' in metrics
    assert f"POST /v1/models/{PROBA_MODEL}:predict 200" in server.output


def _raw_post(server, path: str, head: str, body: bytes) -> tuple[int, dict]:
    """POST a hand-written request (framing requests would refuse to send) and read the JSON answer."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        for line in head.strip().splitlines():
            name, _, value = line.partition(": ")
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_protocol_errors_carry_the_services_messages(server):
    """A malformed chunked body gets /score's own message in every protocol's shape: one wording, one place."""
    head = f"Content-Type: application/json\nTransfer-Encoding: chunked\nAuthorization: {AUTH['Authorization']}"
    malformed = b"zz\r\n{}\r\n0\r\n\r\n"
    status, score = _raw_post(server, "/score", head, malformed)
    assert status == 400 and "chunked transfer encoding is malformed" in score["message"]
    assert _raw_post(server, f"/v2/models/{PROBA_MODEL}/infer", head, malformed) == (400, {"error": score["message"]})
    assert _raw_post(server, f"/v1/models/{PROBA_MODEL}:predict", head, malformed) == (400, {"error": score["message"]})
    status, mlflow = _raw_post(server, "/invocations", head, malformed)
    assert (status, mlflow["error_code"], mlflow["message"]) == (400, "BAD_REQUEST", score["message"])


def test_make_clean_removes_the_client_venvs(tmp_path):
    """The venvs these tests build (scripts/kserve-venv.sh, bench/mlflow_peer.py) go with `make clean`."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    venvs = [".venv", ".venv-reference", ".venv-kserve", ".venv-mlflow", ".venv-job"]
    for venv in venvs:
        (tmp_path / venv / "bin").mkdir(parents=True)
    (tmp_path / ".workspace").mkdir()
    result = subprocess.run(["make", "-C", str(tmp_path), "clean"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [venv for venv in venvs if (tmp_path / venv).exists()] == []
    assert (tmp_path / ".workspace").is_dir()
