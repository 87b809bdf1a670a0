"""One batch run: plan the mini-batches, keep at most two per worker in flight (memory is bounded by workers x
mini-batch, not by the input), write finished ones in input order, count errors against the threshold, and end
complete, aborted or interrupted with the partial output marked and resumable."""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from service.batch import worker
from service.batch.output import PartialOutput
from service.batch.plan import MiniBatch, plan
from service.batch.pool import WorkerPool
from service.batch.progress import Progress
from service.batch.sources import count_rows, list_input_files
from service.model_dir import ModelDirError, ModelInfo, read_model_info, resolve_model_dir


@dataclass
class BatchConfig:
    """The validated options of ``python -m service batch`` (service.batch.cli)."""

    model_dir: Path | None
    input: Path
    output: Path
    entry_script: Path | None = None
    input_type: str = "tabular"
    mini_batch_size: int = 10_000
    workers: int = 1
    error_threshold: int = -1
    output_action: str = "append_row"
    method: str = "predict"
    resume: bool = False


@dataclass
class Summary:
    """What a run did; ``status`` is ``completed``, ``aborted`` (error threshold), ``failed`` (init() failed, or a
    worker died) or ``interrupted``."""

    status: str = "completed"
    rows: int = 0
    batches: int = 0
    skipped: int = 0
    errors: int = 0
    messages: list[str] = field(default_factory=list)
    signal_number: int | None = None


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; carries the signal number."""


class InitFailed(Exception):
    """The driver's init() raised in a worker, or a worker died: the run cannot go on."""


class ThresholdExceeded(Exception):
    """More errors than --error_threshold allows."""


class _SignalLatch:
    """SIGINT / SIGTERM recorded, not raised: a handler that raises can fire inside any line of the parent, a
    finalizer included (where Python swallows the exception and the run would wait for its workers forever). The
    signal also wakes ``pool.wait`` through ``signal.set_wakeup_fd``, and the run loop stops at its next check."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: list[int] = []
        self.wake_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous_fd = signal.set_wakeup_fd(self._write_fd)
        self._previous = {sig: signal.signal(sig, self._record) for sig in self.SIGNALS}

    def _record(self, signum, frame) -> None:
        self.received.append(signum)

    def check(self) -> None:
        """Raise Interrupted when a signal came (the first one's number)."""
        if self.received:
            raise Interrupted(self.received[0])

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self.wake_fd)
        os.close(self._write_fd)


def run_batch(config: BatchConfig, log=None) -> Summary:
    """Run ``config`` to the end (or to an abort or signal) and return the summary; ``log`` gets one line per error.

    Raises
    ------
    InputError, ResumeError, ModelDirError
        Before any worker starts: unreadable input, a resume of another run, an invalid model directory.
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    files = list_input_files(config.input)
    info = _model_info(config)
    feature_names = info.feature_names if info is not None and config.entry_script is None else None
    model_sha256 = None if info is None else info.sha256
    output = PartialOutput(config.output, _signature(config, files, model_sha256), resume=config.resume)
    environment = {"BATCH_SCORING_METHOD": config.method}
    if config.model_dir is not None:
        environment["AZUREML_MODEL_DIR"] = str(Path(config.model_dir).resolve())
    summary = Summary()
    progress = Progress(_total(files, config.input_type) if sys.stderr.isatty() else None)
    latch = _SignalLatch()
    if config.entry_script is None:  # imported once here, so that the forked workers share it instead of each importing
        import sklearn  # noqa: F401

        import service.batch.driver  # noqa: F401
    pool = WorkerPool(config.workers, config.entry_script, environment, wake_fd=latch.wake_fd)
    try:
        _drive(config, pool, plan(files, config.input_type, config.mini_batch_size, feature_names), output, summary,
               progress, log, latch)
        pool.close()
        latch.check()
        output.finish(write_file=config.output_action == "append_row")  # a signal from here on: the output is whole
    except Interrupted as exc:
        summary.status, summary.signal_number = "interrupted", exc.args[0]
    except ThresholdExceeded:
        summary.status = "aborted"
    except InitFailed:
        summary.status = "failed"
    finally:
        pool.terminate()  # a second Ctrl-C is only recorded by the latch, so it cannot break this clean-up
        progress.close()
        latch.restore()
    return summary


def _drive(config, pool: WorkerPool, batches, output: PartialOutput, summary: Summary, progress: Progress,
           log, latch: _SignalLatch) -> None:
    in_flight: dict[int, MiniBatch] = {}
    finished: dict[int, worker.Outcome] = {}
    order: deque[int] = deque()  # submitted and not yet written, in input order: at most two per worker
    window = 2 * config.workers
    encode = config.output_action == "append_row"
    exhausted = False
    while True:
        latch.check()
        while not exhausted and pool.has_idle and len(order) < window:
            batch = next(batches, None)
            if batch is None:
                exhausted = True
                break
            if batch.index in output.done:
                summary.skipped += 1
                continue
            in_flight[batch.index] = batch
            order.append(batch.index)
            pool.submit(batch.index, batch.payload, encode)
        if not order:
            return
        for outcome in pool.wait():
            finished[outcome.index] = outcome
        latch.check()
        while order and order[0] in finished:
            done = finished.pop(order.popleft())
            batch = in_flight.pop(done.index)
            if done.fatal:
                summary.messages.append(done.error)
                raise InitFailed(done.error)
            for line in done.bad_rows:
                log(line)
            summary.batches += 1
            if done.error is None:
                output.write(done.index, done.data)
                summary.rows += done.entries
                progress.advance(done.entries, len(done.bad_rows))
            else:
                log(done.error if batch.rows is not None else f"{batch.where}: {done.error}")
                progress.advance(0, done.failed + len(done.bad_rows))
            _count(config, summary, len(done.bad_rows) + done.failed)


def _count(config: BatchConfig, summary: Summary, errors: int) -> None:
    summary.errors += errors
    if config.error_threshold >= 0 and summary.errors > config.error_threshold:
        raise ThresholdExceeded


def _signature(config: BatchConfig, files: list[Path], model_sha256: str | None) -> dict:
    """What a resumed run must share with the first: mini-batches are numbered from these, and the model and driver
    that wrote the parts already there (so one output never mixes two models)."""
    return {
        "input": [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
        "input_type": config.input_type,
        "mini_batch_size": config.mini_batch_size,
        "method": config.method,
        "output_action": config.output_action,
        "entry_script": str(config.entry_script) if config.entry_script else None,
        "entry_script_sha256": _sha256(config.entry_script),
        "model_sha256": model_sha256,
    }


def _model_info(config: BatchConfig) -> ModelInfo | None:
    """The model directory's model.json; None without --model_dir, or for a driver's folder that has none of ours."""
    if config.model_dir is None:
        return None
    try:
        return read_model_info(resolve_model_dir(config.model_dir))
    except ModelDirError:
        if config.entry_script is None:  # the default driver needs it (the CLI checked it already)
            raise
        return None


def _sha256(path: Path | None) -> str | None:
    return None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _total(files: list[Path], input_type: str) -> int | None:
    """Rows to do (tabular), for the bar's ETA; None (no ETA) for file input, whose rows only the driver knows."""
    return None if input_type == "file" else sum(count_rows(path) for path in files)
