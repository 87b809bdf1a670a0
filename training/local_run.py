"""Run the job in training/job/ in-process as a recorded local run (run history + captured log + outputs)."""

import importlib
import io
import sys
import traceback
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from training.run_history import RunHistory, RunRecord

JOB_DIR = Path(__file__).resolve().with_name("job")


def load_job_module(name: str):
    """Import a module of training/job/ (``train``, ``train_args``, ``train_data``, ...) as ``python train.py`` would.

    Raises ``ImportError`` when another module of that name was imported first.
    """
    # The job has no package-relative imports (it must run as a bare Azure ML snapshot), so its folder goes on
    # sys.path, first, so that a train.py in the caller's working directory cannot shadow it.
    if str(JOB_DIR) not in sys.path:
        sys.path.insert(0, str(JOB_DIR))
    module = importlib.import_module(name)
    if Path(module.__file__).resolve().parent != JOB_DIR:
        raise ImportError(f"Module {name!r} was imported from {module.__file__}, not from {JOB_DIR}.")
    return module


def run_training_locally(train_args: list[str], *, workspace: Path, experiment: str = "train_iris",
                         on_started: Callable[[str], None] | None = None) -> RunRecord:
    """Run train.py's logic with ``train_args`` as a recorded run of ``experiment`` in ``workspace``.

    Metrics go to the run history, stdout/stderr are captured (and still shown) into ``<run dir>/log.txt``, and the
    model directory goes to ``<workspace>/runs/<run id>/outputs`` unless ``--output-dir`` is given.
    ``on_started(run_id)`` is called once the run is recorded, where any exception it raises is recorded as the
    run's failure (a sweep trial unblocks SIGINT there: a stop request is then always the run's own outcome).
    Returns the finished record (status ``completed``).

    Raises
    ------
    UsageError
        Invalid ``train_args`` (train_args.py); no run is recorded.
    Exception
        Whatever training raised (``DataError`` for bad data): the run is recorded as ``failed`` with the error,
        the exception gets a note naming the run id, and it is re-raised.
    """
    arguments = load_job_module("train_args")
    parsed = arguments.parse_args(list(train_args))
    history = RunHistory(workspace)
    run_id = history.start(experiment, arguments.params_of(parsed)).run_id
    output_dir = Path(parsed.output_dir) if parsed.output_dir else history.run_dir(run_id) / "outputs"
    log = io.StringIO()
    try:
        if on_started is not None:
            on_started(run_id)
        job = load_job_module("train")  # scikit-learn: a second or more, inside the recorded run
        with redirect_stdout(_Tee(sys.stdout, log)), redirect_stderr(_Tee(sys.stderr, log)):
            job.train(parsed, logger=history.recorder(run_id), output_dir=output_dir)
    except BaseException as exc:
        history.attach(run_id, log_text=log.getvalue() + "".join(traceback.format_exception(exc)),
                       outputs_dir=output_dir if output_dir.exists() else None)
        history.finish(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        exc.add_note(f"Recorded as failed run {run_id}.")
        raise
    history.attach(run_id, log_text=log.getvalue(), outputs_dir=output_dir)
    return history.finish(run_id, "completed")


class _Tee(io.TextIOBase):
    """Writes to the original stream and to the capture buffer."""

    def __init__(self, stream, capture: io.StringIO):
        self.stream, self.capture = stream, capture

    def write(self, text: str) -> int:
        self.stream.write(text)
        return self.capture.write(text)

    def flush(self) -> None:
        self.stream.flush()
