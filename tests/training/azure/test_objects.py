"""The real azureml-core / HyperDrive objects built offline for submission, sweeps, registration and deployment."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from azureml.core import Environment, Model, ScriptRunConfig
from azureml.core.model import InferenceConfig
from azureml.core.resource_configuration import ResourceConfiguration
from azureml.core.webservice.aci import AciServiceDeploymentConfiguration
from azureml.core.webservice.aks import AksServiceDeploymentConfiguration
from azureml.train.hyperdrive import HyperDriveConfig

from training.azure.deploy import build_deployment_configuration, build_inference_config, sample_request
from training.azure.environment import build_environment
from training.azure.errors import AzureError
from training.azure.hyperdrive import build_hyperdrive_config
from training.azure.snapshot import stage_entry_source
from training.azure.spec import (
    CONDA_FILE,
    JOB_DIR,
    REPO_ROOT,
    ComputeSpec,
    DeploySpec,
    EnvironmentSpec,
    JobSpec,
    RegisterSpec,
    SweepSpec,
)
from training.azure.submit import build_script_run_config, provisioning_configuration, register_run_model
from training.errors import InvalidModelDir
from training.search_space import IRIS_SPACE

SAMPLE_SPACE = {"--kernel": ["choice", [["linear", "rbf", "poly", "sigmoid"]]],
                "--penalty": ["choice", [[0.5, 1, 1.5]]]}


@pytest.fixture(scope="module")
def environment():
    return build_environment(EnvironmentSpec())


def _src(env, **job_fields):
    return build_script_run_config(JobSpec(**job_fields), env)


def test_environment_from_the_conda_file(environment):
    assert isinstance(environment, Environment)
    assert environment.name == "sklearn-iris"
    deps = environment.python.conda_dependencies
    pip = list(deps.pip_packages)
    assert {"scikit-learn==1.9.1", "numpy==2.4.6", "joblib==1.6.0", "azureml-core==1.61.0.post4"} <= set(pip)
    assert deps.get_python_version() == "3.11"
    assert environment.python.user_managed_dependencies is False


def test_missing_conda_file_is_a_clear_error(tmp_path):
    with pytest.raises(AzureError, match=r"Conda specification .*nope\.yml not found"):
        build_environment(EnvironmentSpec(conda_file=tmp_path / "nope.yml"))


def test_curated_environment_needs_a_workspace():
    with pytest.raises(AzureError, match="azureml-sklearn-1.5.*can only be fetched from a workspace"):
        build_environment(EnvironmentSpec(curated="azureml-sklearn-1.5"))


def test_script_run_config_local(environment):
    src = _src(environment, arguments=("--kernel", "rbf", "--penalty", "0.5"))
    assert isinstance(src, ScriptRunConfig)
    assert Path(src.source_directory) == JOB_DIR
    assert (src.script, src.arguments) == ("train.py", ["--kernel", "rbf", "--penalty", "0.5"])
    assert src.run_config.target == "local"
    assert src.run_config.environment is environment
    assert src.run_config.docker.use_docker is True


def test_script_run_config_cluster_without_docker(environment):
    src = _src(environment, compute=ComputeSpec(name="hd-cluster"),
               environment=EnvironmentSpec(docker=False))
    assert src.run_config.target == "hd-cluster"
    assert src.run_config.docker.use_docker is False


def test_missing_script_is_refused_before_submission(environment):
    with pytest.raises(AzureError, match=r"Script 'nope\.py' not found in the source directory"):
        _src(environment, script="nope.py")


def test_cluster_provisioning_matches_the_sample():
    config = provisioning_configuration(ComputeSpec(name="hd-cluster", create=True))
    assert config.vm_size == "STANDARD_D2_V2"
    assert config.scale_settings.maximum_node_count == 4


def test_hyperdrive_config_is_the_samples(environment):
    src = _src(environment, arguments=("--kernel", "linear", "--penalty", "1.0", "--probability"))
    config = build_hyperdrive_config(SweepSpec(job=JobSpec()), src)
    assert isinstance(config, HyperDriveConfig)
    assert config._generator_config == {"name": "RANDOM", "parameter_space": SAMPLE_SPACE}
    assert config._primary_metric_config == {"name": "Accuracy", "goal": "maximize"}
    assert (config._max_total_runs, config._max_concurrent_runs) == (12, 4)
    assert config._policy_config == {"name": "Default"}
    assert config._run_config is src
    assert src.arguments == ["--probability"], "swept flags are left to HyperDrive, the others kept"


def test_hyperdrive_grid_and_bandit(environment):
    sweep = SweepSpec(job=JobSpec(), sampling="grid", max_total_runs=6, max_concurrent_runs=2, policy="bandit")
    config = build_hyperdrive_config(sweep, _src(environment))
    assert config._generator_config["name"] == "GRID"
    assert config._policy_config == {"name": "Bandit", "properties": {
        "evaluation_interval": 1, "delay_evaluation": 0, "slack_factor": 0.1}}
    assert (config._max_total_runs, config._max_concurrent_runs) == (6, 2)


@pytest.mark.parametrize(("fields", "message"), [
    ({"max_total_runs": 0}, "at least 1 run"),
    ({"max_concurrent_runs": 13}, "Concurrency 13 exceeds the 12 runs"),
    ({"sampling": "bayesian"}, "Sampling 'bayesian' is not supported"),
    ({"policy": "median"}, "policy 'median' is not supported"),
])
def test_hyperdrive_settings_are_validated(environment, fields, message):
    with pytest.raises(AzureError, match=message):
        build_hyperdrive_config(SweepSpec(job=JobSpec(), **fields), _src(environment))


def test_one_search_space_serves_both_targets(environment):
    config = build_hyperdrive_config(SweepSpec(job=JobSpec()), _src(environment))
    swept = config._generator_config["parameter_space"]
    local = {c.flag: list(c.values) for c in IRIS_SPACE.choices}
    assert {flag: expression[1][0] for flag, expression in swept.items()} == local


class RunAtTheNetworkBoundary:
    """Stands where azureml's Run would call the service: serves a real model.json, records register_model."""

    id = "train_iris_1700000000_0123abcd"

    def __init__(self, sidecar: Path | None):
        self.sidecar, self.registered = sidecar, None

    def download_file(self, name, output_file_path=None):
        if self.sidecar is None:
            raise OSError(f"{name} is not an artifact of this run")
        shutil.copy(self.sidecar, output_file_path)

    def get_metrics(self):
        return {"Kernel type": "linear", "Penalty": 1.0, "Accuracy": 0.9736842105263158}

    def register_model(self, **kwargs):
        self.registered = kwargs
        return "model"


def test_register_model_arguments(iris_model_dir):
    run = RunAtTheNetworkBoundary(iris_model_dir / "model.json")
    assert register_run_model(run, RegisterSpec("sklearn-iris")) == "model"
    sidecar = json.loads((iris_model_dir / "model.json").read_text())
    args = run.registered
    assert args["model_name"] == "sklearn-iris"
    assert args["model_path"] == "outputs/model.joblib"
    assert args["model_framework"] == Model.Framework.SCIKITLEARN == "ScikitLearn"
    assert args["model_framework_version"] == sidecar["sklearn_version"]
    resources = args["resource_configuration"]
    assert isinstance(resources, ResourceConfiguration)
    assert resources.serialize() == {"cpu": 1, "memoryInGB": 0.5, "gpu": None}
    assert args["tags"] == {"Kernel type": "linear", "Penalty": "1.0", "Accuracy": "0.9736842105263158"}
    assert args["properties"]["sha256"] == sidecar["sha256"]
    assert json.loads(args["properties"]["input_sample"]) == sidecar["input_sample"][:1]


def test_register_without_model_json_is_a_clear_error():
    with pytest.raises(AzureError, match=r"has no readable outputs/model\.json .*training/job/train\.py"):
        register_run_model(RunAtTheNetworkBoundary(None), RegisterSpec("sklearn-iris"))


@pytest.mark.parametrize("broken_model_dir", ["foreign", "invalid"], indirect=True)  # the model file stays in Azure
def test_register_refuses_a_run_model_json_that_model_format_refuses(broken_model_dir):
    model_dir, message = broken_model_dir
    run = RunAtTheNetworkBoundary(model_dir / "model.json")
    with pytest.raises(InvalidModelDir, match=rf"Run {run.id} did not write a usable outputs/model\.json") as refused:
        register_run_model(run, RegisterSpec("sklearn-iris"))
    # model_format's message, naming the downloaded copy
    assert str(refused.value).endswith(message.split(str(model_dir / "model.json"))[-1])
    assert run.registered is None


def test_aci_deployment_configuration():
    config = build_deployment_configuration(DeploySpec("sklearn-iris", cpu_cores=1, memory_gb=1))
    assert isinstance(config, AciServiceDeploymentConfiguration)
    assert (config.cpu_cores, config.memory_gb) == (1, 1)


def test_aks_deployment_configuration_needs_a_cluster():
    with pytest.raises(AzureError, match="--aks-cluster"):
        build_deployment_configuration(DeploySpec("sklearn-iris", target="aks"))
    config = build_deployment_configuration(DeploySpec("sklearn-iris", target="aks", aks_cluster="aks1",
                                                       cpu_cores=2, memory_gb=4))
    assert isinstance(config, AksServiceDeploymentConfiguration)
    assert (config.cpu_cores, config.memory_gb) == (2, 4)


def test_inference_config_with_the_service_scoring_script(environment, tmp_path):
    entry_root = tmp_path / "repo"
    (entry_root / "service" / "__pycache__").mkdir(parents=True)
    (entry_root / "service" / "__init__.py").write_text("")
    (entry_root / "service" / "score.py").write_text("def init():\n    pass\n")
    (entry_root / "service" / "__pycache__" / "score.cpython-311.pyc").write_text("")
    (entry_root / "training").mkdir()
    (entry_root / "training" / "other.py").write_text("")
    staged = stage_entry_source(entry_root, "service/score.py", tmp_path / "staged")
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()) == [
        "service/__init__.py", "service/score.py"]
    spec = DeploySpec("sklearn-iris", entry_script="service/score.py", source_dir=staged)
    config = build_inference_config(spec, environment)
    assert isinstance(config, InferenceConfig)
    assert config.entry_script == "service/score.py"
    assert Path(config.source_directory) == staged
    assert config.environment is environment


def test_the_repository_scoring_script_can_be_staged(tmp_path):
    if not (REPO_ROOT / "service" / "score.py").is_file():
        pytest.skip("service/score.py is not in this checkout")
    staged = stage_entry_source(REPO_ROOT, "service/score.py", tmp_path / "staged")
    assert (staged / "service" / "score.py").is_file() and (staged / "service" / "model_dir.py").is_file()
    assert (staged / "model_format.py").read_bytes() == (REPO_ROOT / "model_format.py").read_bytes()
    assert not (staged / "training").exists()
    # What the deployment imports resolves inside the upload alone.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run([sys.executable, "-c", "import service.model_dir, service.conversion"], cwd=staged, env=env,
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr


def test_sample_request_uses_the_registered_input_sample():
    properties = {"input_sample": json.dumps([[6.3, 3.3, 6.0, 2.5]])}
    assert sample_request("http://svc/score", properties, no_code=True) == (
        "curl -s -H 'Content-Type: application/json' -d '{\"data\": [[6.3, 3.3, 6.0, 2.5]], \"method\": \"predict\"}' "
        "http://svc/score")
    assert '"data": [[5.1, 3.5, 1.4, 0.2]]}' in sample_request("http://svc/score", None, no_code=False, auth=True)
    assert "$SERVICE_KEY" in sample_request("http://svc/score", None, no_code=False, auth=True)


def test_default_conda_file_is_the_repositorys():
    assert CONDA_FILE == REPO_ROOT / "training" / "sklearn-env.yml" and CONDA_FILE.is_file()
