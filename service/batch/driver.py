"""The default batch driver: an Azure ML batch scoring script that scores the model directory with /score's checks.

Contract (Azure ML's, for batch deployments and ParallelRunStep):

- ``init()`` runs once per worker process. It reads the model directory from ``AZUREML_MODEL_DIR`` (this model
  directory format, in its own or the ``<name>/<version>/`` layout), verifies the model file's sha256 against
  model.json and only then loads it (service.model_dir.load_model; a skops model with the types its model.json
  records, plus those of ``MODEL_TRUSTED_TYPES``). The method comes from
  ``BATCH_SCORING_METHOD``: ``predict`` (default) or ``predict_proba``; set it as a deployment environment variable
  on Azure, ``--method`` sets it locally.
- ``run(mini_batch)`` takes a pandas DataFrame (tabular input: one mini-batch of rows) or a list of file paths (file
  input: .csv / .parquet / .jsonl files, read here). It returns one entry per input row, in input order: an array of
  labels for ``predict``, a DataFrame with one column per class for ``predict_proba``. Columns are matched by the
  model's feature names when the input has them, else by position.
- Bad input raises ``ValueError`` with /score's message (service.conversion: wrong column count, non-numeric value,
  NaN, ...), so the runner counts the mini-batch as failed and reports it; it never returns a partial result.

It runs unchanged under Azure's batch runtime, with the ``service`` package shipped as code next to it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from service.batch.sources import read_frame
from service.conversion import FeatureMatrixType, to_array
from service.model_dir import ModelDirError, load_model
from service.settings import environment_trusted_types

METHODS = ("predict", "predict_proba")
METHOD_VARIABLE = "BATCH_SCORING_METHOD"

# The Azure contract hands state from init() to run() through the module: one loaded model per worker process.
_scoring: dict = {}


def init() -> None:
    """Load and verify the model of ``AZUREML_MODEL_DIR`` and read the method (see the module docstring).

    Raises
    ------
    ModelDirError
        No model directory, or its model.json / sha256 check fails.
    ValueError
        An unknown method, or predict_proba for a model without it.
    """
    value = os.environ.get("AZUREML_MODEL_DIR")
    if not value:
        raise ModelDirError(
            "AZUREML_MODEL_DIR is not set, but the default batch driver needs a model directory: pass --model_dir "
            "or set AZUREML_MODEL_DIR."
        )
    model, info = load_model(Path(value), trusted_types=environment_trusted_types())
    method = os.environ.get(METHOD_VARIABLE) or "predict"
    if method not in METHODS:
        raise ValueError(f"{METHOD_VARIABLE} is {method!r}, but {info.label} supports only: {', '.join(METHODS)}.")
    if method == "predict_proba" and not hasattr(model, "predict_proba"):
        raise ValueError(
            f"{info.label[0].upper()}{info.label[1:]} has no predict_proba (estimator {info.sidecar.get('estimator')});"
            " use --method predict, or train the model with probability estimates."
        )
    param_type = FeatureMatrixType(info.input_sample, info.feature_names, model_label=info.label)
    _scoring.update(model=model, info=info, method=method, param_type=param_type)


def run(mini_batch):
    """Score a DataFrame of rows, or every row of a list of files; one entry per input row (module docstring)."""
    if isinstance(mini_batch, pd.DataFrame):
        frame = mini_batch
    else:
        names = _scoring["info"].feature_names
        frames = [_by_name(read_frame(Path(p), names)) for p in mini_batch]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return score(frame)


def score(frame: pd.DataFrame):
    """Predictions for the rows of ``frame`` with the loaded model and method (what run() returns)."""
    model, method = _scoring["model"], _scoring["method"]
    features = to_features(frame)
    if hasattr(model, "feature_names_in_"):  # fitted on a DataFrame: keep scikit-learn's feature-name check exact
        features = pd.DataFrame(features, columns=model.feature_names_in_)
    if method == "predict":
        return model.predict(features)
    return pd.DataFrame(model.predict_proba(features), columns=[str(c) for c in model.classes_])


def to_features(frame: pd.DataFrame) -> np.ndarray:
    """``frame`` as the model's feature matrix: one numpy conversion when it is clean, else /score's conversion,
    whose ConversionError (a ValueError) names the first bad value by row and column."""
    info, param_type = _scoring["info"], _scoring["param_type"]
    frame = _by_name(frame)
    numeric = all(dtype.kind in "biuf" for dtype in frame.dtypes)
    if numeric and frame.shape[1] == info.n_features and len(frame):
        array = frame.to_numpy(dtype=info.input_dtype)
        if array.dtype.kind != "f" or np.isfinite(array).all():
            return array
    return to_array("data", frame.to_numpy(dtype=object).tolist(), param_type)


def _by_name(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's feature columns, in its order, when ``frame`` names them all; else ``frame`` (used by position)."""
    names = _scoring["info"].feature_names
    columns = list(map(str, frame.columns))
    if columns == names:
        return frame
    if names and set(names) <= set(columns):
        frame = frame.set_axis(columns, axis=1)
        return frame[names]
    return frame
