"""The one scoring path every protocol shares with /score: row conversion, run(), error rendering.

A protocol module only decodes its request into rows (:func:`to_rows`, the vectorised conversion and messages of
``service.conversion``) and encodes :func:`predict`'s answer; the limits, auth, metrics, access log and error
messages come from the app's request pipeline (:func:`render_errors` only reshapes the error bodies), and run() is the
no-code script's, called through the worker's Runner as /score calls it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, request

from service.auth import presents_bearer_key
from service.conversion import ConversionError, FeatureMatrixType, to_array
from service.errors import BadInput, HTTPStatusError, NotFound, quote
from service.model_dir import ModelInfo
from service.pipeline import current_scoring
from service.responses import dumps
from service.routes import run_script

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


def json_response(document: object, status: int = 200) -> Response:
    """``document`` as a JSON response (numpy values and NaN handled as in /score's answers)."""
    return Response(dumps(document), status, mimetype="application/json")


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
        raise HTTPStatusError(output.status_code, (output.get_json(silent=True) or {}).get("message", "Bad request."))
    return output


def error_document(status: int, message: str) -> dict:
    """``{"error": message}``: the error body of the Open Inference Protocol V2 and of KServe V1."""
    return {"error": message}


def render_errors(blueprint: Blueprint, error_body: Callable[[int, str], dict] = error_document) -> None:
    """Give every error of ``blueprint``'s routes the protocol's own body ``error_body(status, message)``.

    The app's error handlers (service.pipeline) answer every error, also auth, limits and readiness from its hooks,
    with the service's messages as ``{"message", "request_id"}``; this rewrites only that body, so the status, the
    wording and the headers (Connection: close, WWW-Authenticate, Retry-After) stay the service's.
    """

    def reshape(response: Response) -> Response:
        if response.status_code < 400 or response.mimetype != "application/json":
            return response
        document = json.loads(response.get_data())
        message = document.get("message") if isinstance(document, dict) else None
        if isinstance(message, str):
            response.set_data(dumps(error_body(response.status_code, message)))
        return response

    blueprint.after_request(reshape)
