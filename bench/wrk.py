"""The C load client: wrk (a Debian package) driven by bench/wrk_post.lua, installed with apt-get when missing."""

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from bench.measure import LoadResult

LUA_SCRIPT = Path(__file__).with_name("wrk_post.lua")


class WrkError(RuntimeError):
    """wrk did not produce the summary line the Lua script prints."""


def ensure_wrk(install: bool) -> str | None:
    """Path of the wrk binary; with ``install`` (and root), ``apt-get install -y wrk`` first when it is missing.

    Returns None when wrk is absent and could not be installed, so the caller falls back to the Python client.
    """
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=120", "install", "-y", "-q", "wrk"]
    if subprocess.run(cmd, capture_output=True, timeout=300).returncode != 0:
        # a fresh container has no package lists yet
        subprocess.run(["apt-get", "-q", "update"], capture_output=True, timeout=300)
        subprocess.run(cmd, capture_output=True, timeout=300)
    return shutil.which("wrk")


def wrk_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0] if text else "wrk"


def run_wrk(
    binary: str, url: str, path: str, body_file: Path, total: int, connections: int, time_limit: int
) -> LoadResult:
    """POST the body ``total`` times over ``connections`` keep-alive connections (wrk reconnects when the server
    closes), within ``time_limit`` seconds.

    Raises:
        ValueError: ``total`` is smaller than the number of connections.
        WrkError: wrk failed or printed no summary.
    """
    # One wrk thread for all connections: a stopped thread leaves its sockets open, and a sync-worker server that has
    # accepted a fresh, still silent one of them blocks there, starving the other thread's connections (seen live).
    # One event-loop thread drives thousands of requests per second, far above any server here.
    threads = 1
    if total < connections:
        raise ValueError(f"total must be >= connections ({connections}), got {total}")
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body_file),
        "BENCH_PATH": path,
        "BENCH_PER_THREAD": str(total),
    }
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{time_limit}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    lines = []
    # The with block closes wrk's stdout pipe; wrk has been reaped by wait4 (for its rusage) by then.
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("BENCH_THREAD_DONE"):
                proc.send_signal(signal.SIGINT)  # wrk ends its -d sleep on SIGINT and prints the summary
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    summary = next((ln.split(" ", 1)[1] for ln in lines if ln.startswith("BENCH_JSON ")), None)
    if summary is None:
        raise WrkError(f"wrk exited {proc.returncode} without a summary:\n{''.join(lines[-20:])}")
    data = json.loads(summary)
    lat = data["latency_us"]
    elapsed = data["elapsed_s"] if data["elapsed_s"] > 0 else data["duration_us"] / 1e6
    errors = {k: v for k, v in data["errors"].items() if k != "status"}  # non-2xx/3xx are counted in non200
    errors["timeout"] += max(0, total - data["responses"])
    return LoadResult(
        client="wrk",
        requests=data["responses"],
        non200=data["non200"],
        duration_s=elapsed,
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        client_cpu_s=usage.ru_utime + usage.ru_stime,
        errors=errors,
        first_non200=data["first_non200"],
    )
