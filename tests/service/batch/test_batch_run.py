"""`python -m service batch` end to end on real files and real worker processes: formats, the no-code path, a driver
in Azure's shape, predict_proba, bad rows by file and line, the error threshold, count mismatches, summary_only."""

import fcntl
import json
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios

import joblib
import numpy as np
import pytest
from batch_helpers import DRIVERS, REPO, RUN_TIMEOUT_S, expected_labels, iris_frame, read_output, run_batch_cli


def test_every_format_gives_the_models_predictions_in_input_order(iris_model_dir, iris_files, tmp_path):
    out = tmp_path / "predictions.csv"
    folder = next(iter(iris_files.values())).parent
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", folder, "--output", tmp_path,
                         "--mini_batch_size", 40, "--workers", 2)
    assert done.returncode == 0, done.stderr
    assert "batch completed: 600 results from 16 mini-batches, 0 rows failed" in done.stderr
    labels = read_output(out)[0].tolist()
    assert labels == expected_labels(iris_model_dir, iris_frame().to_numpy()) * 4
    assert not (tmp_path / "predictions.csv.partial").exists()


def test_predict_proba_writes_one_line_of_class_probabilities_per_row(iris_proba_model_dir, iris_files, tmp_path):
    out = tmp_path / "proba.txt"
    done = run_batch_cli("--model_dir", iris_proba_model_dir, "--input", iris_files["parquet"], "--output", out,
                         "--method", "predict_proba", "--workers", 1)
    assert done.returncode == 0, done.stderr
    model = joblib.load(iris_proba_model_dir / "model.joblib")
    np.testing.assert_allclose(read_output(out).to_numpy(), model.predict_proba(iris_frame().to_numpy()), rtol=1e-12)


def test_azure_shaped_driver_on_a_folder_of_100_files_runs_init_once_per_worker(iris_model_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = iris_frame().to_numpy()
    for i in range(100):
        np.savetxt(folder / f"part-{i:03d}.csv", rows[i % 150 : i % 150 + 3], delimiter=",", fmt="%.1f")
    init_log, out = tmp_path / "init.log", tmp_path / "out.csv"
    done = run_batch_cli("--entry_script", DRIVERS / "azure_style.py", "--model_dir", iris_model_dir,
                         "--input", folder, "--output", out, "--mini_batch_size", 10, "--workers", 2,
                         env={**os.environ, "INIT_LOG": str(init_log)})
    assert done.returncode == 0, done.stderr
    assert "300 results from 10 mini-batches" in done.stderr
    result = read_output(out)
    assert len(result) == 300
    assert result[1].tolist() == [f"part-{i:03d}.csv" for i in range(100) for _ in range(3)]
    pids = init_log.read_text().split()
    assert len(pids) == len(set(pids)) <= 2  # init() once per worker process, never per mini-batch


def test_bad_rows_are_reported_by_file_and_line_and_counted(iris_model_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
        "5.1,3.5,1.4,0.2\n5.1,abc,1.4,0.2\n5.1,3.5,1.4,0.2,9\n6.0,3.0,4.8,1.8\n6.0,3.0,4.8,1.8\n"
    )
    out = tmp_path / "out.csv"
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", bad, "--output", out, "--mini_batch_size", 2,
                         "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert f"{bad}, line 4: expected 4 fields, saw 5" in done.stderr
    assert f"{bad}, lines 2-3: line 3: run() raised ConversionError: Input \"data\" has a non-numeric value 'abc'" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert "2 results from 3 mini-batches, 3 rows failed" in done.stderr  # lines 2-3, 4-5, 6
    assert read_output(out)[0].tolist() == expected_labels(iris_model_dir, np.array([[6.0, 3.0, 4.8, 1.8]] * 2))


def test_a_bad_jsonl_line_is_named_and_the_rest_scored(iris_model_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[5.1, 3.5, 1.4, 0.2]\n{oops\n[6.0, 3.0, 4.8, 1.8]\n")
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", bad, "--output", tmp_path / "o.csv", "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert f"{bad}, line 2: not valid JSON" in done.stderr
    assert "2 results from 1 mini-batches, 1 rows failed" in done.stderr


def test_error_threshold_stops_the_run_and_leaves_only_a_partial_output(iris_model_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("5.1,3.5,1.4,0.2\n5.1,abc,1.4,0.2\n")
    out = tmp_path / "out.csv"
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", bad, "--output", out, "--error_threshold", 0,
                         "--workers", 1)
    assert done.returncode == 1
    assert "more than --error_threshold 0 errors, stopped" in done.stderr
    assert not out.exists()
    assert (tmp_path / "out.csv.partial" / "manifest.json").is_file()


def test_a_count_mismatch_fails_the_mini_batch(iris_files, tmp_path):
    out = tmp_path / "out.csv"
    done = run_batch_cli("--entry_script", DRIVERS / "short.py", "--input_type", "tabular", "--input",
                         iris_files["csv_header"], "--output", out, "--mini_batch_size", 50, "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert "run() returned 49 entries for a mini-batch of 50 rows" in done.stderr
    assert "0 results from 3 mini-batches, 150 rows failed" in done.stderr
    assert out.read_text() == ""


def test_a_failing_init_fails_the_run(iris_files, tmp_path):
    done = run_batch_cli("--entry_script", DRIVERS / "init_fails.py", "--input", iris_files["csv_plain"],
                         "--output", tmp_path / "o.csv", "--workers", 1)
    assert done.returncode == 1
    assert "init() failed: RuntimeError: no model for you" in done.stderr
    assert "Traceback" not in done.stderr


def test_summary_only_writes_no_output_file(iris_model_dir, iris_files, tmp_path):
    out = tmp_path / "o.csv"
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", iris_files["jsonl"], "--output", out,
                         "--output_action", "summary_only", "--workers", 1)
    assert done.returncode == 0, done.stderr
    assert "150 results from 1 mini-batches" in done.stderr
    assert not out.exists() and not (tmp_path / "o.csv.partial").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "missing.csv"], "Input missing.csv does not exist"),
        (["--input", "{model}/model.json"], "has the extension '.json', but batch input must be one of"),
        (["--input", "{csv}", "--method", "predict_proba"], "--method predict_proba, but model sklearn-iris"),
        (["--input", "{csv}", "--workers", "0"], "expected an integer >= 1, got 0"),
    ],
)
def test_bad_options_exit_2_naming_expected_and_actual(iris_model_dir, iris_files, args, message):
    args = [a.format(model=iris_model_dir, csv=iris_files["csv_plain"]) for a in args]
    done = run_batch_cli("--model_dir", iris_model_dir, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_no_model_dir_and_no_driver_exits_2(iris_files):
    done = run_batch_cli("--input", iris_files["csv_plain"])
    assert done.returncode == 2
    assert "No --entry_script and no --model_dir" in done.stderr


def test_a_terminal_gets_a_progress_bar_with_rows_mini_batches_and_rate(iris_model_dir, iris_files, tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "batch", "--model_dir", str(iris_model_dir), "--input",
         str(iris_files["csv_header"]), "--output", str(tmp_path / "o.csv"), "--workers", "1",
         "--mini_batch_size", "50"],
        cwd=REPO, stderr=slave,
    )
    os.close(slave)
    shown = b""
    try:
        while select.select([master], [], [], RUN_TIMEOUT_S)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the runner closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
        proc.wait(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0
    text = shown.decode(errors="replace")
    assert "150/150" in text and "rows/s" in text and "3 mini-batches, 0 errors" in text


def test_the_default_driver_reads_the_files_itself_in_file_mode(iris_model_dir, iris_files, tmp_path):
    folder = next(iter(iris_files.values())).parent
    out = tmp_path / "out.csv"
    done = run_batch_cli("--model_dir", iris_model_dir, "--input", folder, "--output", out, "--input_type", "file",
                         "--mini_batch_size", 3, "--workers", 2)
    assert done.returncode == 0, done.stderr
    assert "600 results from 2 mini-batches, 0 files failed" in done.stderr
    assert read_output(out)[0].tolist() == expected_labels(iris_model_dir, iris_frame().to_numpy()) * 4


def test_a_worker_that_dies_fails_the_run_instead_of_hanging_it(iris_files, tmp_path):
    out = tmp_path / "o.csv"
    done = run_batch_cli("--entry_script", DRIVERS / "dies.py", "--input_type", "tabular", "--input",
                         iris_files["csv_plain"], "--output", out, "--workers", 2, "--mini_batch_size", 10)
    assert done.returncode == 1
    assert "a worker process died (exit code 3)" in done.stderr
    assert not out.exists() and (tmp_path / "o.csv.partial").is_dir()


def test_a_skops_model_scores_as_its_joblib_twin_and_an_untrusted_type_is_refused_up_front(
    iris_proba_model_dir, iris_skops_model_dir, iris_files, tmp_path
):
    outputs = {}
    for name, model_dir in (("joblib", iris_proba_model_dir), ("skops", iris_skops_model_dir)):
        outputs[name] = tmp_path / f"{name}.csv"
        done = run_batch_cli("--model_dir", model_dir, "--input", iris_files["parquet"], "--output", outputs[name],
                             "--method", "predict_proba", "--workers", 1)
        assert done.returncode == 0, done.stderr
    assert outputs["skops"].read_bytes() == outputs["joblib"].read_bytes()
    # model.json no longer records one of the file's types: refused before any worker starts, unless allowed.
    shutil.copytree(iris_skops_model_dir, tmp_path / "m")
    sidecar = json.loads((tmp_path / "m" / "model.json").read_text())
    dropped = sidecar["trusted_types"].pop()
    (tmp_path / "m" / "model.json").write_text(json.dumps(sidecar))
    args = ("--model_dir", tmp_path / "m", "--input", iris_files["parquet"], "--output", tmp_path / "o.csv")
    done = run_batch_cli(*args)
    assert done.returncode == 2 and f"does not record as trusted: {dropped}." in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o.csv").exists()
    done = run_batch_cli(*args, "--method", "predict_proba", env={**os.environ, "MODEL_TRUSTED_TYPES": dropped})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "o.csv").read_bytes() == outputs["joblib"].read_bytes()
