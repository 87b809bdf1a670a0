"""The per-request pipeline around every view: request ids (and 431), auth, body limit, readiness, then response
headers (ids, server version, CORS), metrics and the access line; and the error handlers rendering
{"message", "request_id"}.

Unrouted URLs (app-level 404/405) get the reference's bare JSON answer without request-id or CORS headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Flask, Response, current_app, g, request
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkExtension, InvalidChunkSize, ParseException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service import auth, cors, logs
from service.compat import AMLResponse
from service.errors import (
    BadInput,
    HeaderTooLong,
    HTTPStatusError,
    InternalError,
    PayloadTooLarge,
    ServiceError,
)

logger = logging.getLogger("azmlinfsrv")
ID_HEADER_LIMIT = 100
_CHUNK_ERRORS = (InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension)


def register(app: Flask) -> None:
    """Attach the request hooks and the error handlers to ``app``."""
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    app.register_error_handler(ServiceError, _error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ParseException, _unreadable_body)
    app.register_error_handler(Exception, _unexpected_error)


def current_scoring():
    """The service.app.Scoring of the app handling this request."""
    return current_app.extensions["scoring"]


def log_request_id() -> str:
    """This request's id as log lines may quote it: control characters escaped, "-" when there is none."""
    return logs.escape_controls(g.get("request_id") or "-")


def _before_request() -> None:
    g.started = time.perf_counter()
    g.request_id = g.legacy_request_id = g.client_request_id = None
    scoring = current_scoring()
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
    scoring = current_scoring()
    # One proxy lookup each for the many reads below.
    req, state = request._get_current_object(), g._get_current_object()
    rule, request_id = req.url_rule, state.request_id
    if rule is not None:
        headers, settings = response.headers, scoring.settings
        if settings.server_version_header:
            headers["x-ms-server-version"] = settings.server_version_header
        if request_id:
            headers["x-request-id"] = request_id
        if state.legacy_request_id:
            headers["x-ms-request-id"] = state.legacy_request_id
        if state.client_request_id:
            headers["x-ms-client-request-id"] = state.client_request_id
        trace_id = req.headers.get("TraceId")
        if trace_id is not None:
            headers["TraceId"] = trace_id
        cors.add_cors_headers(req, response, settings.cors_origins)
        if 400 <= response.status_code < 500 and request_id:
            _add_request_id(response, request_id)
    seconds = time.perf_counter() - state.started
    scoring.metrics.observe(rule.rule if rule is not None else "(unmatched)", req.method, response.status_code, seconds)
    path = req.full_path if req.query_string else req.path
    logs.log_access(req.method, path, response.status_code, seconds * 1000, request_id)
    return response


def _add_request_id(response: Response, request_id: str) -> None:
    """Give a script's JSON ``{"message"}`` 4xx (e.g. the no-code script's bad "method") the request id our own
    error bodies carry, so every 4xx of a routed request can be traced the same way."""
    if response.mimetype != "application/json" or response.is_streamed or (response.content_length or 0) > 65536:
        return
    try:
        document = json.loads(response.get_data())
    except ValueError:
        return
    if isinstance(document, dict) and isinstance(document.get("message"), str) and "request_id" not in document:
        response.set_data(json.dumps({**document, "request_id": request_id}))


def _teardown_request(_exc: BaseException | None) -> None:
    if g.pop("in_flight", False):
        current_scoring().metrics.in_flight.dec()


# --- errors ----------------------------------------------------------------------------------------------------------


def _error_response(error: ServiceError) -> Response:
    body = {"message": error.message, "request_id": g.get("request_id")}
    response = AMLResponse(body, error.status, json_str=True, run_function_failed=error.run_function_failed)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _too_large(length: int | None) -> PayloadTooLarge:
    limit = current_scoring().settings.max_body_bytes
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
    return _error_response(HTTPStatusError(error.code or 500, error.description or error.name))


def _unreadable_body(error: ParseException) -> Response:
    # gunicorn parses a chunked body only as the app reads it. The rest of the stream cannot be trusted, so close.
    what = "chunked transfer encoding" if isinstance(error, _CHUNK_ERRORS) else "HTTP framing"
    logger.warning("Unreadable request body: %s (request_id=%s)", type(error).__name__, log_request_id())
    return _error_response(
        BadInput(f"The request body could not be read: its {what} is malformed.", headers={"Connection": "close"})
    )


def _unexpected_error(error: Exception) -> Response:
    logger.exception("Unexpected error (request_id=%s)", log_request_id())
    return _error_response(InternalError())
