"""Batch endpoints on SDK v2 (deploy-batch, invoke-batch): the exact requests azure-ai-ml sends, answered offline.

As in test_v2_requests.py, the real ``MLClient`` runs with its operations, serializers and pollers; only the HTTP
layer is fake_arm.py's in-memory service, and real sockets are refused. The driver staged here is a file of these
tests (an Azure-shaped init() / run(mini_batch)), in a copy of the repository's layout.
"""

import json
import re

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

from fake_arm import STORAGE, WORKSPACE_PATH  # noqa: E402

from training.azure.backend import Connection  # noqa: E402
from training.azure.batch_spec import BatchDeploySpec, BatchInvokeSpec  # noqa: E402
from training.azure.errors import AzureError, RunFailed  # noqa: E402
from training.azure.spec import CONDA_FILE, DEFAULT_BASE_IMAGE, ComputeSpec  # noqa: E402
from training.azure.v2 import AzureBackend  # noqa: E402
from training.azure.v2_batch import deploy_batch, invoke_batch  # noqa: E402
from training.azure.v2_objects import content_version  # noqa: E402

CONNECTION = Connection(timeout=60)
ENV_VERSION = content_version(DEFAULT_BASE_IMAGE, CONDA_FILE.read_bytes())
ENV_ID = f"{WORKSPACE_PATH}/environments/sklearn-iris/versions/{ENV_VERSION}"
CLUSTER = {"properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_D2_V2"}}}
DRIVER = "service/batch/driver.py"  # where the repository fixture (conftest.py) puts its driver
SCORING = "https://iris-batch.westeurope.inference.ml.azure.com/jobs"


@pytest.fixture
def azure(fake_azure):
    fake, client = fake_azure
    fake.add("/computes/cpu-cluster", CLUSTER)
    fake.add("/models/sklearn-iris/versions/3", {"properties": {
        "modelType": "custom_model", "modelUri": "azureml://jobs/j1/outputs/artifacts/paths/outputs/"}})
    return fake, client


def _normal(body):
    """The body with the code asset id the SDK makes up per call replaced."""
    return json.loads(re.sub(r"/codes/[0-9a-f-]{36}/", "/codes/<code>/", json.dumps(body)))


def _live_endpoint(fake):
    """The endpoint already exists, its default deployment green."""
    fake.add("/batchEndpoints/iris-batch", {"location": "westeurope", "tags": {}, "properties": {
        "authMode": "AADToken", "description": "serving green", "defaults": {"deploymentName": "green"}}})


def test_deploy_creates_the_endpoint_then_the_deployment_then_makes_it_the_default(azure, repository, capsys):
    fake, client = azure
    spec = BatchDeploySpec("sklearn-iris", "iris-batch", model_version=3, source_dir=repository,
                           compute=ComputeSpec("cpu-cluster"), mini_batch_size=5, instance_count=2,
                           max_concurrency_per_instance=4, error_threshold=10, retries=2, timeout=60)
    outcome = deploy_batch(client, spec, CONNECTION)

    order = [f"{r.method} {r.resource}" for r in fake.sent(None, "^/batchEndpoints/") if r.method == "PUT"]
    assert order == ["PUT /batchEndpoints/iris-batch", "PUT /batchEndpoints/iris-batch/deployments/blue",
                     "PUT /batchEndpoints/iris-batch"], "the default moves only once the deployment succeeded"
    first, last = fake.sent("PUT", "^/batchEndpoints/iris-batch$")
    assert first.body == {"location": "westeurope", "tags": {}, "properties": {
        "description": "sklearn-iris batch scoring", "authMode": "aadToken", "properties": {}}}
    assert last.body["properties"]["defaults"] == {"deploymentName": "blue"}
    (deployment,) = fake.sent("PUT", "/deployments/blue$")
    assert _normal(deployment.body) == {"location": "westeurope", "tags": {}, "properties": {
        "environmentId": ENV_ID,
        "model": {"assetId": f"{WORKSPACE_PATH}/models/sklearn-iris/versions/3", "referenceType": "Id"},
        "codeConfiguration": {"codeId": f"{WORKSPACE_PATH}/codes/<code>/versions/1", "scoringScript": DRIVER},
        "compute": f"{WORKSPACE_PATH}/computes/cpu-cluster", "resources": {"instanceCount": 2, "properties": {}},
        "miniBatchSize": 5, "maxConcurrencyPerInstance": 4, "errorThreshold": 10, "outputAction": "AppendRow",
        "outputFileName": "predictions.csv", "retrySettings": {"maxRetries": 2, "timeout": "PT1M"},
        "loggingLevel": "info", "properties": {}}}
    assert fake.sent("GET", "/mfeOperationsStatus/op-1$"), "the deployment was followed asynchronously"
    assert (outcome.status, outcome.model, outcome.scoring_uri) == ("Succeeded", "sklearn-iris:3", SCORING)
    out = capsys.readouterr().out
    assert "Created batch endpoint iris-batch" in out and "Default deployment of iris-batch: blue" in out


def test_a_failed_deployment_keeps_the_endpoints_default(azure, repository):
    fake, client = azure
    _live_endpoint(fake)
    fake.deployment_state = "Failed"
    spec = BatchDeploySpec("sklearn-iris", "iris-batch", model_version=3, source_dir=repository)
    with pytest.raises(RunFailed, match=r"The batch deployment blue of iris-batch failed: .*User container has "
                                        r"crashed.*; the endpoint's default deployment is unchanged"):
        deploy_batch(client, spec, CONNECTION)
    assert fake.sent("PUT", "^/batchEndpoints/iris-batch$") == [], "the live endpoint was not rewritten"
    assert fake.resources[next(k for k in fake.resources if k.endswith("/batchEndpoints/iris-batch"))][
        "properties"]["defaults"] == {"deploymentName": "green"}


def test_a_missing_cluster_stops_before_anything_is_created(fake_azure, repository):
    fake, client = fake_azure
    fake.add("/models/sklearn-iris/versions/3", {"properties": {"modelType": "custom_model",
                                                                "modelUri": "azureml://jobs/j1/outputs/"}})
    spec = BatchDeploySpec("sklearn-iris", "iris-batch", model_version=3, source_dir=repository,
                           compute=ComputeSpec("gpu-cluster"))
    with pytest.raises(AzureError, match="Compute target 'gpu-cluster' does not exist in the workspace; create it, "
                                         "or pass --create-compute"):
        deploy_batch(client, spec, CONNECTION)
    assert fake.sent("PUT", "^/batchEndpoints/") == []


def test_invoke_uploads_a_local_folder_and_posts_the_job_to_the_scoring_uri(azure, tmp_path, capsys):
    fake, client = azure
    _live_endpoint(fake)
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / "part-0.csv").write_text("5.1,3.5,1.4,0.2\n")
    spec = BatchInvokeSpec("iris-batch", str(tmp_path / "rows"),
                           output_path="azureml://datastores/workspaceblobstore/paths/scores/")
    outcome = invoke_batch(client, spec, CONNECTION, wait=False)

    (uploaded,) = [key for key in fake.blobs if key.endswith("/rows/part-0.csv")]
    assert fake.blobs[uploaded] == b"5.1,3.5,1.4,0.2\n"
    (post,) = fake.sent("POST", re.escape(SCORING) + "$")
    assert post.body == {"properties": {
        "inputData": {"input_data": {"jobInputType": "UriFolder", "uri": "azureml://datastores/workspaceblobstore/"
                                     f"paths/{uploaded.rsplit('/', 1)[0]}/"}},
        "outputData": {"score": {"jobOutputType": "UriFolder",
                                 "uri": "azureml://datastores/workspaceblobstore/paths/scores/"}}}}
    assert (outcome.run_id, outcome.status) == ("batchjob-1", "Queued")
    out = capsys.readouterr().out.splitlines()
    assert out == ["Submitted batch scoring job batchjob-1 to endpoint iris-batch",
                   "Follow it:       az ml job stream --name batchjob-1 --resource-group rg-offline "
                   "--workspace-name ws-offline",
                   "Get its output:  az ml job download --name batchjob-1 --output-name score --download-path . "
                   "--resource-group rg-offline --workspace-name ws-offline"]


def test_invoke_a_datastore_path_with_a_deployment_and_wait(azure, capsys):
    fake, client = azure
    _live_endpoint(fake)
    fake.add("/batchEndpoints/iris-batch/deployments/green", {"location": "westeurope", "properties": {}})
    spec = BatchInvokeSpec("iris-batch", "azureml://datastores/workspaceblobstore/paths/iris/rows.csv",
                           input_type="uri_file", deployment_name="green")
    outcome = invoke_batch(client, spec, CONNECTION, wait=True)

    (post,) = fake.sent("POST", re.escape(SCORING) + "$")
    assert post.body == {"properties": {"inputData": {"input_data": {
        "jobInputType": "UriFile", "uri": "azureml://datastores/workspaceblobstore/paths/iris/rows.csv"}}}}
    assert fake.sent("GET", "/batchEndpoints/iris-batch/deployments$"), "the named deployment was checked first"
    assert [r for r in fake.requests if r.method == "PUT" and r.path.startswith(STORAGE)] == [], \
        "a datastore path is not uploaded"
    assert (outcome.run_id, outcome.status) == ("batchjob-1", "Completed")
    assert "Execution Summary\n=================\nRunId: batchjob-1" in capsys.readouterr().out


def test_a_failed_scoring_job_ends_as_failed_with_its_error(azure):
    fake, client = azure
    _live_endpoint(fake)
    fake.job_status = "Failed"
    spec = BatchInvokeSpec("iris-batch", "azureml:iris-rows:2")
    with pytest.raises(RunFailed, match=r"Batch scoring job batchjob-1 ended as Failed: UserError: "):
        invoke_batch(client, spec, CONNECTION, wait=True)


def test_the_backend_hands_out_its_client(fake_azure):
    fake, client = fake_azure
    assert AzureBackend(connect=lambda connection: client).client(CONNECTION) is client
