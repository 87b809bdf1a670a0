"""The ``python -m training`` command line: one subcommand module per concern, errors mapped to exit codes.

Exit codes: 0 success, 2 user error (one message on stderr), 1 bug (traceback), 130 / 143 stopped by SIGINT / SIGTERM
(one line on stderr saying so and what was left behind: a run recorded as failed, a remote job still running).
"""

import argparse
import importlib
import sys

from training import interrupts
from training.errors import TrainingError

# Each module exposes register(subparsers) adding its subcommands, each with a ``func(args) -> int`` default.
COMMAND_MODULES = ("training.commands_train", "training.commands_models", "training.commands_runs",
                   "training.commands_azure", "training.commands_batch")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every module of ``COMMAND_MODULES`` registered."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train scikit-learn models, record local runs and manage the local model registry "
                    "(workspace: $SKLEARN_WORKSPACE, default <repository>/.workspace).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command and return its exit code."""
    try:
        with interrupts.raised_as_exceptions():  # from the start: importing the commands takes a second
            args = build_parser().parse_args(argv)
            return args.func(args)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        return 2
    except (KeyboardInterrupt, interrupts.Terminated) as exc:
        notes = " ".join(getattr(exc, "__notes__", ()))
        print(f"interrupted by {interrupts.signal_name(exc)}" + (f": {notes}" if notes else "."), file=sys.stderr)
        return interrupts.exit_status(exc)
