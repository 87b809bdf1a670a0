"""The gunicorn worker: gthread plus readiness off on SIGTERM, a read deadline per request, and error pages that never
quote the client's input.

A gthread thread that has started reading a request blocks until the request has arrived; without a deadline, a few
clients that send a head or body slowly (slow-loris) hold every thread of the worker. Each request must arrive in full
within REQUEST_READ_TIMEOUT_S of its first byte, else it is answered 408 and its connection closed.
"""

from __future__ import annotations

import json
import socket
import time

from gunicorn.http.errors import (
    ConfigurationProblem,
    ExpectationFailed,
    ForbiddenProxyRequest,
    LimitRequestHeaders,
    LimitRequestLine,
    ParseException,
    UnsupportedTransferCoding,
)
from gunicorn.util import write_nonblock
from gunicorn.workers.gthread import ThreadWorker

from service.errors import RequestReadTimeout

# Statuses gunicorn gives its parse errors (anything else it rejects is a 400), with our own wording.
_PARSE_ERRORS = (
    (LimitRequestLine, 414, "URI Too Long", "The request line is too long."),
    (LimitRequestHeaders, 431, "Request Header Fields Too Large", "The request has too many or too large headers."),
    (UnsupportedTransferCoding, 501, "Not Implemented", "The request's Transfer-Encoding is not supported."),
    (ExpectationFailed, 417, "Expectation Failed", "The request's Expect header cannot be met."),
    (ForbiddenProxyRequest, 403, "Forbidden", "Proxy requests from this address are not allowed."),
)
_BAD_REQUEST = (400, "Bad Request", "The request is not valid HTTP/1.1 and was not processed.")


class _DeadlineSocket(socket.socket):
    """A client socket whose blocking reads all end by one deadline, set by the first read after :meth:`arm`."""

    limit_s: float = 0.0
    deadline: float | None = None
    armed = False

    @classmethod
    def adopt(cls, sock: socket.socket, limit_s: float) -> _DeadlineSocket:
        """Take over ``sock``'s connection (``sock`` is detached and must not be used any more)."""
        blocking = sock.getblocking()
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.setblocking(blocking)
        adopted.limit_s = limit_s
        return adopted

    def arm(self) -> None:
        """Start a new request: the deadline is set by its first blocking read."""
        self.armed, self.deadline = True, None

    def disarm(self) -> None:
        """The request has been handled: later reads (gunicorn's own bounded drain) are not limited here."""
        self.armed = False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        prior = self.gettimeout()
        if not self.armed or prior == 0.0:  # non-blocking reads never wait
            return super().recv(bufsize, flags)
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + self.limit_s
        # Past the deadline, bytes already received are still read (timeout 0): the app may have been slow to ask.
        remaining = max(self.deadline - now, 0.0)
        self.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return super().recv(bufsize, flags)
        except (TimeoutError, BlockingIOError):
            raise RequestReadTimeout(self.limit_s) from None
        finally:
            self.settimeout(prior)


class ScoringWorker(ThreadWorker):
    """gthread worker: readiness off on SIGTERM, REQUEST_READ_TIMEOUT_S per request, generic error pages."""

    def handle_exit(self, sig, frame) -> None:
        scoring = self._scoring()
        if scoring is not None:
            scoring.runner.begin_shutdown()
        super().handle_exit(sig, frame)

    def enqueue_req(self, conn) -> None:
        scoring = self._scoring()
        if scoring is not None and type(conn.sock) is socket.socket:
            conn.sock = _DeadlineSocket.adopt(conn.sock, scoring.settings.request_read_timeout_s)
        super().enqueue_req(conn)

    def handle(self, conn):
        if isinstance(conn.sock, _DeadlineSocket):
            conn.sock.arm()
        return super().handle(conn)

    def handle_request(self, req, conn):
        try:
            return super().handle_request(req, conn)
        finally:
            if isinstance(conn.sock, _DeadlineSocket):
                conn.sock.disarm()

    def handle_error(self, req, client, addr, exc) -> None:
        """Answer what gunicorn rejects with a JSON ``{"message"}`` that never quotes the request.

        gunicorn's own page repeats the offending request line or header; errors that are not the client's fault
        keep gunicorn's handling (a logged traceback and an empty 500).
        """
        if isinstance(exc, RequestReadTimeout):
            status, reason, message = exc.status, "Request Timeout", exc.message
        elif isinstance(exc, ParseException) and not isinstance(exc, ConfigurationProblem):
            status, reason, message = next(
                ((code, name, text) for kind, code, name, text in _PARSE_ERRORS if isinstance(exc, kind)), _BAD_REQUEST
            )
        else:
            super().handle_error(req, client, addr, exc)
            return
        client_ip = (addr or ("",))[0]
        self.log.warning("Rejected a request from %s: %s (%d %s)", client_ip, type(exc).__name__, status, reason)
        body = json.dumps({"message": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            write_nonblock(client, head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Could not send the %d answer: the client has gone.", status)

    def _scoring(self):
        return getattr(self.wsgi, "extensions", {}).get("scoring")
