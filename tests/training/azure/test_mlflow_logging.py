"""train.py's metrics adapter: MLflow when MLFLOW_TRACKING_URI is set, else metrics.json; no Azure package needed.

train.py runs as its own process, exactly as an Azure ML v2 job runs it, against a file-based MLflow store; what
landed is read back with MLflow's own client.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow-skinny is not installed: pip install -r requirements-azure.txt")

ROOT = Path(__file__).resolve().parents[3]
TRAIN = ROOT / "training" / "job" / "train.py"
pytestmark = pytest.mark.slow  # each case imports scikit-learn (and MLflow) in a new process


def _train(tmp_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("MLFLOW_", "AZUREML_"))}
    return subprocess.run([sys.executable, str(TRAIN), "--output-dir", str(tmp_path / "outputs"), *args],
                          cwd=tmp_path, env={**base, "MLFLOW_DISABLE_TELEMETRY": "true", **env},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A file-based MLflow store (MLflow 3 asks for MLFLOW_ALLOW_FILE_STORE to use one), for both processes."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def test_metrics_land_in_mlflow(tmp_path, store):
    result = _train(tmp_path, {"MLFLOW_TRACKING_URI": store, "MLFLOW_ALLOW_FILE_STORE": "true"},
                    "--kernel", "rbf", "--penalty", "0.5")
    assert result.returncode == 0, result.stderr

    run_id = json.loads((tmp_path / "outputs" / "model.json").read_text())["run_id"]
    run = mlflow.MlflowClient(tracking_uri=store).get_run(run_id)
    assert run.data.params == {"Kernel type": "rbf"}, "text goes through log_param"
    metrics = run.data.metrics
    assert set(metrics) == {"Penalty", "Accuracy", "Precision", "Recall", "F1"}, "numbers through log_metric"
    assert metrics["Penalty"] == 0.5 and round(metrics["Accuracy"], 4) == 0.9737
    artifacts = [f.path for f in mlflow.MlflowClient(tracking_uri=store).list_artifacts(run_id)]
    assert artifacts == ["Confusion matrix.json"]
    assert run.info.status == "FINISHED"
    assert not (tmp_path / "outputs" / "metrics.json").exists()


def test_an_azure_ml_job_run_id_is_resumed(tmp_path, store):
    # Azure ML v2 starts the MLflow run and hands its id over in MLFLOW_RUN_ID: metrics must land in that run.
    env = {"MLFLOW_TRACKING_URI": store, "MLFLOW_ALLOW_FILE_STORE": "true"}
    client = mlflow.MlflowClient(tracking_uri=store)
    run_id = client.create_run(client.create_experiment("train_iris")).info.run_id
    result = _train(tmp_path, {**env, "MLFLOW_RUN_ID": run_id})
    assert result.returncode == 0, result.stderr
    assert round(client.get_run(run_id).data.metrics["Accuracy"], 4) == 0.9737


@pytest.mark.parametrize("tracking_uri", [None, "file:./mlruns"])
def test_train_py_runs_without_any_azure_or_mlflow_package(tmp_path, tracking_uri):
    blocked = tmp_path / "blocked"
    for package in ("azureml", "azure", "mlflow"):
        (blocked / package).mkdir(parents=True)
        (blocked / package / "__init__.py").write_text(f"raise ImportError('No module named {package} (test)')\n")
    env = {"PYTHONPATH": str(blocked), **({"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}),
           "AZUREML_RUN_ID": "looks-like-a-v1-run"}
    result = _train(tmp_path, env)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "outputs" / "metrics.json").read_text())
    assert metrics["Kernel type"] == "linear" and round(metrics["Accuracy"], 4) == 0.9737
    if tracking_uri:
        assert "MLFLOW_TRACKING_URI is set but mlflow is not installed" in result.stderr
