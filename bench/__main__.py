"""Benchmark our scoring service against azureml-inference-server-http 1.5.1 and the HTTP and compute floors.

Command line: ``python -m bench [--quick] [--reps N] [--client auto|wrk|python] [--with-mlflow] [--out FILE]``.

Exit status: 0 when every server started and every request got a 200; 1 when something failed (the JSON and the
table still record what was measured); 2 for bad arguments or a missing prerequisite.
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import idle_probe, mlflow_peer, protocols, report
from bench.args import positive_int
from bench.configs import MAIN_WORKLOADS, PROBE_READ_TIMEOUT_S, probe_spec, server_specs
from bench.runner import Plan, run_plan
from bench.servers import REPO_ROOT, RunningServer, ServerStartError
from bench.workloads import workloads, write_bodies, write_model_dirs
from bench.wrk import ensure_wrk, wrk_version

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke-test counts and 1 repetition (for CI)")
    parser.add_argument("--reps", type=positive_int, help="repetitions per figure (default 3, --quick 1)")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load client: wrk (installed with apt-get when missing), the Python client, or auto",
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument(
        "--only",
        choices=("all", "reference"),
        default="all",
        help="'reference' leaves our service out (reference server and floors only)",
    )
    parser.add_argument(
        "--with-mlflow", action="store_true", help="also run (d) MLflow models serve (builds .venv-mlflow once)"
    )
    parser.add_argument("--time-limit", type=positive_int, default=120, help="seconds allowed per load run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output (default bench/results/latest.json)")
    return parser.parse_args(argv)


def _reference_python() -> str:
    """The reference venv's python, creating the venv on first use (scripts/reference-venv.sh)."""
    done = subprocess.run(
        ["bash", "scripts/reference-venv.sh"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/reference-venv.sh exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


def _git_commit() -> str:
    out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)  # readers never see a half-written file


def _run_probe(models: dict, log_dir: Path, quick: bool, instances: dict) -> list[dict]:
    """The idle/slow connection probe on a fresh instance of ours; a start failure is recorded, not raised."""
    spec = probe_spec(models, quick)
    instances[spec.name] = {
        "system": spec.system,
        "label": spec.label,
        "cold_start_s": [],
        "memory": [],
        "failures": [],
        "busy_cores_before": [],
    }
    try:
        with RunningServer(spec, log_dir) as server:
            instances[spec.name]["cold_start_s"].append(server.cold_start_s)
            connections, samples = (100, 30) if quick else (1000, 300)
            results = idle_probe.probe(server, PROBE_READ_TIMEOUT_S[quick], connections, samples)
            instances[spec.name]["memory"].append(server.memory())
            return results
    except (ServerStartError, OSError) as exc:
        instances[spec.name]["failures"].append(f"probe: {exc}")
        return []


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds the with-blocks, so the servers under test are stopped too


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["batch"]:  # the batch runner's workload (bench/batch.py), separate from the HTTP ones
        from bench import batch

        return batch.main(argv[1:])
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    reps = args.reps or (1 if args.quick else 3)
    wrk = None if args.client == "python" else ensure_wrk(install=not args.no_install)
    if args.client == "wrk" and wrk is None:
        print(
            "error: --client wrk, but wrk is not installed and could not be installed (apt-get install wrk)",
            file=sys.stderr,
        )
        return 2
    try:
        ref_python = _reference_python()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: the reference server's venv is not available: {exc}", file=sys.stderr)
        return 2
    mlflow_bin = None
    if args.with_mlflow:
        try:
            mlflow_bin = mlflow_peer.ensure_venv()
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"error: the MLflow venv is not available: {exc}", file=sys.stderr)
            return 2
    work = workloads(args.quick)
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp_path = Path(tmp)
        models = write_model_dirs(tmp_path / "models")
        specs = server_specs(ref_python, models, include_ours=args.only == "all")
        if args.only == "all":
            specs += protocols.protocol_specs(models)
        if mlflow_bin:
            try:
                saved = mlflow_peer.save_models(mlflow_bin, models, tmp_path)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"error: could not save the models for MLflow: {exc}", file=sys.stderr)
                return 2
            specs += mlflow_peer.mlflow_specs(mlflow_bin, saved, MAIN_WORKLOADS)
        plan = Plan(
            specs=specs,
            work=work,
            reps=reps,
            bodies={
                **write_bodies(tmp_path, work, ("data", "inputs") if mlflow_bin else ("data",)),
                **protocols.write_bodies(tmp_path, work),
            },
            models=models,
            wrk=wrk,
            time_limit=args.time_limit,
            quiet_wait=0.0 if args.quick else 2.0,
        )
        raw = run_plan(plan, tmp_path)
        probe = [] if args.only == "reference" else _run_probe(models, tmp_path, args.quick, raw["instances"])
    doc = {
        "meta": {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
            "cores": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
            "client": wrk_version(wrk) if wrk else "Python http.client (wrk not used)",
            "reps": reps,
            "quick": args.quick,
            "commit": _git_commit(),
            "versions": {p: version(p) for p in ("scikit-learn", "numpy", "flask", "gunicorn", "inference-schema")},
            "workloads": {
                w.name: {
                    "title": w.title,
                    "rows": w.rows,
                    "count": w.count,
                    "connections": w.connections,
                    "warmup": w.warmup,
                    "model": w.model,
                }
                for w in work
            },
        },
        "instances": raw["instances"],
        "summary": report.summarize(raw["runs"]),
        "ratios": report.ratios(raw["runs"]),
        "runs": raw["runs"],
    }
    doc["probe"] = probe
    doc["targets"] = report.evaluate_targets(doc["ratios"], raw["instances"]) + protocols.cpu_targets(doc["ratios"])
    doc["targets"] += idle_probe.evaluate(probe, PROBE_READ_TIMEOUT_S[args.quick])
    _write_json(args.out, doc)
    print(report.markdown(doc))
    if probe:
        print(
            "\n".join(
                ["Idle and slow connections held against ours (bench/idle_probe.py):", *idle_probe.markdown(probe)]
            )
        )
    print(f"JSON written to {args.out}", file=sys.stderr)
    failed = any(info["failures"] for info in raw["instances"].values()) or any(
        s["non200"] or s["errors"] for by_w in doc["summary"].values() for s in by_w.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
