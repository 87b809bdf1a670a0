"""``--emit-yaml DIR`` (SDK v2): the files azure.ai.ml's own ``load_*`` reads back to the objects that would be sent."""

import contextlib
import json
import shutil

import pytest
import yaml

ml = pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

from training.azure.spec import REPO_ROOT, ComputeSpec, DeploySpec, JobSpec, RegisterSpec, SweepSpec  # noqa: E402
from training.azure.v2 import AzureBackend  # noqa: E402
from training.azure.v2_yaml import to_dict, write_yaml  # noqa: E402

LOADERS = {"environment.yml": ml.load_environment, "job.yml": ml.load_job, "sweep.yml": ml.load_job,
           "model.yml": ml.load_model, "endpoint.yml": ml.load_online_endpoint,
           "deployment.yml": ml.load_online_deployment}


def _without_empty(data):
    """The mapping without empty-mapping values: load_* fills in ``{}`` defaults the builders leave out."""
    if isinstance(data, dict):
        return {key: _without_empty(value) for key, value in data.items() if value != {}}
    return data


def _round_trip(entities, directory):
    """Write the entities, load each file back, and compare both as YAML mappings (paths relative to the file)."""
    expected = {}
    for entity, path in zip(entities, write_yaml(entities, directory), strict=True):
        expected[path.name] = to_dict(entity, directory)
    # A loaded entity keeps its relative paths, and its dump tests them against the working directory (az ml reads
    # them from the file's folder): load and dump from there, or a checkout elsewhere reads as an `azureml:` asset.
    with contextlib.chdir(directory):
        for name, data in expected.items():
            loaded = LOADERS[name](directory / name)
            assert _without_empty(to_dict(loaded, directory)) == _without_empty(data), name
    return expected


def test_job_files(tmp_path):
    entities = AzureBackend().job_entities(JobSpec(arguments=("--kernel", "poly", "--penalty", "1.5"),
                                                   compute=ComputeSpec("cpu-cluster")))
    files = _round_trip(entities, tmp_path)
    assert sorted(files) == ["environment.yml", "job.yml"]
    job = files["job.yml"]
    assert not job["code"].startswith("/") and (tmp_path / job["code"]).resolve() == REPO_ROOT / "training" / "job"
    assert job["command"] == "python train.py --kernel ${{inputs.kernel}} --penalty ${{inputs.penalty}}"
    assert (job["inputs"], job["compute"], job["experiment_name"]) == (
        {"kernel": "poly", "penalty": 1.5}, "azureml:cpu-cluster", "train_iris")
    environment = files["environment.yml"]
    assert job["environment"] == f"azureml:sklearn-iris:{environment['version']}"
    assert environment["image"] == JobSpec().environment.base_image  # spec.DEFAULT_BASE_IMAGE


def test_job_file_with_a_local_data_file(tmp_path, iris_csv):
    entities = AzureBackend().job_entities(JobSpec(arguments=("--data", str(iris_csv), "--label", "species"),
                                                   compute=ComputeSpec("cpu-cluster")))
    files = _round_trip(entities, tmp_path / "yaml")
    expected = {"type": "uri_file", "path": "../iris.csv"}  # the user's file, relative to the YAML: uploaded
    assert files["job.yml"]["inputs"] == {"data": expected, "label": "species"}
    assert yaml.safe_load((tmp_path / "yaml" / "job.yml").read_text())["inputs"]["data"] == expected
    loaded = ml.load_job(tmp_path / "yaml" / "job.yml").inputs["data"]
    assert (loaded.type, (tmp_path / "yaml" / loaded.path).resolve()) == ("uri_file", iris_csv.resolve())


def test_a_registered_data_asset_stays_a_reference(tmp_path):
    (tmp_path / "iris-data").write_text("a local file of the same name is not the asset\n")
    entities = AzureBackend().job_entities(JobSpec(arguments=("--data", "azureml:iris-data"),
                                                   compute=ComputeSpec("cpu-cluster")))
    files = _round_trip(entities, tmp_path)
    assert files["job.yml"]["inputs"]["data"] == {"type": "uri_file", "path": "azureml:iris-data"}


def test_sweep_files(tmp_path):
    sweep = SweepSpec(job=JobSpec(arguments=(), compute=ComputeSpec("cpu-cluster")), sampling="grid",
                      max_total_runs=6, max_concurrent_runs=2)
    files = _round_trip(AzureBackend().sweep_entities(sweep), tmp_path)
    data = files["sweep.yml"]
    assert data["search_space"] == {"kernel": {"type": "choice", "values": ["linear", "rbf", "poly", "sigmoid"]},
                                    "penalty": {"type": "choice", "values": [0.5, 1, 1.5]}}
    assert (data["sampling_algorithm"], data["limits"], data["objective"], data["experiment_name"]) == (
        "grid", {"max_total_trials": 6, "max_concurrent_trials": 2}, {"goal": "maximize", "primary_metric": "Accuracy"},
        "train_iris")
    assert "early_termination" not in data


def test_model_file_of_a_local_directory(tmp_path, iris_model_dir):
    model_dir = shutil.copytree(iris_model_dir, tmp_path / "model")
    files = _round_trip(AzureBackend().register_entities(RegisterSpec("sklearn-iris", local_dir=model_dir)),
                        tmp_path / "yaml")
    data = files["model.yml"]
    assert (data["type"], data["path"], data["tags"]["model_framework"]) == ("custom_model", "../model", "ScikitLearn")
    assert data["properties"]["sha256"] == json.loads((model_dir / "model.json").read_text())["sha256"]


def test_deployment_files_scoring_script_copies_its_code(tmp_path):
    staged = tmp_path / "staged"
    shutil.copytree(REPO_ROOT / "service", staged / "service")
    spec = DeploySpec("sklearn-iris", model_version=2, entry_script="service/score.py", source_dir=staged)
    files = _round_trip(AzureBackend().deploy_entities(spec), tmp_path / "out")
    assert sorted(files) == ["deployment.yml", "endpoint.yml", "environment.yml"]
    deployment = files["deployment.yml"]
    assert deployment["code_configuration"] == {"code": "deployment-code", "scoring_script": "service/score.py"}
    assert (tmp_path / "out" / "deployment-code" / "service" / "score.py").is_file()
    assert (deployment["model"], deployment["instance_type"], deployment["instance_count"]) == (
        "azureml:sklearn-iris:2", "Standard_DS3_v2", 1)
    assert files["endpoint.yml"]["auth_mode"] == "key"


def test_deployment_files_container(tmp_path):
    spec = DeploySpec("sklearn-iris", image="example.invalid/sklearn-scoring:1", port=8080)
    files = _round_trip(AzureBackend().deploy_entities(spec), tmp_path)
    assert files["environment.yml"]["inference_config"] == {
        "liveness_route": {"path": "/health/live", "port": 8080},
        "readiness_route": {"path": "/health/ready", "port": 8080},
        "scoring_route": {"path": "/score", "port": 8080}}
    assert "code_configuration" not in files["deployment.yml"]
    assert files["deployment.yml"]["model"] == "azureml:sklearn-iris@latest"
