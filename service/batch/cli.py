"""``python -m service batch``: options in Azure's names, validated up front (exit 2 with what was expected and what
came), then one run; exit 0 when complete, 1 when stopped by the error threshold, a failing init() or a dead worker,
130 / 143 when interrupted by SIGINT / SIGTERM (the output then stays in ``FILE.partial/`` for ``--resume``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from service.batch.output import ResumeError
from service.batch.runner import BatchConfig, run_batch
from service.batch.scripts import DriverError
from service.batch.sources import InputError
from service.model_dir import ModelDirError, check_model_dir
from service.settings import SettingsError, environment_trusted_types

DEFAULT_OUTPUT_NAME = "predictions.csv"  # Azure batch deployments' default output_file_name


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m service batch",
        description="Score files with a batch driver (Azure ML's init()/run(mini_batch)), or the model directory.",
    )
    parser.add_argument("--model_dir", type=Path, help="model directory (AZUREML_MODEL_DIR of the driver)")
    parser.add_argument("--input", type=Path, required=True, help="a .csv/.parquet/.jsonl file or a folder of them")
    parser.add_argument(
        "--output", type=Path, default=Path(DEFAULT_OUTPUT_NAME),
        help=f"output file, or a folder to hold {DEFAULT_OUTPUT_NAME} (default ./{DEFAULT_OUTPUT_NAME})",
    )
    parser.add_argument("--entry_script", type=Path, help="batch driver with init() and run(mini_batch)")
    parser.add_argument(
        "--input_type", choices=("tabular", "file"),
        help="run() gets a DataFrame of rows (tabular) or a list of file paths (file); default tabular without "
        "--entry_script, file with one (as Azure v2 batch deployments)",
    )
    parser.add_argument("--mini_batch_size", type=_count(1), help="rows (tabular, default 10000) or files (default 10)")
    parser.add_argument("--workers", type=_count(1), default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--error_threshold", type=_count(-1), default=-1, help="errors tolerated; -1 ignores all")
    parser.add_argument("--output_action", choices=("append_row", "summary_only"), default="append_row")
    parser.add_argument("--method", choices=("predict", "predict_proba"), default="predict")
    parser.add_argument("--resume", action="store_true", help="skip the mini-batches FILE.partial/ already holds")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> BatchConfig:
    """Options to a BatchConfig, checking what can be checked before any worker starts.

    Raises
    ------
    InputError, ModelDirError, DriverError
        No model directory for the no-code path, one that fails its sha256 check, or no driver file.
    """
    if args.entry_script is None and args.model_dir is None:
        raise InputError(
            "No --entry_script and no --model_dir: the default driver scores a model directory. Pass --model_dir DIR "
            "(a directory with model.json), or --entry_script with your batch driver."
        )
    if args.entry_script is None:
        info = check_model_dir(args.model_dir, require_sidecar=True, trusted_types=environment_trusted_types())
        if args.method == "predict_proba" and not info.has_predict_proba:
            raise InputError(
                f"--method predict_proba, but {info.label} has no predict_proba (estimator "
                f"{info.sidecar.get('estimator')}). Use --method predict, or train the model with probability "
                "estimates."
            )
    elif not args.entry_script.is_file():
        raise DriverError(f"Batch driver {args.entry_script} does not exist. Pass a .py file with init() and run().")
    input_type = args.input_type or ("tabular" if args.entry_script is None else "file")
    output = args.output / DEFAULT_OUTPUT_NAME if args.output.is_dir() else args.output
    return BatchConfig(
        model_dir=args.model_dir,
        input=args.input,
        output=output,
        entry_script=args.entry_script,
        input_type=input_type,
        mini_batch_size=args.mini_batch_size or (10_000 if input_type == "tabular" else 10),
        workers=args.workers,
        error_threshold=args.error_threshold,
        output_action=args.output_action,
        method=args.method,
        resume=args.resume,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the run's own handlers are in place (imports, the model check)
        print("batch interrupted before it started; nothing was written.", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config = build_config(args)
        summary = run_batch(config)
    except (InputError, ModelDirError, ResumeError, DriverError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unit = "files" if config.input_type == "file" else "rows"
    line = (
        f"batch {summary.status}: {summary.rows} results from {summary.batches} mini-batches, {summary.errors} "
        f"{unit} failed, {summary.skipped} mini-batches resumed"
    )
    if summary.status == "completed":
        where = config.output if config.output_action == "append_row" else "no output file (summary_only)"
        print(f"{line}; output: {where}", file=sys.stderr)
        return 0
    for message in summary.messages:
        print(f"error: {message}", file=sys.stderr)
    partial = config.output.with_name(config.output.name + ".partial")
    if summary.status == "aborted":
        print(f"{line}; more than --error_threshold {config.error_threshold} errors, stopped. Partial output in "
              f"{partial}/ (rerun with --resume to retry the rest).", file=sys.stderr)
        return 1
    if summary.status == "failed":
        print(f"{line}; stopped by the error above. Partial output in {partial}/ (rerun with --resume once it is "
              "fixed).", file=sys.stderr)
        return 1
    print(f"{line}; interrupted by signal {summary.signal_number}. Partial output in {partial}/ (rerun with "
          "--resume to continue).", file=sys.stderr)
    return 128 + summary.signal_number
