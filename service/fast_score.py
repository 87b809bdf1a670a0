"""``POST /score`` answered without Flask's dispatch, for the request nearly every client sends.

Why: on a 1-row request, Flask's request context, URL matching, response object and hook dispatch cost about as much
CPU as the model's predict. This WSGI middleware (installed as ``app.wsgi_app``, Flask's documented way to wrap an
app) serves the common case with the same functions the Flask hooks and the view call, in the same order: the
request ids (service.pipeline), the body's conversion (service.inputs.body_arguments), the runner, the JSON output
(service.responses), the id headers, the metrics and the access line.

Anything else goes to the Flask app untouched, which answers it exactly as it would have: another route or method,
a query string, a chunked body or one over the limit, a Content-Type other than ``application/json``, an Origin
header with CORS configured, a missing or wrong key, a deprecated ``x-ms-request-id``, a worker still in init(), a
script that wants ``request_headers`` or is ``@rawhttp``, and any client mistake in the body (nothing has been
sent or logged yet, and the body is handed on). Once run() has been called, every outcome but a JSON-able value
(an exception, a timeout, an AMLResponse, a value with no JSON form) is handed to the view as
``environ[pipeline.RAN]``, which renders and logs it as if it had made the call itself.

run() is not called inside a Flask request context here, so a script that imports ``flask`` or ``flask.request``
(and may read the request in run()) is left to Flask altogether.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable

from flask import Response

from service import auth
from service.entry_script import InputStyle
from service.errors import ServiceError
from service.inputs import body_arguments
from service.pipeline import (
    RAN,
    REJECT,
    STARTED,
    UNANSWERED,
    Ran,
    id_headers,
    own_request_id,
    record_answer,
    request_ids,
)
from service.responses import dumps
from service.runner import State

ROUTE = "/score"
_NO_HEADERS: dict[str, str] = {}


class FastScore:
    """WSGI middleware in front of the Flask app (see the module docstring)."""

    def __init__(self, app: Callable, scoring) -> None:
        self.app = app
        self.scoring = scoring

    @staticmethod
    def serves(script) -> bool:
        """Whether this path can call ``script``'s run(): not for @rawhttp, nor when it wants request_headers or
        imports flask's request (its run() is then called inside Flask's request context, as the reference does)."""
        return not (
            script.style is InputStyle.RAW or script.wants_request_headers or script.reads_flask_request
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        body = self._body(environ)
        if body is None:
            return self.app(environ, start_response)
        scoring = self.scoring
        runner = scoring.runner
        try:
            request_id = own_request_id(environ)
            ids = request_ids(environ, request_id)
            arguments = body_arguments(body, runner.script, is_json=True)
        except ServiceError:
            return self._hand_over(environ, start_response, body, started)
        metrics = scoring.metrics
        metrics.in_flight.inc()
        try:
            ran = Ran(*runner.run(arguments, _NO_HEADERS))
        except BaseException as exc:  # noqa: BLE001 - rendered and logged by the view, as if it had made the call
            ran = Ran(None, 0.0, exc)
        finally:
            metrics.in_flight.dec()
        payload = _json_payload(ran)
        if payload is None:
            environ[RAN] = ran
            return self._hand_over(environ, start_response, body, started)
        headers = [
            ("x-ms-run-function-failed", "False"),
            ("x-ms-run-fn-exec-ms", f"{ran.elapsed_ms:.3f}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *id_headers(scoring.settings, ids),
        ]
        if UNANSWERED not in environ:
            record_answer(scoring, ROUTE, "POST", 200, time.perf_counter() - started, ROUTE, request_id)
        start_response("200 OK", headers)
        return [payload]

    def _body(self, environ: dict) -> bytes | None:
        """The request's body when this path may answer it (see the module docstring), else None."""
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != ROUTE
            or environ.get("QUERY_STRING")
            or environ.get("SCRIPT_NAME")
            or REJECT in environ
            or RAN in environ
            or "HTTP_X_MS_REQUEST_ID" in environ
        ):
            return None
        settings = self.scoring.settings
        if settings.cors_origins and "HTTP_ORIGIN" in environ:
            return None
        if settings.api_key and not auth.presents_bearer_key(environ.get("HTTP_AUTHORIZATION"), settings.api_key):
            return None
        if self.scoring.runner.state is not State.READY:
            return None
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) > settings.max_body_bytes:
            return None
        body = environ["wsgi.input"].read(int(length))
        if len(body) != int(length):
            environ["wsgi.input"] = io.BytesIO(body)
            return None
        return body

    def _hand_over(self, environ: dict, start_response: Callable, body: bytes, started: float) -> Iterable[bytes]:
        environ["wsgi.input"] = io.BytesIO(body)
        environ[STARTED] = started
        return self.app(environ, start_response)


def _json_payload(ran: Ran) -> bytes | None:
    """run()'s output as the view would send it on a 200, or None when the view must render it."""
    if ran.error is not None or isinstance(ran.output, Response):
        return None
    if ran.output is None:
        return b"{}"
    try:
        return dumps(ran.output)
    except TypeError:
        return None
