"""`python -m training deploy-batch / invoke-batch`: the az ml YAML (read back by azure.ai.ml's loaders), the dry runs,
the exit-2 refusals, and the commands' output against the offline service of fake_arm.py.

The commands run in-process with the repository root pointed at a copy holding the test's own batch driver (the
service's driver is another branch's work); nothing leaves the machine (real sockets are refused where a client runs).
"""

import contextlib
import json
import re

import pytest
import yaml

ml = pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

# azure.ai.ml.load_batch_deployment reads the older flat BatchDeployment schema (mini_batch_size etc. at the top) and
# refuses `settings:`; a `type: model` file (modelBatchDeployment.schema.json, what the docs and az ml now use) is read
# by this loader, which azure.ai.ml does not re-export.
from azure.ai.ml.entities._load_functions import load_model_batch_deployment  # noqa: E402
from test_v2_batch import CLUSTER, DRIVER, SCORING  # noqa: E402

from training.azure.batch_spec import BatchDeploySpec  # noqa: E402
from training.azure.spec import ComputeSpec  # noqa: E402
from training.azure.v2 import AzureBackend  # noqa: E402
from training.azure.v2_batch import batch_entities  # noqa: E402
from training.azure.v2_yaml import to_dict  # noqa: E402

DEPLOY = ("deploy-batch", "sklearn-iris:3", "--endpoint-name", "iris-batch", "--backend", "v2")
INVOKE = ("invoke-batch", "--endpoint-name", "iris-batch", "--backend", "v2")


@pytest.fixture
def in_repository(repository, monkeypatch):
    """The commands stage their upload from ``repository`` (service/ with the test's driver, model_format.py)."""
    monkeypatch.setattr("training.commands_batch.REPO_ROOT", repository)
    return repository


def _documents(out: str) -> dict[str, dict]:
    """The ``--- name.yml ---`` documents of a dry run, parsed."""
    body = out.split("=== upload ===")[0].split("--- with az ml ---")[0]
    parts = body.split("--- ")[1:]
    return {part.split(" ---\n", 1)[0]: yaml.safe_load(part.split(" ---\n", 1)[1]) for part in parts}


def _without_empty(data):
    """The mapping without empty-mapping values: load_* fills in ``{}`` defaults the builders leave out."""
    if isinstance(data, dict):
        return {key: _without_empty(value) for key, value in data.items() if value != {}}
    return data


def test_emit_yaml_writes_what_the_loaders_read_back_as_the_built_objects(cli, in_repository, tmp_path):
    out_dir = tmp_path / "azureml"
    code, out, err = cli(*DEPLOY, "--emit-yaml", out_dir, "--mini-batch-size", "5", "--instance-count", "2",
                         "--max-concurrency-per-instance", "3", "--error-threshold", "7", "--output-file-name",
                         "scores.csv", "--max-retries", "1", "--mini-batch-timeout", "120", "--compute", "batch-cpu")
    assert code == 0, err
    assert out.splitlines() == [f"Wrote {out_dir / name}" for name in
                                ("environment.yml", "endpoint.yml", "deployment.yml")]
    spec = BatchDeploySpec("sklearn-iris", "iris-batch", model_version=3, source_dir=out_dir / "deployment-code",
                           compute=ComputeSpec("batch-cpu"), mini_batch_size=5, instance_count=2,
                           max_concurrency_per_instance=3, error_threshold=7, output_file_name="scores.csv",
                           retries=1, timeout=120)
    _, built_endpoint, built_deployment = batch_entities(spec)
    with contextlib.chdir(out_dir):  # loaded paths are relative to the file, as az ml reads them
        endpoint = ml.load_batch_endpoint(out_dir / "endpoint.yml")
        deployment = load_model_batch_deployment(out_dir / "deployment.yml")
        assert _without_empty(to_dict(endpoint, out_dir)) == _without_empty(to_dict(built_endpoint, out_dir))
        assert _without_empty(to_dict(deployment, out_dir)) == _without_empty(to_dict(built_deployment, out_dir))
    assert type(deployment).__name__ == "ModelBatchDeployment" and endpoint.auth_mode == "aad_token"
    settings = deployment.settings
    assert (settings.mini_batch_size, settings.max_concurrency_per_instance, settings.error_threshold,
            settings.output_file_name, settings.retry_settings.max_retries, settings.retry_settings.timeout,
            deployment.resources.instance_count, deployment.compute) == (
        5, 3, 7, "scores.csv", 1, 120, 2, "batch-cpu")
    written = yaml.safe_load((out_dir / "deployment.yml").read_text())
    assert written["code_configuration"] == {"code": "deployment-code", "scoring_script": DRIVER}
    assert (written["model"], written["compute"], written["resources"]["instance_count"]) == (
        "azureml:sklearn-iris:3", "azureml:batch-cpu", 2)
    assert "instance_count" not in written["settings"], "given twice, the SDK's own loader refuses the file"
    code_dir = out_dir / "deployment-code"
    assert (code_dir / DRIVER).read_text() == (in_repository / DRIVER).read_text()
    assert (code_dir / "model_format.py").is_file() and (code_dir / "service" / "model_dir.py").is_file()
    assert not (code_dir / "training").exists()


def test_deploy_dry_run_prints_the_yaml_the_az_ml_commands_and_the_upload(cli, in_repository):
    code, out, err = cli(*DEPLOY, "--dry-run", "--output-action", "summary_only")
    assert code == 0, err
    assert out.startswith("=== Azure ML batch deployment (dry run, nothing is deployed; SDK v2) ===\n")
    documents = _documents(out)
    assert sorted(documents) == ["deployment.yml", "endpoint.yml", "environment.yml"]
    deployment = documents["deployment.yml"]
    assert (deployment["type"], deployment["endpoint_name"], deployment["name"], deployment["compute"]) == (
        "model", "iris-batch", "blue", "azureml:cpu-cluster")
    assert deployment["settings"]["output_action"] == "summary_only"
    assert deployment["settings"]["mini_batch_size"] == 10 and deployment["settings"]["error_threshold"] == -1
    assert "az ml batch-deployment create -f deployment.yml --set-default" in out
    upload = out.split("=== upload ===", 1)[1]
    assert f"  {DRIVER}" in upload and "  model_format.py" in upload and "training/" not in upload


def test_invoke_dry_run_prints_the_input_and_the_az_ml_command(cli, tmp_path):
    (tmp_path / "rows.csv").write_text("5.1,3.5,1.4,0.2\n")
    code, out, err = cli(*INVOKE, "--input", tmp_path / "rows.csv", "--dry-run")
    assert code == 0, err
    assert out.splitlines() == [
        "=== Azure ML batch scoring job (dry run, nothing is submitted; SDK v2) ===",
        "endpoint: iris-batch (deployment: the default)",
        f"input: {tmp_path / 'rows.csv'} (uri_file, a local path uploaded to the workspace's default datastore first)",
        "output: the job default (azureml://datastores/workspaceblobstore/...)",
        f"with az ml: az ml batch-endpoint invoke --name iris-batch --input {tmp_path / 'rows.csv'} "
        "--input-type uri_file"]


@pytest.mark.parametrize(("args", "message"), [
    (("deploy-batch", "m", "--endpoint-name", "iris-batch", "--backend", "v1", "--dry-run"),
     "Batch endpoints are Azure ML SDK v2 only; SDK v1's batch scoring (ParallelRunStep) runs only inside a "
     "pipeline"),
    (("invoke-batch", "--endpoint-name", "iris-batch", "--input", "x", "--backend", "v1"),
     "Batch endpoints are Azure ML SDK v2 only"),
    ((*DEPLOY[:3], "9lives", "--backend", "v2", "--dry-run"),
     "Batch endpoint name '9lives' is not valid: Azure expects 3 to 32 letters, digits and hyphens, starting with "
     "a letter"),
    ((*DEPLOY, "--dry-run", "--compute", "local"), "A batch deployment runs on a compute cluster, not 'local'"),
    ((*DEPLOY, "--dry-run", "--output-action", "summary_only", "--output-file-name", "x.csv"),
     "--output-file-name has no effect with --output-action summary_only"),
    ((*DEPLOY, "--dry-run", "--output-file-name", "out/x.csv"),
     "Output file name 'out/x.csv' must be a plain file name (no folder)"),
    ((*DEPLOY, "--dry-run", "--error-threshold", "-2"),
     "argument --error-threshold: expected an integer >= -1 (-1: never fail), got '-2'"),
    ((*DEPLOY, "--dry-run", "--mini-batch-size", "0"), "argument --mini-batch-size: expected an integer >= 1"),
    ((*DEPLOY, "--dry-run", "--entry-script", "service/batch/missing.py"),
     "Entry script 'service/batch/missing.py' not found under"),
    ((*DEPLOY, "sklearn-iris:x", "--dry-run"), "unrecognized arguments"),
    ((*INVOKE, "--input", "nowhere/rows", "--dry-run"),
     "Input 'nowhere/rows' is not a local file or folder, nor a datastore path (azureml://datastores/NAME/paths/"
     "PATH), a data asset (azureml:NAME:VERSION) or an https URI."),
    ((*INVOKE, "--input", "azureml://datastores/workspaceblobstore/iris", "--dry-run"),
     "Input 'azureml://datastores/workspaceblobstore/iris' is not a datastore path; expected "
     "azureml://datastores/NAME/paths/PATH."),
    ((*INVOKE, "--input", "azureml:iris:rows:2", "--dry-run"),
     "Input 'azureml:iris:rows:2' is not a data asset reference; expected azureml:NAME:VERSION"),
    ((*INVOKE, "--input", ".", "--input-type", "uri_file", "--dry-run"),
     "Input '.' is a local folder, but --input-type is uri_file; drop --input-type or pass uri_folder."),
    ((*INVOKE, "--input", "azureml:iris:2", "--output-path", "scores/", "--dry-run"),
     "Output path 'scores/' is not a datastore path; expected azureml://datastores/NAME/paths/FOLDER/"),
    ((*INVOKE, "--input", "azureml:iris:2", "--emit-yaml", "out"),
     "--emit-yaml has no effect on invoke-batch: a scoring job has no `az ml` YAML file"),
])
def test_user_errors_exit_2_with_one_message(cli, in_repository, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*args)
    assert code == 2, err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert out == "" and not (tmp_path / "out").exists()


@pytest.fixture
def cli_v2(fake_azure, cli, monkeypatch, in_repository):
    """The commands in-process, their v2 backend talking to the offline fake (a cluster and model 3 exist)."""
    fake, client = fake_azure
    fake.add("/computes/cpu-cluster", CLUSTER)
    fake.add("/models/sklearn-iris/versions/3", {"properties": {
        "modelType": "custom_model", "modelUri": "azureml://jobs/j1/outputs/artifacts/paths/outputs/"}})
    monkeypatch.setattr("training.azure.options.get_backend", lambda name: AzureBackend(connect=lambda c: client))
    return fake, cli


def test_cli_deploy_then_invoke_with_wait(cli_v2):
    fake, cli = cli_v2
    code, out, err = cli(*DEPLOY, "--mini-batch-size", "2")
    assert code == 0, err
    assert out.splitlines()[-5:] == [
        "Status: Succeeded", "Model: sklearn-iris:3", f"Scoring URI: {SCORING}", "Score a folder with it:",
        "  python -m training invoke-batch --backend v2 --endpoint-name iris-batch "
        "--input azureml://datastores/workspaceblobstore/paths/<folder>/"]
    (deployment,) = fake.sent("PUT", "/batchEndpoints/iris-batch/deployments/blue$")
    assert deployment.body["properties"]["miniBatchSize"] == 2

    code, out, err = cli(*INVOKE, "--input", "azureml:iris-rows:1", "--wait")
    assert code == 0, err
    assert out.splitlines()[0] == "Submitted batch scoring job batchjob-1 to endpoint iris-batch"
    assert out.splitlines()[-1] == "Status: Completed (job batchjob-1)"
    (post,) = fake.sent("POST", re.escape(SCORING) + "$")
    assert json.dumps(post.body["properties"]["inputData"]["input_data"]["uri"]).endswith('/data/iris-rows/versions/1"')


def test_cli_failed_deployment_and_job_exit_3(cli_v2):
    fake, cli = cli_v2
    fake.deployment_state, fake.job_status = "Failed", "Failed"
    code, out, err = cli(*DEPLOY)
    assert code == 3, err
    assert "The batch deployment blue of iris-batch failed" in err
    fake.add("/batchEndpoints/iris-batch", {"location": "westeurope", "properties": {"authMode": "AADToken"}})
    code, out, err = cli(*INVOKE, "--input", "azureml://datastores/workspaceblobstore/paths/iris/", "--wait")
    assert code == 3, err
    assert "Batch scoring job batchjob-1 ended as Failed" in err


def test_help_says_batch_endpoints_are_v2_only(cli):
    for command in ("deploy-batch", "invoke-batch"):
        code, out, err = cli(command, "--help")
        text = " ".join(out.split())
        assert code == 0, err
        assert "(SDK v2 only)" in text or "--backend v2 only" in text, command
    code, out, _ = cli("deploy-batch", "--help")
    text = " ".join(out.split())
    assert "v1 has no batch endpoints (its ParallelRunStep is pipeline-only)" in text
    assert "--mini-batch-timeout SECONDS" in text and "default service/batch/driver.py" in text
