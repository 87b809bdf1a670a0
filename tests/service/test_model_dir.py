"""Tests for service.model_dir: finding, validating and verifying a model directory before anything is unpickled."""

import json
import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from service.model_dir import ModelDirError, describe, load_model, read_model_info, resolve_model_dir, verify_model_file


class _TouchOnUnpickle:
    """Unpickling this creates a marker file: proof of whether a loader unpickled a file or not."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


_DELETE = object()


@pytest.fixture
def model_root(tmp_path, iris_model_dir) -> Path:
    """A private copy of the iris model in the Azure layout: ``<root>/sklearn-iris/1/``."""
    shutil.copytree(iris_model_dir, tmp_path / "root" / "sklearn-iris" / "1")
    return tmp_path / "root"


def _edit_sidecar(model_dir: Path, **changes) -> None:
    path = model_dir / "model.json"
    sidecar = json.loads(path.read_text())
    for key, value in changes.items():
        if value is _DELETE:
            sidecar.pop(key)
        else:
            sidecar[key] = value
    path.write_text(json.dumps(sidecar))


def test_resolve_accepts_the_model_dir_itself(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    assert resolve_model_dir(model_dir) == model_dir


def test_resolve_descends_into_the_single_name_version_dir(model_root):
    assert resolve_model_dir(model_root) == model_root / "sklearn-iris" / "1"


def test_resolve_descends_into_a_single_registered_folder(tmp_path, iris_model_dir):
    shutil.copytree(iris_model_dir, tmp_path / "outputs")
    assert resolve_model_dir(tmp_path) == tmp_path / "outputs"


def test_resolve_refuses_several_model_dirs_and_names_them(model_root, iris_model_dir):
    shutil.copytree(iris_model_dir, model_root / "sklearn-iris" / "2")
    with pytest.raises(ModelDirError, match=r"holds 2 model directories \(sklearn-iris/1, sklearn-iris/2\)"):
        resolve_model_dir(model_root)


def test_resolve_refuses_an_empty_or_missing_dir(tmp_path):
    with pytest.raises(ModelDirError, match=r"No model.json in .*, nor in a <name>/<version>/ directory below it"):
        resolve_model_dir(tmp_path)
    with pytest.raises(ModelDirError, match="does not exist or is not a directory"):
        resolve_model_dir(tmp_path / "missing")


def test_read_model_info_from_the_azure_layout(model_root):
    info = read_model_info(resolve_model_dir(model_root))
    assert (info.name, info.version, info.label) == ("sklearn-iris", 1, "model sklearn-iris (version 1)")
    assert info.n_features == 4
    assert info.feature_names == ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    assert info.classes == [0, 1, 2]
    assert info.has_predict_proba is False
    assert info.input_sample.dtype == np.float64
    assert info.input_sample.shape == (5, 4)
    assert info.input_sample[0].tolist() == [5.1, 3.5, 1.4, 0.2]


def test_registration_block_names_the_model(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    _edit_sidecar(model_dir, registration={"name": "iris-svc", "version": 7, "registered_at": "2026-11-28T10:00:00Z"})
    info = read_model_info(model_dir)
    assert (info.name, info.version) == ("iris-svc", 7)


def test_a_plain_directory_has_no_name(tmp_path, iris_model_dir):
    shutil.copytree(iris_model_dir, tmp_path / "model")
    info = read_model_info(tmp_path / "model")
    assert (info.name, info.version, info.label) == (None, None, "the model")


def test_unknown_format_is_refused(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    _edit_sidecar(model_dir, format=3)
    with pytest.raises(ModelDirError, match="has format 3, but this version reads formats 1 and 2"):
        read_model_info(model_dir)


def test_unknown_keys_are_ignored(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    _edit_sidecar(model_dir, future_key={"anything": 1})
    assert read_model_info(model_dir).n_features == 4


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sha256", "abc", r"'sha256' must be 64 lower-case hex digits, got str 'abc'"),
        ("sha256", _DELETE, r"'sha256' must be 64 lower-case hex digits, got missing"),
        ("model_file", "../model.joblib", r"'model_file' must be a file name relative to the model directory"),
        ("model_file", "/etc/passwd", r"'model_file' must be a file name relative to the model directory"),
        ("model_file", "model\0.joblib", r"'model_file' must be a file name relative to the model directory"),
        ("n_features", 0, r"'n_features' must be a positive integer, got int '0'"),
        ("input_dtype", "object", r"'input_dtype' must be a numeric numpy dtype name"),
        ("input_dtype", "no-such-dtype", r"'input_dtype' must be a numeric numpy dtype name"),
        ("feature_names", ["a", "b"], r"'feature_names' must be null or a list of 4 distinct strings"),
        ("feature_names", ["a", "a", "b", "c"], r"'feature_names' must be null or a list of 4 distinct strings"),
        ("input_sample", [[1.0, 2.0]], r"'input_sample' must be a non-empty list of rows of 4 numbers"),
        ("input_sample", [["x", 1, 2, 3]], r"'input_sample' must be rows of float64 values"),
        ("has_predict_proba", "yes", r"'has_predict_proba' must be true or false"),
    ],
)
def test_malformed_keys_are_refused_with_expected_and_actual(model_root, key, value, message):
    model_dir = model_root / "sklearn-iris" / "1"
    _edit_sidecar(model_dir, **{key: value})
    with pytest.raises(ModelDirError, match=message):
        read_model_info(model_dir)


def test_missing_or_broken_sidecar(tmp_path):
    with pytest.raises(ModelDirError, match="has no model.json"):
        read_model_info(tmp_path)
    (tmp_path / "model.json").write_text('{"format": 1,')
    with pytest.raises(ModelDirError, match="is not a readable UTF-8 JSON file"):
        read_model_info(tmp_path)
    (tmp_path / "model.json").write_text("[1, 2]")
    with pytest.raises(ModelDirError, match="must hold a JSON object, got list"):
        read_model_info(tmp_path)


def test_verify_names_both_hashes_on_mismatch(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    info = read_model_info(model_dir)
    verify_model_file(info)  # the untouched copy passes
    with open(model_dir / "model.joblib", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ModelDirError) as excinfo:
        verify_model_file(info)
    message = str(excinfo.value)
    assert f"model.json expects {info.sha256}" in message
    assert "Refusing to load it" in message
    actual = message.split("has sha256 ")[1].split(",")[0]
    assert len(actual) == 64 and actual != info.sha256


def test_verify_reports_a_missing_model_file(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    info = read_model_info(model_dir)
    (model_dir / "model.joblib").unlink()
    with pytest.raises(ModelDirError, match="model.joblib cannot be read"):
        verify_model_file(info)


def test_load_model_returns_a_working_estimator(model_root):
    model, info = load_model(model_root)
    assert info.version == 1
    assert model.predict(info.input_sample).tolist() == info.sidecar["output_sample"]


def test_a_swapped_model_file_is_never_unpickled(model_root, tmp_path):
    marker = tmp_path / "unpickled"
    model_dir = model_root / "sklearn-iris" / "1"
    (model_dir / "model.joblib").write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    with pytest.raises(ModelDirError, match="the file was changed after training"):
        load_model(model_root)
    assert not marker.exists()


def test_reading_and_verifying_never_unpickle(model_root, tmp_path):
    """With a matching hash the sidecar is trusted; still, only load_model may unpickle."""
    import hashlib

    marker = tmp_path / "unpickled"
    model_dir = model_root / "sklearn-iris" / "1"
    payload = pickle.dumps(_TouchOnUnpickle(marker))
    (model_dir / "model.joblib").write_bytes(payload)
    _edit_sidecar(model_dir, sha256=hashlib.sha256(payload).hexdigest())
    verify_model_file(read_model_info(model_dir))
    assert not marker.exists()


def test_version_skew_is_logged(model_root, caplog):
    _edit_sidecar(model_root / "sklearn-iris" / "1", sklearn_version="0.0.1")
    with caplog.at_level(logging.WARNING, logger="azmlinfsrv.model_dir"):
        load_model(model_root)
    assert "trained with scikit-learn 0.0.1" in caplog.text


def test_describe_is_the_metadata_body(model_root):
    info = read_model_info(resolve_model_dir(model_root))
    body = describe(info)
    assert set(body) == {
        "name",
        "version",
        "sha256",
        "serialization_format",
        "estimator",
        "task",
        "sklearn_version",
        "classes",
        "feature_names",
        "n_features",
        "input_dtype",
        "input_sample",
        "has_predict_proba",
        "metrics",
        "run_id",
        "created_at",
    }
    assert body["name"] == "sklearn-iris" and body["version"] == 1
    assert body["sha256"] == info.sidecar["sha256"]
    assert body["estimator"] == "sklearn.svm._classes.SVC"
    assert body["input_dtype"] == "float64"
    assert body["metrics"]["Kernel type"] == "linear"
    assert json.loads(json.dumps(body)) == body


def test_a_model_file_linking_outside_the_directory_is_refused(model_root, tmp_path):
    """Issue 14: a symlink may not carry the checked file out of the model directory (the hash would still match)."""
    model_dir = model_root / "sklearn-iris" / "1"
    outside = tmp_path / "elsewhere" / "model.joblib"
    outside.parent.mkdir()
    shutil.move(model_dir / "model.joblib", outside)
    (model_dir / "model.joblib").symlink_to(outside)
    with pytest.raises(ModelDirError, match=r"is a link to .*elsewhere/model\.joblib, outside the model directory"):
        verify_model_file(read_model_info(model_dir))


def test_a_model_file_linking_inside_the_directory_is_served(model_root):
    model_dir = model_root / "sklearn-iris" / "1"
    (model_dir / "blobs").mkdir()
    shutil.move(model_dir / "model.joblib", model_dir / "blobs" / "model.joblib")
    (model_dir / "model.joblib").symlink_to(Path("blobs") / "model.joblib")
    verify_model_file(read_model_info(model_dir))
