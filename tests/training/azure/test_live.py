"""Live Azure ML round trips (opt-in, SDK v1 and v2): submit a tiny training run, register its model, read it back.

Runs only with a workspace config (AZUREML_WORKSPACE_CONFIG, or config.json / .azureml/config.json at the
repository root) and a service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) with access to it.
AZUREML_LIVE_COMPUTE picks the compute target (default ``local``: Docker on this machine runs the job).
"""

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from training.azure.backend import Connection, get_backend
from training.azure.spec import ComputeSpec, JobSpec, RegisterSpec
from training.azure.workspace import SERVICE_PRINCIPAL_VARS, connect

ROOT = Path(__file__).resolve().parents[3]


def _workspace_config() -> Path | None:
    candidates = [os.environ.get("AZUREML_WORKSPACE_CONFIG"), ROOT / "config.json", ROOT / ".azureml" / "config.json"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


CONFIG = _workspace_config()
MISSING = [name for name in SERVICE_PRINCIPAL_VARS if not os.environ.get(name)]

pytestmark = [
    pytest.mark.azure_live,
    pytest.mark.skipif(CONFIG is None or bool(MISSING), reason=(
        "live Azure ML test: needs a workspace config (AZUREML_WORKSPACE_CONFIG or config.json at the repository "
        f"root: {'found' if CONFIG else 'missing'}) and service-principal variables (missing: {MISSING or 'none'})")),
]


def test_submit_register_and_fetch_back(tmp_path):
    name = f"sklearn-iris-live-{uuid.uuid4().hex[:6]}"
    connection = Connection(config=CONFIG, timeout=300)
    job = JobSpec(arguments=("--kernel", "linear", "--penalty", "1.0"), experiment="train_iris_live",
                  compute=ComputeSpec(os.environ.get("AZUREML_LIVE_COMPUTE", "local")))
    outcome = get_backend("v1").submit_job(job, connection, wait=True, register=RegisterSpec(name))
    assert outcome.status == "Completed"
    assert outcome.model and outcome.model.startswith(f"{name}:")

    from azureml.core import Model

    workspace = connect(CONFIG, timeout=300)
    model = Model(workspace, name=name, version=int(outcome.model.split(":")[1]))
    assert model.model_framework == Model.Framework.SCIKITLEARN
    assert model.model_framework_version == "1.9.1"
    assert round(float(model.tags["Accuracy"]), 4) == 0.9737
    assert model.resource_configuration.cpu == 1 and model.resource_configuration.memory_in_gb == 0.5
    downloaded = Path(model.download(target_dir=str(tmp_path), exist_ok=True))
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == model.properties["sha256"]


def test_v2_submit_register_and_read_back():
    pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")
    from training.azure.v2_workspace import connect as connect_v2

    name = f"sklearn-iris-live-v2-{uuid.uuid4().hex[:6]}"
    connection = Connection(config=CONFIG, timeout=300)
    job = JobSpec(arguments=("--kernel", "linear", "--penalty", "1.0"), experiment="train_iris_live",
                  compute=ComputeSpec(os.environ.get("AZUREML_LIVE_COMPUTE", "cpu-cluster"), create=True))
    outcome = get_backend("v2").submit_job(job, connection, wait=True, register=RegisterSpec(name))
    assert outcome.status == "Completed" and outcome.model.startswith(f"{name}:")

    client = connect_v2(CONFIG, timeout=300)
    model = client.models.get(name, version=outcome.model.split(":")[1])
    assert (model.type, model.tags["model_framework"], model.tags["model_framework_version"]) == (
        "custom_model", "ScikitLearn", "1.9.1")
    assert outcome.run_id in model.path and model.path.rstrip("/").endswith("outputs")


def test_v2_batch_deploy_invoke_and_download(tmp_path, iris_model_dir):
    """Register the iris model, deploy it as a batch endpoint with the service's driver, score a folder of one CSV."""
    pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")
    from training.azure.batch_spec import DEFAULT_DRIVER, BatchDeploySpec, BatchInvokeSpec
    from training.azure.snapshot import stage_entry_source
    from training.azure.v2_batch import deploy_batch, invoke_batch

    if not (ROOT / DEFAULT_DRIVER).is_file():
        pytest.skip(f"{DEFAULT_DRIVER} is not in this tree yet")
    suffix = uuid.uuid4().hex[:6]
    connection = Connection(config=CONFIG, timeout=300)
    backend = get_backend("v2")
    registered = backend.register_model(RegisterSpec(f"sklearn-iris-batch-{suffix}", local_dir=iris_model_dir),
                                        connection)
    name, version = registered.model.split(":")
    client = backend.client(connection)
    spec = BatchDeploySpec(name, f"iris-batch-{suffix}", model_version=int(version),
                           source_dir=stage_entry_source(ROOT, DEFAULT_DRIVER, tmp_path / "source"),
                           compute=ComputeSpec(os.environ.get("AZUREML_LIVE_COMPUTE", "cpu-cluster"), create=True))
    try:
        assert deploy_batch(client, spec, connection).status == "Succeeded"
        (tmp_path / "rows").mkdir()
        (tmp_path / "rows" / "iris.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
        outcome = invoke_batch(client, BatchInvokeSpec(spec.endpoint_name, str(tmp_path / "rows")), connection,
                               wait=True)
        assert outcome.status == "Completed"
        client.jobs.download(outcome.run_id, output_name="score", download_path=str(tmp_path / "out"))
        (predictions,) = (tmp_path / "out").rglob(spec.output_file_name)
        assert predictions.read_text().strip(), "append_row wrote the driver's results"
    finally:
        client.batch_endpoints.begin_delete(spec.endpoint_name).result()
