"""Bad data through `python -m training train`: exit 2, one message, run recorded as failed, nothing registered."""

import re
import subprocess

import pandas as pd
import pytest
from training_helpers import PYTHON, subprocess_env, write_iris_csv

from training.registry import Registry
from training.run_history import RunHistory


def _iris_frame(tmp_path):
    return pd.read_csv(write_iris_csv(tmp_path / "iris.csv"))


def _data_csv(tmp_path, frame):
    """Writes ``frame`` as the bad data.csv of a case and returns its path."""
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def _missing_file(tmp_path):
    return tmp_path / "nope.csv", "Data file '{path}' not found. Pass --data with the path of a CSV file"


def _no_label(tmp_path):
    path = _data_csv(tmp_path, _iris_frame(tmp_path).rename(columns={"species": "target"}))
    return path, ("Label column 'species' not found in data.csv. Available columns are: sepal_length, sepal_width, "
                  "petal_length, petal_width, target. Pass --label with one of them.")


def _non_numeric(tmp_path):
    frame = _iris_frame(tmp_path)
    frame["petal_width"] = frame["petal_width"].astype(object)
    frame.loc[3, "petal_width"] = "abc"
    path = _data_csv(tmp_path, frame)
    return path, ("Feature column 'petal_width' in data.csv is not numeric (dtype str, e.g. 'abc' at row 3); "
                  "every column except the label 'species' must hold numbers.")


def _nan(tmp_path):
    frame = _iris_frame(tmp_path)
    frame.loc[[1, 7], "sepal_width"] = None
    frame.loc[4, "petal_length"] = None
    path = _data_csv(tmp_path, frame)
    return path, ("data.csv contains missing values (NaN count per column: sepal_width 2, petal_length 1); fill or "
                  "drop them before training.")


def _one_class(tmp_path):
    frame = _iris_frame(tmp_path)
    path = _data_csv(tmp_path, frame[frame["species"] == "setosa"])
    return path, "Label column 'species' in data.csv has 1 distinct value ('setosa') while a classifier needs at least"


def _too_few_rows(tmp_path):
    path = _data_csv(tmp_path, _iris_frame(tmp_path).iloc[[0, 50]])
    return path, ("data.csv has 2 rows: with --test-size 0.25 the split leaves 1 training and 1 test rows, while at "
                  "least 2 training rows and 1 test row are required.")


def _train_split_one_class(tmp_path):
    path = _data_csv(tmp_path, _iris_frame(tmp_path).iloc[[0, 1, 50, 2]])
    return path, ("data.csv has 4 rows: with --test-size 0.25 the 3 training rows hold only 1 class ('setosa'), "
                  "while training needs at least 2 classes.")


def _header_only(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,species\n")
    return path, "data.csv has no data rows, only a header; training needs rows of numbers."


CASES = [_missing_file, _no_label, _non_numeric, _nan, _one_class, _too_few_rows, _train_split_one_class,
         _header_only]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_bad_data_exits_2_records_a_failed_run_and_registers_nothing(case, tmp_path, cli, workspace):
    path, message = case(tmp_path)
    message = message.format(path=path)
    code, out, err = cli("train", "--data", path, "--label", "species", "--register", "m")
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and "Registered" not in out
    assert Registry(workspace).list() == []
    assert not (workspace / "models").exists()
    [run] = RunHistory(workspace).list()
    assert run.status == "failed" and run.error == f"DataError: {err.splitlines()[0].removeprefix('error: ')}"
    assert re.search(rf"Recorded as failed run {run.run_id}\.$", err.strip())
    assert message in run.log_path.read_text()


def test_python_m_training_exits_2_on_bad_data(tmp_path, workspace):
    done = subprocess.run([PYTHON, "-m", "training", "train", "--data", str(tmp_path / "x.csv"), "--label", "y"],
                          cwd=tmp_path, env=subprocess_env(SKLEARN_WORKSPACE=str(workspace)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: Data file '{tmp_path / 'x.csv'}' not found.")
    assert [run.status for run in RunHistory(workspace).list()] == ["failed"]


def test_data_without_label_option_is_a_data_error(job):
    with pytest.raises(job.train_data.DataError, match="--data x.csv needs --label"):
        job.train_data.load_dataset("x.csv", None)


def test_feature_column_missing_everything_but_label(job, tmp_path):
    path = tmp_path / "only.csv"
    path.write_text("species\na\nb\n")
    with pytest.raises(job.train_data.DataError, match="only.csv has no feature column"):
        job.train_data.load_dataset(str(path), "species")


def test_data_from_a_pipe_is_read_once_and_trains(tmp_path, cli, workspace):
    """``--data <(zcat data.csv.gz)``: a pipe, not a regular file, is accepted (and a directory is not)."""
    import os
    import threading

    csv = write_iris_csv(tmp_path / "iris.csv").read_bytes()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(csv,), daemon=True)
    writer.start()
    code, out, err = cli("train", "--data", fifo, "--label", "species")
    writer.join(timeout=60)
    assert code == 0, err
    (run,) = RunHistory(workspace).list()
    assert run.status == "completed" and round(run.metrics["Accuracy"], 4) == 0.9737

    code, _, err = cli("train", "--data", tmp_path, "--label", "species")
    assert code == 2 and f"Data file '{tmp_path}' not found" in err
