"""The local sweep end to end on iris (12 trials, 2 processes), its sampling, and its failure handling."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from training.registry import Registry
from training.run_history import RunHistory
from training.search_space import IRIS_SPACE, Choice, SearchSpace, to_arguments
from training.sweep_local import SweepFailed, run_local_sweep

ROOT = Path(__file__).resolve().parents[2]


def _cli(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKLEARN_WORKSPACE": str(workspace), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """One real sweep through the CLI: 12 trials, 2 parallel processes, random sampling, best model registered."""
    workspace = tmp_path_factory.mktemp("sweep-workspace")
    result = _cli(workspace, "sweep", "--max-runs", "12", "--parallel", "2", "--seed", "0")
    assert result.returncode == 0, result.stderr
    return workspace, result


@pytest.mark.slow
def test_twelve_trials_recorded_as_local_runs(sweep_run):
    workspace, _ = sweep_run
    trials = RunHistory(workspace).list("train_iris")
    assert len(trials) == 12
    assert {run.status for run in trials} == {"completed"}
    configs = {(run.params["kernel"], run.params["penalty"]) for run in trials}
    assert configs == {(k, float(p)) for k in ("linear", "rbf", "poly", "sigmoid") for p in (0.5, 1, 1.5)}
    (sweep,) = RunHistory(workspace).list("train_iris_sweep")
    assert sweep.status == "completed"
    assert sweep.params["parallel"] == 2 and sweep.params["trials"] == 12
    assert round(sweep.metrics["best Accuracy"], 4) == 0.9737


@pytest.mark.slow
def test_best_model_is_registered(sweep_run):
    workspace, result = sweep_run
    record = Registry(workspace).get("sklearn-iris")
    (sweep,) = RunHistory(workspace).list("train_iris_sweep")
    assert record.run_id == sweep.metrics["best run"]
    best = RunHistory(workspace).get(record.run_id)
    assert round(best.metrics["Accuracy"], 4) == 0.9737
    assert best.metrics["Kernel type"] != "sigmoid"
    assert record.tags["sweep"] == sweep.run_id
    assert f"Registered model sklearn-iris version {record.version}" in result.stdout


@pytest.mark.slow
def test_results_csv_table_and_plot(sweep_run):
    workspace, result = sweep_run
    (sweep,) = RunHistory(workspace).list("train_iris_sweep")
    with open(sweep.outputs_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["trial"]) for row in rows] == list(range(1, 13))
    assert sorted(round(float(row["Accuracy"]), 4) for row in rows) == [0.2368] * 3 + [0.9737] * 9
    assert all(row["status"] == "completed" and row["run_id"] for row in rows)
    png = sweep.outputs_dir / "Accuracy.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib import pyplot as plt

    assert plt.imread(png).shape[0] > 100
    table = [line for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert len(table) == 12
    assert "Best: trial" in result.stdout and "Accuracy 0.9737" in result.stdout
    assert "12/12 trials, best Accuracy 0.9737" in result.stderr


def test_grid_sampling_is_the_product_in_order():
    configs = IRIS_SPACE.sample("grid", 12)
    assert configs[:4] == [{"--kernel": "linear", "--penalty": 0.5}, {"--kernel": "linear", "--penalty": 1},
                           {"--kernel": "linear", "--penalty": 1.5}, {"--kernel": "rbf", "--penalty": 0.5}]
    assert len({tuple(c.items()) for c in configs}) == 12


def test_random_sampling_is_a_seeded_permutation_without_repeats():
    first, again, other = (IRIS_SPACE.sample("random", 12, seed) for seed in (0, 0, 1))
    assert first == again and first != other
    assert sorted(map(str, first)) == sorted(map(str, IRIS_SPACE.grid()))
    assert IRIS_SPACE.sample("random", 5, 0) == first[:5]
    assert len(IRIS_SPACE.sample("random", 50, 0)) == IRIS_SPACE.size == 12


def test_sampling_errors_are_clear():
    with pytest.raises(ValueError, match="Sampling method 'bayesian' is not supported; expected one of random, grid"):
        IRIS_SPACE.sample("bayesian", 3)
    with pytest.raises(ValueError, match="max_runs is 0, while a sweep needs at least 1 run"):
        IRIS_SPACE.sample("grid", 0)


def test_space_matches_what_train_py_accepts():
    from training.local_run import load_job_module

    parse = load_job_module("train_args").parse_args
    for config in IRIS_SPACE.grid():
        parse(to_arguments(config))  # raises UsageError for a value train.py refuses


@pytest.mark.slow
def test_failing_trials_fail_the_sweep_and_register_nothing(tmp_path):
    space = SearchSpace(choices=(Choice("--kernel", ("linear", "rbf")),))
    with pytest.raises(SweepFailed, match=r"All 2 trials of sweep .* failed; trial 1: DataError: .*no-such\.csv"):
        run_local_sweep(space, workspace=tmp_path, sampling="grid", max_runs=2, parallel=2, register_name="m",
                        extra_args=("--data", str(tmp_path / "no-such.csv"), "--label", "y"), progress=None)
    history = RunHistory(tmp_path)
    assert [run.status for run in history.list("train_iris")] == ["failed", "failed"]
    assert [run.status for run in history.list("train_iris_sweep")] == ["failed"]
    assert Registry(tmp_path).list() == []


def test_invalid_parallel_is_refused(tmp_path):
    with pytest.raises(SweepFailed, match="--parallel is 0"):
        run_local_sweep(IRIS_SPACE, workspace=tmp_path, parallel=0, progress=None)


def test_cli_rejects_bad_counts(tmp_path):
    result = _cli(tmp_path, "sweep", "--max-runs", "0")
    assert result.returncode == 2
    assert "expected an integer >= 1, got '0'" in result.stderr


def test_local_dry_run_lists_the_trials_and_runs_nothing(tmp_path):
    result = _cli(tmp_path, "sweep", "--dry-run", "--sampling", "grid", "--max-runs", "4", "--probability")
    assert result.returncode == 0, result.stderr
    assert "1      --kernel linear --penalty 0.5 --probability" in result.stdout
    assert "4      --kernel rbf --penalty 0.5 --probability" in result.stdout
    assert RunHistory(tmp_path).list() == []


def test_early_termination_is_azure_only(tmp_path):
    result = _cli(tmp_path, "sweep", "--policy", "bandit")
    assert result.returncode == 2
    assert "--policy bandit applies to --target azure" in result.stderr


@pytest.mark.slow
def test_interrupted_sweep_is_recorded_as_failed(tmp_path):
    """Ctrl-C after the first finished trial (tests/training/test_interrupts.py stops trials mid-run, both signals)."""
    env = {**os.environ, "SKLEARN_WORKSPACE": str(tmp_path), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "training", "sweep", "--max-runs", "12", "--parallel", "1"],
                               cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # until the first finished trial: the sweep is now mid-way
            if "1/12 trials" in line:
                break
        else:
            raise AssertionError(f"the sweep ended before its first trial was reported: {process.wait()}")
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=300)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, rest
    assert rest.splitlines()[-1].startswith("interrupted by SIGINT: sweep run ")
    (sweep,) = RunHistory(tmp_path).list("train_iris_sweep")
    assert sweep.status == "failed" and sweep.error.startswith("KeyboardInterrupt")
    trials = RunHistory(tmp_path).list("train_iris")
    assert len(trials) < 12, "queued trials are cancelled, not run"
    assert {run.status for run in trials} <= {"completed", "failed"}
    assert Registry(tmp_path).list() == []
