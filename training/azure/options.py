"""Command-line options shared by the Azure commands, and their translation into specs and snapshot checks.

Stdlib only at import time (it is loaded when the ``python -m training`` parser is built).
"""

import argparse
from pathlib import Path

from training.azure.backend import (
    BACKEND_VARIABLE,
    BACKENDS,
    SUPPORT,
    Backend,
    Connection,
    default_backend,
    get_backend,
)
from training.azure.snapshot import check_snapshot, compute_snapshot, format_snapshot, stage_entry_source
from training.azure.spec import (
    CONDA_FILE,
    DEFAULT_BASE_IMAGE,
    JOB_DIR,
    ComputeSpec,
    EnvironmentSpec,
    JobSpec,
    RegisterSpec,
)
from training.azure.workspace import DEFAULT_TIMEOUT
from training.cli_util import positive_float, positive_int


def azure_parent() -> argparse.ArgumentParser:
    """Workspace, backend, dry-run and snapshot-override options (every Azure command)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Azure ML")
    group.add_argument("--dry-run", action="store_true",
                       help="print the full definition and the upload file list; no network")
    group.add_argument("--workspace-config", type=Path, metavar="PATH",
                       help="workspace config.json or its folder (default: search from the working directory up)")
    group.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT,
                       help=f"seconds allowed for each call to Azure (default: {DEFAULT_TIMEOUT:g})")
    group.add_argument("--backend", choices=sorted(BACKENDS), default=default_backend(),
                       help="Azure ML SDK: " + "; ".join(f"{name} ({note})" for name, note in SUPPORT.items())
                            + f". Default: ${BACKEND_VARIABLE}, else v1")
    group.add_argument("--emit-yaml", type=Path, metavar="DIR",
                       help="v2: write what would be sent as `az ml` YAML files into DIR; no network")
    group.add_argument("--allow-secrets", action="store_true",
                       help="upload even though the snapshot seems to hold secrets")
    group.add_argument("--allow-large-snapshot", action="store_true",
                       help="upload even above 300 MB / 2000 files")
    return parent


def job_parent() -> argparse.ArgumentParser:
    """Where and how the training job runs (submit, sweep)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Azure ML job")
    group.add_argument("--experiment", default="train_iris", help="experiment name (default: train_iris)")
    group.add_argument("--compute", default="local", metavar="NAME",
                       help="compute target: local (default) or a cluster name")
    group.add_argument("--create-compute", action="store_true", help="create the cluster when it does not exist")
    group.add_argument("--vm-size", default="STANDARD_D2_V2", help="VM size of a created cluster")
    group.add_argument("--max-nodes", type=positive_int, default=4, help="max nodes of a created cluster (default: 4)")
    group.add_argument("--source-dir", type=Path, default=JOB_DIR, help="uploaded folder (default: training/job)")
    group.add_argument("--script", default="train.py", help="script in --source-dir (default: train.py)")
    add_environment(group)
    return parent


def add_environment(parser, *, docker_option: bool = True) -> None:
    """``--environment`` (curated, by name), ``--conda-file`` and, for jobs, ``--no-docker``."""
    parser.add_argument("--environment", metavar="NAME",
                        help="curated Azure ML environment, e.g. azureml-sklearn-1.5 (default: build --conda-file)")
    parser.add_argument("--conda-file", type=Path, default=CONDA_FILE,
                        help="conda specification (default: training/sklearn-env.yml)")
    parser.add_argument("--base-image",
                        help=f"v2: base image under the conda environment (default: {DEFAULT_BASE_IMAGE})")
    if docker_option:
        parser.add_argument("--no-docker", action="store_true", help="v1: run without Docker")


def add_register(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    """``--register NAME`` / ``--no-register`` and the registered path."""
    hint = f" (default: {default})" if default else ""
    parser.add_argument("--register", metavar="NAME", default=default, help=f"register the model as NAME{hint}")
    parser.add_argument("--no-register", dest="register", action="store_const", const=None,
                        help="do not register a model")
    parser.add_argument("--model-path", default="outputs/model.joblib",
                        help="Azure v1: the run's file or folder to register (default: outputs/model.joblib, what "
                             "no-code deployment loads; outputs also carries model.json, which deploy --entry-script "
                             "needs). v2 always registers the whole outputs folder")


def azure_only(args: argparse.Namespace) -> dict[str, object]:
    """The options of :func:`azure_parent` that only an Azure command uses, by flag (for ``refuse_ignored``)."""
    return {"--emit-yaml": args.emit_yaml, "--workspace-config": args.workspace_config,
            "--allow-secrets": args.allow_secrets, "--allow-large-snapshot": args.allow_large_snapshot}


def environment_spec(args: argparse.Namespace) -> EnvironmentSpec:
    """The EnvironmentSpec of the parsed options."""
    return EnvironmentSpec(conda_file=args.conda_file, curated=args.environment,
                           docker=not getattr(args, "no_docker", False),
                           base_image=args.base_image or DEFAULT_BASE_IMAGE)


def job_spec(args: argparse.Namespace, arguments: tuple[str, ...]) -> JobSpec:
    """The JobSpec of the parsed options, running ``args.script`` with ``arguments``."""
    compute = ComputeSpec(name=args.compute, create=args.create_compute, vm_size=args.vm_size,
                          max_nodes=args.max_nodes)
    return JobSpec(arguments=arguments, source_dir=args.source_dir, script=args.script, experiment=args.experiment,
                   compute=compute, environment=environment_spec(args))


def register_spec(args: argparse.Namespace) -> RegisterSpec | None:
    """The RegisterSpec of ``--register NAME`` and ``--model-path`` (None with ``--no-register``)."""
    return RegisterSpec(args.register, model_path=args.model_path) if args.register else None


def backend(args: argparse.Namespace) -> Backend:
    """The backend chosen with ``--backend`` (SdkMissing when its SDK does not import)."""
    return get_backend(args.backend)


def connection(args: argparse.Namespace) -> Connection:
    """The workspace connection settings of the parsed options."""
    return Connection(config=args.workspace_config, timeout=args.timeout)


def check_upload(source_dir: Path, args: argparse.Namespace) -> str:
    """Check what Azure ML would upload from ``source_dir`` and return its listing (files, sizes, total).

    Raises SnapshotRefused when it holds likely secrets or is over the limits, unless the options allow it.
    """
    snapshot = compute_snapshot(source_dir)
    check_snapshot(snapshot, allow_secrets=args.allow_secrets, allow_large=args.allow_large_snapshot)
    return format_snapshot(snapshot)


def stage_entry(entry_root: Path, entry_script: str, staging: Path, args: argparse.Namespace) -> tuple[Path, str]:
    """Stage a scoring script's upload into ``staging``, check it like a job snapshot; return it and its listing."""
    source = stage_entry_source(entry_root, entry_script, staging)
    return source, check_upload(source, args)
