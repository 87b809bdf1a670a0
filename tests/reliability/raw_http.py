"""Raw HTTP/1.1 over a socket, for requests that HTTP clients refuse to send (bad request lines, lying
Content-Length, truncated bodies) and for reading exactly what the server wrote back. Every read has a deadline.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    """One HTTP response as read off the socket; ``status`` is None when the server closed without answering."""

    status: int | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> object:
        """The body parsed as JSON (raises ValueError when it is not JSON)."""
        return json.loads(self.body)


def parse_response(raw: bytes) -> RawResponse:
    """Split the bytes of one HTTP/1.x response into status, headers and body (Content-Length or read-to-close)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/"):
        return RawResponse(None, raw=raw)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    response = RawResponse(status, headers, rest, raw)
    length = response.header("Content-Length")
    if length is not None and length.isdigit():
        response.body = rest[: int(length)]
    return response


def exchange(port: int, payload: bytes, *, timeout: float = 10.0, shutdown_write: bool = False) -> RawResponse:
    """Send ``payload`` on a new connection and read one response until the server closes, it is complete, or
    ``timeout`` passes. ``shutdown_write`` half-closes the connection after sending (a client that gives up)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse early (e.g. 413 before the body) and close; its answer is still readable
        return _read_response(sock, deadline)


def read_response(sock: socket.socket, timeout: float = 10.0) -> RawResponse:
    """Read one response from an open connection until the server closes, it is complete, or ``timeout`` passes."""
    return _read_response(sock, time.monotonic() + timeout)


def _read_response(sock: socket.socket, deadline: float) -> RawResponse:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        response = parse_response(data)
        length = response.header("Content-Length")
        if response.status is not None and length is not None and len(response.body) >= int(length):
            return response
    return parse_response(data)


def request_bytes(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """A well-formed HTTP/1.1 request with ``Connection: close`` (unless ``headers`` says otherwise)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    all_headers = {"Connection": "close", **(headers or {})}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if body or content_length is not None or method == "POST":
        all_headers.setdefault("Content-Length", str(len(body) if content_length is None else content_length))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
