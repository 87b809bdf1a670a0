"""Swagger 2 / OpenAPI 3.0 / 3.1 documents for /swagger.json, built once from run()'s inference-schema decorators.

The documents are byte-equal to azureml-inference-server-http 1.5.1's (same structure, same key order, stdlib
``json.dumps`` spacing), including its SERVICE_NAME / SERVICE_VERSION / SERVICE_PATH_PREFIX substitutions and the
user overrides ``swagger.json`` / ``swagger2.json`` / ``swagger3.json`` / ``swagger3.1.json`` in AML_APP_ROOT.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from service.errors import NotFound, cap, escape_markup

logger = logging.getLogger("azmlinfsrv.swagger")

# version -> (aliases accepted in ?version=, user override files in AML_APP_ROOT, inference-schema version name)
_VERSIONS = {
    "2": (("2", "2.0"), ("swagger.json", "swagger2.json"), "2.0"),
    "3": (("3", "3.0"), ("swagger3.json",), "3.0"),
    "3.1": (("3.1",), ("swagger3.1.json",), "3.1"),
}
_ALIASES = frozenset(alias for aliases, _, _ in _VERSIONS.values() for alias in aliases)
_UNDECORATED_SCHEMA = {"type": "object", "example": {}}
_HEALTH_DESCRIPTION = "Simple health check endpoint to ensure the service is up at any given point."
_HEALTH_OK = "If service is up and running, this response will be returned with the content 'Healthy'"
_FAILED = "The service failed to execute due to an error."
_SCORE_DESCRIPTION = "Run web service's model and get the prediction output"
_SCORE_INPUT = "The input payload for executing the real-time machine learning service."
_SCORE_OK = "The service processed the input correctly and provided a result prediction, if applicable."
_BEARER = {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
_ERROR_SCHEMA = {"type": "object", "properties": {"message": {"type": "string"}}}


class SwaggerDocuments:
    """The serialised documents of one entry script, keyed by every accepted ``?version=`` value."""

    def __init__(self, documents: dict[str, bytes], supported: list[str]) -> None:
        self._documents = documents
        self.supported = supported

    def get(self, version: str) -> bytes:
        """The document for ``version`` (default "2" is the caller's job).

        Raises
        ------
        NotFound
            The version is unknown, or the script's schema cannot be expressed in it (swagger 2 needs homogeneous
            example arrays); the message lists the supported versions, as the reference's 404 does.
        """
        document = self._documents.get(version)
        if document is not None:
            return document
        supported = ", ".join(sorted(self.supported))
        # The reference quotes the value whole; a long one is cut so the answer never echoes large client input.
        shown = escape_markup(cap(version))
        if version not in _ALIASES:
            raise NotFound(f"Swagger version [{shown}] is not valid. Supported versions: [{supported}].")
        raise NotFound(
            f"Swagger version [{shown}] is not supported for the scoring script. "
            f"Supported swagger versions: [{supported}]."
        )


def build_documents(run: Callable, *, app_root: Path, title: str, version: str, path_prefix: str) -> SwaggerDocuments:
    """Build every swagger document run() supports, preferring the user's override files in ``app_root``."""
    from inference_schema.schema_util import (
        get_input_schema,
        get_output_schema,
        get_supported_versions,
        is_schema_decorated,
    )

    decorated = is_schema_decorated(run)
    input_schema = get_input_schema(run) if decorated else _UNDECORATED_SCHEMA
    output_schema = get_output_schema(run) if decorated else _UNDECORATED_SCHEMA
    run_versions = get_supported_versions(run)
    prefix = f"/{path_prefix.strip('/')}" if path_prefix else ""
    documents: dict[str, bytes] = {}
    supported: list[str] = []
    for name, (aliases, override_files, schema_version) in _VERSIONS.items():
        document = _read_override(app_root, override_files)
        if document is None and schema_version in run_versions:
            build = _swagger2 if name == "2" else _openapi3
            document = build(title, version, prefix, input_schema, output_schema)
            if name == "3.1":
                document["openapi"] = "3.1.0"
        if document is None:
            continue
        body = json.dumps(document).encode("utf-8")
        documents.update(dict.fromkeys(aliases, body))
        supported.append(name)
    logger.info("Swaggers are prepared for the following versions: [%s].", ", ".join(sorted(supported)))
    return SwaggerDocuments(documents, supported)


def _read_override(app_root: Path, names: tuple[str, ...]) -> dict | None:
    for name in names:
        path = app_root / name
        if path.is_file():
            logger.info("Loaded user's swagger file from %s", path)
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def _info(title: str, version: str) -> dict:
    return {
        "title": title,
        "description": f"API specification for the Azure Machine Learning service {title}",
        "version": version,
    }


def _swagger2(title: str, version: str, prefix: str, input_schema: object, output_schema: object) -> dict:
    error = {"description": _FAILED, "schema": {"$ref": "#/definitions/ErrorResponse"}}
    return {
        "swagger": "2.0",
        "info": _info(title, version),
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": dict(_BEARER)},
        "paths": {
            f"{prefix}/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH_DESCRIPTION,
                    "responses": {
                        "200": {
                            "description": _HEALTH_OK,
                            "schema": {"type": "string"},
                            "examples": {"application/json": "Healthy"},
                        },
                        "default": error,
                    },
                }
            },
            f"{prefix}/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE_DESCRIPTION,
                    "security": [{"Bearer": []}],
                    "parameters": [
                        {
                            "name": "serviceInputPayload",
                            "in": "body",
                            "description": _SCORE_INPUT,
                            "schema": {"$ref": "#/definitions/ServiceInput"},
                        }
                    ],
                    "responses": {
                        "200": {"description": _SCORE_OK, "schema": {"$ref": "#/definitions/ServiceOutput"}},
                        "default": error,
                    },
                }
            },
            f"{prefix}/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {"name": "version", "in": "query", "required": False, "type": "integer", "enum": [2, 3]}
                    ],
                    "responses": {
                        "200": {"description": "The Swagger specification.", "schema": {"type": "string"}},
                        "default": error,
                    },
                }
            },
        },
        "definitions": {
            "ServiceInput": input_schema,
            "ServiceOutput": output_schema,
            "ErrorResponse": _ERROR_SCHEMA,
        },
    }


def _openapi3(title: str, version: str, prefix: str, input_schema: object, output_schema: object) -> dict:
    def json_content(ref: str) -> dict:
        return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}

    error = {"description": _FAILED, "content": json_content("ErrorResponse")}
    return {
        "openapi": "3.0.3",
        "info": _info(title, version),
        "security": [{"Bearer": []}],
        "paths": {
            f"{prefix}/": {
                "get": {
                    "operationId": "ServiceHealthCheck",
                    "description": _HEALTH_DESCRIPTION,
                    "responses": {
                        "200": {
                            "description": _HEALTH_OK,
                            "content": {"text/plain": {"schema": {"type": "string", "example": "Healthy"}}},
                        },
                        "default": error,
                    },
                }
            },
            f"{prefix}/score": {
                "post": {
                    "operationId": "RunMLService",
                    "description": _SCORE_DESCRIPTION,
                    "security": [{"Bearer": []}],
                    "requestBody": {"description": _SCORE_INPUT, "content": json_content("ServiceInput")},
                    "responses": {
                        "200": {"description": _SCORE_OK, "content": json_content("ServiceOutput")},
                        "default": error,
                    },
                }
            },
            f"{prefix}/swagger.json": {
                "get": {
                    "operationId": "GetSwaggerSpec",
                    "description": "Get the Swagger specification.",
                    "parameters": [
                        {
                            "name": "version",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "enum": [2, 3]},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The Swagger specification.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "default": error,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "ServiceInput": input_schema,
                "ServiceOutput": output_schema,
                "ErrorResponse": _ERROR_SCHEMA,
            },
            "securitySchemes": {"Bearer": dict(_BEARER)},
        },
    }
