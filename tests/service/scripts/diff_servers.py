"""Test helper: run the reference server (azureml-inference-server-http) or ours as a real process on 127.0.0.1.

Used by test_score.py and test_differential.py. Each server gets a free port, a private working directory (so no
config.json is picked up from the repository) and a log file; it is always stopped, by its own pid, on exit.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_START_ATTEMPTS = 600  # x 0.1 s: the reference boots in about 3 s on 2 busy cores
_STOP_WAIT_S = 15


def reference_python() -> str:
    """The reference venv's python (created once by scripts/reference-venv.sh); skip when PyPI is unreachable."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "reference-venv.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode == 3:
        pytest.skip(f"reference server unavailable: {done.stderr.strip()}")
    if done.returncode != 0:
        pytest.fail(f"scripts/reference-venv.sh failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process; ``with Server(...) as s:`` waits until ``GET ready_path`` answers 200, stops it on exit."""

    def __init__(self, name: str, argv: list[str], workdir: Path, ready_path: str = "/", env: dict | None = None):
        self.name = name
        self.ready_path = ready_path
        self.port = free_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{name}.log"
        self.argv = [*argv, "--port", str(self.port)]
        self.env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        for inherited in ("AZUREML_MODEL_DIR", "AZUREML_ENTRY_SCRIPT", "AML_APP_ROOT", "GUNICORN_CMD_ARGS"):
            if inherited not in (env or {}):
                self.env.pop(inherited, None)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the life of the process
        self.process = subprocess.Popen(
            self.argv, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        for _ in range(_START_ATTEMPTS):
            if self.process.poll() is not None:
                break
            try:
                if self.request("GET", self.ready_path)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        pytest.fail(f"{self.name} did not become healthy; log tail:\n{self.log_tail()}")

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the gunicorn master and its workers
        try:
            self.process.wait(_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(_STOP_WAIT_S)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """Send one request on a new connection; returns ``(status, parsed JSON body or text, headers)``."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", errors="replace")
            return response.status, parsed, dict(response.getheaders())
        finally:
            conn.close()

    def post_json(self, payload) -> tuple[int, object]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status, parsed, _ = self.request("POST", "/score", body, {"Content-Type": "application/json"})
        return status, parsed


def reference_server(python: str, entry_script: Path, model_dir: Path, workdir: Path) -> Server:
    argv = [python, str(REPO / "scripts" / "reference_server.py"), "--entry_script", str(Path(entry_script).resolve()),
            "--model_dir", str(Path(model_dir).resolve())]
    return Server("reference", argv, workdir)


def our_server(entry_script: Path | None, model_dir: Path, workdir: Path) -> Server:
    argv = [sys.executable, "-m", "service", "--model_dir", str(Path(model_dir).resolve())]
    if entry_script is not None:
        argv += ["--entry_script", str(Path(entry_script).resolve())]
    return Server("ours", argv, workdir, ready_path="/health/ready")
