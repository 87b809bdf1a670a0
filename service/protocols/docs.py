"""``/docs``: Swagger UI (flask-swagger-ui's bundled assets, so it works offline) on an OpenAPI 3 document of ours.

The document starts from /swagger.json?version=3 (byte-identical to the reference's, and kept so) and adds what the
reference's leaves out: the method choice, an HTTP bearer scheme (the Authorize button takes the bare key), and the
V2, KServe V1 and MLflow routes, each with the model's input_sample as its example, so "Try it out" -> "Execute"
scores it.

With SCORING_API_KEY set, that document is behind the key like /swagger.json and /model: it holds the model's name,
version, feature names and input_sample rows. The page itself stays open (a browser cannot send a key before
Authorize), so the document route answers a request without the key with an outline (the bearer scheme and the open
health routes, nothing of the model), and the page fetches the full document again with the key after Authorize
(docs.html). flask-swagger-ui's own page cannot do that: its configuration is JSON, with no place for the
requestInterceptor and the plugin this needs, so only its bundled assets are used.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

from service.protocols.scoring import METHODS, ServedModel, presents_service_key
from service.protocols.v2 import MATRIX_INPUT

PAGE = "/docs"
_ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
_PAGE_HTML = resources.files(__package__).joinpath("docs.html").read_bytes()
_BEARER = [{"Bearer": []}]
_BEARER_SCHEME = {
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The service key (SCORING_API_KEY), without 'Bearer '.",
    }
}


def blueprint(model: ServedModel, reference_v3: bytes, service_name: str) -> Blueprint:
    """The Swagger UI page, its assets and the route serving its document."""
    full = openapi_document(model, json.loads(reference_v3), service_name)
    full_body = json.dumps(full).encode("utf-8")
    outline_body = json.dumps(outline_document(full, service_name)).encode("utf-8")

    def document() -> Response:
        keyed = presents_service_key()
        response = Response(full_body if keyed else outline_body, 200, mimetype="application/json")
        response.headers["Vary"] = "Authorization"
        response.headers["Cache-Control"] = "no-store"
        return response

    def page() -> Response:
        return Response(_PAGE_HTML, 200, mimetype="text/html")

    def asset(path: str) -> Response:
        return send_from_directory(_ASSETS, path)

    bp = Blueprint("docs", __name__, url_prefix=PAGE)
    bp.add_url_rule("/openapi.json", "openapi", document, methods=["GET"])
    bp.add_url_rule("/", "page", page, methods=["GET"])
    bp.add_url_rule("/<path:path>", "asset", asset, methods=["GET"])
    return bp


def outline_document(full: dict, service_name: str) -> dict:
    """What the document route answers without the key when one is configured: the OpenAPI version, the bearer scheme
    (so the page shows Authorize) and the open health routes; no model name, version, feature names or examples."""
    open_paths = {
        path: item
        for path, item in full["paths"].items()
        if all(operation.get("security") == [] for operation in item.values())
    }
    schemas = full.get("components", {}).get("schemas", {})
    return {
        "openapi": full["openapi"],
        "info": {
            "title": service_name,
            "version": full.get("info", {}).get("version", ""),
            "description": "Authorize with the service key to load the model's routes and their examples.",
        },
        "security": _BEARER,
        "paths": open_paths,
        "components": {
            "securitySchemes": _BEARER_SCHEME,
            "schemas": {name: schema for name, schema in schemas.items() if name == "ErrorResponse"},
        },
    }


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
    bearer = _BEARER
    document["security"] = bearer
    components = document.setdefault("components", {})
    components["securitySchemes"] = _BEARER_SCHEME
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
