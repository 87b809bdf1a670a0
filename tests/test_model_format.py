"""model_format.py, the one implementation of the model directory contract: the documented key table, the job's copy,
the atomic write, and the property that the registry and the service accept and refuse the same directories."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import model_format
from service.model_dir import ModelDirError, check_model_dir, load_model
from training.errors import InvalidModelDir
from training.registry import Registry

REPO = Path(__file__).resolve().parents[1]
_DROP = object()


def test_the_job_snapshot_carries_an_identical_copy():
    job_copy = REPO / "training" / "job" / "model_format.py"
    assert job_copy.read_bytes() == (REPO / "model_format.py").read_bytes(), "run `make vendor`"


def test_the_documented_key_table_is_the_module_key_table():
    text = (REPO / "docs" / "model-directory.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \| (yes|) \|", text, flags=re.M)
    assert rows == [(key.name, key.type, "yes" if key.required else "") for key in model_format.KEYS]


def test_what_the_job_writes_is_valid(iris_model_dir):
    sidecar = model_format.check(iris_model_dir)
    assert {key.name for key in model_format.KEYS} - set(sidecar) == {"registration", "serialization_format",
                                                                       "trusted_types"}


def test_a_skops_directory_is_valid_and_loads_with_its_recorded_types(iris_skops_model_dir):
    sidecar = model_format.check(iris_skops_model_dir)
    assert model_format.serialization_format(sidecar) == "skops"
    model, info = load_model(iris_skops_model_dir)
    assert model.predict(info.input_sample).tolist() == sidecar["output_sample"]
    assert Registry(iris_skops_model_dir.parent / "ws").register("m", iris_skops_model_dir).sha256 == sidecar["sha256"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"serialization_format": _DROP},
         "key 'serialization_format' must be \"joblib\" or \"skops\" in format 2, got missing"),
        ({"format": 1}, "key 'serialization_format' must be \"joblib\" in format 1, got str 'skops'"),
        ({"serialization_format": "pickle"}, "key 'serialization_format' must be \"joblib\" or \"skops\" in format 2"),
        ({"trusted_types": _DROP}, "key 'trusted_types' must be a list of fully qualified type names"),
        ({"trusted_types": ["Tree"]}, "key 'trusted_types' must be a list of fully qualified type names"),
        ({"serialization_format": "joblib"}, "key 'trusted_types' must be absent for a joblib model"),
        ({"format": 3}, "has format 3, but this version reads formats 1 and 2. Re-train the model or upgrade."),
    ],
)
def test_format_2_keys_are_checked(iris_skops_model_dir, changes, message):
    sidecar = json.loads((iris_skops_model_dir / "model.json").read_text())
    edited = {key: value for key, value in {**sidecar, **changes}.items() if value is not _DROP}
    with pytest.raises(ModelDirError) as refusal:
        model_format.validate(edited)
    assert message in str(refusal.value)


def test_the_registry_and_the_service_refuse_an_untrusted_skops_type_with_the_same_line(iris_skops_model_dir, tmp_path):
    shutil.copytree(iris_skops_model_dir, tmp_path / "m")
    sidecar = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**sidecar, "trusted_types": sidecar["trusted_types"][:1]}))
    with pytest.raises(InvalidModelDir) as by_registry:
        Registry(tmp_path / "ws").register("m", tmp_path / "m")
    with pytest.raises(model_format.UntrustedTypes) as by_service:
        load_model(tmp_path / "m")
    assert str(by_registry.value) == str(by_service.value)
    assert "does not record as trusted: sklearn.calibration._SigmoidCalibration." in str(by_service.value)
    load_model(tmp_path / "m", trusted_types=("sklearn.calibration._SigmoidCalibration",))


def test_write_validates_first_and_leaves_nothing_half_written(tmp_path, iris_model_dir):
    sidecar = json.loads((iris_model_dir / "model.json").read_text())
    with pytest.raises(ModelDirError, match="key 'n_features' must be a positive integer, got int '0'"):
        model_format.write_sidecar(tmp_path, {**sidecar, "n_features": 0})
    assert list(tmp_path.iterdir()) == []
    path = model_format.write_sidecar(tmp_path, sidecar)
    assert json.loads(path.read_text()) == sidecar and sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "layers-model", "modelTopology": {}}', "without 'model_file' or 'sha256'"),
        (b"[1, 2]", "must hold a JSON object, got list"),
        (b'{"format": 1, "model_file": ', "is not a readable UTF-8 JSON file"),
        (b"\xff\xfe", "is not a readable UTF-8 JSON file"),
    ],
)
def test_another_librarys_model_json_is_not_a_sidecar(tmp_path, content, reason):
    (tmp_path / "model.json").write_bytes(content)
    with pytest.raises(model_format.NotASidecar, match=reason):
        model_format.read_sidecar(tmp_path)


def test_an_unreadable_model_json_is_not_waved_through_as_a_foreign_file(tmp_path):
    (tmp_path / "model.json").mkdir()  # reading fails (IsADirectoryError), whoever runs the test
    with pytest.raises(ModelDirError, match=r"model\.json cannot be read: Is a directory\.") as excinfo:
        model_format.read_sidecar(tmp_path)
    assert not isinstance(excinfo.value, model_format.NotASidecar)


def test_a_broken_sidecar_of_ours_is_not_mistaken_for_a_foreign_file(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": 1, "model_file": "model.joblib"}))
    with pytest.raises(ModelDirError) as excinfo:
        model_format.read_sidecar(tmp_path)
    assert not isinstance(excinfo.value, model_format.NotASidecar)
    assert "key 'sha256' must be 64 lower-case hex digits, got missing" in str(excinfo.value)


def test_the_service_ignores_a_foreign_model_json_with_one_log_line_the_registry_refuses_it(tmp_path, caplog):
    (tmp_path / "model.json").write_text('{"format": "layers-model", "weightsManifest": []}')
    with caplog.at_level(logging.INFO):
        assert check_model_dir(tmp_path) is None
        assert check_model_dir(tmp_path, verify=False) is None  # a worker's re-read stays silent
    [record] = [r for r in caplog.records if "model.json" in r.getMessage()]
    assert "is not a model directory sidecar" in record.getMessage()
    assert "Serving" in record.getMessage() and "without model metadata" in record.getMessage()
    with pytest.raises(InvalidModelDir, match="is not a model directory sidecar"):
        Registry(tmp_path / "workspace").register("m", tmp_path)


# --- the property: the registry accepts exactly what the service serves, and both give the same reason otherwise ---

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)
# Values near the valid ones, so that most examples pass some checks and fail a later one.
_NEAR = {
    "format": st.sampled_from([1, 2, "1", 1.0, True]),
    "model_file": st.sampled_from(["model.joblib", "sub/model.joblib", "missing.joblib", "../model.joblib",
                                   "/etc/hostname", "", "."]),
    "sha256": st.sampled_from(["0" * 64, "A" * 64, "abc"]),
    "n_features": st.sampled_from([4, 3, 0, -1, True, 4.0]),
    "input_dtype": st.sampled_from(["float64", "float16", "int8", "bool", "object", "f8", "no-such-dtype"]),
    "has_predict_proba": st.sampled_from([True, False, 1, "yes"]),
    "feature_names": st.sampled_from([None, ["a", "b", "c", "d"], ["a", "a", "b", "c"], ["a"], [1, 2, 3, 4]]),
    "classes": st.sampled_from([None, [0, 1, 2], ["x"], "abc"]),
    "serialization_format": st.sampled_from(["joblib", "skops", "pickle", None]),
    "trusted_types": st.sampled_from([[], ["sklearn.tree._tree.Tree"], ["Tree"], [1]]),
    "input_sample": st.sampled_from([[[5.1, 3.5, 1.4, 0.2]], [[1e10, 0, 0, 0]], [[300, 1, 2, 3]], [], [[1, 2]],
                                     [["x", 1, 2, 3]], [[True, 0, 1, 0]], [[None, 1, 2, 3]]]),
}
_CHANGES = st.dictionaries(
    st.sampled_from([key.name for key in model_format.KEYS]),
    st.one_of(st.just(_DROP), _JSON_VALUES, *[_NEAR[name] for name in _NEAR]),
    max_size=3,
)
_FILE_FAULTS = st.sampled_from([None, "tamper", "delete", "move to sub/", "link outside", "link inside"])


@pytest.fixture(scope="module")
def property_space(iris_model_dir):
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp), Registry(Path(tmp) / "workspace"), json.loads((iris_model_dir / "model.json").read_text())


def _build(root: Path, source: Path, sidecar: dict, changes: dict, fault: str | None) -> Path:
    directory = Path(tempfile.mkdtemp(dir=root))
    shutil.copyfile(source / "model.joblib", directory / "model.joblib")
    if fault == "tamper":
        with open(directory / "model.joblib", "ab") as handle:
            handle.write(b"\0")
    elif fault == "delete":
        (directory / "model.joblib").unlink()
    elif fault == "move to sub/":
        (directory / "sub").mkdir()
        shutil.move(directory / "model.joblib", directory / "sub" / "model.joblib")
    elif fault == "link outside":
        shutil.move(directory / "model.joblib", directory.with_name(directory.name + ".joblib"))
        (directory / "model.joblib").symlink_to(directory.with_name(directory.name + ".joblib"))
    elif fault == "link inside":
        shutil.move(directory / "model.joblib", directory / "blob")
        (directory / "model.joblib").symlink_to("blob")
    edited = {**sidecar, **changes}
    document = {key: value for key, value in edited.items() if value is not _DROP}
    (directory / "model.json").write_text(json.dumps(document))
    return directory


def _outcome(action, error_type) -> str | None:
    try:
        action()
    except error_type as exc:
        return str(exc)
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=_CHANGES, fault=_FILE_FAULTS)
@example(changes={}, fault=None).via("the job's own directory: accepted by both")
@example(changes={"model_file": "sub/model.joblib"}, fault="move to sub/").via("a model file in a sub-folder")
@example(changes={}, fault="link outside").via("issue 14: refused by both for the same reason")
@example(changes={"model_file": _DROP, "sha256": _DROP}, fault=None).via("no longer our sidecar")
def test_the_registry_accepts_what_the_service_serves_and_refuses_for_the_same_reason(
    property_space, iris_model_dir, changes, fault
):
    root, registry, sidecar = property_space
    directory = _build(root, iris_model_dir, sidecar, changes, fault)
    records = []
    refused_by_registry = _outcome(lambda: records.append(registry.register("m", directory)), InvalidModelDir)
    refused_by_service = _outcome(lambda: load_model(directory), ModelDirError)
    assert refused_by_registry == refused_by_service
    if records:
        load_model(records[0].path)  # the registry's own copy is served too
    if not changes and fault in (None, "link inside"):
        assert records, refused_by_registry
