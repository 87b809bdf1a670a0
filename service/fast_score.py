"""Scoring requests answered without Flask's dispatch: ``POST /score``, and the other protocols' scoring routes.

Why: on a 1-row request, Flask's request context, URL matching, response object and hook dispatch cost about as much
CPU as the model's predict. This WSGI middleware (installed as ``app.wsgi_app``, Flask's documented way to wrap an
app) serves the common case with the same functions the Flask hooks and views call, in the same order: the request
ids (service.pipeline), the route's own decoding (for /score, service.inputs.body_arguments), the runner, the
route's encoding, the id headers, the metrics and the access line.

Anything else goes to the Flask app untouched, which answers it exactly as it would have: other routes and methods,
a query string, a chunked body or one over the limit, an Origin header with CORS configured, a missing or wrong
key, a deprecated ``x-ms-request-id``, a worker still in init(), a script that is ``@rawhttp``, wants
``request_headers`` or imports flask's request, and any request the route cannot decode (a client mistake: nothing
has been sent or logged yet, and the body is handed on). Once run() has been called, every outcome the route does
not encode as a 200 (an exception, a timeout, an AMLResponse, a value with no JSON form) is handed to the view as
``environ[pipeline.RAN]``, where :func:`service.routes.run_script` returns or raises it instead of calling run()
again, so it is rendered and logged as if the view had made the call.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from flask import Response

from service import auth
from service.entry_script import EntryScript, InputStyle
from service.inputs import body_arguments, collector_paused
from service.pipeline import (
    RAN,
    REJECT,
    STARTED,
    UNANSWERED,
    Ran,
    id_headers,
    record_answer,
    request_ids,
)
from service.responses import run_answer
from service.runner import State

JSON = "application/json"
_NO_HEADERS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A request a route has decoded: its Flask rule (the metrics' route label), run()'s arguments, and whatever
    the route needs to encode the answer."""

    rule: str
    arguments: dict
    context: object = None


class FastRoute(Protocol):
    """A scoring route the fast path serves: ``accepts`` a POST to a path of its own; ``decode`` returns None, or
    raises, for a request it leaves to Flask; ``encode`` answers run()'s value (never a Response: those go to the
    view) with a 200's body and headers, the ids left out, or raises for a value the view must render."""

    def accepts(self, path: str) -> bool: ...

    def decode(self, path: str, body: bytes, environ: dict) -> Decoded | None: ...

    def encode(self, decoded: Decoded, ran: Ran) -> tuple[bytes, list[tuple[str, str]]]: ...


def content_type(environ: dict) -> str:
    """The request's media type, lower-cased, without parameters."""
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()


class ScoreRoute:
    """``POST /score`` with a JSON body, answered as service.routes' view answers it."""

    def __init__(self, script: EntryScript) -> None:
        self.script = script

    def accepts(self, path: str) -> bool:
        return path == "/score"

    def decode(self, path: str, body: bytes, environ: dict) -> Decoded | None:
        if content_type(environ) != JSON:
            return None
        return Decoded("/score", body_arguments(body, self.script, is_json=True))

    def encode(self, decoded: Decoded, ran: Ran) -> tuple[bytes, list[tuple[str, str]]]:
        payload, headers = run_answer(ran.output, f"{ran.elapsed_ms:.3f}")
        return payload, [*headers, ("Content-Type", JSON), ("Content-Length", str(len(payload)))]


class FastScore:
    """WSGI middleware in front of the Flask app (see the module docstring)."""

    def __init__(self, app: Callable, scoring, routes: list[FastRoute]) -> None:
        self.app = app
        self.scoring = scoring
        self.routes = routes

    @staticmethod
    def serves(script: EntryScript) -> bool:
        """Whether this path can call ``script``'s run(): not for @rawhttp, nor when it wants request_headers or
        imports flask's request (its run() is then called inside Flask's request context, as the reference does)."""
        return not (script.style is InputStyle.RAW or script.wants_request_headers or script.reads_flask_request)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        route = None
        if environ.get("REQUEST_METHOD") == "POST":
            route = next((r for r in self.routes if r.accepts(path)), None)
        body = None if route is None else self._body(environ)
        if body is None:
            return self.app(environ, start_response)
        scoring = self.scoring
        try:
            ids = request_ids(environ)
            with collector_paused():  # what a route parses is freed or converted before the collector resumes
                decoded = route.decode(path, body, environ)
            if decoded is None:
                return self._hand_over(environ, start_response, body, started)
        except Exception:  # noqa: BLE001 - a request the route cannot decode is the Flask app's to answer and log
            return self._hand_over(environ, start_response, body, started)
        metrics = scoring.metrics
        metrics.in_flight.inc()
        try:
            ran = Ran(*scoring.runner.run(decoded.arguments, _NO_HEADERS))
        except BaseException as exc:  # noqa: BLE001 - rendered and logged by the view, as if it had made the call
            ran = Ran(None, 0.0, exc)
        finally:
            metrics.in_flight.dec()
        answer = None
        if ran.error is None and not isinstance(ran.output, Response):  # a Response is the view's to finish
            try:
                answer = route.encode(decoded, ran)
            except Exception:  # noqa: BLE001 - e.g. a value with no JSON form: the view logs and answers it
                answer = None
        if answer is None:
            environ[RAN] = ran
            return self._hand_over(environ, start_response, body, started)
        payload, headers = answer
        headers.extend(id_headers(scoring.settings, ids))
        if UNANSWERED not in environ:
            record_answer(scoring, decoded.rule, "POST", 200, time.perf_counter() - started, path, ids.request_id)
        start_response("200 OK", headers)
        return [payload]

    def _body(self, environ: dict) -> bytes | None:
        """The request's body when this path may answer it (see the module docstring), else None."""
        if (
            environ.get("QUERY_STRING")
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
