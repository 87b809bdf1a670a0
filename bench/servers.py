"""Starting, probing and stopping one server under test: a process session on 127.0.0.1 with its cold start, CPU and
memory measured from /proc."""

import http.client
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import procstat

REPO_ROOT = Path(__file__).resolve().parent.parent
# Settings the servers read from the environment: dropped from the inherited environment so every configuration runs
# with its documented defaults plus only what its ServerSpec sets.
_SERVER_ENV_PREFIXES = (
    "AZUREML_",
    "AML_",
    "WORKER_",
    "GUNICORN_",
    "SERVER_",
    "SCORING_",
    "SERVICE_",
    "WEB_CONCURRENCY",
)


class ServerStartError(RuntimeError):
    """The server exited or did not answer its ready probe in time; the message carries the end of its log."""


@dataclass(frozen=True)
class ServerSpec:
    """How to launch one configuration. ``argv`` items may contain ``{port}``; it runs in the repository root.
    ``system`` is the result row the instance reports into; ``workloads`` the workload names it is measured with;
    requests go to ``score_path`` with the rows under ``body_key``."""

    name: str
    system: str
    label: str
    argv: tuple[str, ...]
    ready_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    workloads: tuple[str, ...] = ()
    score_path: str = "/score"
    body_key: str = "data"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class RunningServer:
    """One started server. Use as a context manager so the whole process session is stopped on every exit path."""

    def __init__(self, spec: ServerSpec, log_dir: Path, ready_timeout: float = 90.0, cwd: Path = REPO_ROOT):
        self.spec = spec
        self.cwd = cwd
        self.port = free_port()
        self.log_path = log_dir / f"{spec.name}-{self.port}.log"
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.cold_start_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "RunningServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """Launch and wait until ``ready_path`` answers 200; ``cold_start_s`` is launch → first 200.

        Raises:
            ServerStartError: the process exited, or it was not ready within ``ready_timeout`` seconds.
        """
        argv = [a.format(port=self.port) for a in self.spec.argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVER_ENV_PREFIXES)} | self.spec.env
        log = self.log_path.open("wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        try:
            self._wait_ready(started)
        except BaseException:
            self.stop()  # also on SIGTERM/Ctrl-C mid-start: a with-block never sees a server whose start raised
            raise

    def _wait_ready(self, started: float) -> None:
        while time.monotonic() - started < self.ready_timeout:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.spec.name} exited with status {self.proc.returncode}:\n{self.log_tail()}"
                )
            # A long probe timeout: a server that has bound its socket but not yet started a worker (the reference
            # runs init() before its worker accepts) keeps the probe in the accept queue and answers it the moment
            # it is ready, so the cold start is not rounded up to a retry interval.
            if http_status(self.port, self.spec.ready_path, timeout=10.0) == 200:
                self.cold_start_s = time.monotonic() - started
                return
            time.sleep(0.02)
        raise ServerStartError(
            f"{self.spec.name} was not ready on GET {self.spec.ready_path} within {self.ready_timeout:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The launched process first, then every other live process of its session (the workers)."""
        return procstat.session_pids(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def cpu_seconds(self) -> float:
        return procstat.cpu_seconds(self.pids())

    def memory(self) -> dict:
        """RSS and PSS of the master and each worker, in MB, and their totals."""
        pids = self.pids()
        per = {}
        for pid in pids:
            try:
                per[pid] = procstat.memory_mb(pid)
            except FileNotFoundError:
                continue
        workers = [m for pid, m in per.items() if pid != self.proc.pid]
        master = per.get(self.proc.pid, {"rss": 0.0, "pss": 0.0})
        return {
            "processes": len(per),
            "workers": len(workers),
            "master_rss_mb": master["rss"],
            "worker_rss_mb": [w["rss"] for w in workers],
            "total_rss_mb": sum(m["rss"] for m in per.values()),
            "total_pss_mb": sum(m["pss"] for m in per.values()),
        }

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the session (gunicorn's graceful stop), then SIGKILL what is left after ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        try:  # a worker that outlived its master would keep the port and skew the next server's figures
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
