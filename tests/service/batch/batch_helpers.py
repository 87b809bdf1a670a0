"""Batch test helpers (import as `batch_helpers`, a unique name: `conftest` is ambiguous across test folders): iris
rows, running `python -m service batch`, reading its output back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris

REPO = Path(__file__).resolve().parents[3]
DRIVERS = Path(__file__).resolve().parent / "drivers"
RUN_TIMEOUT_S = 120


def iris_frame() -> pd.DataFrame:
    iris = load_iris()
    return pd.DataFrame(iris.data, columns=iris.feature_names)


def run_batch_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m service batch ARGS`` in the repository, bounded in time, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "service", "batch", *map(str, args)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )


def read_output(path: Path) -> pd.DataFrame:
    """An append_row file read back as Azure's output is: space-delimited, no header."""
    return pd.read_csv(path, sep=" ", header=None)


def expected_labels(model_dir: Path, rows: np.ndarray) -> list:
    import joblib

    return joblib.load(model_dir / "model.joblib").predict(rows).tolist()
