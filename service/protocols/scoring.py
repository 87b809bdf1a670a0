"""The one scoring path every protocol shares with /score: request body, row conversion, run(), error rendering.

A protocol module only decodes its request into rows (:func:`to_rows`, the vectorised conversion and messages of
``service.conversion``) and encodes :func:`predict`'s answer; the limits, auth, metrics and access log come from the
app's request pipeline, and run() is the no-code script's, called through the worker's Runner as /score calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.auth import presents_bearer_key
from service.conversion import ConversionError, FeatureMatrixType, to_array
from service.errors import BadInput, InternalError, NotFound, ServiceError, quote
from service.model_dir import ModelInfo
from service.pipeline import current_scoring, log_request_id
from service.responses import dumps
from service.routes import run_script

logger = logging.getLogger("service")
METHODS = ("predict", "predict_proba")


@dataclass(frozen=True)
class ServedModel:
    """The served model as the protocols name it: the registered name and version from model.json."""

    name: str
    version: str | None
    info: ModelInfo
    matrix_type: FeatureMatrixType
    """The no-code script's ``data`` parameter type: the same conversion (and messages) as /score."""

    @classmethod
    def of(cls, info: ModelInfo, matrix_type: FeatureMatrixType) -> ServedModel:
        """Name an unregistered model after its directory, as no registry gave it a name."""
        version = None if info.version is None else str(info.version)
        return cls(info.name or info.path.name, version, info, matrix_type)

    def check(self, name: str, version: str | None = None) -> None:
        """Raises NotFound when ``name`` (and ``version``, if given) is not the served model; the message names the
        served model only to a client that may read /model (no key configured, or the key sent), as some of these
        routes are open."""
        if name != self.name:
            served = f"; this service serves model {self.name!r}" if presents_service_key() else ""
            raise NotFound(f"Model {quote(name)} is not served here{served}.")
        if version is not None and version != self.version:
            if not presents_service_key():
                raise NotFound(f"Model {quote(name)} version {quote(version)} is not served here.")
            served = f"version {self.version}" if self.version else "no version"
            raise NotFound(f"Model {self.name!r} has {served}, not version {quote(version)}.")


def presents_service_key() -> bool:
    """Whether this request may see the model's details: no SCORING_API_KEY is configured, or the request sends it."""
    api_key = current_scoring().settings.api_key
    return not api_key or presents_bearer_key(request.headers.get("Authorization"), api_key)


class ProtocolError(ServiceError):
    """An error with an explicit status, for answers whose status the protocol fixes (e.g. V2 readiness 400)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers=headers)
        self.status = status


def json_response(document: object, status: int = 200) -> Response:
    """``document`` as a JSON response (numpy values and NaN handled as in /score's answers)."""
    return Response(dumps(document), status, mimetype="application/json")


def read_body() -> bytes:
    """The request body, with MAX_REQUEST_BODY_BYTES enforced also for a chunked body (413 via werkzeug)."""
    body = request.get_data()
    if request.content_length is None and len(body) >= current_scoring().settings.max_body_bytes:
        request.stream.read(1)  # werkzeug cuts a chunked body at the limit silently; reading past it raises the 413
    return body


def to_rows(name: str, value: object, model: ServedModel):
    """Convert rows (or records with the feature names) to the model's matrix, as /score converts ``data``.

    Raises
    ------
    BadInput
        The conversion's message, naming input ``name``, what was expected and what came.
    """
    try:
        return to_array(name, value, model.matrix_type)
    except ConversionError as exc:
        raise BadInput(str(exc)) from None


def predict(rows, method: str) -> object:
    """Run the no-code script's run() on ``rows`` as /score does: wait for init(), timeout, concurrency limit.

    Returns run()'s answer: a list of predictions, or ``{"classes", "probabilities"}`` for predict_proba.

    Raises
    ------
    BadInput
        ``method`` is unknown, or run() refused the request (e.g. predict_proba on a model without it).
    NotReady, ScoringTimeout, RunFailed
        As /score: init() not done or failed, run() too slow, run() raised.
    """
    if method not in METHODS:
        raise BadInput(f"Method {quote(str(method))} is not supported; use one of: {', '.join(METHODS)}.")
    runner = current_scoring().runner
    runner.wait_until_ready()
    output, _ = run_script(runner, {"data": rows, "method": method})
    if isinstance(output, Response):  # the script's own 4xx answer, e.g. predict_proba on a model without it
        raise ProtocolError(output.status_code, (output.get_json(silent=True) or {}).get("message", "Bad request."))
    return output


def add_error_handlers(blueprint: Blueprint, render: Callable[[int, str], Response]) -> None:
    """Answer every error of ``blueprint``'s routes (also auth, limits and readiness from the app's hooks) with
    ``render(status, message)``, the protocol's own error shape, keeping the error's headers."""

    def service_error(error: ServiceError) -> Response:
        response = render(error.status, error.message)
        response.headers.extend(error.headers)
        return response

    def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            limit = current_scoring().settings.max_body_bytes
            size = f"of {request.content_length} bytes " if request.content_length is not None else ""
            message = f"Request body {size}exceeds the limit of {limit} bytes (MAX_REQUEST_BODY_BYTES)."
            return service_error(ProtocolError(413, message, headers={"Connection": "close"}))
        return render(error.code or 500, error.description or error.name)

    def unreadable_body(error: ParseException) -> Response:
        # gunicorn parses a chunked body only as it is read; the rest of the stream cannot be trusted, so close.
        logger.warning("Unreadable request body: %s (request_id=%s)", type(error).__name__, log_request_id())
        message = "The request body could not be read: its HTTP framing is malformed."
        return service_error(BadInput(message, headers={"Connection": "close"}))

    def unexpected(error: Exception) -> Response:
        logger.exception("Unexpected error (request_id=%s)", log_request_id())
        return service_error(InternalError())

    blueprint.register_error_handler(ServiceError, service_error)
    blueprint.register_error_handler(HTTPException, http_error)
    blueprint.register_error_handler(ParseException, unreadable_body)
    blueprint.register_error_handler(Exception, unexpected)
