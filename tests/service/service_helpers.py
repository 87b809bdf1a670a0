"""Service test helpers (import as `service_helpers`): apps built from scripts/, and real servers on free ports.

`ServiceProcess` runs `python -m service` (our launcher, real gunicorn) or the reference server on 127.0.0.1 on a
port chosen by the OS, waits until it answers, and stops it by PID (SIGTERM, then SIGKILL) in a finally.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from venv_helpers import venv_python

from service.app import create_app
from service.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
START_TIMEOUT_S = 60
ROW = [5.1, 3.5, 1.4, 0.2]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables create_app() exports in-process (service/startup.py), plus
    ``extra``."""
    exported = ("AZUREML_", "AML_", "SERVER_PORT", "HEALTH_PORT", "WORKER_COUNT", "TRANSPORT_PROTOCOL", "HTTP_X_MS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(exported)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(script: str | None, model_dir: Path | None = None, **env: str) -> Settings:
    """Settings for a script in scripts/ (None: the no-code script), from an environment holding only ``env``."""
    environ = {"AML_APP_ROOT": str(SCRIPTS), **env}
    cli = {
        "entry_script": str(SCRIPTS / script) if script else None,
        "model_dir": str(model_dir) if model_dir else None,
    }
    return Settings.load(cli=cli, environ=environ)


def make_client(script: str | None, model_dir: Path | None = None, **env: str):
    """A Flask test client of create_app() for a script in scripts/, init() already run."""
    return create_app(make_settings(script, model_dir, **env)).test_client()


def score(client, body=None, **headers):
    """POST ``body`` (default: one iris row) as JSON to the test client's /score, with ``headers``."""
    body = {"data": [ROW]} if body is None else body
    return client.post("/score", data=json.dumps(body), content_type="application/json", headers=headers)


def wait_for_held_runs(directory: Path, count: int, timeout: float = START_TIMEOUT_S) -> None:
    """Return once ``count`` run() calls of scripts/held_run.py have started in ``directory`` (each leaves a
    ``started-*`` file); fail after ``timeout`` seconds, naming how many had."""
    deadline = time.monotonic() + timeout
    while (started := len(list(directory.glob("started-*")))) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{started} held run() call(s) started within {timeout} s, expected {count}")
        time.sleep(0.01)


class ServiceProcess:
    """A server subprocess on 127.0.0.1:<free port>; use as a context manager."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None, ready_path: str = "/") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ready_path = ready_path
        full_env = clean_env(**(env or {}))
        # A file, not a pipe: a chatty server must never block on a full pipe buffer.
        self.log = tempfile.TemporaryFile(mode="w+")
        self._final_output: str | None = None
        self.proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    @property
    def output(self) -> str:
        """Everything the server printed so far (all of it, once it has been stopped)."""
        if self._final_output is not None:
            return self._final_output
        self.log.seek(0)
        return self.log.read()

    @classmethod
    def ours(cls, *args: str, env: dict[str, str] | None = None, ready_path: str = "/health/ready") -> ServiceProcess:
        """`python -m service --port <free> <args>` from this repository's interpreter."""
        port = free_port()
        argv = [sys.executable, "-m", "service", "--port", str(port), *args]
        return cls(argv, port, env, ready_path)

    def wait_ready(self) -> ServiceProcess:
        """Poll until the ready path answers 200; fail with the server output if it exits or never gets there."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.stop()}")
            try:
                if requests.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or still booting (sync worker in init())
                pass
            time.sleep(0.1)
        pytest.fail(f"server not ready within {START_TIMEOUT_S} s:\n{self.stop()}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit on its own; returns its exit status."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"server did not exit within {timeout} s:\n{self.output}")
        self.stop()
        return self.proc.returncode

    def stop(self) -> str:
        """SIGTERM (then SIGKILL after 30 s), close the log file and return everything the server printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._final_output is None:
            self._final_output = self.output
            self.log.close()
        return self._final_output

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def find_reference_python() -> Path:
    """The reference server's venv python (scripts/reference-venv.sh); skip visibly only when PyPI is unreachable."""
    return venv_python("reference-venv.sh", "reference server")


def reference_server(reference_python: Path, *args: str, env: dict[str, str] | None = None) -> ServiceProcess:
    """The reference server (scripts/reference_server.py, bound to 127.0.0.1) on a free port."""
    port = free_port()
    argv = [str(reference_python), str(REPO / "scripts" / "reference_server.py"), "--port", str(port), *args]
    return ServiceProcess(argv, port, {"AML_APP_ROOT": str(SCRIPTS), **(env or {})}, ready_path="/")
