"""The batch workload (issue 21): rows/s of `python -m service batch` on 1 M iris rows from CSV and from Parquet, with
1 and 2 workers, against the floor (``model.predict`` on the same array in memory, one process) and a plain pandas
``read_csv(chunksize=...)`` + ``predict`` loop; peak RSS summed over the runner's processes.

Command line: ``python -m bench batch [--rows N] [--reps N] [--out FILE]``. Each repetition runs every measurement
once, back to back, in an order that alternates between repetitions; figures are medians. The runner's time is the
wall clock of the whole command, start-up (imports, workers' init()) included, since that is what a user waits for;
the "net" figures subtract the time of the same command on a 1-row file, which leaves the streaming rate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.procstat import memory_mb, session_pids
from bench.servers import REPO_ROOT
from bench.workloads import PLAIN, load_verified, write_model_dirs

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "batch.json"
MINI_BATCH_ROWS = 10_000
RUN_TIMEOUT_S = 600


def write_inputs(target: Path, rows: int) -> tuple[np.ndarray, Path, Path]:
    """``rows`` iris rows drawn with seed 0, as an array, a CSV file with a header and a Parquet file."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    X = iris.data[np.random.default_rng(0).integers(0, len(iris.data), rows)]
    frame = pd.DataFrame(X, columns=iris.feature_names)
    csv, parquet = target / "rows.csv", target / "rows.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    return X, csv, parquet


def floor(model, X: np.ndarray) -> float:
    """Seconds for ``model.predict`` on the whole array, in this process."""
    started = time.perf_counter()
    model.predict(X)
    return time.perf_counter() - started


def pandas_loop(model, csv: Path, chunk_rows: int = MINI_BATCH_ROWS) -> float:
    """Seconds for the loop a user would write: read_csv in chunks, predict each, collect the labels."""
    started = time.perf_counter()
    labels = [model.predict(chunk.to_numpy()) for chunk in pd.read_csv(csv, chunksize=chunk_rows)]
    np.concatenate(labels)
    return time.perf_counter() - started


def run_runner(model_dir: Path, source: Path, workers: int, out: Path) -> dict:
    """Wall seconds of ``python -m service batch`` and the peak RSS (sum over its processes, sampled every 50 ms)."""
    command = [sys.executable, "-m", "service", "batch", "--model_dir", str(model_dir), "--input", str(source),
               "--output", str(out), "--workers", str(workers), "--mini_batch_size", str(MINI_BATCH_ROWS)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True)
    peak = {"rss_mb": 0.0}
    finished = threading.Event()

    def sample() -> None:
        while not finished.wait(0.05):
            total = 0.0
            for pid in session_pids(proc.pid):
                try:
                    total += memory_mb(pid)["rss"]
                except (FileNotFoundError, ProcessLookupError, StopIteration):  # gone, or a zombie without VmRSS
                    continue
            peak["rss_mb"] = max(peak["rss_mb"], total)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        finished.set()
        sampler.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"python -m service batch exited {proc.returncode}: {stderr.strip()[-500:]}")
    return {"seconds": seconds, "peak_rss_mb": round(peak["rss_mb"], 1)}


def measure(rows: int, reps: int, work: Path) -> dict:
    """Every figure of the workload, ``reps`` times, alternating the order; returns medians and the raw runs."""
    model_dir = write_model_dirs(work / "models")[PLAIN]
    model = load_verified(model_dir)
    X, csv, parquet = write_inputs(work, rows)
    expected = model.predict(X)
    steps = {
        "floor": lambda: {"seconds": floor(model, X)},
        "pandas-loop": lambda: {"seconds": pandas_loop(model, csv)},
    }
    one_row = work / "one-row.csv"
    pd.read_csv(csv, nrows=1).to_csv(one_row, index=False)
    for name, source in (("startup", one_row), ("csv", csv), ("parquet", parquet)):
        for workers in (1, 2):
            steps[f"runner-{name}-w{workers}"] = (
                lambda source=source, workers=workers: run_runner(model_dir, source, workers, work / "out.csv")
            )
    runs: dict[str, list[dict]] = {name: [] for name in steps}
    for rep in range(reps):
        order = list(steps) if rep % 2 == 0 else list(reversed(steps))
        for name in order:
            runs[name].append(steps[name]())
            if name.startswith("runner") and "startup" not in name:
                got = np.loadtxt(work / "out.csv", dtype=expected.dtype)
                if not np.array_equal(got, expected):
                    raise RuntimeError(f"{name}: the runner's output differs from model.predict")
    summary = {}
    for name, results in runs.items():
        seconds = statistics.median(r["seconds"] for r in results)
        scored = 1 if "startup" in name else rows
        summary[name] = {"seconds": round(seconds, 3), "rows_per_s": round(scored / seconds)}
        if "peak_rss_mb" in results[0]:
            summary[name]["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    floor_rate = summary["floor"]["rows_per_s"]
    for name, figures in summary.items():
        figures["x_floor"] = "" if "startup" in name else round(figures["rows_per_s"] / floor_rate, 3)
    for name in ("csv", "parquet"):
        w1, w2 = summary[f"runner-{name}-w1"], summary[f"runner-{name}-w2"]
        w2["x_w1"] = round(w2["rows_per_s"] / w1["rows_per_s"], 3)
        for workers, figures in ((1, w1), (2, w2)):  # the same run less a 1-row run's time: the streaming rate
            net = figures["seconds"] - summary[f"runner-startup-w{workers}"]["seconds"]
            figures["net_rows_per_s"] = round(rows / net) if net > 0 else None
            figures["net_x_floor"] = round(rows / net / floor_rate, 3) if net > 0 else None
        both = w1["net_rows_per_s"] and w2["net_rows_per_s"]  # None when noise makes a tiny input's net time <= 0
        w2["net_x_w1"] = round(w2["net_rows_per_s"] / w1["net_rows_per_s"], 3) if both else None
    return {"rows": rows, "reps": reps, "mini_batch_rows": MINI_BATCH_ROWS, "summary": summary, "runs": runs}


def table(doc: dict) -> str:
    """The summary as a markdown table."""
    lines = [
        "| measurement | seconds | rows/s | × floor | 2 workers ÷ 1 | net rows/s | net × floor | net 2 ÷ 1 "
        "| peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in doc["summary"].items():
        net = f"{f['net_rows_per_s']:,}" if f.get("net_rows_per_s") else ""
        lines.append(
            f"| {name} | {f['seconds']} | {f['rows_per_s']:,} | {f['x_floor']} | {f.get('x_w1', '')} | {net} | "
            f"{f.get('net_x_floor', '')} | {f.get('net_x_w1', '')} | {f.get('peak_rss_mb', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench batch", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="iris rows to score (default 1000000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output (default bench/results/batch.json)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.reps < 1:
        print(f"error: --rows and --reps must be >= 1, got {args.rows} and {args.reps}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        try:
            doc = measure(args.rows, args.reps, Path(tmp))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    doc["meta"] = {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(doc))
    return 0
