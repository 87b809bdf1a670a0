"""The views, each parse -> call -> render: Azure routes (``/``, ``/score``, ``/swagger.json``) as the reference's,
and ours (``/health/live``, ``/health/ready``, ``/metrics``, ``/model``). The hooks around them are in pipeline.py.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from service import inputs, pipeline, protocols
from service.compat import AMLResponse
from service.entry_script import InputStyle
from service.errors import InternalError, MethodNotAllowed, NotFound, RunFailed, ScoringTimeout
from service.metrics import CONTENT_TYPE
from service.model_dir import describe
from service.pipeline import current_scoring, log_request_id
from service.responses import dumps, run_answer
from service.runner import Runner

logger = logging.getLogger("azmlinfsrv")


def register(app: Flask) -> list:
    """Attach the views, the request hooks and the error handlers to ``app``; returns the other protocols' scoring
    routes for service.fast_score (service.protocols.register)."""
    pipeline.register(app)
    app.add_url_rule("/", "health", _health, methods=["GET"])
    app.add_url_rule("/score", "score", _score, methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
    app.add_url_rule("/swagger.json", "swagger", _swagger, methods=["GET"])
    app.add_url_rule("/health/live", "live", _live, methods=["GET"])
    app.add_url_rule("/health/ready", "ready", _ready, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])
    app.add_url_rule("/model", "model", _model, methods=["GET"])
    return protocols.register(app)


# --- views -----------------------------------------------------------------------------------------------------------


def _health() -> str:
    return "Healthy"


def _score() -> Response:
    runner, req = current_scoring().runner, request._get_current_object()
    if req.method in ("OPTIONS", "HEAD") and runner.script.style is not InputStyle.RAW:
        if req.method == "OPTIONS":
            return AMLResponse("", 200)
        raise MethodNotAllowed("Method not allowed")
    ran_already = pipeline.RAN in req.environ  # by service.fast_score: the body need not be converted again
    arguments = {} if ran_already else inputs.run_arguments(req, runner.script)
    output, elapsed_ms = run_script(runner, arguments)
    return _render_output(output, f"{elapsed_ms:.3f}")


def run_script(runner: Runner, arguments: dict[str, object]) -> tuple[object, float]:
    """run() with ``arguments`` for this request, through ``runner``: (output, elapsed ms), or the outcome of the call
    service.fast_score made already for it (``environ[RAN]``). Shared with the other protocols
    (service.protocols.scoring), so every route logs a timeout or a failing run() the same way.

    Raises
    ------
    ScoringTimeout
        run() did not finish within SCORING_TIMEOUT_MS (logged with the request id).
    RunFailed
        run() raised (its traceback is logged with the request id).
    """
    ran = request.environ.get(pipeline.RAN)
    try:
        if ran is not None:
            return ran.result()
        return runner.run(arguments, request.headers)
    except ScoringTimeout:
        logger.error("run() exceeded SCORING_TIMEOUT_MS=%d (request_id=%s)", runner.timeout_ms, log_request_id())
        raise
    except BaseException:
        # Even SystemExit from run() is only this request's failure: the worker goes on serving.
        logger.exception("run() raised an exception (request_id=%s)", log_request_id())
        raise RunFailed() from None


def _render_output(output: object, elapsed_ms: str) -> Response:
    if isinstance(output, Response):
        if not 100 <= output.status_code <= 599:
            # gunicorn would send e.g. `HTTP/1.1 999` as given: no client can read that as an HTTP status.
            logger.error(
                "run() returned a response with status %d; expected an HTTP status code from 100 to 599 "
                "(request_id=%s)",
                output.status_code,
                log_request_id(),
            )
            raise RunFailed()
        if output.status_code >= 500:
            output.headers["x-ms-run-function-failed"] = "True"
        output.headers["x-ms-run-fn-exec-ms"] = elapsed_ms
        return output
    try:
        body, headers = run_answer(output, elapsed_ms)
    except TypeError:
        logger.exception("run() returned a value with no JSON form (request_id=%s)", log_request_id())
        raise InternalError() from None
    return Response(body, 200, headers, content_type="application/json")


def _swagger() -> Response:
    body = current_scoring().swagger.get(request.args.get("version", "2"))
    response = Response(body, 200, mimetype="application/json")
    response.headers["x-ms-run-function-failed"] = "False"
    return response


def _live() -> Response:
    return Response(b'{"status":"alive"}', 200, mimetype="application/json")


def _ready() -> Response:
    current_scoring().runner.check_ready()
    return Response(b'{"status":"ready"}', 200, mimetype="application/json")


def _metrics() -> Response:
    return Response(current_scoring().metrics.render(), 200, content_type=CONTENT_TYPE)


def _model() -> Response:
    info = current_scoring().model_info
    if info is None:
        raise NotFound(
            "No model metadata: the model directory (AZUREML_MODEL_DIR / --model_dir) is not set, holds no "
            "model.json, or holds several models."
        )
    return Response(dumps(describe(info)), 200, mimetype="application/json")
