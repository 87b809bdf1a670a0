"""Azure-style entry script for the predict_proba workload: like tests/service/scripts/iris_score.py, but run()
returns class probabilities. Self-contained (it also runs in the reference server's venv), so it checks the model's
sha256 itself before unpickling."""

import hashlib
import json
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

model = None


def init():
    global model
    model_dir = os.environ["AZUREML_MODEL_DIR"]
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        sidecar = json.load(f)
    path = os.path.join(model_dir, sidecar["model_file"])
    with open(path, "rb") as f:
        actual = hashlib.sha256(f.read()).hexdigest()
    if actual != sidecar["sha256"]:
        raise ValueError(f"{path} has sha256 {actual}, but model.json expects {sidecar['sha256']}")
    model = joblib.load(path)


@input_schema("data", NumpyParameterType(np.array([[5.1, 3.5, 1.4, 0.2]])))
@output_schema(NumpyParameterType(np.array([[0.97, 0.02, 0.01]])))
def run(data):
    return model.predict_proba(data).tolist()
