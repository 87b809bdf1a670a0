"""Ctrl-C (SIGINT) and SIGTERM stop ``python -m training sweep`` and ``train``: exit 130 / 143, one line on stderr,
the runs recorded as failed, the trial processes ended, nothing registered.

The trials train on a FIFO nobody writes to, so each one blocks, inside its recorded run, until it is stopped: the
tests signal once the runs are recorded as running (the event itself), whatever the machine's speed.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from training_helpers import PYTHON, REPO, subprocess_env

from training.processes import start_token
from training.registry import Registry
from training.run_history import RunHistory

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
ERROR = {signal.SIGINT: "KeyboardInterrupt: SIGINT", signal.SIGTERM: "Terminated: SIGTERM"}
DEADLINE_S = 120  # for a run to start on a loaded machine; a stop is waited on as long (not a speed assertion)


def _start(workspace: Path, *args: str, sigint: str = "default") -> subprocess.Popen:
    """``python -m training ARGS`` with SIGINT at its default, or ignored as a background job of a script has it."""
    disposition = signal.SIG_DFL if sigint == "default" else signal.SIG_IGN
    return subprocess.Popen([PYTHON, "-m", "training", *args], cwd=REPO, env=subprocess_env(SKLEARN_WORKSPACE=str(
        workspace)), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, disposition))


def _wait_for_running(workspace: Path, process: subprocess.Popen, count: int) -> list:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        running = [run for run in RunHistory(workspace).list("train_iris") if run.status == "running"]
        if len(running) == count:
            return running
        time.sleep(0.05)
    raise AssertionError(f"{count} runs did not start within {DEADLINE_S} s")


def _stop(process: subprocess.Popen, signum: int) -> str:
    process.send_signal(signum)
    try:
        return process.communicate(timeout=DEADLINE_S)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def blocking_csv(tmp_path) -> Path:
    """A FIFO with no writer: opening it for reading blocks until the process is signalled."""
    path = tmp_path / "data.csv"
    os.mkfifo(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("sigint", ["default", "inherited-ignored"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_sweep_ends_its_trials_and_records_them_failed(tmp_path, blocking_csv, signum, sigint):
    workspace = tmp_path / "workspace"
    process = _start(workspace, "sweep", "--max-runs", "12", "--parallel", "2", "--data", str(blocking_csv),
                     "--label", "y", "--register", "must-not-exist", sigint=sigint)
    running = _wait_for_running(workspace, process, 2)
    stderr = _stop(process, signum)

    assert process.returncode == EXIT_STATUS[signum], stderr
    (sweep,) = RunHistory(workspace).list("train_iris_sweep")
    assert (sweep.status, sweep.error) == ("failed", ERROR[signum])
    trials = RunHistory(workspace).list("train_iris")
    assert sorted(run.run_id for run in trials) == sorted(run.run_id for run in running), "queued trials never start"
    for run in trials:
        assert (run.status, run.error) == ("failed", ERROR[signum]), "each trial records its own interruption"
        assert start_token(run.pid) is None, f"trial process {run.pid} is still running"
    assert Registry(workspace).list() == []
    pids = ", ".join(str(run.pid) for run in sorted(trials, key=lambda run: run.pid))
    lines = stderr.splitlines()
    assert lines == [f"interrupted by {signum.name}: sweep run {sweep.run_id} recorded as failed; 2 running trials "
                     f"stopped (pids {pids}), 10 queued trials cancelled."]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_train_records_its_run_failed_and_registers_nothing(tmp_path, blocking_csv, signum):
    workspace = tmp_path / "workspace"
    process = _start(workspace, "train", "--data", str(blocking_csv), "--label", "y", "--register", "m",
                     sigint="inherited-ignored")
    (run,) = _wait_for_running(workspace, process, 1)
    stderr = _stop(process, signum)

    assert process.returncode == EXIT_STATUS[signum], stderr
    assert stderr.splitlines() == [f"interrupted by {signum.name}: Recorded as failed run {run.run_id}."]
    record = RunHistory(workspace).get(run.run_id)
    assert (record.status, record.error) == ("failed", ERROR[signum])
    assert ERROR[signum] in (record.log_path.read_text()), "the run's log ends with the interruption"
    assert Registry(workspace).list() == []


def test_signals_raise_in_the_block_and_the_old_handlers_come_back():
    from training import interrupts

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(interrupts.Terminated, match="SIGTERM"), interrupts.raised_as_exceptions():
        signal.raise_signal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGINT"), interrupts.raised_as_exceptions():
        signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert [interrupts.exit_status(exc) for exc in (KeyboardInterrupt(), interrupts.Terminated())] == [130, 143]
