"""training/registry.py: round trip, versions, queries, integrity checks, crash leftovers."""

import json
import shutil

import joblib
import numpy as np
import pytest

from training.errors import InvalidArgument, InvalidModelDir, ModelNotFound, TamperedModel
from training.local_run import run_training_locally
from training.model_dir import check_model_dir
from training.registry import Registry


@pytest.fixture
def model_dir(iris_model_dir, tmp_path):
    return shutil.copytree(iris_model_dir, tmp_path / "model")


def test_train_register_get_round_trip(workspace):
    run = run_training_locally([], workspace=workspace)
    registry = Registry(workspace)
    record = registry.register("sklearn-iris", run.outputs_dir, tags={"stage": "dev"},
                               resource_configuration={"cpu": 1, "memory_in_gb": 0.5})
    assert (record.name, record.version, record.run_id) == ("sklearn-iris", 1, run.run_id)
    assert record.path == workspace / "models" / "sklearn-iris" / "1"
    assert record.model_framework == "ScikitLearn" and record.model_framework_version == "1.9.1"
    assert record.resource_configuration == {"cpu": 1, "memory_in_gb": 0.5}
    assert registry.get("sklearn-iris") == record == registry.get("sklearn-iris", 1)

    source = json.loads((run.outputs_dir / "model.json").read_text())
    copy = check_model_dir(record.path)
    assert "registration" not in source
    assert copy.pop("registration") == {"name": "sklearn-iris", "version": 1, "registered_at": record.created_at}
    assert copy == source and copy["sha256"] == record.sha256
    assert sorted(p.name for p in record.path.iterdir()) == ["confusion_matrix.png", "model.joblib", "model.json"]
    model = joblib.load(record.path / "model.joblib")
    assert model.predict(np.array(copy["input_sample"])).tolist() == copy["output_sample"]


def test_versions_increment_per_name_and_list_filters(workspace, model_dir):
    registry = Registry(workspace)
    assert registry.register("a", model_dir, tags={"t": "1"}).version == 1
    assert registry.register("a", model_dir, tags={"t": "2"}, properties={"p": "x"}, description="d").version == 2
    assert registry.register("b", model_dir).version == 1
    assert registry.get("a").version == 2 and registry.get("a", 1).tags == {"t": "1"}
    assert [(r.name, r.version) for r in registry.list()] == [("a", 1), ("a", 2), ("b", 1)]
    assert [r.version for r in registry.list(name="a", tags={"t": "2"})] == [2]
    assert [(r.name, r.version) for r in registry.list(properties={"p": "x"})] == [("a", 2)]
    assert registry.list(tags={"t": "3"}) == []
    assert registry.get("a").run_id == "fixture" and registry.get("a").description == "d"


def test_missing_names_and_versions_say_what_exists(workspace, model_dir):
    registry = Registry(workspace)
    with pytest.raises(ModelNotFound, match="No model named 'x' in the registry at .*The registry is empty"):
        registry.get("x")
    registry.register("a", model_dir)
    with pytest.raises(ModelNotFound, match="Registered models are: a. Train and register one with"):
        registry.get("x")
    with pytest.raises(ModelNotFound, match="Model 'a' has no version 7; registered versions are 1."):
        registry.get("a", 7)


def test_tampered_model_file_is_refused(workspace, model_dir):
    record = Registry(workspace).register("a", model_dir)
    with open(record.path / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(TamperedModel, match=r"Model 'a' version 1 at .*: model.joblib has sha256 \w{12}… but the "
                                            r"registry recorded \w{12}… at registration; the artifact was modified"):
        Registry(workspace).get("a")


def test_model_json_rewritten_to_match_a_swapped_model_is_refused(workspace, model_dir, iris_proba_model_dir):
    record = Registry(workspace).register("a", model_dir)
    shutil.copy(iris_proba_model_dir / "model.joblib", record.path / "model.joblib")
    sidecar = json.loads((record.path / "model.json").read_text())
    sidecar["sha256"] = json.loads((iris_proba_model_dir / "model.json").read_text())["sha256"]
    (record.path / "model.json").write_text(json.dumps(sidecar))
    with pytest.raises(TamperedModel, match="the artifact was modified"):
        Registry(workspace).get("a")


def test_directory_swapped_between_versions_is_refused(workspace, model_dir):
    registry = Registry(workspace)
    first, second = registry.register("a", model_dir), registry.register("a", model_dir)
    shutil.rmtree(second.path)
    shutil.copytree(first.path, second.path)
    with pytest.raises(TamperedModel, match="model.json says it is 'a' version 1; the directory was replaced"):
        registry.get("a", 2)


def test_inconsistent_or_invalid_sources_are_refused(workspace, model_dir, tmp_path):
    registry = Registry(workspace)
    with pytest.raises(InvalidModelDir, match="is not a directory"):
        registry.register("a", tmp_path / "nope")
    with pytest.raises(InvalidModelDir, match="has no model.json"):
        registry.register("a", tmp_path)
    (model_dir / "model.joblib").write_bytes(b"changed")
    with pytest.raises(InvalidModelDir, match=r"model.joblib has sha256 \w{64}, but model.json expects \w{64}"):
        registry.register("a", model_dir)
    assert registry.list() == [] and not (workspace / "models").exists() and not (workspace / "tmp").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "bad name"}, "Invalid model name 'bad name'"),
    ({"name": "a:1"}, "Invalid model name 'a:1'"),
    ({"tags": {"k": 1}}, "tags must map non-empty strings to strings"),
    ({"resource_configuration": {"cpu": 0}}, "resource_configuration cpu must be a number > 0, got 0"),
    ({"resource_configuration": {"memory_in_gb": float("nan")}},
     "resource_configuration memory_in_gb must be a number > 0, got nan"),
    ({"resource_configuration": {"cores": 1}}, "unknown keys ['cores']"),
])
def test_bad_arguments_are_refused(workspace, model_dir, kwargs, message):
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        Registry(workspace).register(**{"name": "a", "path": model_dir, **kwargs})


def test_a_version_directory_without_a_row_is_replaced(workspace, model_dir):
    # What a registration killed between the rename and COMMIT leaves: a directory no row owns.
    orphan = workspace / "models" / "a" / "1"
    orphan.mkdir(parents=True)
    (orphan / "junk").write_text("half")
    record = Registry(workspace).register("a", model_dir)
    assert record.version == 1 and not (record.path / "junk").exists()
    assert Registry(workspace).get("a") == record


def test_a_relative_workspace_gives_absolute_paths(tmp_path, monkeypatch, model_dir):
    monkeypatch.chdir(tmp_path)
    record = Registry("relative-ws").register("a", model_dir)
    monkeypatch.chdir(model_dir)
    assert record.path == tmp_path / "relative-ws" / "models" / "a" / "1"
    assert Registry(tmp_path / "relative-ws").get("a") == record
