"""Azure-style entry script for the predict_proba workload: like tests/service/scripts/iris_score.py, but run()
returns class probabilities. It runs in the reference server's venv too: both servers start in the repository root,
their AML_APP_ROOT, which they put on sys.path, so the shared model_format module (stdlib and numpy only) checks the
model directory and its sha256 before anything is unpickled."""

import os

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

import model_format

model = None


def init():
    global model
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    model = model_format.load(model_dir, model_format.read_sidecar(model_dir))


@input_schema("data", NumpyParameterType(np.array([[5.1, 3.5, 1.4, 0.2]])))
@output_schema(NumpyParameterType(np.array([[0.97, 0.02, 0.01]])))
def run(data):
    return model.predict_proba(data).tolist()
