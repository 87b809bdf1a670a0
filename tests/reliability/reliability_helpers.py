"""Reliability-suite helpers (import as `reliability_helpers`): a real `python -m service` on a free loopback port,
raw-socket HTTP exchanges, leak checks on response bodies, and /proc accounting of the server's process tree.

Every server is stopped by PID in a finally (SIGTERM, then SIGKILL); every socket read has a deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
START_TIMEOUT_S = 60
ROW = [5.1, 3.5, 1.4, 0.2]
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- raw HTTP -------------------------------------------------------------------------------------------------------


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


# --- leak checks ----------------------------------------------------------------------------------------------------

_LEAK_PATTERNS = [
    re.compile(rb"Traceback \(most recent call last\)"),
    re.compile(rb'File "[^"]+", line \d+'),
    re.compile(rb"/(?:home|root|tmp|usr|opt|work|var|etc)/[\w.\-/]+"),
    re.compile(rb"site-packages|\.py\b"),
    re.compile(rb"\w(?:Error|Exception): "),
    re.compile(rb"<module>|object at 0x"),
]
ECHO_LIMIT = 40
"""Error messages may quote a value of the input up to this many characters (service.conversion's cap)."""


def leaks(body: bytes, echo: bytes | None = None) -> list[str]:
    """What in ``body`` looks like a traceback, a file path or an exception repr, or quotes more than ECHO_LIMIT
    consecutive characters of ``echo`` (a distinctive piece of the request)."""
    found = [pattern.pattern.decode() for pattern in _LEAK_PATTERNS if pattern.search(body)]
    if echo:
        window = ECHO_LIMIT + 1
        if any(echo[i : i + window] in body for i in range(len(echo) - window + 1)):
            found.append(f"echo of more than {ECHO_LIMIT} characters of {echo[:20]!r}...")
    return found


# --- the server -----------------------------------------------------------------------------------------------------


class Server:
    """`python -m service --port <free> <args>` on 127.0.0.1; use as a context manager, it stops itself by PID."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, ready_path: str = "/health/ready") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "AML_APP_ROOT": str(SCRIPTS), **(env or {})}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
        # A file, not a pipe: a chatty server must never block on a full pipe buffer.
        self.log = tempfile.TemporaryFile(mode="w+")
        argv = [sys.executable, "-m", "service", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        """The gunicorn master's PID (the launcher runs gunicorn in-process)."""
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> Server:
        """Poll the ready path until it answers 200; AssertionError with the server output if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.stop()}")
            try:
                if (
                    exchange(self.port, request_bytes("GET", self.ready_path, content_type=None), timeout=2).status
                    == 200
                ):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not ready within {timeout} s:\n{self.stop()}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit on its own; returns its status (AssertionError if it does not exit)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            output = self.stop()
            raise AssertionError(f"server did not exit within {timeout} s:\n{output}") from None
        return self.proc.returncode

    def workers(self) -> list[int]:
        """PIDs of the master's live child processes (the gunicorn workers)."""
        return children(self.pid)

    def rss_bytes(self) -> int:
        """Resident set size of the master plus its workers, from /proc."""
        return sum(rss_bytes(pid) for pid in [self.pid, *self.workers()])

    def stop(self) -> str:
        """SIGTERM (then SIGKILL after 40 s) and return everything the server printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in [self.pid, *self.workers()]:
                    _kill(pid)
                self.proc.wait()
        return self.output

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def children(pid: int) -> list[int]:
    """Live child PIDs of ``pid`` (zombies excluded), by reading /proc/*/stat."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 when it has gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError):
        return 0


def iris_args(model_dir: Path, script: str | None = "iris_faults.py") -> list[str]:
    """Flags serving ``model_dir`` with a script from scripts/ (None: the built-in no-code script)."""
    args = ["--model_dir", str(model_dir)]
    return args if script is None else ["--entry_script", str(SCRIPTS / script), *args]
