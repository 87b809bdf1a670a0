"""Training data for the job: iris from scikit-learn or a user CSV, validated into X, y and feature names.

Part of the Azure ML snapshot (training/job/): stdlib, numpy, pandas and scikit-learn only, no package imports.
"""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split


class DataError(ValueError):
    """The training data cannot be used; the message names the problem and the fix (exit code 2)."""


@dataclass(frozen=True)
class Dataset:
    """Features, labels and where they came from.

    ``X`` is a float64 ndarray for iris (as in Azure's train_iris.py) and a float64 DataFrame for CSV data, so
    the fitted estimator gets ``feature_names_in_``.
    """

    X: object
    y: np.ndarray
    feature_names: list
    source: str


def load_dataset(data: str | None, label: str | None) -> Dataset:
    """Load iris when ``data`` is None, else the CSV file ``data`` with label column ``label``.

    Raises
    ------
    DataError
        File missing or unreadable, label column missing, a non-numeric feature column, missing values,
        fewer than 2 classes, or no feature column.
    """
    if data is None:
        iris = load_iris()
        return Dataset(iris.data, iris.target, list(iris.feature_names), "iris")
    return _load_csv(Path(data), label)


def split(dataset: Dataset, test_size: float, random_state: int = 0):
    """``train_test_split(X, y, test_size=..., random_state=...)``, checked so the training part can be fitted.

    Raises
    ------
    DataError
        When the data has too few rows for a test set and a training set holding at least 2 classes.
    """
    n_rows = len(dataset.y)
    n_test = math.ceil(test_size * n_rows)
    n_train = n_rows - n_test
    if n_test < 1 or n_train < 2:
        raise DataError(
            f"{dataset.source} has {n_rows} rows: with --test-size {test_size} the split leaves {n_train} training "
            f"and {n_test} test rows, while at least 2 training rows and 1 test row are required. Add rows or "
            f"change --test-size."
        )
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.X, dataset.y, test_size=test_size, random_state=random_state
    )
    train_classes = np.unique(y_train)
    if len(train_classes) < 2:
        raise DataError(
            f"{dataset.source} has {n_rows} rows: with --test-size {test_size} the {n_train} training rows hold "
            f"only 1 class ({_quote(train_classes[0])}), while training needs at least 2 classes. Add rows or "
            f"lower --test-size."
        )
    return X_train, X_test, y_train, y_test


def fingerprint(dataset: Dataset) -> str:
    """``"sha256:<hex>"`` over the feature bytes, the label values and the feature names."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(np.asarray(dataset.X, dtype=np.float64)).tobytes())
    y = np.asarray(dataset.y)
    digest.update(y.tobytes() if y.dtype.kind in "biuf" else "\x00".join(map(str, y)).encode())
    digest.update("\x00".join(dataset.feature_names).encode())
    return "sha256:" + digest.hexdigest()


def _load_csv(path: Path, label: str | None) -> Dataset:
    if label is None:
        raise DataError(f"--data {path} needs --label with the name of the label column.")
    if not path.exists() or path.is_dir():  # a pipe is fine (--data <(zcat data.csv.gz)): it is read once
        raise DataError(f"Data file '{path}' not found. Pass --data with the path of a CSV file with a header row.")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"Data file '{path}' is not a readable CSV file with a header row: {exc}") from exc
    source = path.name
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if label not in columns:
        raise DataError(
            f"Label column '{label}' not found in {source}. Available columns are: {', '.join(columns)}. "
            f"Pass --label with one of them."
        )
    if frame.empty:
        raise DataError(f"{source} has no data rows, only a header; training needs rows of numbers.")
    features = frame.drop(columns=[label])
    if features.shape[1] == 0:
        raise DataError(f"{source} has no feature column: every column except the label '{label}' is a feature.")
    for column in features.columns:
        if not pd.api.types.is_numeric_dtype(features[column]) or pd.api.types.is_bool_dtype(features[column]):
            raise DataError(_non_numeric_message(source, features[column], label))
    nan_counts = {c: int(n) for c, n in frame.isna().sum().items() if n}
    if nan_counts:
        counts = ", ".join(f"{column} {count}" for column, count in nan_counts.items())
        raise DataError(
            f"{source} contains missing values (NaN count per column: {counts}); fill or drop them before training."
        )
    y = frame[label].to_numpy()
    classes = pd.unique(frame[label])
    if len(classes) < 2:
        raise DataError(f"Label column '{label}' in {source} has 1 distinct value ({_quote(classes[0])}) while a "
                        f"classifier needs at least 2 classes.")
    return Dataset(features.astype(np.float64), y, list(features.columns), source)


def _non_numeric_message(source: str, values: pd.Series, label: str) -> str:
    numeric = pd.to_numeric(values, errors="coerce")
    bad = values[numeric.isna() & values.notna()]
    example = f", e.g. {_quote(bad.iloc[0])} at row {bad.index[0]}" if len(bad) else ""
    return (
        f"Feature column '{values.name}' in {source} is not numeric (dtype {values.dtype}{example}); every column "
        f"except the label '{label}' must hold numbers."
    )


def _quote(value) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:37] + "..."
