"""``train`` and ``register`` subcommands: a recorded local training run, and registering a model directory."""

import argparse
from pathlib import Path

from training.azure import options
from training.cli_util import add_key_value_option, positive_float, refuse_ignored
from training.commands_azure import register_in_azure, register_parent
from training.db import workspace_path
from training.errors import TrainingError
from training.local_run import load_job_module, run_training_locally
from training.registry import Registry, check_name


class TrainingFailed(TrainingError):
    """Training stopped on bad arguments or data (the run is recorded as failed)."""


def register(subparsers) -> None:
    """Add ``train`` and ``register`` to the ``python -m training`` subparsers."""
    train_args = load_job_module("train_args")
    train = subparsers.add_parser(
        "train", parents=[train_args.build_parser(add_help=False)],
        help="train as a recorded local run (training/job/train.py), optionally register the model",
        description="Run training/job/train.py in-process as a recorded local run: metrics in the run history, "
                    "outputs in <workspace>/runs/<run id>/outputs unless --output-dir is given.")
    train.add_argument("--register", metavar="NAME", help="register the trained model under NAME")
    add_key_value_option(train, "--tag", "tag for the registered model (repeatable; needs --register)")
    train.add_argument("--experiment", default="train_iris", help="experiment name of the run (default: train_iris)")
    train.set_defaults(func=_train)

    reg = subparsers.add_parser("register", parents=[register_parent()],
                                help="register a model directory (model.joblib + model.json), locally or in Azure ML",
                                description="Copy a model directory into the registry as the next version of NAME, "
                                            "or with --azure register it in the Azure ML workspace.")
    reg.add_argument("path", type=Path, metavar="PATH", help="model directory holding model.joblib and model.json")
    reg.add_argument("--name", required=True, help="model name (letters, digits, '.', '_', '-')")
    add_key_value_option(reg, "--tag", "tag (repeatable)")
    add_key_value_option(reg, "--property", "property (repeatable)")
    reg.add_argument("--description", help="free-text description")
    reg.add_argument("--cpu", type=positive_float, help="resource configuration: CPU cores the model needs to serve")
    reg.add_argument("--memory-in-gb", type=positive_float, help="resource configuration: memory (GB) the model needs")
    reg.set_defaults(func=_register)


def _train(args: argparse.Namespace) -> int:
    if args.tag and not args.register:
        raise TrainingFailed("--tag applies to the registered model; add --register NAME.")
    if args.register:
        check_name(args.register)  # before training, not after it
    train_args, train_data = load_job_module("train_args"), load_job_module("train_data")
    workspace = workspace_path()
    try:
        run = run_training_locally(train_args.to_argv(args), workspace=workspace, experiment=args.experiment)
    except (train_args.UsageError, train_data.DataError) as exc:
        failed = TrainingFailed(str(exc))
        for note in getattr(exc, "__notes__", ()):
            failed.add_note(note)
        raise failed from exc
    print(f"Run {run.run_id} completed: Accuracy {run.metrics['Accuracy']:.4f}; outputs in {run.outputs_dir}")
    if args.register:
        record = Registry(workspace).register(args.register, run.outputs_dir, tags=dict(args.tag), run_id=run.run_id)
        print(f"Registered model {record.name} version {record.version} at {record.path}")
    return 0


def _register(args: argparse.Namespace) -> int:
    if args.azure:
        return register_in_azure(args)
    refuse_ignored({**options.azure_only(args), "--dry-run": args.dry_run}, "on a local registration",
                   "add --azure (--backend v2 for --emit-yaml)")
    resources = {"cpu": args.cpu, "memory_in_gb": args.memory_in_gb}
    record = Registry(workspace_path()).register(
        args.name, args.path, tags=dict(args.tag), properties=dict(args.property), description=args.description,
        resource_configuration=resources if args.cpu is not None or args.memory_in_gb is not None else None)
    print(f"Registered model {record.name} version {record.version} at {record.path}")
    return 0
