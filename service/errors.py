"""Errors the service answers with: each class carries its HTTP status; one renderer gives {"message", "request_id"}.

Messages are safe to send: they never contain a traceback or echo large client input, and client text they quote
goes through :func:`quote` (or :func:`cap` and :func:`escape_markup`), so no body holds markup a browser could run.
"""

from __future__ import annotations

_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
QUOTE_LIMIT = 40
"""How many characters of a client or configuration value a message may echo: the house rule for every message."""


def cap(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut, so a message never echoes large input."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def escape_markup(text: str) -> str:
    """``text`` with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e``, ``\\u0026``.

    The escapes read the same in JSON and Python literals, so a quoted value stays exact, yet an error body never holds
    a tag or an entity, whatever a browser sniffing it as HTML would make of it.
    """
    return text.translate(_MARKUP_ESCAPES)


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Client text as an error message quotes it: ``repr``, cut to ``limit`` characters, markup escaped."""
    return escape_markup(cap(repr(text), limit))


class ServiceError(Exception):
    """Base class: ``message`` goes to the client with ``status``; ``run_function_failed`` sets the Azure header."""

    status = 500
    run_function_failed = False

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadInput(ServiceError):
    """The request body or query cannot be turned into run() arguments (400)."""

    status = 400


class Unauthorized(ServiceError):
    """A key is configured and the request did not present it (401)."""

    status = 401


class NotFound(ServiceError):
    """The resource does not exist, e.g. /model without a model directory (404)."""

    status = 404


class MethodNotAllowed(ServiceError):
    """The route exists but not for this method (405)."""

    status = 405


class PayloadTooLarge(ServiceError):
    """The request body exceeds MAX_REQUEST_BODY_BYTES (413)."""

    status = 413


class UnsupportedMediaType(ServiceError):
    """A schema-decorated run() needs a JSON Content-Type (415)."""

    status = 415


class HeaderTooLong(ServiceError):
    """A request-id header exceeds 100 characters (431)."""

    status = 431


class RequestReadTimeout(ServiceError):
    """The request's head and body did not arrive within REQUEST_READ_TIMEOUT_S of its first byte (408)."""

    status = 408

    def __init__(self, limit_s: float) -> None:
        super().__init__(
            f"The request did not arrive in full within {limit_s:g} s of its first byte (REQUEST_READ_TIMEOUT_S).",
            headers={"Connection": "close"},
        )


class BuffersFull(ServiceError):
    """The worker holds MAX_BUFFERED_BYTES of requests still arriving: the one that would add more is refused (503)."""

    status = 503

    def __init__(self, held: int, limit: int) -> None:
        super().__init__(
            f"The server is holding {held} bytes of requests still arriving, more than it may (MAX_BUFFERED_BYTES="
            f"{limit}); send the request again later.",
            headers={"Connection": "close", "Retry-After": "1"},
        )


class NotReady(ServiceError):
    """init() has not finished, failed, or the worker is shutting down (503)."""

    status = 503


class ScoringTimeout(ServiceError):
    """run() did not return within SCORING_TIMEOUT_MS (504)."""

    status = 504
    run_function_failed = True


class RunFailed(ServiceError):
    """The user's run() raised; the traceback is logged, the client gets a generic message (500)."""

    status = 500
    run_function_failed = True

    def __init__(self) -> None:
        super().__init__("An unexpected error occurred in scoring script. Check the logs for more info.")


class InternalError(ServiceError):
    """Anything else that went wrong on our side (500)."""

    def __init__(self) -> None:
        super().__init__("An unexpected internal error occurred. Check the logs for more info.")


class HTTPStatusError(ServiceError):
    """Any other HTTP error raised while handling a routed request, with its own status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EntryScriptError(Exception):
    """The entry script cannot be used: import failed, init/run missing, or run() has an unusable signature."""


class InitFailed(Exception):
    """The entry script's init() raised; the message names the script and the cause, ``__cause__`` is the original."""
