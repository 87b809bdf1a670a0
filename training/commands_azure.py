"""``submit``, ``sweep``, ``deploy`` and ``register --azure``: Azure ML (SDK v1 or v2, optional) and the local sweep.

Nothing Azure is imported here at start-up: the SDK is loaded inside the commands, so ``python -m training`` works
without requirements-azure.txt and the Azure commands fail with exit 2 and the install command when it is missing.
``--backend v1|v2`` (default ``$SKLEARN_AZURE_BACKEND``, else v1) picks the SDK.
Exit codes: 0 success; 2 user error (including setup, credentials, refused snapshot); 3 the Azure run, sweep or
deployment finished in a state other than Completed / Healthy.
"""

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from training.azure import options
from training.azure.errors import AzureError, RunFailed
from training.azure.spec import REPO_ROOT, DeploySpec, RegisterSpec, SweepSpec
from training.cli_util import model_ref, positive_float, positive_int, print_table, refuse_ignored
from training.db import workspace_path
from training.errors import InvalidArgument
from training.local_run import load_job_module
from training.search_space import IRIS_SPACE, SAMPLING_METHODS, to_arguments

RUN_NOT_COMPLETED = 3
V1_NOTE = "Azure ML SDK v1 is out of support since 2026-06-30; --backend v2 uses the current SDK (azure-ai-ml)."
DEFAULT_ENTRY_SCRIPT = "service/score.py"
# deploy options of one backend only, named as in DeploySpec (None when not given: the spec's default applies)
V1_DEPLOY_OPTIONS = ("cpu_cores", "memory_gb")
V2_DEPLOY_OPTIONS = ("port", "deployment_name", "instance_type", "instance_count")


def register(subparsers) -> None:
    """Add ``submit``, ``sweep`` and ``deploy`` to the ``python -m training`` subparsers."""
    train_args = load_job_module("train_args")
    submit = subparsers.add_parser(
        "submit", parents=[train_args.build_parser(add_help=False), options.azure_parent(), options.job_parent()],
        help="submit training/job/train.py to Azure ML (SDK v1 or v2)",
        description="Submit training/job/train.py with the given train.py arguments as an Azure ML run (v1) or "
                    f"command job (v2). {V1_NOTE}")
    submit.add_argument("--wait", action="store_true", help="stream the run's output until it finishes")
    options.add_register(submit, default=None)
    submit.set_defaults(func=_submit)

    sweep = subparsers.add_parser(
        "sweep", parents=[options.azure_parent(), options.job_parent()],
        help="hyperparameter sweep of --kernel x --penalty: locally (default) or with Azure ML HyperDrive",
        description="Sweep the sample's space (--kernel linear/rbf/poly/sigmoid x --penalty 0.5/1/1.5, primary "
                    "metric Accuracy, maximised) locally in parallel processes or on Azure ML (HyperDrive on v1, a "
                    f"sweep job on v2), then register the best model. {V1_NOTE}")
    sweep.add_argument("--target", choices=("local", "azure"), default="local", help="where to run (default: local)")
    sweep.add_argument("--azure", dest="target", action="store_const", const="azure", help="same as --target azure")
    sweep.add_argument("--sampling", choices=SAMPLING_METHODS, default="random", help="default: random")
    sweep.add_argument("--max-runs", type=positive_int, default=12, help="number of trials (default: 12)")
    sweep.add_argument("--parallel", type=positive_int, default=None,
                       help="trials at once: processes locally (default 2), max concurrent runs on Azure (default 4)")
    sweep.add_argument("--seed", type=int, default=0, help="random sampling seed (local only; default: 0)")
    sweep.add_argument("--policy", choices=("none", "bandit"), default="none",
                       help="Azure early termination (default: none, as the sample; bandit: slack 0.1, interval 1)")
    sweep.add_argument("--probability", action="store_true", help="train.py --probability for every trial")
    sweep.add_argument("--data", metavar="CSV", help="local: train every trial on this CSV (train.py --data)")
    sweep.add_argument("--label", metavar="COLUMN", help="local: the label column of --data (train.py --label)")
    sweep.add_argument("--wait", action="store_true", help="Azure: stream the sweep until it finishes")
    options.add_register(sweep, default="sklearn-iris")
    sweep.set_defaults(func=_sweep)

    deploy = subparsers.add_parser(
        "deploy", parents=[options.azure_parent()],
        help="deploy a model registered in Azure ML: v1 web service (ACI/AKS), v2 managed online endpoint",
        description="Deploy NAME[:VERSION] from the Azure ML model registry. v1: no-code (Azure's scikit-learn "
                    "scoring) by default, or with a scoring script (--entry-script, default service/score.py), on "
                    "ACI or AKS. v2: a managed online endpoint (key auth) with one deployment running the scoring "
                    "script (default) or our container image (--image), then all traffic to it. Locally, the "
                    f"equivalent is `make run MODEL=NAME`. {V1_NOTE}")
    deploy.add_argument("ref", metavar="NAME[:VERSION]", help="registered model (latest version when omitted)")
    deploy.add_argument("--service-name", default="sklearn-iris",
                        help="web service (v1) or online endpoint (v2) name (default: sklearn-iris)")
    deploy.add_argument("--target", choices=("aci", "aks"), default="aci", help="v1: default aci")
    deploy.add_argument("--aks-cluster", metavar="NAME", help="v1: attached AKS cluster (with --target aks)")
    deploy.add_argument("--cpu-cores", type=positive_float, help="v1: default 1")
    deploy.add_argument("--memory-gb", type=positive_float, help="v1: default 1")
    deploy.add_argument("--entry-script", nargs="?", const=DEFAULT_ENTRY_SCRIPT, default=None, metavar="PATH",
                        help=f"deploy with this scoring script (relative to the repository; default "
                             f"{DEFAULT_ENTRY_SCRIPT}) instead of no-code (v1) or the container (v2); "
                             f"{DEFAULT_ENTRY_SCRIPT} needs model.json, so on v1 register with --model-path outputs")
    deploy.add_argument("--image", metavar="IMAGE",
                        help="v2: deploy this container image of the service (routes /health/live, /health/ready, "
                             "/score) instead of a scoring script")
    deploy.add_argument("--port", type=positive_int,
                        help=f"v2: port the container serves (default {DeploySpec.port})")
    deploy.add_argument("--deployment-name", help=f"v2: deployment name (default: {DeploySpec.deployment_name})")
    deploy.add_argument("--instance-type", help=f"v2: VM size (default: {DeploySpec.instance_type})")
    deploy.add_argument("--instance-count", type=positive_int,
                        help=f"v2: instances (default: {DeploySpec.instance_count})")
    options.add_environment(deploy, docker_option=False)
    deploy.set_defaults(func=_deploy)


def _submit(args: argparse.Namespace) -> int:
    _refuse_other_backend_job_options(args)
    job = options.job_spec(args, tuple(load_job_module("train_args").to_argv(args)))
    backend = options.backend(args)
    listing = options.check_upload(job.source_dir, args)
    return _send(args, backend, job, "Azure ML job (dry run, nothing is submitted", backend.describe_job, listing,
                 lambda connection: backend.submit_job(job, connection, wait=args.wait,
                                                       register=options.register_spec(args)))


def _sweep(args: argparse.Namespace) -> int:
    extra = ("--probability",) if args.probability else ()
    if args.target == "local":
        data = (("--data", args.data) if args.data else ()) + (("--label", args.label) if args.label else ())
        return _sweep_local(args, extra + data)
    refuse_ignored({"--data": args.data, "--label": args.label}, "on an Azure sweep",
                   "the Azure sweep trains on iris; sweep a CSV locally (drop --azure)")
    _refuse_other_backend_job_options(args)
    sweep = SweepSpec(job=options.job_spec(args, extra), sampling=args.sampling, max_total_runs=args.max_runs,
                      max_concurrent_runs=args.parallel or 4, policy=None if args.policy == "none" else args.policy)
    backend = options.backend(args)
    listing = options.check_upload(sweep.job.source_dir, args)
    kind = "HyperDrive sweep" if args.backend == "v1" else "sweep job"
    return _send(args, backend, sweep, f"Azure ML {kind} (dry run, nothing is submitted", backend.describe_sweep,
                 listing, lambda connection: backend.submit_sweep(sweep, connection, wait=args.wait,
                                                                  register=options.register_spec(args)))


def _refuse_other_backend_job_options(args: argparse.Namespace) -> None:
    if args.backend == "v2":
        refuse_ignored({"--no-docker": args.no_docker}, "with --backend v2",
                       "a v2 job always runs in its environment's image")
    else:
        refuse_ignored({"--base-image": args.base_image}, "with --backend v1",
                       "v1 picks its own base image; add --backend v2")


def _sweep_local(args: argparse.Namespace, extra: tuple[str, ...]) -> int:
    if args.policy != "none":
        raise InvalidArgument(f"--policy {args.policy} applies to --target azure; the local sweep runs every trial.")
    refuse_ignored({"--compute": None if args.compute == "local" else args.compute,
                    "--create-compute": args.create_compute, "--environment": args.environment, "--wait": args.wait,
                    "--no-docker": args.no_docker, "--base-image": args.base_image, **options.azure_only(args)},
                   "on a local sweep", "add --azure (--backend v2 for --emit-yaml)")
    train_args = load_job_module("train_args")
    try:  # refused once here, not by each of the trials
        train_args.parse_args(list(extra))
    except train_args.UsageError as exc:
        raise InvalidArgument(str(exc)) from None
    if args.dry_run:
        configs = IRIS_SPACE.sample(args.sampling, args.max_runs, args.seed)
        print(f"=== local sweep (dry run): {len(configs)} of {IRIS_SPACE.size} configurations, {args.sampling} "
              f"sampling, seed {args.seed}, {args.parallel or 2} processes, experiment {args.experiment} ===")
        print_table(["TRIAL", "TRAIN.PY ARGUMENTS"],
                    [[n, " ".join(to_arguments(config) + list(extra))] for n, config in enumerate(configs, 1)])
        return 0
    from training.sweep_local import run_local_sweep

    result = run_local_sweep(IRIS_SPACE, workspace=workspace_path(), sampling=args.sampling, max_runs=args.max_runs,
                             parallel=args.parallel or 2, seed=args.seed, experiment=args.experiment,
                             register_name=args.register, extra_args=extra)
    metric = IRIS_SPACE.primary_metric
    print_table(["TRIAL", *(c.flag.lstrip("-").upper() for c in IRIS_SPACE.choices), metric.upper(), "STATUS", "RUN"],
                [[t.number, *t.config.values(), f"{t.metrics[metric]:.4f}" if metric in t.metrics else "",
                  t.status, t.run_id] for t in result.trials])
    best = result.best
    print(f"Best: trial {best.number} ({' '.join(to_arguments(best.config))}), {metric} "
          f"{best.metrics[metric]:.4f}, run {best.run_id}")
    print(f"Sweep run {result.run.run_id}: results {result.results_csv}, plot {result.plot_png}")
    if result.registered:
        record = result.registered
        print(f"Registered model {record.name} version {record.version} at {record.path}")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    name, version = model_ref(args.ref)
    entry_script = args.entry_script
    if args.backend == "v2" and entry_script is None and args.image is None:
        entry_script = DEFAULT_ENTRY_SCRIPT  # v2 has no no-code path for a custom model
    if args.image and args.backend != "v2":
        raise AzureError("--image deploys a container to a managed online endpoint; add --backend v2.")
    if args.backend == "v2":
        if args.target != "aci" or args.aks_cluster:
            raise AzureError("--target and --aks-cluster choose a v1 web service; a v2 managed online endpoint is "
                             "sized with --instance-type and --instance-count.")
        refuse_ignored({"--cpu-cores": args.cpu_cores, "--memory-gb": args.memory_gb}, "with --backend v2",
                       "a managed online endpoint is sized with --instance-type and --instance-count")
    else:
        refuse_ignored({"--base-image": args.base_image, "--port": args.port, "--deployment-name": args.deployment_name,
                        "--instance-type": args.instance_type, "--instance-count": args.instance_count},
                       "with --backend v1", "they are for a v2 managed online endpoint; add --backend v2")
    given = {key: getattr(args, key) for key in V1_DEPLOY_OPTIONS + V2_DEPLOY_OPTIONS if getattr(args, key) is not None}
    spec = DeploySpec(model_name=name, model_version=version, service_name=args.service_name, target=args.target,
                      aks_cluster=args.aks_cluster, entry_script=entry_script,
                      environment=options.environment_spec(args), image=args.image, **given)
    backend = options.backend(args)
    if spec.entry_script is None:
        return _deploy_spec(backend, spec, args, listing=None)
    with tempfile.TemporaryDirectory(prefix="deploy-") as staging:
        source, listing = options.stage_entry(REPO_ROOT, spec.entry_script, Path(staging) / "source", args)
        return _deploy_spec(backend, replace(spec, source_dir=source), args, listing=listing)


def _deploy_spec(backend, spec: DeploySpec, args: argparse.Namespace, *, listing: str | None) -> int:
    return _send(args, backend, spec, "Azure ML deployment (dry run, nothing is deployed", backend.describe_deploy,
                 listing, lambda connection: backend.deploy(spec, connection))


def register_parent() -> argparse.ArgumentParser:
    """``--azure`` and the Azure options of ``register PATH`` (training/commands_train.py owns the rest)."""
    parent = options.azure_parent()
    parent.add_argument("--azure", action="store_true",
                        help=f"register in the Azure ML workspace instead of the local registry. {V1_NOTE}")
    return parent


def register_in_azure(args: argparse.Namespace) -> int:
    """``register PATH --azure``: the local model directory as a workspace model (v1 Model.register, v2 Model)."""
    spec = RegisterSpec(args.name, local_dir=args.path, description=args.description, tags=tuple(args.tag),
                        properties=tuple(args.property), cpu=args.cpu or RegisterSpec.cpu,
                        memory_in_gb=args.memory_in_gb or RegisterSpec.memory_in_gb)
    backend = options.backend(args)
    listing = options.check_upload(args.path, args)
    return _send(args, backend, spec, "Azure ML model registration (dry run, nothing is uploaded",
                 backend.describe_register, listing, lambda connection: backend.register_model(spec, connection))


def _send(args: argparse.Namespace, backend, spec, dry_run_title: str, describe, listing: str | None, send) -> int:
    """What every Azure command does with its checked spec: write YAML, print a dry run, or ``send(connection)``."""
    if args.emit_yaml:
        for path in backend.export_yaml(spec, args.emit_yaml):
            print(f"Wrote {path}")
        return 0
    if args.dry_run:
        return _print_dry_run(f"{dry_run_title}; SDK {args.backend})", describe(spec), listing)
    return _report(lambda: send(options.connection(args)))


def _print_dry_run(title: str, description: str, listing: str | None) -> int:
    print(f"=== {title} ===")
    print(description)
    if listing is not None:
        print(f"=== upload ===\n{listing}")
    return 0


def _report(call) -> int:
    try:
        outcome = call()
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RUN_NOT_COMPLETED
    print(f"Status: {outcome.status}" + (f" (run {outcome.run_id})" if outcome.run_id else "")
          + (f": {outcome.portal_url}" if outcome.portal_url else ""))
    if outcome.model:
        print(f"Registered model {outcome.model}")
    if outcome.scoring_uri:
        print(f"Scoring URI: {outcome.scoring_uri}\nSample request:\n  {outcome.sample_request}")
    return 0
