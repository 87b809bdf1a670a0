"""``deploy-batch`` and ``invoke-batch``: Azure ML batch endpoints (SDK v2 only) from a registered model.

As the other Azure commands, nothing Azure is imported at start-up, and ``--dry-run`` / ``--emit-yaml`` need no
network. Exit codes: 0 success; 2 user error (named option, expected value); 3 the deployment or the scoring job ended
in a state other than Succeeded / Completed.
"""

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from training.azure import options
from training.azure.batch_spec import DEFAULT_DRIVER, INPUT_TYPES, OUTPUT_ACTIONS, BatchDeploySpec, BatchInvokeSpec
from training.azure.errors import AzureError, RunFailed
from training.azure.spec import REPO_ROOT, ComputeSpec
from training.cli_util import model_ref, positive_int, refuse_ignored
from training.commands_azure import RUN_NOT_COMPLETED

V1_REFUSAL = ("Batch endpoints are Azure ML SDK v2 only; SDK v1's batch scoring (ParallelRunStep) runs only inside "
              "a pipeline and is out of support since 2026-06-30, so there is no v1 equivalent. Add --backend v2 "
              "(or set SKLEARN_AZURE_BACKEND=v2).")


def _threshold(text: str) -> int:
    """argparse type: an integer >= -1 (Azure's error threshold; -1 ignores every failed file)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= -1 (-1: never fail), got {text!r}") from None
    if value < -1:
        raise argparse.ArgumentTypeError(f"expected an integer >= -1 (-1: never fail), got {text!r}")
    return value


def _non_negative(text: str) -> int:
    """argparse type: an integer >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def register(subparsers) -> None:
    """Add ``deploy-batch`` and ``invoke-batch`` to the ``python -m training`` subparsers."""
    defaults = BatchDeploySpec("", "")
    deploy = subparsers.add_parser(
        "deploy-batch", parents=[options.azure_parent()],
        help="deploy a model registered in Azure ML as a batch endpoint (SDK v2 only)",
        description="Create (or update) an Azure ML batch endpoint and a model batch deployment of NAME[:VERSION] "
                    f"running the batch driver (default {DEFAULT_DRIVER}, uploaded with the service package and "
                    "model_format.py) on a compute cluster, then make it the endpoint's default deployment. "
                    "--backend v2 only: v1 has no batch endpoints (its ParallelRunStep is pipeline-only).")
    deploy.add_argument("ref", metavar="NAME[:VERSION]", help="registered model (latest version when omitted)")
    deploy.add_argument("--endpoint-name", required=True, help="batch endpoint name (unique in the Azure region)")
    deploy.add_argument("--deployment-name", default=defaults.deployment_name,
                        help=f"deployment name (default: {defaults.deployment_name})")
    deploy.add_argument("--entry-script", default=DEFAULT_DRIVER, metavar="PATH",
                        help=f"batch driver with init() and run(mini_batch), relative to the repository (default: "
                             f"{DEFAULT_DRIVER}); its top-level folder and model_format.py are uploaded")
    deploy.add_argument("--compute", default=defaults.compute.name, metavar="CLUSTER",
                        help=f"compute cluster (default: {defaults.compute.name})")
    deploy.add_argument("--create-compute", action="store_true", help="create the cluster when it does not exist")
    deploy.add_argument("--vm-size", default=defaults.compute.vm_size, help="VM size of a created cluster")
    deploy.add_argument("--max-nodes", type=positive_int, default=defaults.compute.max_nodes,
                        help=f"max nodes of a created cluster (default: {defaults.compute.max_nodes})")
    settings = deploy.add_argument_group("batch settings (Azure's defaults)")
    settings.add_argument("--instance-count", type=positive_int, default=defaults.instance_count,
                          help=f"nodes per job (default: {defaults.instance_count})")
    settings.add_argument("--mini-batch-size", type=positive_int, default=defaults.mini_batch_size,
                          help=f"files per run() call (default: {defaults.mini_batch_size})")
    settings.add_argument("--max-concurrency-per-instance", type=positive_int,
                          default=defaults.max_concurrency_per_instance,
                          help=f"driver processes per node (default: {defaults.max_concurrency_per_instance})")
    settings.add_argument("--error-threshold", type=_threshold, default=defaults.error_threshold,
                          help=f"failed files before the job fails; -1 never (default: {defaults.error_threshold})")
    settings.add_argument("--output-action", choices=OUTPUT_ACTIONS, default=defaults.output_action,
                          help=f"default: {defaults.output_action}")
    settings.add_argument("--output-file-name", default=None,
                          help=f"append_row's output file (default: {defaults.output_file_name})")
    settings.add_argument("--max-retries", type=_non_negative, default=defaults.retries,
                          help=f"tries again of a failed mini-batch (default: {defaults.retries})")
    settings.add_argument("--mini-batch-timeout", type=positive_int, default=defaults.timeout, metavar="SECONDS",
                          help=f"time allowed for one run() call (default: {defaults.timeout}; --timeout is the "
                               "time allowed for each call to Azure, as in the other commands)")
    options.add_environment(deploy, docker_option=False)
    deploy.set_defaults(func=_deploy_batch)

    invoke = subparsers.add_parser(
        "invoke-batch", parents=[options.azure_parent()],
        help="submit a scoring job to an Azure ML batch endpoint (SDK v2 only)",
        description="Score INPUT with the batch endpoint's default deployment (or --deployment-name): a job in the "
                    "workspace, whose name and the `az ml job` commands to follow it and download its output are "
                    "printed. INPUT is a datastore path (azureml://datastores/NAME/paths/PATH), a data asset "
                    "(azureml:NAME:VERSION), an https URI, or a local file or folder (uploaded first). --backend v2 "
                    "only: v1 has no batch endpoints.")
    invoke.add_argument("--endpoint-name", required=True, help="batch endpoint name")
    invoke.add_argument("--input", required=True, metavar="INPUT", help="what to score (see above)")
    invoke.add_argument("--input-type", choices=INPUT_TYPES,
                        help="default: uri_file for a local file, else uri_folder")
    invoke.add_argument("--output-path", metavar="azureml://datastores/NAME/paths/FOLDER/",
                        help="datastore folder of the output file (default: the job's own output folder)")
    invoke.add_argument("--deployment-name", help="deployment to use (default: the endpoint's default)")
    invoke.add_argument("--wait", action="store_true", help="stream the job until it finishes")
    invoke.set_defaults(func=_invoke_batch)


def _require_v2(args: argparse.Namespace) -> None:
    if args.backend != "v2":
        raise AzureError(V1_REFUSAL)


def _deploy_batch(args: argparse.Namespace) -> int:
    _require_v2(args)
    if args.output_action == "summary_only":
        refuse_ignored({"--output-file-name": args.output_file_name}, "with --output-action summary_only",
                       "summary_only writes no output file; drop it or use append_row")
    name, version = model_ref(args.ref)
    compute = ComputeSpec(name=args.compute, create=args.create_compute, vm_size=args.vm_size,
                          max_nodes=args.max_nodes)
    spec = BatchDeploySpec(
        model_name=name, model_version=version, endpoint_name=args.endpoint_name,
        deployment_name=args.deployment_name, driver=args.entry_script, compute=compute,
        environment=options.environment_spec(args), instance_count=args.instance_count,
        mini_batch_size=args.mini_batch_size, max_concurrency_per_instance=args.max_concurrency_per_instance,
        error_threshold=args.error_threshold, output_action=args.output_action,
        output_file_name=args.output_file_name or BatchDeploySpec.output_file_name, retries=args.max_retries,
        timeout=args.mini_batch_timeout)
    spec.check()  # before anything is staged or imported
    backend = options.backend(args)  # exit 2 with the install command when azure-ai-ml is missing
    from training.azure import v2_batch

    with tempfile.TemporaryDirectory(prefix="deploy-batch-") as staging:
        source, listing = options.stage_entry(REPO_ROOT, spec.driver, Path(staging) / "source", args)
        spec = replace(spec, source_dir=source)
        if args.emit_yaml:
            for path in v2_batch.export_batch_yaml(spec, args.emit_yaml):
                print(f"Wrote {path}")
            return 0
        if args.dry_run:
            print("=== Azure ML batch deployment (dry run, nothing is deployed; SDK v2) ===")
            print(v2_batch.describe_batch_deploy(spec))
            print(f"=== upload ===\n{listing}")
            return 0
        connection = options.connection(args)
        return _report(lambda: v2_batch.deploy_batch(backend.client(connection), spec, connection))


def _invoke_batch(args: argparse.Namespace) -> int:
    _require_v2(args)
    refuse_ignored({"--emit-yaml": args.emit_yaml, "--allow-secrets": args.allow_secrets,
                    "--allow-large-snapshot": args.allow_large_snapshot}, "on invoke-batch",
                   "a scoring job has no `az ml` YAML file and no code snapshot; --dry-run prints the equivalent "
                   "`az ml batch-endpoint invoke` command")
    spec = BatchInvokeSpec(endpoint_name=args.endpoint_name, input=args.input, input_type=args.input_type,
                           output_path=args.output_path, deployment_name=args.deployment_name)
    spec.resolved_input_type()  # refuses a bad input or output before the SDK is imported
    backend = options.backend(args)
    from training.azure import v2_batch

    if args.dry_run:
        print("=== Azure ML batch scoring job (dry run, nothing is submitted; SDK v2) ===")
        print(v2_batch.describe_invoke(spec))
        return 0
    connection = options.connection(args)
    return _report(lambda: v2_batch.invoke_batch(backend.client(connection), spec, connection, wait=args.wait))


def _report(call) -> int:
    try:
        outcome = call()
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RUN_NOT_COMPLETED
    print(f"Status: {outcome.status}" + (f" (job {outcome.run_id})" if outcome.run_id else ""))
    if outcome.model:
        print(f"Model: {outcome.model}")
    if outcome.scoring_uri:
        print(f"Scoring URI: {outcome.scoring_uri}\nScore a folder with it:\n  {outcome.sample_request}")
    return 0
