"""Log format (the reference's text lines in UTC, or one JSON object per line) and the per-request access line."""

from __future__ import annotations

import builtins
import functools
import logging
import sys
import time
from datetime import UTC, datetime

import orjson
from gunicorn.glogging import Logger as GunicornLogger

TEXT_FORMAT = "%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"
access_logger = logging.getLogger("azmlinfsrv")
print_logger = logging.getLogger("azmlinfsrv.print")
# Client-supplied text (a percent-decoded path may hold CR/LF) must never start a log line of its own.
_ESCAPES = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, 0x85)},
    **{ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", 0x2028: "\\u2028", 0x2029: "\\u2029"},
}


class UtcFormatter(logging.Formatter):
    """The reference's line format, timestamps in UTC."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, pid, logger, message, the access fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "access", {}))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode("utf-8")


class NoAccessLogger(GunicornLogger):
    """gunicorn's logger without its access line: the app writes the one access line per request (log_access).

    gunicorn formats its own line (``Logger.atoms``) for every request whenever a logging config is set, even with no
    handler to receive it; this skips that per-request work.
    """

    def _compute_access_log_enabled(self) -> bool:
        return False


def logging_config(level: str, log_format: str) -> dict:
    """A logging.config.dictConfig dict: everything to stdout, gunicorn's own errors to stderr, both formatted alike."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": UtcFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": formatter},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "service", "stream": "ext://sys.stdout"},
            "stderr": {"class": "logging.StreamHandler", "formatter": "service", "stream": "ext://sys.stderr"},
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def escape_controls(text: str) -> str:
    """``text`` with backslashes, control characters and line separators escaped (``\\n``, ``\\x1b``, ``\\\\``).

    The result is one line that reads back unambiguously, whatever the client sent.
    """
    return text.translate(_ESCAPES)


def redact_query(target: str) -> str:
    """``target`` (a path, or a path with ``?query``) with every query value replaced by ``<redacted>``.

    Query strings carry tokens and scoring data (``?access_token=...``, ``?data=[[...]]``); the keys alone still show
    how the service was called. Everything after the first ``?`` counts as query, so nothing is let through unredacted.
    """
    path, mark, query = target.partition("?")
    if not mark:
        return path
    fields = (key + (eq and "=<redacted>") for key, eq, _ in (field.partition("=") for field in query.split("&")))
    return f"{path}?{'&'.join(fields)}"


def log_access(method: str, target: str, status: int, duration_ms: float, request_id: str | None) -> None:
    """Write the one access line of a request: method, path (query values redacted), status, duration and request id.

    ``target`` is the path, with the query string or without. Method, path and request id come from the client and
    are written through :func:`escape_controls`.
    """
    if not access_logger.isEnabledFor(logging.INFO):
        return
    method, path = escape_controls(method), escape_controls(redact_query(target))
    request_id = None if request_id is None else escape_controls(request_id)
    # What access_logger.info() does, less its walk up the stack for the caller's file and line: always this function.
    record = access_logger.makeRecord(
        access_logger.name,
        logging.INFO,
        __file__,
        log_access.__code__.co_firstlineno,
        "%s %s %d %.3fms %s",
        (method, path, status, duration_ms, request_id or "-"),
        None,
        "log_access",
        {
            "access": {
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(duration_ms, 3),
                "request_id": request_id,
            }
        },
    )
    access_logger.handle(record)


def capture_prints() -> None:
    """Send print() to stdout through the ``azmlinfsrv.print`` logger, as the reference does for entry scripts.

    The lines then carry time, level and pid, and stay valid JSON lines with LOG_FORMAT=json. Prints to any other
    file (e.g. sys.stderr) pass through unchanged.
    """
    original = builtins.print

    @functools.wraps(original)
    def print_to_log(*values: object, sep: str | None = " ", end: str | None = "\n", file=None, flush: bool = False):
        if file is None or file is sys.stdout:
            print_logger.info((" " if sep is None else sep).join(map(str, values)))
        else:
            original(*values, sep=sep, end=end, file=file, flush=flush)

    builtins.print = print_to_log
