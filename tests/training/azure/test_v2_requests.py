"""The SDK v2 backend drives the real azure-ai-ml client: the exact requests it sends, answered by an offline fake.

Every test goes through ``MLClient`` with its real operations, serializers and pollers; only the HTTP layer is the
in-memory resource manager of fake_arm.py, and real sockets are refused, so nothing can leave this machine.
"""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

from fake_arm import ARM, DEPLOYMENT_LOG, STORAGE, WORKSPACE_PATH  # noqa: E402

from training.azure.backend import Connection  # noqa: E402
from training.azure.errors import AzureError, RunFailed  # noqa: E402
from training.azure.spec import (  # noqa: E402
    CONDA_FILE,
    DEFAULT_BASE_IMAGE,
    REPO_ROOT,
    ComputeSpec,
    DeploySpec,
    JobSpec,
    RegisterSpec,
    SweepSpec,
)
from training.azure.v2 import AzureBackend  # noqa: E402
from training.azure.v2_objects import content_version  # noqa: E402
from training.errors import InvalidModelDir  # noqa: E402

CONNECTION = Connection(timeout=60)
IMAGE = DEFAULT_BASE_IMAGE
SCORING_IMAGE = "example.invalid/sklearn-scoring:1"
ENV_VERSION = content_version(IMAGE, CONDA_FILE.read_bytes())
ENV_ID = f"{WORKSPACE_PATH}/environments/sklearn-iris/versions/{ENV_VERSION}"
CLUSTER = {"properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_D2_V2"}}}


@pytest.fixture
def azure(fake_azure):
    fake, client = fake_azure
    fake.add("/computes/cpu-cluster", CLUSTER)
    return fake, AzureBackend(connect=lambda connection: client)


def _normal(body):
    """The body with what the SDK makes up per call (code asset ids, local git facts) replaced or dropped."""
    text = re.sub(r"/codes/[0-9a-f-]{36}/", "/codes/<code>/", json.dumps(body))
    data = json.loads(text)
    inner = data.get("properties", {}).get("properties")
    if isinstance(inner, dict):
        for key in [k for k in inner if "git" in k]:
            del inner[key]
    return data


def _calls(fake) -> list[str]:
    return [f"{r.method} {r.resource}" for r in fake.requests]


def test_submit_registers_the_environment_once_then_puts_the_command_job(azure):
    fake, backend = azure
    job = JobSpec(arguments=("--kernel", "rbf", "--penalty", "0.5"), compute=ComputeSpec("cpu-cluster"))
    outcome = backend.submit_job(job, CONNECTION, wait=False, register=None)

    env_path = f"/environments/sklearn-iris/versions/{ENV_VERSION}"
    (env_put,) = fake.sent("PUT", "^/environments/")
    assert env_put.resource == env_path and "api-version=" in env_put.query
    assert env_put.body == {"properties": {
        "condaFile": yaml.safe_dump(yaml.safe_load(CONDA_FILE.read_text()), default_flow_style=False),
        "image": IMAGE, "isAnonymous": False, "isArchived": False,
        "description": f"sklearn-env.yml on {IMAGE}"}}
    conda = env_put.body["properties"]["condaFile"]
    assert "  - scikit-learn==1.9.1\n" in conda and "  - mlflow-skinny==3.15.0\n" in conda

    (job_put,) = fake.sent("PUT", "^/jobs/")
    assert job_put.resource == f"/jobs/{outcome.run_id}"
    assert _normal(job_put.body) == {"properties": {
        "displayName": "train_iris train.py",
        "command": "python train.py --kernel ${{inputs.kernel}} --penalty ${{inputs.penalty}}",
        "codeId": f"{WORKSPACE_PATH}/codes/<code>/versions/1",
        "computeId": f"{WORKSPACE_PATH}/computes/cpu-cluster",
        "properties": {}, "experimentName": "train_iris", "isArchived": False,
        "inputs": {"kernel": {"value": "rbf", "jobInputType": "literal"},
                   "penalty": {"value": "0.5", "jobInputType": "literal"}},
        "outputs": {}, "environmentId": ENV_ID, "tags": {}, "environmentVariables": {}, "jobType": "Command"}}
    assert (outcome.status, outcome.portal_url) == ("Submitted", f"https://ml.azure.com/runs/{outcome.run_id}")
    assert _calls(fake)[:3] == [f"GET {env_path}", f"PUT {env_path}", "GET /computes/cpu-cluster"]

    backend.submit_job(job, CONNECTION, wait=False, register=None)
    assert len(fake.sent("PUT", "^/environments/")) == 1, "an unchanged conda spec reuses its environment version"
    assert len(fake.sent("PUT", "^/jobs/")) == 2


def test_wait_streams_the_job_then_registers_its_whole_outputs_folder(azure, capsys, iris_model_dir):
    fake, backend = azure
    fake.job_outputs = iris_model_dir
    sidecar = json.loads((iris_model_dir / "model.json").read_text())
    job = JobSpec(compute=ComputeSpec("cpu-cluster"))
    outcome = backend.submit_job(job, CONNECTION, wait=True, register=RegisterSpec("sklearn-iris"))

    assert (outcome.status, outcome.model) == ("Completed", "sklearn-iris:1")
    calls = _calls(fake)
    assert f"GET /runs/{outcome.run_id}/details" in calls, "--wait streams the job's logs"
    assert f"GET {STORAGE}/ExperimentRun/dcid.{outcome.run_id}/outputs/model.json" in calls
    (model_put,) = fake.sent("PUT", "^/models/")
    assert model_put.resource == "/models/sklearn-iris/versions/1"
    assert model_put.body == {"properties": {
        "description": f"sklearn.svm._classes.SVC trained by job {outcome.run_id}",
        "tags": {"model_framework": "ScikitLearn", "model_framework_version": sidecar["sklearn_version"],
                 "Kernel type": "linear", "Penalty": "1.0", "Accuracy": str(sidecar["metrics"]["Accuracy"])},
        "properties": {"resource_cpu": "1", "resource_memory_in_gb": "0.5", "sha256": sidecar["sha256"],
                       "input_sample": json.dumps(sidecar["input_sample"][:1]),
                       "data_fingerprint": sidecar["data_fingerprint"], "job": outcome.run_id},
        "isAnonymous": False, "isArchived": False, "modelType": "custom_model",
        "modelUri": f"azureml://jobs/{outcome.run_id}/outputs/artifacts/paths/outputs/"}}
    assert f"Execution Summary\n=================\nRunId: {outcome.run_id}" in capsys.readouterr().out


def test_a_job_without_model_json_is_not_registered(azure, tmp_path):
    fake, backend = azure
    fake.job_outputs = tmp_path  # the job wrote nothing
    with pytest.raises(InvalidModelDir, match=r"Job \w+ did not write a usable model directory to outputs/ \(was "
                                              r"it trained by training/job/train.py\?\): Model directory .* does not"):
        backend.submit_job(JobSpec(compute=ComputeSpec("cpu-cluster")), CONNECTION, wait=True,
                           register=RegisterSpec("sklearn-iris"))
    assert fake.sent("PUT", "^/models/") == []


def test_a_job_that_wrote_a_broken_model_directory_is_not_registered(azure, broken_model_dir):
    fake, backend = azure
    fake.job_outputs, message = broken_model_dir
    with pytest.raises(InvalidModelDir, match=r"Job \w+ did not write a usable model directory") as refused:
        backend.submit_job(JobSpec(compute=ComputeSpec("cpu-cluster")), CONNECTION, wait=True,
                           register=RegisterSpec("sklearn-iris"))
    # model_format's message, naming the downloaded copy instead of the directory the fake job wrote
    assert str(refused.value).endswith(message.split(str(fake.job_outputs))[-1])
    assert fake.sent("PUT", "^/models/") == []


def test_sweep_job_body(azure):
    fake, backend = azure
    sweep = SweepSpec(job=JobSpec(arguments=("--probability",), compute=ComputeSpec("cpu-cluster")), policy="bandit")
    outcome = backend.submit_sweep(sweep, CONNECTION, wait=False, register=None)

    (put,) = fake.sent("PUT", "^/jobs/")
    assert put.resource == f"/jobs/{outcome.run_id}"
    assert _normal(put.body) == {"properties": {
        "displayName": "train_iris sweep", "experimentName": "train_iris", "isArchived": False,
        "searchSpace": {"kernel": ["choice", [["linear", "rbf", "poly", "sigmoid"]]],
                        "penalty": ["choice", [[0.5, 1, 1.5]]]},
        "samplingAlgorithm": {"samplingAlgorithmType": "Random"},
        "limits": {"maxConcurrentTrials": 4, "maxTotalTrials": 12, "jobLimitsType": "Sweep"},
        "earlyTermination": {"delayEvaluation": 0, "evaluationInterval": 1, "slackFactor": 0.1,
                             "policyType": "Bandit"},
        "properties": {}, "computeId": f"{WORKSPACE_PATH}/computes/cpu-cluster",
        "objective": {"goal": "maximize", "primaryMetric": "Accuracy"},
        "trial": {"codeId": f"{WORKSPACE_PATH}/codes/<code>/versions/1", "environmentId": ENV_ID,
                  "command": "python train.py --kernel ${{search_space.kernel}} --penalty ${{search_space.penalty}} "
                             "--probability"},
        "tags": {}, "inputs": {}, "outputs": {}, "jobType": "Sweep"}}


def test_sweep_registers_the_best_trial(azure, iris_model_dir):
    fake, backend = azure
    fake.job_outputs = iris_model_dir
    sweep = SweepSpec(job=JobSpec(arguments=(), compute=ComputeSpec("cpu-cluster")))
    original = fake.store

    def with_best_trial(path, resource):  # the service names the best trial once the sweep completed
        if resource.get("properties", {}).get("jobType") == "Sweep":
            resource["properties"].setdefault("properties", {})["best_child_run_id"] = "sweep_trial_7"
        return original(path, resource)

    fake.store = with_best_trial
    fake.add("/jobs/sweep_trial_7", {"properties": {"jobType": "Command", "command": "python train.py",
                                                    "environmentId": ENV_ID, "experimentName": "train_iris"}})
    outcome = backend.submit_sweep(sweep, CONNECTION, wait=True, register=RegisterSpec("sklearn-iris"))
    assert (outcome.run_id, outcome.model) == ("sweep_trial_7", "sklearn-iris:1")
    (model_put,) = fake.sent("PUT", "^/models/")
    assert model_put.body["properties"]["modelUri"] == "azureml://jobs/sweep_trial_7/outputs/artifacts/paths/outputs/"
    sha256 = json.loads((iris_model_dir / "model.json").read_text())["sha256"]
    assert model_put.body["properties"]["properties"]["sha256"] == sha256


def test_register_uploads_a_local_model_directory_with_its_facts(azure, iris_model_dir, tmp_path):
    fake, backend = azure
    model_dir = shutil.copytree(iris_model_dir, tmp_path / "sklearn-iris")
    sidecar = json.loads((model_dir / "model.json").read_text())
    outcome = backend.register_model(RegisterSpec("sklearn-iris", local_dir=model_dir, tags=(("team", "ml"),)),
                                     CONNECTION)

    assert outcome.model == "sklearn-iris:1"
    uploaded = {Path(key).name: content for key, content in fake.blobs.items()}
    assert uploaded["model.joblib"] == (model_dir / "model.joblib").read_bytes()
    assert json.loads(uploaded["model.json"]) == sidecar
    assert hashlib.sha256(uploaded["model.joblib"]).hexdigest() == sidecar["sha256"]
    (put,) = fake.sent("PUT", "^/models/")
    upload_prefix = next(iter(fake.blobs)).rsplit("/", 2)[0]
    assert put.body == {"properties": {
        "description": "sklearn.svm._classes.SVC registered from a local model directory",
        "tags": {"model_framework": "ScikitLearn", "model_framework_version": sidecar["sklearn_version"],
                 "Kernel type": "linear", "Penalty": "1.0", "Accuracy": str(sidecar["metrics"]["Accuracy"]),
                 "team": "ml"},
        "properties": {"resource_cpu": "1", "resource_memory_in_gb": "0.5", "sha256": sidecar["sha256"],
                       "input_sample": json.dumps(sidecar["input_sample"][:1]),
                       "data_fingerprint": sidecar["data_fingerprint"]},
        "isAnonymous": False, "isArchived": False, "modelType": "custom_model",
        "modelUri": f"azureml://subscriptions/{WORKSPACE_PATH.split('/')[2]}/resourcegroups/rg-offline/workspaces/"
                    f"ws-offline/datastores/workspaceblobstore/paths/{upload_prefix}/sklearn-iris"}}


def _registered_model(fake):
    fake.add("/models/sklearn-iris/versions/3", {"properties": {
        "modelType": "custom_model", "modelUri": "azureml://jobs/j1/outputs/artifacts/paths/outputs/",
        "properties": {"input_sample": "[[5.1, 3.5, 1.4, 0.2]]"}}})


ENDPOINT_BODY = {"location": "westeurope", "properties": {
    "description": "sklearn-iris scoring service", "authMode": "Key", "properties": {}, "traffic": {},
    "mirrorTraffic": {}}, "identity": {"type": "SystemAssigned"}, "tags": {}}


def _assert_endpoint_then_traffic(fake, outcome):
    first, last = fake.sent("PUT", "^/onlineEndpoints/sklearn-iris$")
    assert first.body == ENDPOINT_BODY, "a new endpoint is created without traffic"
    assert last.body["properties"]["traffic"] == {"blue": 100}
    order = [r.resource for r in fake.sent("PUT", "^/onlineEndpoints/")]
    assert order == ["/onlineEndpoints/sklearn-iris", "/onlineEndpoints/sklearn-iris/deployments/blue",
                     "/onlineEndpoints/sklearn-iris"], "traffic moves only once the deployment succeeded"
    assert fake.sent("GET", "/mfeOperationsStatus/op-1$"), "the deployment was followed asynchronously"
    assert outcome.scoring_uri == "https://sklearn-iris.westeurope.inference.ml.azure.com/score"
    assert outcome.sample_request == (
        "curl -s -H 'Content-Type: application/json' -H \"Authorization: Bearer $SERVICE_KEY\" "
        "-d '{\"data\": [[5.1, 3.5, 1.4, 0.2]]}' https://sklearn-iris.westeurope.inference.ml.azure.com/score")
    assert (outcome.status, outcome.model) == ("Succeeded", "sklearn-iris:3")


def test_deploy_with_the_scoring_script(azure, tmp_path):
    fake, backend = azure
    _registered_model(fake)
    shutil.copytree(REPO_ROOT / "service", tmp_path / "service")
    spec = DeploySpec("sklearn-iris", model_version=3, entry_script="service/score.py", source_dir=tmp_path,
                      instance_type="Standard_DS2_v2")
    outcome = backend.deploy(spec, CONNECTION)

    (deployment,) = fake.sent("PUT", "/deployments/")
    assert _normal(deployment.body) == {"location": "westeurope", "properties": {
        "codeConfiguration": {"codeId": f"{WORKSPACE_PATH}/codes/<code>/versions/1",
                              "scoringScript": "service/score.py"},
        "environmentId": ENV_ID, "model": f"{WORKSPACE_PATH}/models/sklearn-iris/versions/3",
        "properties": {}, "environmentVariables": {}, "appInsightsEnabled": False,
        "instanceType": "Standard_DS2_v2", "endpointComputeType": "Managed"},
        "tags": {}, "sku": {"name": "Default", "capacity": 1}}
    assert len(fake.sent("PUT", "^/environments/sklearn-iris/")) == 1
    _assert_endpoint_then_traffic(fake, outcome)


def test_deploy_our_container_image(azure):
    fake, backend = azure
    _registered_model(fake)
    spec = DeploySpec("sklearn-iris", model_version=3, image=SCORING_IMAGE, instance_count=2)
    outcome = backend.deploy(spec, CONNECTION)

    (environment,) = fake.sent("PUT", "^/environments/")
    routes = {"livenessRoute": {"path": "/health/live", "port": 5001},
              "readinessRoute": {"path": "/health/ready", "port": 5001},
              "scoringRoute": {"path": "/score", "port": 5001}}
    version = environment.resource.rsplit("/", 1)[1]
    assert environment.resource.startswith("/environments/sklearn-iris-container/versions/")
    assert environment.body == {"properties": {
        "image": SCORING_IMAGE, "isAnonymous": False, "isArchived": False,
        "inferenceConfig": routes, "description": "the scoring service's own container image"}}
    (deployment,) = fake.sent("PUT", "/deployments/")
    assert deployment.body == {"location": "westeurope", "properties": {
        "environmentId": f"{WORKSPACE_PATH}/environments/sklearn-iris-container/versions/{version}",
        "model": f"{WORKSPACE_PATH}/models/sklearn-iris/versions/3", "properties": {},
        "environmentVariables": {}, "appInsightsEnabled": False, "instanceType": "Standard_DS3_v2",
        "endpointComputeType": "Managed"}, "tags": {}, "sku": {"name": "Default", "capacity": 2}}
    _assert_endpoint_then_traffic(fake, outcome)


LIVE_ENDPOINT = {"location": "westeurope", "identity": {"type": "SystemAssigned"}, "tags": {"team": "ml"},
                 "properties": {"authMode": "Key", "description": "serving green", "traffic": {"green": 100}}}


def _live_endpoint(fake):
    """The endpoint already serves deployment green."""
    fake.add("/onlineEndpoints/sklearn-iris", json.loads(json.dumps(LIVE_ENDPOINT)))
    fake.add("/onlineEndpoints/sklearn-iris/deployments/green", {
        "location": "westeurope", "sku": {"name": "Default", "capacity": 1},
        "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2"}})


def test_a_redeploy_leaves_the_live_endpoint_alone_until_the_deployment_succeeded(azure):
    fake, backend = azure
    _registered_model(fake)
    _live_endpoint(fake)
    backend.deploy(DeploySpec("sklearn-iris", model_version=3, image=SCORING_IMAGE), CONNECTION)

    order = [r.resource for r in fake.sent("PUT", "^/onlineEndpoints/")]
    assert order == ["/onlineEndpoints/sklearn-iris/deployments/blue", "/onlineEndpoints/sklearn-iris"]
    (endpoint,) = fake.sent("PUT", "^/onlineEndpoints/sklearn-iris$")
    assert endpoint.body["properties"]["traffic"] == {"blue": 100}
    assert (endpoint.body["properties"]["description"], endpoint.body["tags"]) == ("serving green", {"team": "ml"})


def test_a_failed_deployment_ends_with_its_logs_and_keeps_the_traffic(azure):
    fake, backend = azure
    _registered_model(fake)
    _live_endpoint(fake)
    fake.deployment_state = "Failed"  # the service's asynchronous operation ends Failed
    with pytest.raises(RunFailed, match="Deployment blue of sklearn-iris failed: .*User container has crashed.*"
                                        "; its logs:\nModel directory check failed"):
        backend.deploy(DeploySpec("sklearn-iris", model_version=3, image=SCORING_IMAGE), CONNECTION)
    assert fake.sent("GET", "/mfeOperationsStatus/op-1$"), "the poller followed Azure-AsyncOperation"
    (logs,) = fake.sent("POST", "/getLogs$")
    assert logs.resource == "/onlineEndpoints/sklearn-iris/deployments/blue/getLogs" and logs.body == {"tail": 100}
    assert fake.sent("PUT", "^/onlineEndpoints/sklearn-iris$") == [], "the live endpoint is not rewritten"
    assert fake.resources[ARM + WORKSPACE_PATH + "/onlineEndpoints/sklearn-iris"]["properties"]["traffic"] == {
        "green": 100}


def test_a_failed_job_ends_as_failed_with_its_error(azure):
    fake, backend = azure
    fake.job_status = "Failed"
    with pytest.raises(RunFailed, match=r"Job \w+ ended as Failed: .*Execution failed: ValueError: unknown kernel"):
        backend.submit_job(JobSpec(compute=ComputeSpec("cpu-cluster")), CONNECTION, wait=True,
                           register=RegisterSpec("sklearn-iris"))
    assert fake.sent("PUT", "^/models/") == []


def test_a_missing_cluster_stops_before_the_job_is_sent(fake_azure):
    fake, client = fake_azure
    backend = AzureBackend(connect=lambda connection: client)
    with pytest.raises(AzureError, match="Compute target 'gpu-cluster' does not exist.*--create-compute"):
        backend.submit_job(JobSpec(compute=ComputeSpec("gpu-cluster")), CONNECTION, wait=False, register=None)
    assert fake.sent("PUT", "^/jobs/") == []


def test_create_compute_puts_the_cluster_first(fake_azure):
    fake, client = fake_azure
    backend = AzureBackend(connect=lambda connection: client)
    backend.submit_job(JobSpec(compute=ComputeSpec("new-cluster", create=True, vm_size="STANDARD_D2_V2",
                                                   max_nodes=3)), CONNECTION, wait=False, register=None)
    (cluster,) = fake.sent("PUT", "^/computes/")
    assert cluster.resource == "/computes/new-cluster"
    scale = cluster.body["properties"]["properties"]["scaleSettings"]
    assert cluster.body["properties"]["computeType"] == "AmlCompute"
    assert cluster.body["properties"]["properties"]["vmSize"] == "STANDARD_D2_V2"
    assert (scale["minNodeCount"], scale["maxNodeCount"]) == (0, 3)
    assert _calls(fake).index("PUT /computes/new-cluster") < _calls(fake).index(
        next(c for c in _calls(fake) if c.startswith("PUT /jobs/")))


def test_a_local_csv_is_uploaded_as_a_uri_file_input(azure, iris_csv):
    fake, backend = azure
    job = JobSpec(arguments=("--data", str(iris_csv), "--label", "species"), compute=ComputeSpec("cpu-cluster"))
    backend.submit_job(job, CONNECTION, wait=False, register=None)

    (uploaded,) = [key for key in fake.blobs if key.endswith("/iris.csv")]
    assert fake.blobs[uploaded] == iris_csv.read_bytes()
    (put,) = fake.sent("PUT", "^/jobs/")
    properties = put.body["properties"]
    assert properties["command"] == "python train.py --data ${{inputs.data}} --label ${{inputs.label}}"
    data = properties["inputs"]["data"]
    assert (data["jobInputType"], data["uri"].rsplit("/paths/", 1)[1]) == ("uri_file", uploaded)
    assert properties["inputs"]["label"] == {"value": "species", "jobInputType": "literal"}


@pytest.fixture
def cli_v2(azure, cli, monkeypatch):
    """``python -m training`` in-process, its v2 backend talking to the offline fake."""
    fake, backend = azure
    monkeypatch.setattr("training.azure.options.get_backend", lambda name: backend)
    return fake, cli


def test_cli_submit_wait_register_prints_the_outcome(cli_v2, iris_model_dir):
    fake, cli = cli_v2
    fake.job_outputs = iris_model_dir
    code, out, err = cli("submit", "--backend", "v2", "--compute", "cpu-cluster", "--wait", "--register", "iris")
    assert code == 0, err
    (job,) = fake.sent("PUT", "^/jobs/")
    name = job.resource.rsplit("/", 1)[1]
    lines = out.splitlines()
    assert f"Registered environment sklearn-iris:{ENV_VERSION}" in lines
    assert f"Submitted {name} to experiment train_iris: https://ml.azure.com/runs/{name}" in lines
    assert lines[-2:] == [f"Status: Completed (run {name}): https://ml.azure.com/runs/{name}",
                          "Registered model iris:1"]


def test_cli_deploy_prints_the_scoring_uri_and_a_curl(cli_v2):
    fake, cli = cli_v2
    _registered_model(fake)
    code, out, err = cli("deploy", "sklearn-iris:3", "--backend", "v2")
    assert code == 0, err
    assert out.splitlines()[-5:] == [
        "Status: Succeeded",
        "Registered model sklearn-iris:3",
        "Scoring URI: https://sklearn-iris.westeurope.inference.ml.azure.com/score",
        "Sample request:",
        "  curl -s -H 'Content-Type: application/json' -H \"Authorization: Bearer $SERVICE_KEY\" "
        "-d '{\"data\": [[5.1, 3.5, 1.4, 0.2]]}' https://sklearn-iris.westeurope.inference.ml.azure.com/score"]
    assert fake.sent("PUT", "/deployments/blue$")[0].body["properties"]["codeConfiguration"]["scoringScript"] == \
        "service/score.py"


def test_cli_failed_job_and_deployment_exit_3_with_the_error(cli_v2):
    fake, cli = cli_v2
    fake.job_status, fake.deployment_state = "Failed", "Failed"
    _registered_model(fake)
    code, out, err = cli("submit", "--backend", "v2", "--compute", "cpu-cluster", "--wait")
    assert code == 3, err
    assert "ended as Failed" in err and "unknown kernel" in err and "Execution Summary" in out
    code, out, err = cli("deploy", "sklearn-iris:3", "--backend", "v2")
    assert code == 3, err
    assert "Deployment blue of sklearn-iris failed" in err and f"its logs:\n{DEPLOYMENT_LOG}" in err
