"""The batch workload's parts (bench/batch.py) on a tiny input: inputs, floor, pandas loop, the real runner (its
output is checked against model.predict inside measure), and the report. No timing asserts."""

import numpy as np
import pandas as pd

from bench import batch
from bench.workloads import PLAIN, load_verified, write_model_dirs


def test_inputs_hold_the_same_rows_in_csv_and_parquet(tmp_path):
    X, csv, parquet = batch.write_inputs(tmp_path, 50)
    assert X.shape == (50, 4)
    np.testing.assert_array_equal(pd.read_csv(csv).to_numpy(), X)
    np.testing.assert_array_equal(pd.read_parquet(parquet).to_numpy(), X)


def test_runner_measurement_reports_time_and_memory_and_writes_the_predictions(tmp_path):
    model_dir = write_model_dirs(tmp_path / "models")[PLAIN]
    X, csv, _ = batch.write_inputs(tmp_path, 50)
    figures = batch.run_runner(model_dir, csv, 1, tmp_path / "out.csv")
    assert figures["seconds"] > 0 and figures["peak_rss_mb"] > 0
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "out.csv"), load_verified(model_dir).predict(X))


def test_measure_produces_every_figure_and_the_table(tmp_path):
    doc = batch.measure(rows=40, reps=1, work=tmp_path)
    names = {"floor", "pandas-loop"} | {f"runner-{s}-w{w}" for s in ("startup", "csv", "parquet") for w in (1, 2)}
    assert set(doc["summary"]) == names
    assert doc["summary"]["floor"]["x_floor"] == 1.0
    assert "x_w1" in doc["summary"]["runner-parquet-w2"] and "net_x_floor" in doc["summary"]["runner-csv-w1"]
    assert batch.table(doc).count("\n") == len(names) + 1
