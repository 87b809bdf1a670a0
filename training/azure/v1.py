"""The Azure ML SDK v1 backend (azureml-core): the builders of this package, plus the calls that need the network.

Every call that only talks to Azure is bounded by the connection timeout and turns network or service failures into
one clear error; waiting for a run, a sweep or a deployment is not bounded (the user asked to wait and sees the
streamed output).
"""

import json
from collections.abc import Callable
from pathlib import Path

from training import interrupts
from training.azure.backend import Connection, Outcome
from training.azure.deploy import (
    build_deployment_configuration,
    build_inference_config,
    describe_deployment,
    sample_request,
)
from training.azure.environment import build_environment, describe_environment
from training.azure.errors import AzureError, RunFailed, WorkspaceUnreachable
from training.azure.hyperdrive import build_hyperdrive_config, describe_sweep
from training.azure.sdk import require_sdk
from training.azure.spec import ComputeSpec, DeploySpec, EnvironmentSpec, JobSpec, RegisterSpec, SweepSpec
from training.azure.submit import build_script_run_config, describe_job, provisioning_configuration, register_run_model
from training.azure.workspace import azure_call, connect
from training.model_dir import check_model_dir


def _connect(connection: Connection):
    return connect(connection.config, timeout=connection.timeout)


class AzureBackend:
    """SDK v1 implementation of training.azure.backend.Backend.

    ``connect`` turns a Connection into a Workspace (default: ``Workspace.from_config`` with a timeout).
    """

    def __init__(self, connect: Callable[[Connection], object] = _connect):
        self._connect = connect

    def describe_job(self, job: JobSpec) -> str:
        """The job definition (environment YAML, run configuration, arguments, compute), offline."""
        return describe_job(job, build_script_run_config(job, _environment(job.environment)))

    def describe_sweep(self, sweep: SweepSpec) -> str:
        """The HyperDrive configuration and its trial job, offline."""
        src = build_script_run_config(sweep.job, _environment(sweep.job.environment))
        config = build_hyperdrive_config(sweep, src)
        return describe_sweep(sweep, config) + "\n--- trial job ---\n" + describe_job(sweep.job, src)

    def describe_deploy(self, deploy: DeploySpec) -> str:
        """The deployment configuration, and for a scoring script its InferenceConfig and environment, offline."""
        deployment_config = build_deployment_configuration(deploy)
        if deploy.entry_script is None:
            return describe_deployment(deploy, deployment_config)
        environment = _environment(deploy.environment)
        inference_config = build_inference_config(deploy, environment)
        return (describe_deployment(deploy, deployment_config, inference_config) + "\n"
                + describe_environment(deploy.environment, environment))

    def describe_register(self, register: RegisterSpec) -> str:
        """What ``Model.register`` would be called with for a local model directory (checked as for real), offline."""
        sidecar = check_model_dir(register.local_dir)
        return "\n".join([f"model: {register.name} from {register.local_dir}",
                          f"framework: ScikitLearn {sidecar.get('sklearn_version')}",
                          f"resource configuration: cpu {register.cpu}, memory {register.memory_in_gb} GB",
                          f"sha256: {sidecar.get('sha256')}"])

    def export_yaml(self, spec, directory: Path) -> list[Path]:
        """Not available: ``az ml`` YAML describes SDK v2 entities."""
        raise AzureError("--emit-yaml writes `az ml` (SDK v2) YAML; add --backend v2.")

    def register_model(self, register: RegisterSpec, connection: Connection) -> Outcome:
        """``Model.register`` of a local model directory, with framework, size, metrics and sha256.

        The directory passes model_format's checks (model.json, then the model file's sha256) before any connection.
        """
        core = require_sdk("azureml.core")
        resource = require_sdk("azureml.core.resource_configuration")
        sidecar = check_model_dir(register.local_dir)
        if not Path(register.local_dir).resolve().is_relative_to(Path.cwd().resolve()):
            raise AzureError(f"azureml-core registers only folders under the working directory, and "
                             f"{register.local_dir} is not under {Path.cwd()}: run from a parent folder of it.")
        workspace = self._connect(connection)
        tags = {**{k: str(v) for k, v in (sidecar.get("metrics") or {}).items()}, **dict(register.tags)}
        properties = {"sha256": sidecar.get("sha256"), "input_sample": json.dumps(sidecar.get("input_sample", [])[:1]),
                      **dict(register.properties)}
        model = azure_call(f"register model {register.name}", lambda: core.Model.register(
            workspace, model_path=str(register.local_dir), model_name=register.name, tags=tags,
            properties=properties,
            description=register.description, model_framework=core.Model.Framework.SCIKITLEARN,
            model_framework_version=sidecar.get("sklearn_version"),
            resource_configuration=resource.ResourceConfiguration(cpu=register.cpu,
                                                                  memory_in_gb=register.memory_in_gb)),
            connection.timeout)
        return Outcome(None, "Registered", model=f"{model.name}:{model.version}")

    def submit_job(self, job: JobSpec, connection: Connection, *, wait: bool,
                   register: RegisterSpec | None) -> Outcome:
        """Submit the run; with ``wait`` (implied by ``register``) stream it, then register its model."""
        workspace = self._connect(connection)
        run = _submit(workspace, job.experiment, _script_run_config(job, workspace, connection), connection)
        if not (wait or register):
            return Outcome(run.id, "Submitted", run.get_portal_url())
        status = _wait(run, "Run")
        return Outcome(run.id, status, run.get_portal_url(), model=_register(run, register, connection))

    def submit_sweep(self, sweep: SweepSpec, connection: Connection, *, wait: bool,
                     register: RegisterSpec | None) -> Outcome:
        """Submit the HyperDrive sweep; with ``wait`` (implied by ``register``) stream it, register the best run."""
        workspace = self._connect(connection)
        config = build_hyperdrive_config(sweep, _script_run_config(sweep.job, workspace, connection))
        run = _submit(workspace, sweep.job.experiment, config, connection)
        if not (wait or register):
            return Outcome(run.id, "Submitted", run.get_portal_url())
        status = _wait(run, "Sweep")
        metric = sweep.space.primary_metric
        best = azure_call("find the best run of the sweep", run.get_best_run_by_primary_metric, connection.timeout)
        if best is None:
            raise RunFailed(f"Sweep {run.id} completed without any run reporting {metric}.")
        print(f"Best run {best.id}: {metric} {best.get_metrics().get(metric)}")
        return Outcome(best.id, status, run.get_portal_url(), model=_register(best, register, connection))

    def deploy(self, deploy: DeploySpec, connection: Connection) -> Outcome:
        """Deploy the registered model (no-code, or with the staged scoring script) and wait until it is healthy."""
        core = require_sdk("azureml.core")
        workspace = self._connect(connection)
        model = azure_call(f"find model {deploy.model_name} in the workspace",
                           lambda: core.Model(workspace, name=deploy.model_name, version=deploy.model_version),
                           connection.timeout)
        inference_config = None
        if deploy.entry_script is not None:
            inference_config = build_inference_config(deploy, _environment(deploy.environment, workspace, connection))
        target = None
        if deploy.target == "aks":
            compute = require_sdk("azureml.core.compute")
            target = azure_call(f"find AKS cluster {deploy.aks_cluster}",
                                lambda: compute.AksCompute(workspace, deploy.aks_cluster), connection.timeout)
        service = azure_call(
            f"deploy {deploy.service_name}",
            lambda: core.Model.deploy(workspace, deploy.service_name, [model], inference_config=inference_config,
                                      deployment_config=build_deployment_configuration(deploy),
                                      deployment_target=target, overwrite=True, show_output=True),
            connection.timeout)
        azure_call(f"wait for {deploy.service_name}", lambda: service.wait_for_deployment(show_output=True), None)
        if service.state != "Healthy":
            raise RunFailed(f"Service {deploy.service_name} ended as {service.state}; its logs:\n"
                            f"{(service.get_logs() or '')[-3000:]}")
        return Outcome(None, service.state, model=f"{model.name}:{model.version}", scoring_uri=service.scoring_uri,
                       sample_request=sample_request(service.scoring_uri, model.properties,
                                                     no_code=inference_config is None,
                                                     auth=bool(getattr(service, "auth_enabled", False))))


def _environment(spec: EnvironmentSpec, workspace=None, connection: Connection | None = None):
    if spec.curated and workspace is None:
        # Offline (dry run): a named placeholder; the real curated environment is fetched at submission.
        return require_sdk("azureml.core").Environment(name=spec.curated)
    if spec.curated:
        return azure_call(f"fetch environment {spec.curated}", lambda: build_environment(spec, workspace),
                          connection.timeout)
    return build_environment(spec)


def _script_run_config(job: JobSpec, workspace, connection: Connection):
    if job.compute.name != "local":
        _ensure_compute(workspace, job.compute, connection)
    return build_script_run_config(job, _environment(job.environment, workspace, connection))


def _ensure_compute(workspace, compute: ComputeSpec, connection: Connection) -> None:
    compute_module = require_sdk("azureml.core.compute")
    exceptions = require_sdk("azureml.exceptions")
    try:
        azure_call(f"find compute target {compute.name}",
                   lambda: compute_module.ComputeTarget(workspace=workspace, name=compute.name), connection.timeout)
        return
    except WorkspaceUnreachable as exc:
        if not isinstance(exc.__cause__, exceptions.ComputeTargetException):
            raise
        if not compute.create:
            raise AzureError(f"Compute target {compute.name!r} does not exist in the workspace; create it, or pass "
                             f"--create-compute (vm size {compute.vm_size}, max {compute.max_nodes} nodes).") from exc
    target = azure_call(f"create compute cluster {compute.name}",
                        lambda: compute_module.ComputeTarget.create(workspace, compute.name,
                                                                    provisioning_configuration(compute)),
                        connection.timeout)
    azure_call(f"provision compute cluster {compute.name}",
               lambda: target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20), None)


def _submit(workspace, experiment: str, config, connection: Connection):
    core = require_sdk("azureml.core")
    run = azure_call(f"submit to experiment {experiment}",
                     lambda: core.Experiment(workspace, experiment).submit(config), connection.timeout)
    print(f"Submitted {run.id} to experiment {experiment}: {run.get_portal_url()}")
    return run


def _wait(run, what: str) -> str:
    cancel = f"in the studio ({run.get_portal_url()}), or Run.get(Workspace.from_config(), {run.id!r}).cancel()"
    with interrupts.waiting_on_remote(f"{what.lower()} {run.id} on Azure ML", cancel):
        azure_call(f"follow {run.id}", lambda: run.wait_for_completion(show_output=True, raise_on_error=False), None)
    status = run.get_status()
    if status != "Completed":
        raise RunFailed(f"{what} {run.id} ended as {status}: {run.get_portal_url()}")
    return status


def _register(run, register: RegisterSpec | None, connection: Connection) -> str | None:
    if register is None:
        return None
    model = azure_call(f"register model {register.name}", lambda: register_run_model(run, register),
                       connection.timeout)
    return f"{model.name}:{model.version}"
