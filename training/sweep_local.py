"""The local sweep: HyperDrive's job on this machine, trials in parallel processes, each one a recorded local run.

The sweep itself is recorded as a run too (params: space, sampling, sizes, seed; metric: the best primary metric;
outputs: ``results.csv`` and ``<metric>.png``), so ``python -m training runs show <id>`` finds everything.
"""

import csv
import io
import multiprocessing
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from training.errors import TrainingError
from training.registry import ModelRecord, Registry
from training.run_history import RunHistory, RunRecord
from training.search_space import SearchSpace, to_arguments

_METRIC_COLUMNS = ("Accuracy", "Precision", "Recall", "F1")
# The note run_training_locally adds to the exception of a failed run.
_RECORDED_AS = re.compile(r"Recorded as failed run (\S+)\.")


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
    ``experiment``. The best trial maximises (or minimises) ``space.primary_metric``; ties go to the earlier trial.
    Progress goes to ``progress`` (None: silent).

    Raises
    ------
    SweepFailed
        Invalid settings (``parallel`` < 1, unknown sampling, ``max_runs`` < 1) or every trial failed; in the latter
        case the sweep run is recorded as failed.
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
    # spawn, not fork: workers start clean whatever threads or state the caller has.
    pool = ProcessPoolExecutor(max_workers=min(parallel, len(configs)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_run_trial, to_arguments(config) + list(extra_args), str(workspace), experiment):
                   (number, config) for number, config in enumerate(configs, start=1)}
        for future in as_completed(futures):
            number, config = futures[future]
            trial = Trial(number, config, **future.result())
            trials.append(trial)
            bar.update(trial)
    except BaseException as exc:  # Ctrl-C or a dead worker: stop queued trials; the sweep must not stay "running"
        pool.shutdown(wait=True, cancel_futures=True)
        history.finish(sweep_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    pool.shutdown(wait=True)
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


def _run_trial(train_args: list[str], workspace: str, experiment: str) -> dict:
    """Worker process: one recorded local run; failures are returned, not raised, so the sweep goes on."""
    from training.local_run import run_training_locally

    # The trial's own log is kept in its run directory; the terminal shows the sweep's progress instead.
    with open(os.devnull, "w") as sink, redirect_stdout(sink):
        try:
            record = run_training_locally(train_args, workspace=Path(workspace), experiment=experiment)
        except Exception as exc:  # recorded as a failed run by run_training_locally (unless the arguments were bad)
            recorded = _RECORDED_AS.search(" ".join(getattr(exc, "__notes__", ())))
            run_id = recorded.group(1) if recorded else None
            return {"run_id": run_id, "status": "failed", "metrics": {}, "outputs_dir": None,
                    "error": f"{type(exc).__name__}: {exc}"}
    return {"run_id": record.run_id, "status": record.status, "metrics": record.metrics,
            "outputs_dir": record.outputs_dir, "error": None}


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
