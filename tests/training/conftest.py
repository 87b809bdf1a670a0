"""Fixtures for training tests: a fresh workspace per test, the CLI run in-process, iris as a CSV file."""

from pathlib import Path

import pytest
from training_helpers import write_iris_csv

from training.cli import main
from training.local_run import load_job_module


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """An empty workspace that SKLEARN_WORKSPACE points at for this test."""
    path = tmp_path / "workspace"
    monkeypatch.setenv("SKLEARN_WORKSPACE", str(path))
    return path


@pytest.fixture
def cli(workspace, capsys):
    """Run ``python -m training ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:  # argparse usage errors and --help
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def job():
    """The modules of training/job/, imported the way ``python train.py`` imports them."""

    class Job:
        train = load_job_module("train")
        train_args = load_job_module("train_args")
        train_data = load_job_module("train_data")
        train_logging = load_job_module("train_logging")

    return Job


@pytest.fixture
def iris_csv(tmp_path) -> Path:
    return write_iris_csv(tmp_path / "iris.csv")

