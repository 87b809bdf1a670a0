"""training/local_run.py: the in-process recorded run the CLI and the local sweep use."""

import pytest

from training.local_run import run_training_locally
from training.run_history import RunHistory


def test_completed_run_records_metrics_log_and_outputs(workspace, capsys):
    run = run_training_locally(["--kernel", "poly", "--penalty", "1.5"], workspace=workspace, experiment="sweep")
    assert run.status == "completed" and run.experiment == "sweep" and run.error is None
    assert run.params == {"kernel": "poly", "penalty": 1.5, "test_size": 0.25, "probability": False}
    assert list(run.metrics) == ["Kernel type", "Penalty", "Accuracy", "Precision", "Recall", "F1",
                                 "Confusion matrix"]
    assert round(run.metrics["Accuracy"], 4) == 0.9737
    assert run.outputs_dir == (workspace / "runs" / run.run_id / "outputs").resolve()
    assert (run.outputs_dir / "model.json").is_file()
    assert "Accuracy of SVM classifier on test set: 0.97" in run.log_path.read_text()
    assert "Accuracy of SVM classifier on test set: 0.97" in capsys.readouterr().out  # still shown
    assert RunHistory(workspace).get(run.run_id) == run


def test_failed_run_is_recorded_and_the_error_re_raised(workspace, job, tmp_path):
    with pytest.raises(job.train_data.DataError, match="not found") as raised:
        run_training_locally(["--data", str(tmp_path / "x.csv"), "--label", "y"], workspace=workspace)
    [run] = RunHistory(workspace).list()
    assert run.status == "failed" and run.error.startswith("DataError: Data file")
    assert raised.value.__notes__ == [f"Recorded as failed run {run.run_id}."]
    assert "Traceback" in run.log_path.read_text()


def test_invalid_arguments_record_no_run(workspace, job):
    with pytest.raises(job.train_args.UsageError, match="invalid choice: 'cubic'"):
        run_training_locally(["--kernel", "cubic"], workspace=workspace)
    assert RunHistory(workspace).list() == []
