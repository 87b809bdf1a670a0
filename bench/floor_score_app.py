"""The scoring floor: a bare Flask app whose /score parses the JSON body, converts it to a float64 matrix, predicts
and serialises the labels inline, with none of the service's hooks, ids, metrics, logs or entry-script contract.

It runs on the same gunicorn worker class as our service (bench/configs.py), so ours/this ratio is what the
service's own per-request work costs. The model directory comes from BENCH_MODEL_DIR and is loaded only after its
sha256 matches model.json. Run as ``BENCH_MODEL_DIR=... gunicorn -k service.worker.ScoringWorker
bench.floor_score_app:app``.
"""

import os
from pathlib import Path

import numpy as np
import orjson
from flask import Flask, Response, request

from bench.workloads import load_verified

app = Flask(__name__)
model = load_verified(Path(os.environ["BENCH_MODEL_DIR"]))


@app.get("/")
def healthy() -> str:
    return "Healthy"


@app.post("/score")
def score() -> Response:
    rows = np.asarray(orjson.loads(request.get_data())["data"], dtype=np.float64)
    body = orjson.dumps(model.predict(rows), option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, mimetype="application/json")
