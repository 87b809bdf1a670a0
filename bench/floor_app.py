"""The HTTP floor: a bare Flask app under gunicorn whose /score reads the body and returns a constant, so its
throughput is what the HTTP stack alone allows. Run as ``gunicorn bench.floor_app:app``."""

from flask import Flask, Response, request

app = Flask(__name__)


@app.get("/")
def healthy() -> str:
    return "Healthy"


@app.post("/score")
def score() -> Response:
    request.get_data()
    return Response(b"[0]", mimetype="application/json")
