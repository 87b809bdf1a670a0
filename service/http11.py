"""HTTP/1.1 on the wire for service.worker.ScoringWorker: gunicorn's request parser and response, adapted for a
worker that buffers each request whole before it is served, and the walk that finds where a chunked body ends.

gunicorn seams used beyond its ``Worker`` class (pinned gunicorn==27.0.1, tested in tests/service/test_worker.py):
``gunicorn.http.RequestParser`` over an iterable, its ``unreader`` and its ``mesg_class``, and
``Response.default_headers`` / ``send_headers`` / ``_emit_body`` (the subclass hook gunicorn documents).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from gunicorn import util
from gunicorn.http import RequestParser, wsgi
from gunicorn.http.errors import ParseException
from gunicorn.http.message import Request

MAX_TRUST_ENTRIES = 1024
"""Peer addresses whose forwarding-header trust a worker remembers; others are decided per request."""
NOSNIFF = "X-Content-Type-Options: nosniff\r\n"


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
MAX_CHUNK_LINE = 1024
MAX_TRAILERS = 8192
FRAMING_ALLOWANCE = 64 * 1024
"""A chunked body may take 2 x MAX_REQUEST_BODY_BYTES + this on the wire (sizes, extensions, trailers)."""
CHUNKED_PIECE = 8192
"""A chunked body reaches gunicorn's parser in pieces this large (its own socket reads' size): its ChunkedReader
copies the rest of the piece after each chunk, so one piece holding the whole body is copied once per chunk
(200k one-byte chunks: 0.3 s in 8 KiB pieces, 0.9 s in 64 KiB ones, more than 40 s in one)."""


class BadRequest(ParseException):
    """A request gunicorn parses but RFC 9112 rejects: an HTTP version other than 1.0/1.1, or HTTP/1.1 without Host."""


@dataclass(eq=False, slots=True)
class ChunkedWalk:
    """Where the walk of a chunked body starting at ``start`` stands: its next size line at ``position``, after
    ``data`` bytes of chunk data."""

    start: int
    position: int
    data: int = 0


class WorkerResponse(wsgi.Response):
    """gunicorn's response, writing the head with the first body bytes: one send, one TCP segment, per answer."""

    _head = b""

    def default_headers(self):
        # gunicorn's lines, with the Date line from the worker's settings (formatted once a second, not per answer).
        if self.upgrade:
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        major, minor = self.req.version
        headers = [
            f"HTTP/{major}.{minor} {self.status}\r\n",
            f"Server: {self.version}\r\n",
            self.cfg.date_line(),
            f"Connection: {connection}\r\n",
        ]
        if self.chunked:
            headers.append("Transfer-Encoding: chunked\r\n")
        headers.append(NOSNIFF)
        return headers

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._head = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, b""
        if self.chunked:
            data = b"%X\r\n%s\r\n" % (len(data), data)
        self._send(head + data)

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        head, self._head = self._head, b""
        if self.chunked:
            self._send(head + b"0\r\n\r\n")
        elif head:
            self._send(head)

    def _send(self, data: bytes) -> None:
        """Send all of ``data`` on the non-blocking socket: at once when the socket buffer takes it (no poll first, as
        a socket with a timeout would make), else waiting at most REQUEST_READ_TIMEOUT_S for a client that does not
        read."""
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        sock.settimeout(self.cfg.write_timeout)
        try:
            sock.sendall(memoryview(data)[sent:])
        finally:
            sock.setblocking(False)


class WorkerRequest(Request):
    """gunicorn's request, with the trust in the peer's forwarding headers decided once per peer address: gunicorn
    parses the address and matches it against FORWARDED_ALLOW_IPS on every request."""

    def _peer_trusted_for_forwarded(self):
        if not isinstance(self.peer_addr, tuple):
            return super()._peer_trusted_for_forwarded()
        trust, host = self.cfg.forwarding_trust, self.peer_addr[0]
        decision = trust.get(host)
        if decision is None:
            decision = super()._peer_trusted_for_forwarded()
            if len(trust) < MAX_TRUST_ENTRIES:
                trust[host] = decision
        return decision


class WorkerRequestParser(RequestParser):
    mesg_class = WorkerRequest


class SettingsSnapshot:
    """gunicorn's Config with every setting's value read once: the parser and the response read dozens of settings
    per request, each a Config.__getattr__ and a Setting.get() call. Anything else (methods, properties) is the
    Config's own."""

    def __init__(self, cfg, write_timeout: float) -> None:
        self.__dict__.update({name: setting.get() for name, setting in cfg.settings.items()})
        self.is_ssl = cfg.is_ssl
        self.write_timeout = write_timeout
        """How long an answer's send may wait for the client to read (REQUEST_READ_TIMEOUT_S)."""
        self.forwarding_trust: dict[str, tuple] = {}
        """WorkerRequest's trust decision by peer address (the settings it depends on are fixed for the worker)."""
        self._cfg = cfg
        self._date = (0, "")

    def date_line(self) -> str:
        """The response's ``Date`` header line, as gunicorn formats it (whole seconds)."""
        now = int(time.time())
        second, line = self._date
        if second != now:
            line = f"Date: {util.http_date(now)}\r\n"
            self._date = (now, line)
        return line

    def __getattr__(self, name: str):
        return getattr(self._cfg, name)


def framing_agrees(req, parser: RequestParser) -> bool:
    """Whether gunicorn's framing of the request ends where ours did: it left no bytes past the body. The part of
    the body the app did not read (a 401 or 404 answered without it) is read and dropped first, as gunicorn's own
    parser does before the next request; it is all buffered already."""
    try:
        while req.body.read(65536):
            pass
        return not parser.unreader.take_buffered()
    except Exception:  # noqa: BLE001 - a body gunicorn cannot read to its end is a framing disagreement too
        return False


def chunked_end(buffer: bytearray, walk: ChunkedWalk, limit: int | None) -> int | None:
    """Where a chunked body ends (after its trailers), walking on from ``walk``; None: not all there yet; -1: its
    data exceeds ``limit``, or its framing (sizes, extensions, trailers) takes more than 2 x ``limit`` +
    FRAMING_ALLOWANCE on the wire. Malformed framing ends "here", so gunicorn's parser rejects it."""
    max_wire = None if limit is None else 2 * limit + FRAMING_ALLOWANCE
    position = walk.position
    while True:
        if max_wire is not None and position - walk.start > max_wire:
            return -1
        line_end = buffer.find(b"\r\n", position, position + MAX_CHUNK_LINE + 2)
        if line_end < 0:
            walk.position = position
            return None if len(buffer) - position <= MAX_CHUNK_LINE else len(buffer)
        size_text, semicolon, _ = bytes(buffer[position:line_end]).partition(b";")
        if semicolon:
            size_text = size_text.rstrip(b" \t")  # RFC 9112 §7.1.1: whitespace only before an extension
        if not _CHUNK_SIZE.fullmatch(size_text):
            return len(buffer)
        size = int(size_text, 16)
        if size == 0:
            walk.position = position
            if buffer[line_end + 2 : line_end + 4] == b"\r\n":
                return line_end + 4
            trailer_end = buffer.find(b"\r\n\r\n", line_end, line_end + MAX_TRAILERS + 4)
            if trailer_end >= 0:
                return trailer_end + 4
            return None if len(buffer) - line_end <= MAX_TRAILERS else len(buffer)
        walk.data += size
        if limit is not None and walk.data > limit:
            return -1
        position = line_end + 2 + size + 2
        if position > len(buffer):
            walk.position = position
            return None
