"""KServe's V1 protocol (TF-Serving style), as KServe's sklearn server answers it, for the served model.

``POST /v1/models/{name}:predict`` with ``{"instances": [...]}`` (or ``"inputs"``; rows, or records with the
feature names) answers ``{"predictions": [...]}``; ``:predict_proba`` answers the probability rows, as KServe's
sklearn server does with PREDICT_PROBA=true. Errors are ``{"error": "..."}``, not-ready models 503.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from service.errors import BadInput
from service.inputs import parse_json_body
from service.pipeline import current_scoring
from service.protocols.scoring import (
    ServedModel,
    json_response,
    predict,
    render_errors,
    to_rows,
)


def blueprint(model: ServedModel) -> Blueprint:
    """The ``/v1/models`` routes for ``model``."""
    bp = Blueprint("kserve_v1", __name__, url_prefix="/v1/models")

    def models() -> Response:
        return json_response({"models": [model.name]})

    def model_ready(name: str) -> Response:
        model.check(name)
        current_scoring().runner.check_ready()  # NotReady: 503, as KServe answers a model that is not ready
        return json_response({"name": model.name, "ready": True})

    def infer(name: str, method: str) -> Response:
        model.check(name)
        document = parse_json_body(request.get_data())
        key = next((k for k in ("instances", "inputs") if isinstance(document, dict) and k in document), None)
        if key is None:
            raise BadInput('A V1 predict request is a JSON object with "instances" (or "inputs"): a list of rows.')
        output = predict(to_rows(key, document[key], model), method)
        return json_response({"predictions": output if method == "predict" else output["probabilities"]})

    bp.add_url_rule("", "models", models, methods=["GET"])
    bp.add_url_rule("/<name>", "model_ready", model_ready, methods=["GET"])
    bp.add_url_rule("/<name>:predict", "predict", infer, methods=["POST"], defaults={"method": "predict"})
    bp.add_url_rule(
        "/<name>:predict_proba", "predict_proba", infer, methods=["POST"], defaults={"method": "predict_proba"}
    )
    render_errors(bp)
    return bp
