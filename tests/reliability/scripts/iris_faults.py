"""Azure-style iris entry script with fault switches for the reliability suite.

``{"data": [[...]]}`` scores like tests/service/scripts/iris_score.py. Extra body keys make run() misbehave, each
bounded in time so a test can never hang: ``"delay_s": x`` sleeps x s (at most 10) before scoring; ``"hang":
"python"`` spins in a pure-Python loop for at most ``HANG_LIMIT_S`` seconds; ``"hang": "blocked"`` blocks in one
C-level call (select() on the FIFO named by ``HANG_RELEASE_FIFO``) until the test writes a byte to that FIFO, at most
``BLOCKED_LIMIT_S`` seconds. Both then answer "hang ended". ``"started": path`` creates the file at path first (the
call has started), so a test can act while it is surely in run().
"""

import os
import select
import time
from pathlib import Path

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

from service.model_dir import load_model

HANG_LIMIT_S = 8.0
BLOCKED_LIMIT_S = 120.0
model = None


def init():
    global model
    model, _ = load_model(Path(os.environ["AZUREML_MODEL_DIR"]))


@input_schema("data", NumpyParameterType(np.array([[5.1, 3.5, 1.4, 0.2]])))
@output_schema(NumpyParameterType(np.array([0])))
def run(data, delay_s=0.0, hang="", started=""):
    if started:
        Path(started).touch()
    if hang == "python":
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline:
            pass
        return "hang ended"
    if hang == "blocked":
        # Read-write, so the FIFO always has a writer: select() waits for the test's byte, not for an EOF.
        fifo = os.open(os.environ["HANG_RELEASE_FIFO"], os.O_RDWR)
        try:
            select.select([fifo], [], [], BLOCKED_LIMIT_S)
        finally:
            os.close(fifo)
        return "hang ended"
    time.sleep(min(float(delay_s), 10.0))
    return model.predict(data).tolist()
