"""The no-code entry script: serves the model directory in ``AZUREML_MODEL_DIR`` with predict or predict_proba.

Like Azure ML's no-code scikit-learn deployment: ``{"data": [[...], ...], "method": "predict" | "predict_proba"}``,
or records with the model's feature names as ``data``. The inference-schema sample comes from model.json, so the
swagger documents describe this model exactly. It runs unchanged under this service and under
azureml-inference-server-http (with the repository on ``PYTHONPATH`` so that ``service.*`` imports).
"""

import os
from pathlib import Path

import numpy as np
from azureml.contrib.services.aml_response import AMLResponse
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

from service.conversion import FeatureMatrixType
from service.errors import quote
from service.model_dir import ModelDirError, ModelInfo, load_model, read_model_info, resolve_model_dir
from service.settings import environment_trusted_types

METHODS = ("predict", "predict_proba")


def _read_info() -> ModelInfo:
    value = os.environ.get("AZUREML_MODEL_DIR")
    if not value:
        raise ModelDirError(
            "AZUREML_MODEL_DIR is not set, but the no-code entry script needs a model directory: pass --model_dir "
            "or set AZUREML_MODEL_DIR."
        )
    return read_model_info(resolve_model_dir(Path(value)))


def _output_type(info: ModelInfo):
    sample = info.sidecar.get("output_sample")
    if isinstance(sample, list) and sample:
        return NumpyParameterType(np.asarray(sample))
    return StandardPythonParameterType([])


# The Azure entry-script contract forces module state: the decorators below need the schema sample at import time,
# and init() hands the model to run() through a global.
_info = _read_info()
model = None


def init():
    """Load the model, after checking its sha256 against model.json (raises ModelDirError on mismatch) and a skops
    file's types against model.json and MODEL_TRUSTED_TYPES (read here: entry scripts get no Settings)."""
    global model
    model, _ = load_model(_info.path, trusted_types=environment_trusted_types())


@input_schema("data", FeatureMatrixType(_info.input_sample, _info.feature_names, model_label=_info.label))
@input_schema("method", StandardPythonParameterType("predict"))
@output_schema(_output_type(_info))
def run(data, method="predict"):
    """``predict`` → a list of labels; ``predict_proba`` → ``{"classes": [...], "probabilities": [[...], ...]}``.

    An unknown method, or predict_proba on a model without it, is answered with 400 and a message.
    """
    if method not in METHODS:
        return _bad_request(
            f'Input "method" is {quote(str(method))}, but {_info.label} supports only: {", ".join(METHODS)}.'
        )
    if method == "predict_proba" and not hasattr(model, "predict_proba"):
        label, estimator = _info.label, _info.sidecar.get("estimator")
        return _bad_request(
            f"{label[0].upper()}{label[1:]} has no predict_proba (estimator {estimator}); "
            'use "method": "predict", or train the model with probability estimates.'
        )
    if hasattr(model, "feature_names_in_"):  # fitted on a DataFrame: keep sklearn's feature-name check quiet and exact
        import pandas as pd

        data = pd.DataFrame(data, columns=model.feature_names_in_)
    if method == "predict":
        return model.predict(data).tolist()
    return {"classes": model.classes_.tolist(), "probabilities": model.predict_proba(data).tolist()}


def _bad_request(message: str) -> AMLResponse:
    return AMLResponse({"message": message}, 400, json_str=True)
