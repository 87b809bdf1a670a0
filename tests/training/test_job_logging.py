"""training/job/train_logging.py: Azure run inside a submitted run, metrics.json otherwise."""

import json

import pytest

run_module = pytest.importorskip("azureml.core.run", reason="azureml-core is not installed (requirements-azure.txt)")


def test_azure_adapter_calls_the_real_run_api(job, capsys):
    # The offline run is azureml-core's real Run API surface; it prints each call instead of sending it.
    logger = job.train_logging.AzureRunLogger(run_module.Run.get_context())
    logger.log("Accuracy", 0.97)
    logger.log_confusion_matrix("Confusion matrix", {"schema_type": "confusion_matrix", "data": {}})
    out = capsys.readouterr().out
    assert "Attempted to log scalar metric Accuracy:\n0.97\n" in out
    assert "Attempted to log confusion_matrix metric Confusion matrix:\n" in out
    assert logger.run_id.startswith("OfflineRun_")


def test_outside_a_submitted_run_metrics_go_to_metrics_json(job, tmp_path, monkeypatch):
    monkeypatch.delenv("AZUREML_RUN_ID", raising=False)
    assert job.train_logging.azure_run() is None
    logger = job.train_logging.default_logger(tmp_path)
    assert isinstance(logger, job.train_logging.JsonFileLogger) and logger.run_id is None
    logger.log("Accuracy", 0.5)
    logger.log_confusion_matrix("Confusion matrix", {"data": {"matrix": [[1]]}})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"Accuracy": 0.5,
                                                                  "Confusion matrix": {"data": {"matrix": [[1]]}}}


def test_run_id_without_the_rest_of_the_run_context_is_still_offline(job, monkeypatch):
    # Run.get_context() needs the subscription, workspace and token variables too; with only the id it is offline.
    for name in ("AZUREML_ARM_SUBSCRIPTION", "AZUREML_ARM_RESOURCEGROUP", "AZUREML_ARM_WORKSPACE_NAME",
                 "AZUREML_ARM_PROJECT_NAME", "AZUREML_SERVICE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZUREML_RUN_ID", "train_iris_1_abc")
    assert job.train_logging.azure_run() is None
