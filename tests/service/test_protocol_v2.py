"""Open Inference Protocol V2 through the Flask test client: metadata, infer forms, binary tensors, errors, auth."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from protocol_helpers import FEATURES, MODEL, PROBA_MODEL, ROWS, score_answer, v2_binary_body, v2_tensor
from service_helpers import make_client

from model_format import NUMERIC_DTYPES
from service.protocols.v2 import datatype_of

INFER = f"/v2/models/{MODEL}/infer"


def infer(client, body, path=INFER, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def test_health_and_server_metadata(nocode):
    assert nocode.get("/v2/health/live").get_json() == {"live": True}
    assert nocode.get("/v2/health/ready").get_json() == {"ready": True}
    assert nocode.get(f"/v2/models/{MODEL}/ready").get_json() == {"name": MODEL, "ready": True}
    assert nocode.get(f"/v2/models/{MODEL}/versions/1/ready").status_code == 200
    server = nocode.get("/v2").get_json()
    assert server["name"] == "sklearn-scoring" and "binary_tensor_data" in server["extensions"]


def test_model_metadata_comes_from_model_json(nocode, nocode_proba):
    expected = {
        "name": MODEL,
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1]}],
    }
    assert nocode.get(f"/v2/models/{MODEL}").get_json() == expected
    assert nocode.get(f"/v2/models/{MODEL}/versions/1").get_json() == expected
    outputs = nocode_proba.get(f"/v2/models/{PROBA_MODEL}").get_json()["outputs"]
    assert outputs[1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/models/other/infer", "Model 'other' is not served here; this service serves model 'sklearn-iris'."),
        (f"/v2/models/{MODEL}/versions/7/infer", "Model 'sklearn-iris' has version 1, not version '7'."),
    ],
)
def test_unknown_model_or_version_is_404(nocode, path, message):
    response = infer(nocode, {"inputs": [v2_tensor()]}, path)
    assert (response.status_code, response.get_json()) == (404, {"error": message})
    assert nocode.get(path.removesuffix("/infer")).status_code == 404


@pytest.mark.parametrize("flat", [True, False])
def test_one_tensor_flat_or_nested_answers_as_score(nocode, flat):
    body = {"id": "req-7", "inputs": [v2_tensor(flat=flat)]}
    answer = infer(nocode, body).get_json()
    expected = score_answer(nocode)
    assert expected == [0, 1, 2, 0, 1, 2]
    assert answer == {
        "model_name": MODEL,
        "model_version": "1",
        "id": "req-7",
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [len(ROWS)], "data": expected}],
    }


@pytest.mark.parametrize("datatype", ["FP32", "INT64", "INT32", "BOOL"])
def test_other_datatypes_convert_as_score_converts(nocode, datatype):
    rows = [[1, 0, 1, 1], [6, 3, 5, 2]]
    body = {"inputs": [v2_tensor(rows, datatype=datatype)]}
    if datatype == "BOOL":
        body = {"inputs": [v2_tensor([[True, False, True, True]], datatype="BOOL")]}
        rows = [[1, 0, 1, 1]]
    assert infer(nocode, body).get_json()["outputs"][0]["data"] == score_answer(nocode, rows)


def test_one_input_per_feature_column(nocode):
    columns = [
        {"name": name, "shape": [len(ROWS)], "datatype": "FP64", "data": [row[j] for row in ROWS]}
        for j, name in reversed(list(enumerate(FEATURES)))
    ]
    assert infer(nocode, {"inputs": columns}).get_json()["outputs"][0]["data"] == score_answer(nocode)
    response = infer(nocode, {"inputs": columns[:3]})
    assert response.status_code == 400
    assert "one input per feature column (sepal length (cm), sepal width (cm)" in response.get_json()["error"]


def test_predict_proba_by_parameters_or_output_name(nocode_proba):
    expected = score_answer(nocode_proba, method="predict_proba")
    flat = [p for row in expected["probabilities"] for p in row]
    for request in ({"parameters": {"method": "predict_proba"}}, {"outputs": [{"name": "predict_proba"}]}):
        output = infer(nocode_proba, {**request, "inputs": [v2_tensor()]}, f"/v2/models/{PROBA_MODEL}/infer").get_json()
        tensor = output["outputs"][0]
        assert tensor == {
            "name": "predict_proba",
            "datatype": "FP64",
            "shape": [len(ROWS), 3],
            "parameters": {"classes": [0, 1, 2]},
            "data": flat,
        }


def test_predict_proba_on_a_model_without_it_is_400(nocode):
    response = infer(nocode, {"inputs": [v2_tensor()], "outputs": [{"name": "predict_proba"}]})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("Model sklearn-iris (version 1) has no predict_proba")


def test_binary_tensors_in_and_out(nocode):
    body, length = v2_binary_body(parameters={"binary_data_output": True})
    response = nocode.post(INFER, data=body, headers={"Inference-Header-Content-Length": str(length)})
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    header_length = int(response.headers["Inference-Header-Content-Length"])
    header = json.loads(response.data[:header_length])
    tensor = header["outputs"][0]
    assert tensor["parameters"] == {"binary_data_size": 8 * len(ROWS)} and "data" not in tensor
    values = np.frombuffer(response.data[header_length:], "<i8").tolist()
    assert values == score_answer(nocode)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:-8], "declares binary_data_size 192, but only 184 bytes of binary data are left"),
        (lambda b: b + b"x", "The body has 1 bytes of binary data that no input declares"),
    ],
)
def test_binary_size_mismatch_is_400(nocode, mutate, message):
    body, length = v2_binary_body()
    response = nocode.post(INFER, data=mutate(body), headers={"Inference-Header-Content-Length": str(length)})
    assert response.status_code == 400 and message in response.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": []}, 'An inference request is a JSON object with "inputs"'),
        ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": ["a"]}]}, "datatype 'BYTES'"),
        ({"inputs": [v2_tensor([[1.0, 2.0, 3.0]])]}, "has shape [1, 3], but the model expects [rows, 4]"),
        (
            {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1.0] * 6}]},
            'Input "x" has 6 values, but shape [2, 4] needs 8.',
        ),
        (
            {"inputs": [v2_tensor([[5.1, 3.5, "abc", 0.2]])]},
            "Input \"input-0\" has a non-numeric value 'abc' at row 0, column 2 (petal length (cm)); model "
            "sklearn-iris (version 1) expects float64 values. Send numbers, not strings.",
        ),
        ({"inputs": [v2_tensor()], "outputs": [{"name": "transform"}]}, "Output 'transform' is not an output"),
        (
            {"inputs": [{**v2_tensor(), "parameters": [1]}]},
            'Input "input-0" has parameters \'[1]\', but a JSON object is expected, e.g. {"binary_data_size": 32}.',
        ),
        (
            {"inputs": [v2_tensor()], "outputs": [{"name": "predict", "parameters": [1]}]},
            "Output 'predict' has parameters '[1]', but a JSON object is expected, e.g. {\"binary_data\": true}.",
        ),
    ],
)
def test_bad_requests_are_400_with_the_conversion_messages(nocode, body, message):
    response = infer(nocode, body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_not_json_is_400(nocode):
    response = nocode.post(INFER, data=b"{oops", content_type="application/json")
    assert response.status_code == 400 and "could not be decoded as JSON" in response.get_json()["error"]


def test_key_limits_and_metrics_are_the_services(iris_model_dir):
    client = make_client(None, iris_model_dir, SCORING_API_KEY="k3y", MAX_REQUEST_BODY_BYTES="400")
    denied = infer(client, {"inputs": [v2_tensor()]})
    assert denied.status_code == 401 and "Authorization: Bearer" in denied.get_json()["error"]
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/v2/models/{MODEL}").status_code == 401
    assert client.get("/v2/health/ready").status_code == 200
    assert infer(client, {"inputs": [v2_tensor(ROWS[:1])]}, Authorization="Bearer k3y").status_code == 200
    too_large = infer(client, {"inputs": [v2_tensor(ROWS * 5)]}, Authorization="Bearer k3y")
    assert too_large.status_code == 413 and "exceeds the limit of 400 bytes" in too_large.get_json()["error"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'route="/v2/models/<name>/infer",status="200"' in metrics
    assert 'route="/v2/models/<name>/infer",status="413"' in metrics


def test_an_entry_script_keeps_score_only(iris):
    assert iris.post(INFER, json={"inputs": [v2_tensor()]}).status_code == 404
    assert iris.post("/invocations", json={"instances": ROWS}).status_code == 404
    assert iris.get("/docs/").status_code == 404


def test_quoted_client_text_carries_no_markup(nocode):
    body = {"inputs": [{"name": "<b>x</b>", "shape": [1, 4], "datatype": "<script>", "data": [1, 2, 3, 4]}]}
    message = infer(nocode, body).get_json()["error"]
    assert "<" not in message and ">" not in message
    assert message.startswith('Input "\\u003cb\\u003ex\\u003c/b\\u003e" has datatype')
    assert "<" not in infer(nocode, {"inputs": [v2_tensor()]}, "/v2/models/<i>/infer").get_json()["error"]


def test_an_unregistered_directory_is_named_after_its_folder(iris_model_dir, tmp_path):
    target = tmp_path / "my-model"
    shutil.copytree(iris_model_dir, target)
    client = make_client(None, target)
    answer = infer(client, {"inputs": [v2_tensor()]}, "/v2/models/my-model/infer").get_json()
    assert answer["model_name"] == "my-model" and "model_version" not in answer
    assert answer["outputs"][0]["data"] == score_answer(client)
    assert client.get("/v2/models/my-model").get_json()["versions"] == []
    missing = infer(client, {"inputs": [v2_tensor()]}, "/v2/models/my-model/versions/1/infer")
    assert missing.get_json() == {"error": "Model 'my-model' has no version, not version '1'."}


def test_scoring_timeout_is_504_in_the_v2_shape(iris_model_dir):
    client = make_client(None, iris_model_dir, SCORING_TIMEOUT_MS="1")
    response = infer(client, {"inputs": [v2_tensor(ROWS * 20_000)]})  # 120 000 rows: predict takes far over 1 ms
    assert (response.status_code, response.get_json()) == (504, {"error": "Scoring timeout after 1 ms"})


def test_column_inputs_match_long_and_markup_feature_names_as_sent(iris_model_dir, tmp_path):
    """Names are compared as sent; only a message cuts and escapes them."""
    target = tmp_path / "sklearn-iris" / "1"
    shutil.copytree(iris_model_dir, target)
    sidecar = json.loads((target / "model.json").read_text())
    features = ["sepal length in centimetres, measured at the widest point", "<sepal> width & more", *FEATURES[2:]]
    sidecar["feature_names"] = features
    (target / "model.json").write_text(json.dumps(sidecar))
    client = make_client(None, target)
    columns = [
        {"name": name, "shape": [len(ROWS)], "datatype": "FP64", "data": [row[j] for row in ROWS]}
        for j, name in enumerate(features)
    ]
    response = infer(client, {"inputs": columns})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outputs"][0]["data"] == score_answer(client)
    wrong = infer(client, {"inputs": [{**columns[0], "name": features[0][:40]}, *columns[1:]]}).get_json()["error"]
    assert "<" not in wrong and ">" not in wrong and "&" not in wrong
    assert "one input per feature column (sepal length in centimetres, measured at the widest point, " in wrong


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT64", [2**63, 3, 1, 0], "value 9223372036854775808, but its datatype INT64 holds integers from"),
        ("UINT64", [2**70, 3, 1, 0], "value 1.1805916207174113e+21, but its datatype UINT64 holds integers from"),
        ("INT32", [[5, 3, 1, 2**40]], "value 1099511627776, but its datatype INT32 holds integers from -2147483648"),
        ("UINT8", [5, 3, -1, 0], "value -1, but its datatype UINT8 holds integers from 0 to 255."),
        ("INT64", [5, 3.5, 1, 0], "value 3.5, but its datatype INT64 holds integers from"),
        ("FP32", [5.1, 3.5, 1e300, 0.2], "value 1e+300, but its datatype FP32 holds numbers up to 3.40282e+38"),
        ("FP16", [5.1, 3.5, 70000, 0.2], "value 70000, but its datatype FP16 holds numbers up to 65504"),
        ("BOOL", [True, False, 2, True], "value 2, but its datatype BOOL holds only true and false."),
    ],
)
def test_json_data_must_fit_the_declared_datatype(nocode, datatype, data, message):
    body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": datatype, "data": data}]}
    response = infer(nocode, body)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(f'Input "input-0" has {message}')


@pytest.mark.parametrize("rows", [2**62, 2**64 - 1])
def test_a_huge_binary_shape_is_400_with_the_exact_byte_count(nocode, rows):
    header = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [rows, 4], "datatype": "FP64", "parameters": {"binary_data_size": 0}}]}
    ).encode()
    response = nocode.post(INFER, data=header, headers={"Inference-Header-Content-Length": str(len(header))})
    assert (response.status_code, response.get_json()["error"]) == (
        400,
        f'Input "input-0" has 0 bytes of binary data, but shape [{rows}, 4] of FP64 needs {rows * 4 * 8}.',
    )


V2_DATATYPE = {
    "bool": "BOOL",
    **{f"{kind}{bits}": f"{kind.upper()}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)},
    **{f"float{bits}": f"FP{bits}" for bits in (16, 32, 64)},
}


def test_the_datatype_table_covers_model_format():
    assert set(V2_DATATYPE) == NUMERIC_DTYPES


@pytest.mark.parametrize("input_dtype", sorted(NUMERIC_DTYPES))
def test_every_input_dtype_model_json_allows_has_a_v2_datatype(iris_model_dir, tmp_path, input_dtype):
    """Every dtype model_format accepts boots with its V2 datatype, in either byte order."""
    target = tmp_path / "sklearn-iris" / "1"
    shutil.copytree(iris_model_dir, target)
    sidecar = json.loads((target / "model.json").read_text())
    if input_dtype == "bool":
        sidecar["input_sample"] = [[True, False, True, True]]
    elif input_dtype[0] in "iu":
        sidecar["input_sample"] = [[1, 0, 1, 1]]
    (target / "model.json").write_text(json.dumps({**sidecar, "input_dtype": input_dtype}))
    client = make_client(None, target)
    dtype = np.dtype(input_dtype)
    expected = V2_DATATYPE[input_dtype]
    assert client.get(f"/v2/models/{MODEL}").get_json()["inputs"][0]["datatype"] == expected
    rows = sidecar["input_sample"]
    answer = infer(client, {"inputs": [v2_tensor(rows, datatype=expected)]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["outputs"][0]["data"] == score_answer(client, rows)
    assert datatype_of(dtype.newbyteorder(">")) == expected
