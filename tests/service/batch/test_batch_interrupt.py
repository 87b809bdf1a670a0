"""Interruption and resume of `python -m service batch`: SIGTERM / SIGINT during a run() leave no output file, only
the marked partial one, and exit 143 / 130; --resume runs only the mini-batches the partial output lacks."""

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from batch_helpers import DRIVERS, REPO, RUN_TIMEOUT_S, run_batch_cli

EVENT_TIMEOUT_S = 60


def _rows_csv(path, firsts):
    path.write_text("".join(f"{first},3.0,4.0,1.0\n" for first in firsts))
    return path


def test_resume_reruns_only_the_missing_mini_batches(tmp_path):
    data = _rows_csv(tmp_path / "rows.csv", [1.1, 2.2, 3.3, 4.4, 9.9, 6.6, 7.7, 8.8])
    out, calls = tmp_path / "out.csv", tmp_path / "calls.log"
    common = ("--entry_script", DRIVERS / "flaky.py", "--input_type", "tabular", "--input", data, "--output", out,
              "--mini_batch_size", 2, "--workers", 1)
    env = {**os.environ, "CALL_LOG": str(calls)}

    first = run_batch_cli(*common, "--error_threshold", 0, env=env)
    assert first.returncode == 1, first.stderr
    assert not out.exists()
    parts = sorted(p.name for p in (tmp_path / "out.csv.partial").glob("*.part"))
    assert parts == ["000000000.part", "000000001.part"]  # written in input order, up to the failing mini-batch

    calls.write_text("")
    second = run_batch_cli(*common, "--resume", env={**env, "FIXED": "1"})
    assert second.returncode == 0, second.stderr
    assert "2 mini-batches resumed" in second.stderr
    assert calls.read_text().split() == ["9.9", "7.7"]
    assert out.read_text().split() == ["1.1", "2.2", "3.3", "4.4", "9.9", "6.6", "7.7", "8.8"]
    assert not (tmp_path / "out.csv.partial").exists()


def test_resume_of_another_configuration_exits_2(tmp_path):
    data = _rows_csv(tmp_path / "rows.csv", [9.9, 1.1])
    out = tmp_path / "out.csv"
    common = ("--entry_script", DRIVERS / "flaky.py", "--input_type", "tabular", "--input", data, "--output", out,
              "--workers", 1)
    env = {**os.environ, "CALL_LOG": str(tmp_path / "calls.log")}
    assert run_batch_cli(*common, "--error_threshold", 0, env=env).returncode == 1
    done = run_batch_cli(*common, "--resume", "--mini_batch_size", 1, env=env)
    assert done.returncode == 2
    assert "--resume found" in done.stderr and "mini_batch_size" in done.stderr


@pytest.mark.parametrize(("signum", "status", "driver_env"), [
    (signal.SIGTERM, 143, {}),
    (signal.SIGINT, 130, {}),
    (signal.SIGTERM, 143, {"IGNORE_SIGTERM": "1"}),  # a driver that handles SIGTERM itself is killed after the grace
])
def test_a_signal_during_run_leaves_a_marked_partial_output(tmp_path, signum, status, driver_env):
    data = _rows_csv(tmp_path / "rows.csv", [1.1, 2.2, 3.3])
    ready, hold = tmp_path / "ready", tmp_path / "hold"
    os.mkfifo(ready)
    os.mkfifo(hold)
    reader = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)  # opened first, so the driver's open for writing succeeds
    out = tmp_path / "out.csv"
    env = {**os.environ, "READY_FIFO": str(ready), "HOLD_FIFO": str(hold), **driver_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "batch", "--entry_script", DRIVERS / "blocking.py", "--input_type",
         "tabular", "--input", data, "--output", out, "--workers", "2", "--mini_batch_size", "1"],
        cwd=REPO, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while not select.select([reader], [], [], 0.5)[0]:  # waits on the event; looks up only to say why it is late
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the driver's run() never started; exit status {proc.wait()}, stderr: "
                            f"{proc.stderr.read()}")
        worker_pid = int(os.read(reader, 64).split()[0])
        proc.send_signal(signum)
        try:
            _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"the runner was still running {RUN_TIMEOUT_S} s after the signal; stderr: "
                        f"{proc.communicate()[1]}")
    finally:
        os.close(reader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, stderr
    assert f"interrupted by signal {int(signum)}" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    assert (tmp_path / "out.csv.partial" / "manifest.json").is_file()
    assert not os.path.exists(f"/proc/{worker_pid}")  # the worker blocked in run() was stopped and reaped


def test_a_stopped_rerun_leaves_no_earlier_output_that_looks_whole(tmp_path):
    data = _rows_csv(tmp_path / "rows.csv", [1.1, 9.9])
    out = tmp_path / "out.csv"
    out.write_text("predictions of an earlier run\n")
    done = run_batch_cli("--entry_script", DRIVERS / "flaky.py", "--input_type", "tabular", "--input", data,
                         "--output", out, "--mini_batch_size", 1, "--workers", 1, "--error_threshold", 0,
                         env={**os.environ, "CALL_LOG": str(tmp_path / "calls.log")})
    assert done.returncode == 1, done.stderr
    assert not out.exists() and (tmp_path / "out.csv.partial" / "manifest.json").is_file()


def test_resume_with_another_model_exits_2(iris_model_dir, iris_proba_model_dir, tmp_path):
    data = tmp_path / "rows.csv"
    data.write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\nabc,3.0,4.2,1.5\n")
    out = tmp_path / "out.csv"
    common = ("--input", data, "--output", out, "--mini_batch_size", 1, "--workers", 1, "--error_threshold", 0)
    assert run_batch_cli("--model_dir", iris_model_dir, *common).returncode == 1
    done = run_batch_cli("--model_dir", iris_proba_model_dir, *common, "--resume")
    assert done.returncode == 2, done.stderr
    assert "from a run with other model_sha256" in done.stderr
