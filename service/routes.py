"""Routes and the per-request pipeline: request ids, auth, body limit, readiness, then parse -> run -> render.

Azure routes (``/``, ``/score``, ``/swagger.json``) behave as the reference's; ours are ``/health/live``,
``/health/ready``, ``/metrics`` and ``/model``. Unrouted URLs (app-level 404/405) get the reference's bare JSON
answer without request-id or CORS headers.
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service import auth, cors, inputs, logs
from service.compat import AMLResponse
from service.entry_script import InputStyle
from service.errors import (
    HeaderTooLong,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RunFailed,
    ScoringTimeout,
    ServiceError,
)
from service.responses import dumps

logger = logging.getLogger("service")
ID_HEADER_LIMIT = 100


def register(app: Flask) -> None:
    """Attach the views, the request hooks and the error handlers to ``app``."""
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.add_url_rule("/", "health", _health, methods=["GET"])
    app.add_url_rule("/score", "score", _score, methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
    app.add_url_rule("/swagger.json", "swagger", _swagger, methods=["GET"])
    app.add_url_rule("/health/live", "live", _live, methods=["GET"])
    app.add_url_rule("/health/ready", "ready", _ready, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])
    app.add_url_rule("/model", "model", _model, methods=["GET"])


def _scoring():
    return current_app.extensions["scoring"]


# --- views -----------------------------------------------------------------------------------------------------------


def _health() -> str:
    return "Healthy"


def _score() -> Response:
    runner = _scoring().runner
    if request.method in ("OPTIONS", "HEAD") and runner.script.style is not InputStyle.RAW:
        if request.method == "OPTIONS":
            return AMLResponse("", 200)
        raise MethodNotAllowed("Method not allowed")
    arguments = inputs.run_arguments(request, runner.script)
    try:
        output, elapsed_ms = runner.run(arguments, request.headers)
    except ScoringTimeout:
        logger.error("run() exceeded SCORING_TIMEOUT_MS=%d (request_id=%s)", runner.timeout_ms, g.request_id)
        raise
    except BaseException:
        # run() runs in another thread, so even SystemExit there is only this request's failure.
        logger.exception("run() raised an exception (request_id=%s)", g.request_id)
        raise RunFailed() from None
    response = _render_output(output)
    response.headers["x-ms-run-fn-exec-ms"] = f"{elapsed_ms:.3f}"
    return response


def _render_output(output: object) -> Response:
    if isinstance(output, Response):
        if output.status_code >= 500:
            output.headers["x-ms-run-function-failed"] = "True"
        return output
    try:
        body = b"{}" if output is None else dumps(output)
    except TypeError:
        logger.exception("run() returned a value with no JSON form (request_id=%s)", g.request_id)
        raise InternalError() from None
    response = Response(body, 200, mimetype="application/json")
    response.headers["x-ms-run-function-failed"] = "False"
    return response


def _swagger() -> Response:
    body = _scoring().swagger.get(request.args.get("version", "2"))
    response = Response(body, 200, mimetype="application/json")
    response.headers["x-ms-run-function-failed"] = "False"
    return response


def _live() -> Response:
    return Response(b'{"status":"alive"}', 200, mimetype="application/json")


def _ready() -> Response:
    _scoring().runner.check_ready()
    return Response(b'{"status":"ready"}', 200, mimetype="application/json")


def _metrics() -> Response:
    from service.metrics import CONTENT_TYPE

    return Response(_scoring().metrics.render(), 200, content_type=CONTENT_TYPE)


def _model() -> Response:
    info = _scoring().model_info
    if info is None:
        raise NotFound(
            "No model metadata: the model directory (AZUREML_MODEL_DIR / --model_dir) is not set, holds no "
            "model.json, or holds several models."
        )
    from service.model_dir import describe

    return Response(dumps(describe(info)), 200, mimetype="application/json")


# --- request pipeline ------------------------------------------------------------------------------------------------


def _before_request() -> None:
    g.started = time.perf_counter()
    g.request_id = g.legacy_request_id = g.client_request_id = None
    scoring = _scoring()
    scoring.metrics.in_flight.inc()
    g.in_flight = True
    if request.url_rule is None:
        return
    _read_request_ids()
    settings = scoring.settings
    if settings.api_key and request.endpoint in auth.PROTECTED_ENDPOINTS and request.method != "OPTIONS":
        auth.check_bearer_key(request.headers.get("Authorization"), settings.api_key)
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise _too_large(request.content_length)
    if request.content_length is None and request.method == "POST" and request.endpoint == "score":
        # A chunked body is cut at the limit by werkzeug without an error; reading past it raises the 413.
        if len(request.get_data()) >= settings.max_body_bytes:
            request.stream.read(1)
    if request.endpoint == "score":
        scoring.runner.wait_until_ready()
    elif request.endpoint == "health":
        scoring.runner.check_ready()


def _read_request_ids() -> None:
    """The reference's id rules: x-request-id (or a new uuid4), x-ms-request-id / x-ms-client-request-id echoes."""
    headers = request.headers
    request_id = headers.get("x-request-id") or str(uuid.uuid4())
    if len(request_id) > ID_HEADER_LIMIT:
        raise HeaderTooLong(f"x-request-id must not exceed {ID_HEADER_LIMIT} characters")
    g.request_id = request_id
    legacy = headers.get("x-ms-request-id", "")
    client = headers.get("x-ms-client-request-id", "")
    if legacy:
        logger.warning(
            "x-ms-request-id header has been deprecated and will be removed from future versions of the server. "
            "Please use x-ms-client-request-id."
        )
        client = client or legacy
    else:
        legacy = client or request_id
    if len(legacy) > ID_HEADER_LIMIT or len(client) > ID_HEADER_LIMIT:
        raise HeaderTooLong(f"x-ms-request-id and x-ms-client-request-id must not exceed {ID_HEADER_LIMIT} characters")
    g.legacy_request_id, g.client_request_id = legacy, client


def _after_request(response: Response) -> Response:
    scoring = _scoring()
    if request.url_rule is not None:
        if scoring.settings.server_version_header:
            response.headers["x-ms-server-version"] = scoring.settings.server_version_header
        if g.request_id:
            response.headers["x-request-id"] = g.request_id
        if g.legacy_request_id:
            response.headers["x-ms-request-id"] = g.legacy_request_id
        if g.client_request_id:
            response.headers["x-ms-client-request-id"] = g.client_request_id
        if "TraceId" in request.headers:
            response.headers["TraceId"] = request.headers["TraceId"]
        cors.add_cors_headers(request, response, scoring.settings.cors_origins)
    seconds = time.perf_counter() - g.started
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    scoring.metrics.observe(route, request.method, response.status_code, seconds)
    path = request.full_path if request.query_string else request.path
    logs.log_access(request.method, path, response.status_code, seconds * 1000, g.request_id)
    return response


def _teardown_request(_exc: BaseException | None) -> None:
    if g.pop("in_flight", False):
        _scoring().metrics.in_flight.dec()


# --- errors ----------------------------------------------------------------------------------------------------------


def _error_response(error: ServiceError) -> Response:
    body = {"message": error.message, "request_id": g.get("request_id")}
    response = AMLResponse(body, error.status, json_str=True, run_function_failed=error.run_function_failed)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _service_error(error: ServiceError) -> Response:
    return _error_response(error)


def _too_large(length: int | None) -> PayloadTooLarge:
    limit = _scoring().settings.max_body_bytes
    size = f"of {length} bytes " if length is not None else ""
    # Closing the connection stops a client that keeps sending; gunicorn would otherwise read the rest.
    return PayloadTooLarge(
        f"Request body {size}exceeds the limit of {limit} bytes (MAX_REQUEST_BODY_BYTES).",
        headers={"Connection": "close"},
    )


def _http_error(error: HTTPException) -> Response:
    if isinstance(error, RequestEntityTooLarge):
        return _error_response(_too_large(request.content_length))
    if request.url_rule is None:
        # App-level 404/405: the reference's body, without the request-id/version/CORS headers.
        return AMLResponse({"message": error.description}, error.code or 500, json_str=True)
    return _error_response(_StatusError(error.code or 500, error.description or error.name))


class _StatusError(ServiceError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _unexpected_error(error: Exception) -> Response:
    logger.exception("Unexpected error (request_id=%s)", g.get("request_id"))
    return _error_response(InternalError())
