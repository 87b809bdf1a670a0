"""``/docs``: Swagger UI (flask-swagger-ui's bundled assets, so it works offline) on an OpenAPI 3 document of ours.

The document starts from /swagger.json?version=3 (byte-identical to the reference's, and kept so) and adds what the
reference's leaves out: the method choice, an HTTP bearer scheme (the Authorize button takes the bare key), and the
V2, KServe V1 and MLflow routes, each with the model's input_sample as its example, so "Try it out" -> "Execute"
scores it. The page and its document are not behind the key: a browser cannot send one before Authorize.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response
from flask_swagger_ui import get_swaggerui_blueprint

from service.protocols.scoring import METHODS, ServedModel
from service.protocols.v2 import MATRIX_INPUT

PAGE = "/docs"
DOCUMENT = "/docs/openapi.json"
_UI_CONFIG = {"app_name": "Try the model", "layout": "BaseLayout", "deepLinking": False, "displayRequestDuration": True}


def blueprints(model: ServedModel, reference_v3: bytes, service_name: str) -> list[Blueprint]:
    """The Swagger UI page and the route serving its document."""
    body = json.dumps(openapi_document(model, json.loads(reference_v3), service_name)).encode("utf-8")
    document = Blueprint("docs", __name__)
    document.add_url_rule(DOCUMENT, "openapi", lambda: Response(body, 200, mimetype="application/json"))
    page = get_swaggerui_blueprint(PAGE, "openapi.json", config=dict(_UI_CONFIG), blueprint_name="docs_page")
    return [document, page]


def openapi_document(model: ServedModel, reference: dict, service_name: str) -> dict:
    """The reference's OpenAPI 3 document, completed (see the module docstring)."""
    info = model.info
    sample = info.sidecar["input_sample"]
    label = f"model {model.name}" + (f" version {model.version}" if model.version else "")
    names = f": {', '.join(info.feature_names)}" if info.feature_names else ""
    document = dict(reference)
    document["info"] = {
        **reference.get("info", {}),
        "title": f"{service_name}: {label}",
        "description": (
            f"Scores {label} ({info.n_features} features{names}). "
            "The same rows give the same answers on every route: /score (Azure ML), the Open Inference Protocol V2, "
            "KServe V1 and MLflow's /invocations."
        ),
    }
    bearer = [{"Bearer": []}]
    document["security"] = bearer
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        "Bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The service key (SCORING_API_KEY), without 'Bearer '.",
        }
    }
    schemas = components.setdefault("schemas", {})
    service_input = schemas.get("ServiceInput")
    if isinstance(service_input, dict) and isinstance(service_input.get("properties"), dict):
        methods = list(METHODS if info.has_predict_proba else METHODS[:1])
        service_input["properties"]["method"] = {"type": "string", "enum": methods, "default": "predict"}
    paths = dict(document.get("paths", {}))
    for health in paths.get("/", {}).values():
        health["security"] = []  # open, as the key protects only scoring and model metadata
    version = f"/versions/{model.version}" if model.version else ""
    v2_request = {
        "id": "try-it",
        "inputs": [{"name": MATRIX_INPUT, "shape": [len(sample), info.n_features], "datatype": "FP64", "data": sample}],
    }
    paths[f"/v2/models/{model.name}{version}/infer"] = _post(
        "V2Infer",
        "Open Inference Protocol V2 inference (add parameters.method = predict_proba for probabilities).",
        v2_request,
        bearer,
    )
    paths[f"/v2/models/{model.name}"] = _get("V2ModelMetadata", "V2 model metadata: inputs and outputs.", bearer)
    paths[f"/v1/models/{model.name}:predict"] = _post(
        "KServeV1Predict", "KServe V1 prediction.", {"instances": sample}, bearer
    )
    columns = info.feature_names or [f"f{i}" for i in range(info.n_features)]
    paths["/invocations"] = _post(
        "MLflowInvocations",
        "MLflow scoring (dataframe_split, dataframe_records, instances, inputs; or text/csv).",
        {"dataframe_split": {"columns": columns, "data": sample}},
        bearer,
    )
    paths["/model"] = _get("ModelMetadata", "The served model's identity, provenance and input schema.", bearer)
    paths["/health/ready"] = _get("Ready", "200 once the model is loaded, 503 before.", [])
    document["paths"] = paths
    return document


def _post(operation: str, description: str, example: dict, security: list) -> dict:
    return {
        "post": {
            "operationId": operation,
            "description": description,
            "security": security,
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}, "example": example}}},
            "responses": {"200": {"description": "The model's answer."}, "default": {"description": "An error."}},
        }
    }


def _get(operation: str, description: str, security: list) -> dict:
    return {
        "get": {
            "operationId": operation,
            "description": description,
            "security": security,
            "responses": {"200": {"description": "OK"}, "default": {"description": "An error."}},
        }
    }
