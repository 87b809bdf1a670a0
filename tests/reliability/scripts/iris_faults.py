"""Azure-style iris entry script with fault switches for the reliability suite.

``{"data": [[...]]}`` scores like tests/service/scripts/iris_score.py. Extra body keys make run() misbehave, each
bounded in time so a test can never hang: ``"delay_s": x`` sleeps x s (at most 10) before scoring; ``"hang":
"python"`` spins in a pure-Python loop and ``"hang": "sleep"`` blocks in one C-level sleep, both for at most
``HANG_LIMIT_S`` seconds, then answer "hang ended".
"""

import os
import time
from pathlib import Path

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

from service.model_dir import load_model

HANG_LIMIT_S = 8.0
model = None


def init():
    global model
    model, _ = load_model(Path(os.environ["AZUREML_MODEL_DIR"]))


@input_schema("data", NumpyParameterType(np.array([[5.1, 3.5, 1.4, 0.2]])))
@output_schema(NumpyParameterType(np.array([0])))
def run(data, delay_s=0.0, hang=""):
    if hang == "python":
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline:
            pass
        return "hang ended"
    if hang == "sleep":
        time.sleep(HANG_LIMIT_S)
        return "hang ended"
    time.sleep(min(float(delay_s), 10.0))
    return model.predict(data).tolist()
