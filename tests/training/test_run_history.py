"""training/run_history.py against a real SQLite file."""

import pytest

from training.errors import RunNotFound, WorkspaceUnavailable
from training.run_history import RunHistory


def test_run_lifecycle(workspace):
    history = RunHistory(workspace)
    run = history.start("exp", {"kernel": "rbf", "penalty": 0.5})
    assert run.status == "running" and run.ended_at is None and run.metrics == {}
    assert run.run_id.startswith("exp_") and history.run_dir(run.run_id).is_dir()
    history.log_metric(run.run_id, "Accuracy", 0.5)
    history.log_metric(run.run_id, "Accuracy", 0.75)
    history.recorder(run.run_id).log_confusion_matrix("Confusion matrix", {"data": {"matrix": [[1, 0], [0, 1]]}})
    history.attach(run.run_id, log_text="hello\n", outputs_dir=workspace / "out")
    done = history.finish(run.run_id, "completed")
    assert done.status == "completed" and done.ended_at >= done.started_at
    assert done.params == {"kernel": "rbf", "penalty": 0.5}
    assert done.metrics == {"Accuracy": 0.75, "Confusion matrix": {"data": {"matrix": [[1, 0], [0, 1]]}}}
    assert done.log_path.read_text() == "hello\n" and done.outputs_dir == (workspace / "out").resolve()
    assert RunHistory(workspace).get(run.run_id) == done


def test_list_filters_by_experiment_oldest_first(workspace):
    history = RunHistory(workspace)
    first = history.start("a").run_id
    history.start("b")
    third = history.start("a").run_id
    history.finish(third, "failed", error="ValueError: boom")
    assert [r.run_id for r in history.list("a")] == [first, third]
    assert len(history.list()) == 3 and history.get(third).error == "ValueError: boom"


def test_unknown_run_and_bad_status_are_refused(workspace):
    history = RunHistory(workspace)
    with pytest.raises(RunNotFound, match="No run with id 'nope'"):
        history.get("nope")
    with pytest.raises(RunNotFound):
        history.log_metric("nope", "Accuracy", 1.0)
    run_id = history.start("a").run_id
    with pytest.raises(ValueError, match="finishes as 'completed' or 'failed', got 'running'"):
        history.finish(run_id, "running")


def test_unusable_workspace_is_a_clear_error(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(WorkspaceUnavailable, match=r"Cannot open the workspace database in .*file.*SKLEARN_WORKSPACE"):
        RunHistory(not_a_dir).list()
    corrupt = tmp_path / "ws"
    corrupt.mkdir()
    (corrupt / "workspace.db").write_bytes(b"not a database" * 100)
    with pytest.raises(WorkspaceUnavailable, match="file is not a database"):
        RunHistory(corrupt).list()
