"""The local sweep: HyperDrive's job on this machine, trials in parallel processes, each one a recorded local run.

The sweep itself is recorded as a run too (params: space, sampling, sizes, seed; metric: the best primary metric;
outputs: ``results.csv`` and ``<metric>.png``), so ``python -m training runs show <id>`` finds everything.
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from training import interrupts
from training.errors import TrainingError
from training.registry import ModelRecord, Registry
from training.run_history import RunHistory, RunRecord
from training.search_space import SearchSpace, to_arguments
from training.sweep_trial import failed_outcome

_METRIC_COLUMNS = ("Accuracy", "Precision", "Recall", "F1")
_REPO_ROOT = Path(__file__).resolve().parents[1]
STOP_GRACE_S = 10.0
"""How long an interrupted sweep waits for its running trials to record their failure before it kills them."""


class SweepFailed(TrainingError):
    """Every trial of a sweep failed (the first error is quoted), or the sweep settings are invalid."""


@dataclass(frozen=True)
class Trial:
    """One finished trial: its 1-based number, configuration, run and outcome."""

    number: int
    config: dict
    run_id: str | None
    status: str
    metrics: dict
    outputs_dir: Path | None
    error: str | None


@dataclass(frozen=True)
class SweepResult:
    """A finished local sweep: its run, the trials in trial order, the best one, the files written, the model."""

    run: RunRecord
    trials: list[Trial]
    best: Trial | None
    results_csv: Path
    plot_png: Path
    registered: ModelRecord | None


def run_local_sweep(space: SearchSpace, *, workspace: Path, sampling: str = "random", max_runs: int = 12,
                    parallel: int = 2, seed: int = 0, experiment: str = "train_iris",
                    register_name: str | None = None, extra_args: tuple[str, ...] = (),
                    progress: TextIO | None = sys.stderr) -> SweepResult:
    """Run up to ``max_runs`` trials of ``space`` in ``parallel`` processes, record and rank them, register the best.

    Each trial is ``training.local_run.run_training_locally(<config args> + extra_args)``, a recorded run of
    ``experiment``, in a process of its own (training/sweep_trial.py). The best trial maximises (or minimises)
    ``space.primary_metric``; ties go to the earlier trial. Progress goes to ``progress`` (None: silent).

    Raises
    ------
    SweepFailed
        Invalid settings (``parallel`` < 1, unknown sampling, ``max_runs`` < 1) or every trial failed; in the latter
        case the sweep run is recorded as failed.
    KeyboardInterrupt, interrupts.Terminated
        SIGINT or SIGTERM (training.interrupts): the running trials get the same signal and record themselves as
        failed (those still running after ``STOP_GRACE_S`` are killed), queued ones never start, the sweep run is
        recorded as failed, nothing is registered; a note on the exception says so. Any other exception is handled
        the same way.
    """
    if parallel < 1:
        raise SweepFailed(f"--parallel is {parallel}, while a sweep needs at least 1 process.")
    try:
        configs = space.sample(sampling, max_runs, seed)
    except ValueError as exc:
        raise SweepFailed(str(exc)) from exc
    history = RunHistory(workspace)
    params = {"sweep": [c.flag for c in space.choices], "sampling": sampling, "max_runs": max_runs,
              "trials": len(configs), "parallel": parallel, "seed": seed, "primary_metric": space.primary_metric,
              "goal": space.goal, "extra_args": list(extra_args)}
    sweep_id = history.start(f"{experiment}_sweep", params).run_id
    outputs = history.run_dir(sweep_id) / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    bar = _Progress(len(configs), space, progress)
    trials: list[Trial] = []
    processes = _TrialProcesses(workspace, experiment, history.run_dir(sweep_id) / "trials")
    # Threads only wait: each trial is a process of its own (training/sweep_trial.py), started with SIGINT and SIGTERM
    # blocked (the threads block them, the processes inherit that) until its run is recorded.
    pool = ThreadPoolExecutor(max_workers=min(parallel, len(configs)), thread_name_prefix="trial",
                              initializer=interrupts.block)
    try:
        futures = {pool.submit(processes.run, number, to_arguments(config) + list(extra_args)): (number, config)
                   for number, config in enumerate(configs, start=1)}
        for future in as_completed(futures):
            number, config = futures[future]
            trial = Trial(number, config, **future.result())
            trials.append(trial)
            bar.update(trial)
        pool.shutdown(wait=True)
        return _conclude(sweep_id, history, trials, space, sampling, seed, outputs, workspace, register_name)
    except SweepFailed:  # recorded by _conclude
        raise
    except BaseException as exc:  # Ctrl-C, SIGTERM or a bug: stop every trial; the sweep must not stay "running"
        with interrupts.deferred(lambda signum: processes.kill()):  # a second Ctrl-C kills instead of waiting
            stopped = processes.stop(interrupts.signal_of(exc), STOP_GRACE_S)
            pool.shutdown(wait=True, cancel_futures=True)
            history.finish(sweep_id, "failed", error=f"{type(exc).__name__}: {exc}")
        cancelled = len(configs) - processes.started
        exc.add_note(f"sweep run {sweep_id} recorded as failed; {_count(len(stopped), 'running trial')} stopped"
                     f"{' (pids ' + ', '.join(map(str, stopped)) + ')' if stopped else ''}, "
                     f"{_count(cancelled, 'queued trial')} cancelled.")
        raise


def _conclude(sweep_id: str, history: RunHistory, trials: list[Trial], space: SearchSpace, sampling: str, seed: int,
              outputs: Path, workspace: Path, register_name: str | None) -> SweepResult:
    """Rank the finished trials, write results.csv and the plot, register the best, record the sweep completed."""
    trials.sort(key=lambda t: t.number)
    best = _best(trials, space)
    results_csv = outputs / "results.csv"
    plot_png = outputs / f"{space.primary_metric}.png"
    _write_csv(results_csv, trials, space)
    _write_plot(plot_png, trials, space, best, f"{sampling} sampling, seed {seed}")
    history.attach(sweep_id, outputs_dir=outputs)
    if best is None:
        history.finish(sweep_id, "failed", error="every trial failed")
        first = next(t for t in trials if t.error)
        raise SweepFailed(f"All {len(trials)} trials of sweep {sweep_id} failed; trial 1: {first.error}")
    history.log_metric(sweep_id, f"best {space.primary_metric}", best.metrics[space.primary_metric])
    history.log_metric(sweep_id, "best run", best.run_id)
    registered = None
    if register_name:
        registered = Registry(workspace).register(
            register_name, best.outputs_dir, run_id=best.run_id,
            tags={"sweep": sweep_id, **{flag.lstrip("-"): str(value) for flag, value in best.config.items()}},
            properties={name: str(best.metrics[name]) for name in _METRIC_COLUMNS if name in best.metrics})
    run = history.finish(sweep_id, "completed")
    return SweepResult(run, trials, best, results_csv, plot_png, registered)


class _TrialProcesses:
    """The sweep's trial processes: started by the pool's threads, stopped together when the sweep is interrupted.

    Each trial runs in a process group of its own, so a Ctrl-C on the terminal reaches the sweep alone, and the sweep
    forwards exactly one signal to each trial (two would cut short the trial recording its own failure).
    """

    def __init__(self, workspace: Path, experiment: str, results: Path):
        self.workspace, self.experiment, self.results = Path(workspace), experiment, results
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO_ROOT),
                                                                              os.environ.get("PYTHONPATH")]))}
        # Reentrant: kill() may run in a signal handler while the main thread holds the lock in stop().
        self._changed = threading.Condition(threading.RLock())
        self._running: dict[int, subprocess.Popen] = {}
        self._stopping = False
        self.started = 0

    def run(self, number: int, train_args: list[str]) -> dict:
        """Run trial ``number`` in a new process and return its outcome (the keyword fields of a :class:`Trial`)."""
        self.results.mkdir(parents=True, exist_ok=True)
        result = self.results / f"{number}.json"
        with self._changed:
            if self._stopping:
                return failed_outcome("cancelled: the sweep was stopped before this trial started")
            process = subprocess.Popen(
                [sys.executable, "-m", "training.sweep_trial", str(result), str(self.workspace), self.experiment,
                 *train_args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=self.env, process_group=0)
            self._running[number] = process
            self.started += 1
        try:
            _, stderr = process.communicate()
        finally:
            with self._changed:
                del self._running[number]
                self._changed.notify_all()
        if not result.exists():  # the process died before it could write its outcome (killed, or a crash)
            last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
            return failed_outcome(f"trial process {process.pid} ended without an outcome: {last[0]}")
        outcome = json.loads(result.read_text())
        outcome["outputs_dir"] = Path(outcome["outputs_dir"]) if outcome["outputs_dir"] else None
        return outcome

    def stop(self, signum: int, grace: float) -> list[int]:
        """Start no more trials; send ``signum`` to the running ones, kill those still running after ``grace`` s.

        Returns the pids signalled; every one of them has exited (and been reaped) when this returns.
        """
        with self._changed:
            self._stopping = True
            running = list(self._running.values())
            for process in running:
                process.send_signal(signum)
            if not self._changed.wait_for(lambda: not self._running, timeout=grace):
                self.kill()
            self._changed.wait_for(lambda: not self._running)
        return [process.pid for process in running]

    def kill(self) -> None:
        """SIGKILL every running trial (their runs are then found ``killed`` by the run history)."""
        with self._changed:
            self._stopping = True
            for process in self._running.values():
                process.send_signal(signal.SIGKILL)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _best(trials: list[Trial], space: SearchSpace) -> Trial | None:
    scored = [t for t in trials if t.status == "completed" and space.primary_metric in t.metrics]
    if not scored:
        return None
    sign = 1 if space.goal == "maximize" else -1
    return max(scored, key=lambda t: (sign * t.metrics[space.primary_metric], -t.number))


def _write_csv(path: Path, trials: list[Trial], space: SearchSpace) -> None:
    columns = ["trial"] + [c.flag.lstrip("-") for c in space.choices] + ["status", *_METRIC_COLUMNS, "run_id", "error"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for t in trials:
        writer.writerow([t.number, *t.config.values(), t.status, *(t.metrics.get(m, "") for m in _METRIC_COLUMNS),
                         t.run_id or "", t.error or ""])
    path.write_text(buffer.getvalue())


def _write_plot(path: Path, trials: list[Trial], space: SearchSpace, best: Trial | None, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    metric = space.primary_metric
    scored = [t for t in trials if metric in t.metrics]
    figure, axes = plt.subplots(figsize=(7, 4))
    try:
        xs, ys = [t.number for t in scored], [t.metrics[metric] for t in scored]
        axes.plot(xs, ys, "o", label=f"{metric} of the trial")
        best_so_far, running = [], None
        for y in ys:
            running = y if running is None else (max if space.goal == "maximize" else min)(running, y)
            best_so_far.append(running)
        axes.step(xs, best_so_far, where="post", label=f"best {metric} so far")
        if best is not None:
            axes.annotate(" ".join(to_arguments(best.config)), (best.number, best.metrics[metric]),
                          textcoords="offset points", xytext=(5, -15), fontsize=8)
        axes.set(xlabel="trial", ylabel=metric, title=f"{metric} over {len(trials)} trials ({subtitle})")
        axes.set_xticks(range(1, len(trials) + 1))
        axes.legend(loc="center right")
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=100)
    finally:
        plt.close(figure)


class _Progress:
    """A text progress bar on a terminal; one line per finished trial otherwise (logs, CI)."""

    def __init__(self, total: int, space: SearchSpace, stream: TextIO | None):
        self.total, self.metric, self.stream, self.done, self.best = total, space.primary_metric, stream, 0, None
        self.better = max if space.goal == "maximize" else min
        self.redraw = stream is not None and stream.isatty()

    def update(self, trial: Trial) -> None:
        self.done += 1
        value = trial.metrics.get(self.metric)
        if value is not None:
            self.best = value if self.best is None else self.better(self.best, value)
        if self.stream is None:
            return
        filled = round(30 * self.done / self.total)
        best = "n/a" if self.best is None else f"{self.best:.4f}"
        bar = f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} trials, best {self.metric} {best}"
        if self.redraw:
            self.stream.write("\r" + bar + ("\n" if self.done == self.total else ""))
        else:
            outcome = f"{self.metric} {value:.4f}" if value is not None else f"failed ({trial.error})"
            self.stream.write(f"{bar}  (trial {trial.number}: {' '.join(to_arguments(trial.config))} -> {outcome})\n")
        self.stream.flush()
