"""Reliability-suite helpers (import as `reliability_helpers`): a real `python -m service` on a free loopback port,
leak checks on response bodies, and /proc accounting of the server's process tree (raw HTTP is in raw_http.py).

Every server is stopped by PID in a finally (SIGTERM, then SIGKILL); every socket read has a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from raw_http import exchange, request_bytes

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
START_TIMEOUT_S = 60
ROW = [5.1, 3.5, 1.4, 0.2]
WORKER_THREADS = 4
"""gthread threads per worker of the servers started here (set explicitly, so tests don't follow the default)."""
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Service settings of the test process's own environment must not leak into the servers started here.
_SERVICE_ENV_PREFIXES = ("AZUREML_", "AML_", "SCORING_", "WORKER_", "SERVER_", "MAX_REQUEST", "GUNICORN_", "SERVICE_")


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_SERVICE_ENV_PREFIXES)}
        full_env = {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "AML_APP_ROOT": str(SCRIPTS),
            "WORKER_THREADS": str(WORKER_THREADS),
            **(env or {}),
        }
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
        # A file, not a pipe: a chatty server must never block on a full pipe buffer.
        self.log = tempfile.TemporaryFile(mode="w+")
        self._final_output: str | None = None
        argv = [sys.executable, "-m", "service", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        """The gunicorn master's PID (the launcher runs gunicorn in-process)."""
        return self.proc.pid

    @property
    def output(self) -> str:
        """Everything the server printed so far (all of it, once it has been stopped)."""
        if self._final_output is not None:
            return self._final_output
        self.log.seek(0)
        return self.log.read()

    def output_from(self, offset: int) -> tuple[str, int]:
        """What the server printed from character ``offset`` on, and the offset to continue from."""
        self.log.seek(offset)
        text = self.log.read()
        return text, self.log.tell()

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
        if self._final_output is None:  # keep the text, close the file (filterwarnings = error sees a leak)
            self._final_output = self.output
            self.log.close()
        return self._final_output

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
