"""A/B of two source trees of the service: server CPU per 1-row request, the trees alternating, medians.

``python -m bench.ab OLD_TREE NEW_TREE [--rounds N]`` starts ``python -m service`` from each tree in turn (its own
code on PYTHONPATH, this venv's packages, the tests' iris model), drives it with wrk (1 row sequentially, then on 8
connections) and reads the server's CPU from /proc; the order alternates between rounds. Make the old tree with
``git worktree add --detach /tmp/ab-base main``. Judging a change to the request path by CPU per request, not by
req/s, keeps the figure steady on a shared machine.
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench.configs import ENTRY_SCRIPT
from bench.servers import RunningServer, ServerSpec
from bench.workloads import PLAIN, write_model_dirs
from bench.wrk import ensure_wrk, run_wrk

LOADS = (("seq1", 2000, 1), ("par8", 3200, 8))
WARM_UP = 300


def measure(tree: Path, model_dir: Path, body: Path, wrk: str, log_dir: Path) -> dict[str, float]:
    """Server CPU ms per request of ``tree``'s service, per load."""
    argv = (sys.executable, "-m", "service", "--port", "{port}", "--entry_script", ENTRY_SCRIPT)
    spec = ServerSpec(
        tree.name,
        tree.name,
        str(tree),
        (*argv, "--model_dir", str(model_dir)),
        "/health/ready",
        {"PYTHONPATH": str(tree)},
    )
    figures = {}
    with RunningServer(spec, log_dir, cwd=tree) as server:
        run_wrk(wrk, server.url, "/score", body, WARM_UP, 1, 60)
        for name, count, connections in LOADS:
            before = server.cpu_seconds()
            result = run_wrk(wrk, server.url, "/score", body, count, connections, 120)
            if result.non200 or result.requests != count:
                raise RuntimeError(f"{tree}: {result.non200} non-200 answers, {result.requests} of {count} answered")
            figures[name] = (server.cpu_seconds() - before) / count * 1000
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, type=Path, help="OLD_TREE NEW_TREE: checkouts of this repository")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    args = parser.parse_args(argv)
    wrk = ensure_wrk(install=True)
    if wrk is None:
        print("error: wrk is not installed and could not be installed (apt-get install wrk)", file=sys.stderr)
        return 2
    results: dict[Path, dict[str, list[float]]] = {tree: {name: [] for name, _, _ in LOADS} for tree in args.trees}
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        work = Path(tmp)
        model_dir = write_model_dirs(work / "models")[PLAIN]
        body = work / "row.json"
        body.write_text(json.dumps({"data": [[5.1, 3.5, 1.4, 0.2]]}))
        for round_ in range(args.rounds):
            for tree in args.trees if round_ % 2 == 0 else args.trees[::-1]:
                for name, value in measure(tree.resolve(), model_dir, body, wrk, work).items():
                    results[tree][name].append(value)
            print(
                f"round {round_ + 1}: "
                + json.dumps({str(t): {k: round(v[-1], 3) for k, v in r.items()} for t, r in results.items()}),
                file=sys.stderr,
            )
    print("| tree | server CPU ms per 1-row request, sequential | 8 connections | rounds |")
    print("|---|---|---|---|")
    for tree, by_load in results.items():
        medians = [statistics.median(by_load[name]) for name, _, _ in LOADS]
        print(f"| {tree} | {medians[0]:.3f} | {medians[1]:.3f} | {args.rounds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
