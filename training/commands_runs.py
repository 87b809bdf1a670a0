"""``runs list|show`` subcommands: read the local run history."""

import argparse

from training.cli_util import print_json, print_table
from training.db import workspace_path
from training.run_history import RunHistory


def register(subparsers) -> None:
    """Add ``runs`` with its ``list`` and ``show`` subcommands."""
    runs = subparsers.add_parser("runs", help="list and inspect recorded local runs",
                                 description="List and inspect the local run history.")
    commands = runs.add_subparsers(dest="runs_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="list runs, oldest first", description="List recorded runs.")
    listing.add_argument("--experiment", help="only runs of this experiment")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=_list)
    show = commands.add_parser("show", help="show one run", description="Show a run: params, metrics, log, outputs.")
    show.add_argument("run_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    runs = RunHistory(workspace_path()).list(experiment=args.experiment)
    if args.json:
        print_json([run.to_dict() for run in runs])
        return 0
    print_table(["RUN ID", "EXPERIMENT", "STATUS", "STARTED", "ACCURACY"],
                [[r.run_id, r.experiment, r.status, r.started_at, _scalar(r.metrics.get("Accuracy"))] for r in runs])
    return 0


def _show(args: argparse.Namespace) -> int:
    run = RunHistory(workspace_path()).get(args.run_id)
    if args.json:
        print_json(run.to_dict())
        return 0
    for key in ("run_id", "experiment", "status", "started_at", "ended_at", "error", "outputs_dir", "log_path", "pid",
                "host"):
        print(f"{key + ':':<13}{'' if getattr(run, key) is None else getattr(run, key)}")
    print("params:")
    for name, value in run.params.items():
        print(f"  {name}: {value}")
    print("metrics:")
    for name, value in run.metrics.items():
        print(f"  {name}: {_scalar(value) if not isinstance(value, dict) else value.get('data', value)}")
    return 0


def _scalar(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "" if value is None else str(value)
