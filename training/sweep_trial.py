"""One trial of a local sweep, in a process of its own (``python -m training.sweep_trial RESULT WORKSPACE EXPERIMENT
[TRAIN.PY ARGUMENTS]``): a recorded local run whose outcome is written, as JSON, to the file RESULT.

A process per trial, as HyperDrive runs each trial as its own run: a trial that crashes its interpreter fails alone,
and the sweep can stop the trials it started, by pid, when it is interrupted (training/sweep_local.py).
"""

import json
import os
import re
import sys
from pathlib import Path

from training import interrupts

# The note run_training_locally adds to the exception of a failed run.
_RECORDED_AS = re.compile(r"Recorded as failed run (\S+)\.")


def run_trial(train_args: list[str], workspace: Path, experiment: str) -> dict:
    """One recorded local run; its outcome (run id, status, metrics, outputs, error) as a JSON-ready dict.

    A failure, an interruption included, is an outcome (status ``failed``), not an exception: the run is recorded as
    failed by run_training_locally (unless the arguments were refused before it started).
    """
    from training.local_run import run_training_locally

    try:
        record = run_training_locally(train_args, workspace=workspace, experiment=experiment,
                                      on_started=lambda run_id: interrupts.unblock())
    except (Exception, KeyboardInterrupt, interrupts.Terminated) as exc:
        recorded = _RECORDED_AS.search(" ".join(getattr(exc, "__notes__", ())))
        return failed_outcome(f"{type(exc).__name__}: {exc}", run_id=recorded.group(1) if recorded else None)
    return {"run_id": record.run_id, "status": record.status, "metrics": record.metrics,
            "outputs_dir": str(record.outputs_dir), "error": None}


def failed_outcome(error: str, run_id: str | None = None) -> dict:
    """The outcome of a trial that failed with ``error`` (its run ``run_id``, if one was recorded)."""
    return {"run_id": run_id, "status": "failed", "metrics": {}, "outputs_dir": None, "error": error}


def main(argv: list[str]) -> int:
    """Run the trial of ``argv`` (RESULT WORKSPACE EXPERIMENT [ARGS]); 0 when it completed, 1 when it failed.

    The sweep starts this process with SIGINT and SIGTERM blocked (:func:`interrupts.block`), so a stop sent while
    it starts up waits until its run is recorded, and is then recorded as that run's failure.
    """
    result, workspace, experiment, *train_args = argv
    with interrupts.raised_as_exceptions():
        outcome = run_trial(train_args, Path(workspace), experiment)
    partial = f"{result}.tmp"
    with open(partial, "w") as handle:
        json.dump(outcome, handle)
    os.replace(partial, result)  # the sweep reads a whole outcome or none
    return 0 if outcome["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
