"""The request hooks around every view: request ids (and 431), auth, body limit, readiness, then response headers
(ids, server version, CORS), metrics and the access line. Errors are rendered by error_handlers.py.

The HTTP server may hand a request in with ``environ[REJECT]`` set to a ServiceError: it is answered with that error
after the request ids are read, so a 413 decided before the body arrived, or the 504 of a run() blocked in C code,
carries the same headers, access line and metrics as any other answer.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import NamedTuple

from flask import Flask, Response, current_app, g, request

from service import auth, cors, error_handlers, logs
from service.error_handlers import body_request_id, log_request_id, payload_too_large
from service.errors import HeaderTooLong

logger = logging.getLogger("azmlinfsrv")
ID_HEADER_LIMIT = 100
REJECT = "service.reject"
"""environ key: a ServiceError the server decided on before the app ran (see the module docstring)."""
REQUEST_ID = "service.request_id"
"""environ key: the request id this request got, for an answer the server sends in its place."""
RAN = "service.ran"
"""environ key: a :class:`Ran`, the run() call made for this request before it reached Flask (service.fast_score)."""
STARTED = "service.started"
"""environ key: the perf_counter() at which a request was taken in before it reached Flask (service.fast_score)."""
UNANSWERED = "service.unanswered"
"""environ key set by the server when another answer has been sent in this request's place: no access line."""

__all__ = [
    "ID_HEADER_LIMIT",
    "RAN",
    "REJECT",
    "REQUEST_ID",
    "STARTED",
    "UNANSWERED",
    "Ran",
    "RequestIds",
    "current_scoring",
    "id_headers",
    "log_request_id",
    "echoed_ids",
    "own_request_id",
    "record_answer",
    "register",
    "request_ids",
    "trace_id",
]


def register(app: Flask) -> None:
    """Attach the request hooks and the error handlers to ``app``."""
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)
    error_handlers.register(app)


def current_scoring():
    """The service.app.Scoring of the app handling this request."""
    return current_app.extensions["scoring"]


def _before_request() -> None:
    # Each proxy (request, g, current_app) is resolved once: the 1-row path reads them many times.
    req, state = request._get_current_object(), g._get_current_object()
    state.started = req.environ.get(STARTED) or time.perf_counter()
    state.request_id = state.legacy_request_id = state.client_request_id = state.trace_id = None
    scoring = current_scoring()
    scoring.metrics.in_flight.inc()
    state.in_flight = True
    if req.url_rule is None:
        return
    _read_request_ids(req.environ, state)
    rejection = req.environ.get(REJECT)
    if rejection is not None:
        raise rejection
    settings, endpoint = scoring.settings, req.endpoint
    if settings.api_key and endpoint in auth.PROTECTED_ENDPOINTS and req.method != "OPTIONS":
        auth.check_bearer_key(req.headers.get("Authorization"), settings.api_key)
    length = req.content_length
    if length is not None and length > settings.max_body_bytes:
        raise payload_too_large(length, settings.max_body_bytes)
    if length is None and req.method == "POST":
        # A chunked body is cut at the limit by werkzeug without an error; reading past it raises the 413. Done here,
        # once, for /score and for the other protocols' scoring routes alike.
        if len(req.get_data()) >= settings.max_body_bytes:
            req.stream.read(1)
    if endpoint == "score":
        scoring.runner.wait_until_ready()
    elif endpoint == "health":
        scoring.runner.check_ready()


def _read_request_ids(environ: dict, state) -> None:
    # Each id is kept as soon as it is checked: a 431 for a later one still carries the earlier ones.
    state.request_id = environ[REQUEST_ID] = own_request_id(environ)
    if environ.get("HTTP_X_MS_REQUEST_ID"):
        logger.warning(
            "x-ms-request-id header has been deprecated and will be removed from future versions of the server. "
            "Please use x-ms-client-request-id."
        )
    state.legacy_request_id, state.client_request_id = echoed_ids(environ, state.request_id)
    state.trace_id = trace_id(environ)


class Ran(NamedTuple):
    """A run() call already made for a request: its output and time in ms, or the exception it raised."""

    output: object
    elapsed_ms: float
    error: BaseException | None = None

    def result(self) -> tuple[object, float]:
        """(output, elapsed ms), or the call's own exception raised again, its traceback kept."""
        if self.error is not None:
            raise self.error
        return self.output, self.elapsed_ms


class RequestIds(NamedTuple):
    """A request's ids as the reference answers them (see :func:`request_ids`)."""

    request_id: str
    legacy: str
    client: str
    trace_id: str | None


def own_request_id(environ: dict) -> str:
    """The request's x-request-id, or a new uuid4.

    Raises
    ------
    HeaderTooLong
        x-request-id is longer than ID_HEADER_LIMIT (431).
    """
    request_id = environ.get("HTTP_X_REQUEST_ID") or str(uuid.uuid4())
    if len(request_id) > ID_HEADER_LIMIT:
        raise HeaderTooLong(f"x-request-id must not exceed {ID_HEADER_LIMIT} characters")
    return request_id


def echoed_ids(environ: dict, request_id: str) -> tuple[str, str]:
    """(x-ms-request-id, x-ms-client-request-id) as the reference echoes them around ``request_id``.

    Raises
    ------
    HeaderTooLong
        Either is longer than ID_HEADER_LIMIT (431).
    """
    legacy = environ.get("HTTP_X_MS_REQUEST_ID", "")
    client = environ.get("HTTP_X_MS_CLIENT_REQUEST_ID", "")
    if legacy:
        client = client or legacy
    else:
        legacy = client or request_id
    if len(legacy) > ID_HEADER_LIMIT or len(client) > ID_HEADER_LIMIT:
        raise HeaderTooLong(f"x-ms-request-id and x-ms-client-request-id must not exceed {ID_HEADER_LIMIT} characters")
    return legacy, client


def trace_id(environ: dict) -> str | None:
    """The TraceId header, echoed as sent.

    Raises
    ------
    HeaderTooLong
        It is longer than ID_HEADER_LIMIT (431).
    """
    value = environ.get("HTTP_TRACEID")
    if value is not None and len(value) > ID_HEADER_LIMIT:
        raise HeaderTooLong(f"TraceId must not exceed {ID_HEADER_LIMIT} characters")
    return value


def request_ids(environ: dict) -> RequestIds:
    """All of a request's ids (x-request-id or a new uuid4, the echoes, TraceId).

    Raises
    ------
    HeaderTooLong
        An id header is longer than ID_HEADER_LIMIT (431).
    """
    request_id = own_request_id(environ)
    return RequestIds(request_id, *echoed_ids(environ, request_id), trace_id(environ))


def id_headers(settings, ids: RequestIds) -> list[tuple[str, str]]:
    """The headers every routed answer carries: the server version and the request's ids, in the reference's order."""
    headers = []
    if settings.server_version_header:
        headers.append(("x-ms-server-version", settings.server_version_header))
    if ids.request_id:
        headers.append(("x-request-id", ids.request_id))
    if ids.legacy:
        headers.append(("x-ms-request-id", ids.legacy))
    if ids.client:
        headers.append(("x-ms-client-request-id", ids.client))
    if ids.trace_id is not None:
        headers.append(("TraceId", ids.trace_id))
    return headers


def record_answer(scoring, route: str, method: str, status: int, seconds: float, target: str, request_id) -> None:
    """Count an answered request in the metrics and write its access line."""
    scoring.metrics.observe(route, method, status, seconds)
    logs.log_access(method, target, status, seconds * 1000, request_id)


def _after_request(response: Response) -> Response:
    scoring = current_scoring()
    # One proxy lookup each for the many reads below.
    req, state = request._get_current_object(), g._get_current_object()
    rule, request_id = req.url_rule, state.request_id
    if rule is not None:
        headers, settings = response.headers, scoring.settings
        ids = RequestIds(request_id, state.legacy_request_id, state.client_request_id, state.trace_id)
        for name, value in id_headers(settings, ids):
            headers[name] = value
        if settings.cors_origins:
            cors.add_cors_headers(req, response, settings.cors_origins)
        if 400 <= response.status_code < 500 and request_id:
            _add_request_id(response, request_id)
    if UNANSWERED in req.environ:  # the server has answered in this request's place, and logged that answer
        return response
    path = req.full_path if req.query_string else req.path
    route = rule.rule if rule is not None else "(unmatched)"
    seconds = time.perf_counter() - state.started
    record_answer(scoring, route, req.method, response.status_code, seconds, path, request_id)
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
        response.set_data(json.dumps({**document, "request_id": body_request_id(request_id)}))


def _teardown_request(_exc: BaseException | None) -> None:
    if g.pop("in_flight", False):
        current_scoring().metrics.in_flight.dec()
