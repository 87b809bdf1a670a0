"""Error rendering: every ServiceError (and any other exception raised while handling a request) as the reference's
JSON ``{"message", "request_id"}`` with the Azure run-function header.

Unrouted URLs (app-level 404/405) get the reference's bare JSON answer without request-id or CORS headers.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkExtension, InvalidChunkSize, ParseException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service import logs
from service.compat import AMLResponse
from service.errors import BadInput, HTTPStatusError, InternalError, PayloadTooLarge, ServiceError, escape_markup

logger = logging.getLogger("azmlinfsrv")
CLOSE_CONNECTION = "service.close_connection"
"""environ key set when the answer must end its connection (the request's framing or body cannot be trusted);
the HTTP server is told by this flag, as WSGI drops a Connection header given by the app."""
_CHUNK_ERRORS = (InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension)


def register(app: Flask) -> None:
    """Attach the error handlers to ``app``."""
    app.register_error_handler(ServiceError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ParseException, _unreadable_body)
    app.register_error_handler(Exception, _unexpected_error)


def log_request_id() -> str:
    """This request's id as log lines may quote it: control characters escaped, "-" when there is none."""
    return logs.escape_controls(g.get("request_id") or "-")


def error_response(error: ServiceError) -> Response:
    """``error`` as ``{"message", "request_id"}`` with its status and headers."""
    body = {"message": error.message, "request_id": body_request_id(g.get("request_id"))}
    response = AMLResponse(body, error.status, json_str=True, run_function_failed=error.run_function_failed)
    for name, value in error.headers.items():
        if name == "Connection":
            request.environ[CLOSE_CONNECTION] = True
        response.headers[name] = value
    return response


def body_request_id(request_id: str | None) -> str | None:
    """The request id as an error body carries it: the client's x-request-id with its markup escaped, as a body never
    holds client text a browser could read as markup (the x-request-id header echo keeps it as sent)."""
    return None if request_id is None else escape_markup(request_id)


def payload_too_large(length: int | None, limit: int) -> PayloadTooLarge:
    """The 413 for a body of ``length`` bytes (None: chunked) over ``limit``, which also ends the connection."""
    size = f"of {length} bytes " if length is not None else ""
    # Closing the connection stops a client that keeps sending; the server would otherwise read the rest.
    return PayloadTooLarge(
        f"Request body {size}exceeds the limit of {limit} bytes (MAX_REQUEST_BODY_BYTES).",
        headers={"Connection": "close"},
    )


def _http_error(error: HTTPException) -> Response:
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.extensions["scoring"].settings.max_body_bytes
        return error_response(payload_too_large(request.content_length, limit))
    if request.url_rule is None:
        # App-level 404/405: the reference's body, without the request-id/version/CORS headers.
        return AMLResponse({"message": error.description}, error.code or 500, json_str=True)
    return error_response(HTTPStatusError(error.code or 500, error.description or error.name))


def _unreadable_body(error: ParseException) -> Response:
    # gunicorn parses a chunked body only as the app reads it. The rest of the stream cannot be trusted, so close.
    what = "chunked transfer encoding" if isinstance(error, _CHUNK_ERRORS) else "HTTP framing"
    logger.warning("Unreadable request body: %s (request_id=%s)", type(error).__name__, log_request_id())
    return error_response(
        BadInput(f"The request body could not be read: its {what} is malformed.", headers={"Connection": "close"})
    )


def _unexpected_error(error: Exception) -> Response:
    logger.exception("Unexpected error (request_id=%s)", log_request_id())
    return error_response(InternalError())
