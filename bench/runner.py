"""Runs a plan: per repetition, every server configuration is started, each workload is warmed up and then measured on
each configuration in turn (with the server's CPU, the client's CPU and everyone else's CPU), memory is read and the
servers are stopped; the compute floor runs in-process beside them. Failures are recorded, not raised, so one broken
server still leaves a report."""

import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import procstat
from bench.compute_floor import run_in_process
from bench.measure import LoadResult, run_python
from bench.servers import RunningServer, ServerSpec, ServerStartError
from bench.workloads import BIG_ROWS, PROBA, Workload, load_verified
from bench.wrk import WrkError, run_wrk

COMPUTE_FLOOR = "floor-compute"


@dataclass(frozen=True)
class Plan:
    """Everything a run needs. ``wrk`` is the wrk binary, or None to use the Python client for every workload."""

    specs: list[ServerSpec]
    work: list[Workload]
    reps: int
    bodies: dict[str, dict[str, Path]]
    models: dict[str, Path]
    wrk: str | None
    time_limit: int
    quiet_wait: float = 0.0


def _record(result: LoadResult, rows: int, server_cpu_s: float, busy_s: float, wall_s: float) -> dict:
    n = max(result.requests, 1)
    foreign = max(0.0, busy_s - server_cpu_s - result.client_cpu_s)
    return {
        "client": result.client,
        "requests": result.requests,
        "rows_per_request": rows,
        "req_s": result.requests / result.duration_s,
        "rows_s": result.requests * rows / result.duration_s,
        "p50_ms": result.p50_ms,
        "p90_ms": result.p90_ms,
        "p99_ms": result.p99_ms,
        "server_cpu_ms_per_req": server_cpu_s * 1000 / n,
        "client_cpu_ms_per_req": result.client_cpu_s * 1000 / n,
        "foreign_cpu_pct": 100 * foreign / (wall_s * os.cpu_count()),
        "non200": result.non200,
        "errors": result.error_count - result.non200,
        "error_detail": result.errors,
        "first_non200": result.first_non200,
    }


def _load(plan: Plan, server: RunningServer, w: Workload, count: int) -> LoadResult:
    spec = server.spec
    body = plan.bodies[spec.body_key][w.name]
    # wrk for the many small requests; the few 100 000-row ones are timed by the Python client
    if plan.wrk and count >= w.connections and w.rows < BIG_ROWS:
        return run_wrk(plan.wrk, server.url, spec.score_path, body, count, w.connections, plan.time_limit)
    return run_python(server.url, spec.score_path, body.read_bytes(), count, w.connections, plan.time_limit)


def measure_workload(plan: Plan, server: RunningServer, w: Workload) -> dict:
    """Warm up, then one measured run of ``w`` against ``server``; returns the figures of that run."""
    if w.warmup:
        _load(plan, server, w, max(w.warmup, w.connections))
    busy0, _ = procstat.machine_cpu_seconds()
    server0, wall0 = server.cpu_seconds(), time.monotonic()
    result = _load(plan, server, w, w.count)
    wall = time.monotonic() - wall0
    server_cpu = server.cpu_seconds() - server0
    busy = procstat.machine_cpu_seconds()[0] - busy0
    return _record(result, w.rows, server_cpu, busy, wall)


def measure_compute_floor(plan: Plan, w: Workload, models: dict) -> dict:
    """The in-process floor for ``w``: its own CPU is the 'server' CPU."""
    body = plan.bodies["data"][w.name].read_bytes()
    busy0, _ = procstat.machine_cpu_seconds()
    wall0 = time.monotonic()
    method = "predict_proba" if w.model == PROBA else "predict"
    result = run_in_process(models[w.model], body, w.count, w.warmup, method)
    wall = time.monotonic() - wall0
    busy = procstat.machine_cpu_seconds()[0] - busy0
    cpu, result.client_cpu_s = result.client_cpu_s, 0.0
    return _record(result, w.rows, cpu, busy, wall)


def wait_for_quiet(max_wait: float, busy_cores: float = 0.3, window: float = 0.5) -> float:
    """Wait (at most ``max_wait`` s) until the machine's other work stays under ``busy_cores`` for one ``window``;
    returns the cores busy in the last window. Other engineers share these cores: this trims, not removes, the noise
    that the per-record ``foreign_cpu_pct`` then reports."""
    deadline = time.monotonic() + max_wait
    while True:
        busy0, _ = procstat.machine_cpu_seconds()
        time.sleep(window)
        busy = (procstat.machine_cpu_seconds()[0] - busy0) / window
        if busy < busy_cores or time.monotonic() >= deadline:
            return busy


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _start_all(plan: Plan, log_dir: Path, stack: ExitStack, instances: dict, rep: int) -> dict[str, RunningServer]:
    """Start every configuration one after the other (so each cold start has the machine to itself)."""
    servers = {}
    for spec in plan.specs:
        info = instances[spec.name]
        info["busy_cores_before"].append(wait_for_quiet(plan.quiet_wait))
        try:
            servers[spec.name] = stack.enter_context(RunningServer(spec, log_dir))
        except (ServerStartError, OSError) as exc:
            info["failures"].append(f"rep {rep}: {exc}")
            _progress(f"[rep {rep}/{plan.reps}] {spec.name}: FAILED to start: {exc}")
            continue
        info["cold_start_s"].append(servers[spec.name].cold_start_s)
    return servers


def run_plan(plan: Plan, log_dir: Path) -> dict:
    """Execute ``plan``; returns ``{"instances": {name: {...}}, "runs": {system: {workload: [rep records]}}}``.

    Each repetition starts every configuration, then measures one workload at a time on every configuration that
    serves it (the idle ones cost nothing), alternating the order between repetitions, so the figures a ratio pairs
    are taken seconds apart rather than minutes; the servers are stopped at the end of the repetition.
    """
    instances = {
        s.name: {
            "system": s.system,
            "label": s.label,
            "cold_start_s": [],
            "memory": [],
            "failures": [],
            "busy_cores_before": [],
        }
        for s in plan.specs
    }
    runs: dict[str, dict[str, list]] = {}
    models = {flavour: load_verified(path) for flavour, path in plan.models.items()}
    for rep in range(1, plan.reps + 1):
        order = plan.specs if rep % 2 else plan.specs[::-1]
        with ExitStack() as stack:
            servers = _start_all(plan, log_dir, stack, instances, rep)
            for w in plan.work:
                wait_for_quiet(plan.quiet_wait)
                for spec in order:
                    if w.name not in spec.workloads or spec.name not in servers:
                        continue
                    try:
                        record = measure_workload(plan, servers[spec.name], w)
                    except (WrkError, OSError) as exc:
                        instances[spec.name]["failures"].append(f"rep {rep} {w.name}: {exc}")
                        _progress(f"[rep {rep}/{plan.reps}] {spec.name} {w.name}: FAILED: {exc}")
                        continue
                    record["rep"] = rep
                    runs.setdefault(spec.system, {}).setdefault(w.name, []).append(record)
                    _progress(
                        f"[rep {rep}/{plan.reps}] {spec.name:16} {w.name:10} {record['req_s']:9.1f} req/s "
                        f"p50 {record['p50_ms']:7.2f} ms  non-200 {record['non200']} errors {record['errors']} "
                        f"{record['first_non200']}"
                    )
                if w.connections == 1:  # in-process there are no connections: par8 would repeat seq1
                    record = measure_compute_floor(plan, w, models)
                    record["rep"] = rep
                    runs.setdefault(COMPUTE_FLOOR, {}).setdefault(w.name, []).append(record)
            for name, server in servers.items():
                instances[name]["memory"].append(server.memory())
    instances[COMPUTE_FLOOR] = {
        "system": COMPUTE_FLOOR,
        "label": "(f) in-process parse + convert + predict + serialise (orjson, numpy)",
        "cold_start_s": [],
        "memory": [],
        "failures": [],
        "busy_cores_before": [],
    }
    return {"instances": instances, "runs": runs}
