"""The gunicorn worker: one event loop that owns every connection, and requests served inline by whichever thread
runs the loop (leader/follower), with a watchdog that hands the loop to a spare thread when a request takes long.

Why not gthread: it gives each accepted connection a thread before its first byte, so a few idle or slow clients
stall health and /score, and each request pays two thread hand-offs (its futures pool, then the runner's thread),
which cost more CPU than a 1-row predict. Why not gevent: one loop thread cannot answer health, nor deliver a 504,
while a run() spins in Python or blocks in C.

The model (subclassing gunicorn's public ``Worker`` API, on the stdlib ``selectors`` loop):

- The *leader* thread owns the selector: it accepts, reads non-blocking into a per-connection buffer, and enforces
  the read deadline (REQUEST_READ_TIMEOUT_S from a request's first byte, 408 and close) and the keep-alive timeout.
  An idle or slow connection costs an fd and a buffer, never a thread.
- When a request is complete in its buffer (head within gunicorn's limits, body by Content-Length or by walking the
  chunked framing; a body over MAX_REQUEST_BODY_BYTES is answered 413 without waiting for it, and the connection
  closed; a request still arriving that takes the worker's buffers past MAX_BUFFERED_BYTES is answered 503 and
  closed), the leader serves it inline: gunicorn's own parser over those bytes, gunicorn's environ and response,
  the Flask app, run() called in place. Pipelined bytes stay buffered for the next turn.
- The *watchdog* (the worker's main thread, which also takes gunicorn's signals) ticks every 10 ms. When the leader
  has been busy with one request for PROMOTE_AFTER_S, it makes a spare thread the leader, so health and the other
  connections keep being served; the old leader finishes its request, hands its connection back to the loop, and
  becomes a spare. Threads are capped at WORKER_THREADS + SPARE_THREADS; a /score that would have to wait for a run()
  turn while no thread could take the loop over is answered 504 at once, and health still answers.
- SCORING_TIMEOUT_MS: the watchdog drives the runner's deadlines (an asynchronous exception in a late run()); a
  call still busy shortly after is blocked in C: the watchdog answers its request 504 (same body, ids, access line
  and metrics, through the app) and closes its connection; the stuck thread discards its late answer.

gunicorn seams used beyond the ``Worker`` class (pinned gunicorn==27.0.1, tested in tests/service/test_worker.py):
``gunicorn.http.wsgi.create`` with a ``response_class``, and the parser and response of service.http11, which also
finds where a buffered chunked body ends.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import io
import itertools
import json
import os
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus

from gunicorn.http import wsgi
from gunicorn.http.errors import (
    ConfigurationProblem,
    ExpectationFailed,
    ForbiddenProxyRequest,
    LimitRequestHeaders,
    LimitRequestLine,
    NoMoreData,
    ParseException,
    UnsupportedTransferCoding,
)
from gunicorn.workers.base import Worker

from service.error_handlers import CLOSE_CONNECTION, payload_too_large
from service.errors import BuffersFull, RequestReadTimeout
from service.http11 import (
    CHUNKED_PIECE,
    NOSNIFF,
    BadRequest,
    ChunkedWalk,
    SettingsSnapshot,
    WorkerRequestParser,
    WorkerResponse,
    chunked_end,
    framing_agrees,
)
from service.pipeline import REJECT, REQUEST_ID, UNANSWERED
from service.runner import SPARE_THREADS, ThreadGuard

MAX_WAITING_THREADS = 64
"""Threads that may wait (for init() or a run() turn) on top of WORKER_THREADS + SPARE_THREADS busy ones."""
PROMOTE_AFTER_S = 0.02
"""How long the leader may be busy with one request before a spare thread takes the loop over."""
TICK_S = 0.01
LINGER_S = 2.0
"""After an answer that closes the connection, unread request bytes are drained this long (RFC 9112 §9.6)."""
MAX_RECV = 1024 * 1024
BUFFER_CHECK_BYTES = 1024 * 1024
"""A request still arriving with more than this buffered has the worker's MAX_BUFFERED_BYTES checked on each read."""
# Statuses gunicorn gives its parse errors (anything else it rejects is a 400), with our own wording.
_PARSE_ERRORS = (
    (LimitRequestLine, 414, "URI Too Long", "The request line is too long."),
    (LimitRequestHeaders, 431, "Request Header Fields Too Large", "The request has too many or too large headers."),
    (UnsupportedTransferCoding, 501, "Not Implemented", "The request's Transfer-Encoding is not supported."),
    (ExpectationFailed, 417, "Expectation Failed", "The request's Expect header cannot be met."),
    (ForbiddenProxyRequest, 403, "Forbidden", "Proxy requests from this address are not allowed."),
)
_BAD_REQUEST = (400, "Bad Request", "The request is not valid HTTP/1.1 and was not processed.")
_SUPPORTED_VERSIONS = ((1, 0), (1, 1))
_ACCEPT, _WAKE = object(), object()


@dataclass(eq=False, slots=True)
class Connection:
    """One client connection, owned by the loop except while a thread serves one of its requests."""

    sock: socket.socket
    addr: tuple
    server: tuple
    buffer: bytearray = field(default_factory=bytearray)
    deadline: float = 0.0
    """When the connection is closed unless something happens (read deadline, keep-alive or linger)."""
    timer_at: float = float("inf")
    """The time of this connection's entry in the loop's timer heap."""
    request_end: int | None = None
    """Where the buffered request ends, once known (head parsed, body length known)."""
    reject: Exception | None = None
    registered: bool = False
    serving: bool = False
    closing: bool = False
    abandoned: bool = False
    continued: bool = False
    eof: bool = False
    drained: int = 0
    walk: ChunkedWalk | None = None
    """How far the buffered request's chunked body has been walked, so each recv walks only its new bytes."""


class ScoringWorker(Worker):
    """Event loop + inline serving + watchdog (see the module docstring); gunicorn stays the process manager."""

    def init_process(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._cond = threading.Condition()
        self._leader: threading.Thread | None = None
        self._idle_threads = 0
        self._threads = 0
        self._waiting = 0
        self._max_threads = max(self.cfg.threads, 1) + SPARE_THREADS
        self._busy_since: float | None = None
        self._loop_tick = time.monotonic()
        self._returned: list[Connection] = []
        self._returned_lock = threading.Lock()
        self._serving: dict[int, tuple[Connection, object, dict | None]] = {}
        self._timers: list[tuple[float, int, Connection]] = []
        self._sequence = itertools.count()
        self._open = 0
        self._abandoned: set[Connection] = set()
        """Connections answered in place of a stuck run(); their thread still holds the socket."""
        self._listening = False
        self._stopped = False
        self._accept_paused_until = 0.0
        cfg = self.cfg
        field_size = cfg.limit_request_field_size or 8190
        fields = cfg.limit_request_fields or 100
        self._max_head = (cfg.limit_request_line or 8190) + fields * (field_size + 2) + 4
        super().init_process()

    # --- gunicorn's Worker API ---------------------------------------------------------------------------------

    def run(self) -> None:
        if self.cfg.is_ssl:
            self.log.error("ScoringWorker does not terminate TLS; put a TLS proxy in front of the service.")
            return
        scoring = self._scoring()
        self._runner = scoring.runner if scoring is not None else None
        self._max_body = scoring.settings.max_body_bytes if scoring is not None else None
        self._max_buffered = scoring.settings.max_buffered_bytes if scoring is not None else None
        self._read_timeout = scoring.settings.request_read_timeout_s if scoring is not None else 60
        self._keepalive = self.cfg.keepalive or 0
        self._settings = SettingsSnapshot(self.cfg, self._read_timeout)
        if self._runner is not None:
            self._runner.watched_externally = True
            self._runner.threads = _Guard(self)
        for listener in self.sockets:
            listener.setblocking(False)
            self._selector.register(listener, selectors.EVENT_READ, _ACCEPT)
        self._listening = True
        self._selector.register(self.PIPE[0], selectors.EVENT_READ, _WAKE)
        with self._cond:
            self._start_thread()
        self._watch()

    def handle_exit(self, sig, frame) -> None:
        scoring = self._scoring()
        if scoring is not None:
            scoring.runner.begin_shutdown()
        super().handle_exit(sig, frame)

    def handle_error(self, req, client, addr, exc) -> None:
        """Answer what gunicorn rejects with a JSON ``{"message"}`` that never quotes the request; anything that
        is not the client's fault is logged with its traceback and answered with a generic 500."""
        extra = ""
        if isinstance(exc, (RequestReadTimeout, BuffersFull)):
            status, reason, message = exc.status, HTTPStatus(exc.status).phrase, exc.message
            extra = "".join(f"{name}: {value}\r\n" for name, value in exc.headers.items() if name != "Connection")
        elif isinstance(exc, ParseException) and not isinstance(exc, ConfigurationProblem):
            status, reason, message = next(
                ((code, name, text) for kind, code, name, text in _PARSE_ERRORS if isinstance(exc, kind)), _BAD_REQUEST
            )
        else:
            self.log.exception("Error handling a request", exc_info=exc)
            status, reason, message = 500, "Internal Server Error", "An unexpected internal error occurred."
        if status != 500:
            client_ip = (addr or ("",))[0]
            self.log.warning("Rejected a request from %s: %s (%d %s)", client_ip, type(exc).__name__, status, reason)
        body = json.dumps({"message": message}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}{NOSNIFF}\r\n"
        )
        try:
            client.send(head.encode("latin-1") + body, socket.MSG_DONTWAIT)
        except OSError:
            self.log.debug("Could not send the %d answer: the client has gone.", status)

    def _scoring(self):
        return getattr(getattr(self, "wsgi", None), "extensions", {}).get("scoring")

    # --- threads: leader/follower and the watchdog ------------------------------------------------------------

    def _start_thread(self) -> None:
        """Start one more loop thread (caller holds ``_cond``)."""
        self._threads += 1
        threading.Thread(target=self._follow, name=f"loop-{self._threads}", daemon=True).start()

    def _follow(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                self._idle_threads += 1
                while self._leader is not None and not self._stopped:
                    self._cond.wait()
                self._idle_threads -= 1
                if self._stopped:
                    return
                self._leader = me
            try:
                self._lead(me)
            except Exception:
                self._loop_failed()
                return

    def _loop_failed(self) -> None:
        """The loop raised (a bug, or its selector broke): stop this worker now so gunicorn starts a fresh one,
        rather than sit with no thread running the loop until WORKER_TIMEOUT."""
        self.log.exception("The worker's event loop failed; stopping the worker so that gunicorn replaces it")
        self.alive = False
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _can_start_thread(self) -> bool:
        """Whether one more loop thread may be started: waiting threads do not count, up to MAX_WAITING_THREADS."""
        return (
            self._threads - self._waiting < self._max_threads
            and self._threads < self._max_threads + MAX_WAITING_THREADS
        )

    def _watch(self) -> None:
        """The main thread: hand the loop over from a busy leader, drive run() deadlines, heartbeat, shutdown."""
        last_notify = 0.0
        stop_by = None
        while not self._stopped:
            time.sleep(TICK_S)
            now = time.monotonic()
            if now - last_notify >= 1.0 and now - self._loop_tick < 2.0:
                self.notify()
                last_notify = now
            if self.alive and self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
            if not self.alive and stop_by is None:
                stop_by = now + self.cfg.graceful_timeout
                os.write(self.PIPE[1], b".")
            if stop_by is not None and now >= stop_by:
                self.log.warning("Graceful timeout: %d connection(s) still open at exit", self._open)
                break
            self._relieve_busy_leader(now)
            if self._runner is not None:
                for exchange in self._runner.watch(now, self._mark_abandoned):
                    if exchange is not None:
                        threading.Thread(target=self._answer_in_place, args=exchange, daemon=True).start()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _relieve_busy_leader(self, now: float) -> None:
        with self._cond:
            since = self._busy_since
            if self._leader is None or since is None or now - since < PROMOTE_AFTER_S:
                return
            if self._idle_threads == 0:
                if not self._can_start_thread():
                    return
                self._start_thread()
            self._leader = None
            self._busy_since = None
            self._cond.notify()

    def _mark_abandoned(self, call) -> tuple[Connection, object, dict] | None:
        """A run() blocked in C outlived its timeout: mark its request as answered in its place (None: no request to
        answer). Called under the call's lock, so its thread, should run() return now, sees the mark and drops its
        own answer; the 504 is written afterwards by ``_answer_in_place`` from a thread of its own."""
        exchange = self._serving.get(call.thread_id)
        if exchange is None or exchange[2] is None:
            return None
        conn, _, environ = exchange
        conn.abandoned = True
        self._abandoned.add(conn)
        environ[UNANSWERED] = True
        return exchange

    def _answer_in_place(self, conn: Connection, req, environ: dict) -> None:
        stand_in = {key: value for key, value in environ.items() if key != UNANSWERED}
        stand_in[REJECT] = self._runner.timeout_error()
        stand_in["wsgi.input"] = io.BytesIO()
        if environ.get(REQUEST_ID):
            stand_in["HTTP_X_REQUEST_ID"] = environ[REQUEST_ID]
        resp = WorkerResponse(req, conn.sock, self._settings)
        resp.force_close()
        try:
            self._respond(stand_in, resp)
        except OSError:
            pass
        except Exception:
            self.log.exception("Could not answer a timed-out request")
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)  # the stuck thread closes the fd when its call returns
        except OSError:
            pass

    # --- the loop ---------------------------------------------------------------------------------------------

    def _lead(self, me: threading.Thread) -> None:
        """Run the loop until this thread is relieved (while serving a long request) or the worker stops."""
        for conn, _, _ in list(self._serving.values()):
            # Connections the previous leader is still serving must not be read by this one.
            if conn.registered:
                self._unregister(conn)
        if not self._take_returned():
            return  # relieved while serving a returned connection: another thread runs the loop now
        selector = self._selector
        while True:
            now = time.monotonic()
            self._loop_tick = now
            if not self.alive and not self._drain_step():
                with self._cond:
                    self._stopped = True
                    self._cond.notify_all()
                return
            timeout = 1.0
            if self._timers:
                timeout = min(max(self._timers[0][0] - now, 0.0), 1.0)
            for key, _ in selector.select(timeout):
                handler = key.data
                if handler is _ACCEPT:
                    self._accept(key.fileobj)
                elif handler is _WAKE:
                    try:
                        os.read(self.PIPE[0], 4096)
                    except BlockingIOError:
                        pass
                    if not self._take_returned():
                        return
                elif not self._on_readable(handler):
                    return  # relieved while serving: another thread runs the loop now
            self._expire(time.monotonic())

    def _accept(self, listener: socket.socket) -> None:
        if not self._listening:
            return
        server = listener.getsockname()
        for _ in range(64):
            try:
                sock, addr = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self.log.warning("Cannot accept connections: %s; pausing for 0.1 s", exc)
                    self._pause_accepting()
                    return
                if exc.errno == errno.ECONNABORTED:
                    continue
                raise
            sock.setblocking(False)  # read when the loop says so; WorkerResponse._send bounds a write that has to wait
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, addr, server)
            self._open += 1
            self._set_deadline(conn, time.monotonic() + self._read_timeout)
            self._register(conn)

    def _pause_accepting(self) -> None:
        for listener in self.sockets:
            self._selector.unregister(listener)
        self._listening = False
        self._accept_paused_until = time.monotonic() + 0.1

    def _on_readable(self, conn: Connection) -> bool:
        """Read what arrived and serve the requests it completes; False when this thread is no longer the leader."""
        if conn.serving:
            return True
        try:
            data = conn.sock.recv(MAX_RECV if conn.request_end else 65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if conn.closing:
            conn.drained += len(data)
            if not data or conn.drained > MAX_RECV:
                self._close(conn)
            return True
        if not data:
            if not conn.buffer:
                self._close(conn)
                return True
            # The client half-closed mid-request: what it sent is all there will be, answered as it is.
            conn.request_end, conn.eof = len(conn.buffer), True
            return self._serve_buffered(conn)
        if not conn.buffer:
            conn.deadline = time.monotonic() + self._read_timeout  # a request's first byte starts its deadline
        conn.buffer += data
        return self._serve_buffered(conn)

    def _serve_buffered(self, conn: Connection) -> bool:
        """Serve every complete request in ``conn``'s buffer, inline; False when relieved meanwhile."""
        me = threading.current_thread()
        while True:
            end = self._request_end(conn)
            if end is None:
                if len(conn.buffer) > BUFFER_CHECK_BYTES:
                    self._check_budget(conn)
                return True
            conn.serving = True
            self._serving[threading.get_ident()] = (conn, None, None)
            self._busy_since = time.monotonic()
            keep = self._serve(conn, end) and not conn.eof
            with self._cond:
                still_leader = self._leader is me
                if still_leader:
                    self._busy_since = None
            if not still_leader:
                with self._returned_lock:
                    self._returned.append(conn if keep else _closing(conn))
                os.write(self.PIPE[1], b".")
                return False
            if not self._after_serving(conn, keep):
                return True

    def _check_budget(self, conn: Connection) -> None:
        """Refuse ``conn``'s request (503, and close) when the requests still arriving hold more than
        MAX_BUFFERED_BYTES between them: slow uploads must not exhaust the worker's memory."""
        if self._max_buffered is None:
            return
        held = sum(
            len(key.data.buffer)
            for key in self._selector.get_map().values()
            if key.data is not conn and isinstance(key.data, Connection)
        ) + len(conn.buffer)
        if held > self._max_buffered:
            self.handle_error(None, conn.sock, conn.addr, BuffersFull(held, self._max_buffered))
            self._linger(conn)

    def _after_serving(self, conn: Connection, keep: bool) -> bool:
        """Give ``conn`` back to the loop; True when another complete request may be buffered."""
        conn.serving = False
        if not keep:
            self._linger(conn)
            return False
        if not conn.registered:
            self._register(conn)
        now = time.monotonic()
        self._set_deadline(conn, now + (self._read_timeout if conn.buffer else self._keepalive))
        return bool(conn.buffer)

    def _take_returned(self) -> bool:
        """Take back the connections relieved threads have finished with, and serve what they have buffered; False
        when relieved meanwhile (the connections not served yet are left for the new leader)."""
        with self._returned_lock:
            returned, self._returned = self._returned, []
        pending = []
        for conn in returned:
            if conn.closing:
                conn.closing = conn.serving = False
                self._linger(conn)
            elif self._after_serving(conn, True):
                pending.append(conn)
        for index, conn in enumerate(pending):
            if not self._serve_buffered(conn):
                with self._returned_lock:
                    self._returned.extend(pending[index + 1 :])
                os.write(self.PIPE[1], b".")  # the new leader may be in select() already: wake it to take them
                return False
        return True

    def _request_end(self, conn: Connection) -> int | None:
        """Where the first buffered request ends once it is all there (None: not yet); sets ``conn.reject`` for a
        body over MAX_REQUEST_BODY_BYTES, which is answered at once without it."""
        buffer = conn.buffer
        if conn.request_end is not None:
            return conn.request_end if len(buffer) >= conn.request_end else None
        if conn.walk is not None:
            return self._chunked_request_end(conn, conn.walk.start)
        head_end = buffer.find(b"\r\n\r\n")
        if head_end < 0:
            # Too long a head is handed to gunicorn's parser, which names the limit it breaks.
            return len(buffer) if len(buffer) > self._max_head else None
        body_start = head_end + 4
        head = bytes(buffer[:body_start]).lower()
        if b"\ntransfer-encoding:" in head and b"chunked" in head:
            conn.walk = ChunkedWalk(body_start, body_start)
            end = self._chunked_request_end(conn, body_start)
            if end is None:
                self._maybe_continue(conn, head)
            return end
        position = head.find(b"\ncontent-length:")
        if position < 0:
            return body_start
        value = head[position + 16 : head.find(b"\r\n", position + 16)].strip()
        if not value.isdigit():
            return body_start  # gunicorn's parser rejects it
        length = int(value)
        if self._max_body is not None and length > self._max_body:
            conn.reject = payload_too_large(length, self._max_body)
            return body_start
        conn.request_end = body_start + length
        if len(buffer) >= conn.request_end:
            return conn.request_end
        self._maybe_continue(conn, head)
        return None

    def _chunked_request_end(self, conn: Connection, body_start: int) -> int | None:
        end = chunked_end(conn.buffer, conn.walk, self._max_body)
        if end == -1:
            conn.reject = payload_too_large(None, self._max_body)
            conn.walk = None
            return body_start
        return end

    @staticmethod
    def _maybe_continue(conn: Connection, head: bytes) -> None:
        """Send ``100 Continue`` once per request waiting for its body, never to HTTP/1.0 (RFC 9110 §10.1.1)."""
        http11 = head[: head.find(b"\r\n")].endswith(b" http/1.1")
        if http11 and not conn.continued and b"\nexpect:" in head and b"100-continue" in head:
            conn.continued = True
            try:
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n", socket.MSG_DONTWAIT)
            except OSError:
                pass

    def _serve(self, conn: Connection, end: int) -> bool:
        """Parse and answer the request in ``conn.buffer[:end]``; True to keep the connection open."""
        # Head and body each copied once: a Content-Length body as one piece, which gunicorn's parser then never
        # copies aside; a chunked body in CHUNKED_PIECE pieces (see there).
        buffer = conn.buffer
        head_end = buffer.find(b"\r\n\r\n", 0, end)
        body_start = end if head_end < 0 else head_end + 4
        with memoryview(buffer) as view:
            if conn.walk is None:
                source = (bytes(view[:body_start]), bytes(view[body_start:end]))
            else:
                pieces = range(body_start, end, CHUNKED_PIECE)
                source = (bytes(view[:body_start]), *(bytes(view[at : min(at + CHUNKED_PIECE, end)]) for at in pieces))
        del buffer[:end]
        reject, conn.reject, conn.request_end, conn.walk = conn.reject, None, None, None
        conn.continued = False
        thread_id = threading.get_ident()
        req = resp = None
        try:
            parser = WorkerRequestParser(self._settings, source, conn.addr)
            req = next(parser)
            req._expected_100_continue = False  # answered by _maybe_continue, or not wanted: the body is here
            if req.version not in _SUPPORTED_VERSIONS:
                raise BadRequest(f"HTTP version {req.version} is not supported")
            if req.version == (1, 1) and not any(name == "HOST" for name, _ in req.headers):
                raise BadRequest("HTTP/1.1 request without Host")
            resp, environ = wsgi.create(req, conn.sock, conn.addr, conn.server, self._settings, WorkerResponse)
            if reject is not None:
                environ[REJECT] = reject
            self._serving[thread_id] = (conn, req, environ)
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            self._respond(environ, resp)
        except (OSError, NoMoreData):
            return False
        except BaseException as exc:  # noqa: BLE001 - one request's failure must never stop the loop
            if not conn.abandoned and (resp is None or not resp.headers_sent):
                self.handle_error(req, conn.sock, conn.addr, exc)
            elif not conn.abandoned:
                self.log.exception("Error while sending an answer; closing its connection")
            return False
        finally:
            self._serving.pop(thread_id, None)
        if conn.abandoned or resp.should_close():
            return False
        return framing_agrees(req, parser)

    def _respond(self, environ: dict, resp: WorkerResponse) -> None:
        respiter = self.wsgi(environ, resp.start_response)
        try:
            if environ.get(UNANSWERED):
                return  # answered 504 in this request's place meanwhile: the late answer is dropped
            if CLOSE_CONNECTION in environ or REJECT in environ or not self.alive:
                resp.force_close()  # before the head is written, so that it says "Connection: close"
            for item in respiter:
                resp.write(item)
            resp.close()
        finally:
            if hasattr(respiter, "close"):
                respiter.close()

    # --- connection bookkeeping (leader only) -----------------------------------------------------------------

    def _register(self, conn: Connection) -> None:
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        conn.registered = True

    def _unregister(self, conn: Connection) -> None:
        self._selector.unregister(conn.sock)
        conn.registered = False

    def _set_deadline(self, conn: Connection, deadline: float) -> None:
        """Move ``conn``'s deadline; the timer heap holds one entry per connection, re-armed when it comes due."""
        conn.deadline = deadline
        if deadline < conn.timer_at:
            conn.timer_at = deadline
            heapq.heappush(self._timers, (deadline, next(self._sequence), conn))

    def _expire(self, now: float) -> None:
        if not self._listening and self.alive and now >= self._accept_paused_until:
            for listener in self.sockets:
                self._selector.register(listener, selectors.EVENT_READ, _ACCEPT)
            self._listening = True
        timers = self._timers
        while timers and timers[0][0] <= now:
            at, _, conn = heapq.heappop(timers)
            if at != conn.timer_at or conn.sock.fileno() < 0:
                continue  # superseded by an earlier deadline, or closed
            conn.timer_at = float("inf")
            if conn.serving:
                self._set_deadline(conn, now + 1.0)
            elif conn.deadline > now:
                self._set_deadline(conn, conn.deadline)
            elif conn.closing or not conn.buffer:
                self._close(conn)  # keep-alive over, or a new connection that never sent a byte
            else:
                self.handle_error(None, conn.sock, conn.addr, RequestReadTimeout(self._read_timeout))
                self._linger(conn)

    def _linger(self, conn: Connection) -> None:
        """Half-close and drain what the client still sends (for LINGER_S at most), so it reads our answer
        instead of a reset; a pipelined request behind a closing answer is not left waiting."""
        if conn.sock.fileno() < 0:
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.closing, conn.buffer = True, bytearray()
        if not conn.registered:
            self._register(conn)
        self._set_deadline(conn, time.monotonic() + LINGER_S)

    def _close(self, conn: Connection) -> None:
        if conn.registered:
            self._unregister(conn)
        if conn.sock.fileno() >= 0:
            conn.sock.close()
            self._open -= 1
        self._abandoned.discard(conn)

    def _drain_step(self) -> bool:
        """Shutdown: stop accepting, close idle connections; False once nothing is left to serve."""
        if self._listening or self.sockets:
            for listener in self.sockets:
                if self._listening:
                    self._selector.unregister(listener)
                listener.close()
            self.sockets, self._listening = [], False
        for key in list(self._selector.get_map().values()):
            conn = key.data
            if isinstance(conn, Connection) and not conn.buffer and not conn.serving and not conn.closing:
                self._close(conn)
        return self._open > len(self._abandoned)


class _Guard(ThreadGuard):
    """The runner's view of the worker's threads: a thread may block only if the loop can go on without it."""

    def __init__(self, worker: ScoringWorker) -> None:
        self._worker = worker

    def can_block(self) -> bool:
        worker = self._worker
        return (
            worker._leader is not threading.current_thread() or worker._idle_threads > 0 or worker._can_start_thread()
        )

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        worker = self._worker
        with worker._cond:
            worker._waiting += 1
        try:
            yield
        finally:
            with worker._cond:
                worker._waiting -= 1


def _closing(conn: Connection) -> Connection:
    conn.closing = True
    return conn
