"""The Azure ML SDK v2 backend (azure-ai-ml): the entities of v2_objects.py, sent with an ``MLClient``.

Same contract as v1.py: calls that only talk to Azure are bounded by the connection timeout and end in one clear error;
waiting for a job, a sweep or a deployment is not bounded (the user asked to wait and sees the streamed logs).
"""

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from training import interrupts
from training.azure.backend import Connection, Outcome
from training.azure.deploy import sample_request
from training.azure.errors import AzureError, RunFailed, WorkspaceUnreachable
from training.azure.sdk import require_sdk
from training.azure.spec import ComputeSpec, DeploySpec, JobSpec, RegisterSpec, SweepSpec
from training.azure.v2_objects import (
    build_command_job,
    build_compute,
    build_container_environment,
    build_deployment,
    build_endpoint,
    build_environment,
    build_model,
    build_sweep_job,
    model_reference,
)
from training.azure.v2_workspace import connect, v2_call
from training.azure.v2_yaml import describe, write_yaml
from training.azure.workspace import first_line
from training.errors import InvalidModelDir
from training.model_dir import check_model_dir

BEST_CHILD = "best_child_run_id"  # the sweep job property naming its best trial


def _connect(connection: Connection):
    return connect(connection.config, timeout=connection.timeout)


def environment_reference(environment) -> str:
    """How a job or deployment names its environment: ``azureml:NAME:VERSION`` (a curated one is already a string)."""
    return environment if isinstance(environment, str) else f"azureml:{environment.name}:{environment.version}"


class AzureBackend:
    """SDK v2 implementation of training.azure.backend.Backend.

    ``connect`` turns a Connection into an ``MLClient`` (default: ``MLClient.from_config`` + DefaultAzureCredential).
    """

    def __init__(self, connect: Callable[[Connection], object] = _connect):
        self._connect = connect

    def client(self, connection: Connection):
        """The ``MLClient`` of ``connection`` (what the batch commands of v2_batch.py call with)."""
        return self._connect(connection)

    # Offline: the entities, as YAML for the dry run or as files for --emit-yaml.

    def job_entities(self, job: JobSpec) -> list:
        """The environment to register (none when curated) and the command job."""
        environment = build_environment(job.environment)
        return [*registrable(environment), build_command_job(job, environment_reference(environment))]

    def sweep_entities(self, sweep: SweepSpec) -> list:
        """The environment to register (none when curated) and the sweep job."""
        environment = build_environment(sweep.job.environment)
        return [*registrable(environment), build_sweep_job(sweep, environment_reference(environment))]

    def register_entities(self, register: RegisterSpec) -> list:
        """The model of a local model directory."""
        return [build_model(register)]

    def deploy_entities(self, deploy: DeploySpec) -> list:
        """The environment (conda, or the container image's), the endpoint and the deployment."""
        environment = deployment_environment(deploy)
        deployment = build_deployment(deploy, model_reference(deploy), environment_reference(environment))
        return [*registrable(environment), build_endpoint(deploy), deployment]

    def describe_job(self, job: JobSpec) -> str:
        """The environment and command job as ``az ml`` YAML, offline."""
        return describe(self.job_entities(job))

    def describe_sweep(self, sweep: SweepSpec) -> str:
        """The environment and sweep job as ``az ml`` YAML, offline."""
        return describe(self.sweep_entities(sweep))

    def describe_register(self, register: RegisterSpec) -> str:
        """The model as ``az ml`` YAML, offline."""
        return describe(self.register_entities(register))

    def describe_deploy(self, deploy: DeploySpec) -> str:
        """The environment, endpoint and deployment as ``az ml`` YAML, offline."""
        return describe(self.deploy_entities(deploy))

    def export_yaml(self, spec, directory: Path) -> list[Path]:
        """Write the entities of ``spec`` (a Job/Sweep/Register/DeploySpec) as ``az ml`` YAML files."""
        builders = {JobSpec: self.job_entities, SweepSpec: self.sweep_entities, RegisterSpec: self.register_entities,
                    DeploySpec: self.deploy_entities}
        return write_yaml(builders[type(spec)](spec), directory)

    # Online.

    def submit_job(self, job: JobSpec, connection: Connection, *, wait: bool,
                   register: RegisterSpec | None) -> Outcome:
        """Submit the command job; with ``wait`` (implied by ``register``) stream it, then register its outputs."""
        ml = self._connect(connection)
        environment = ensure_environment(ml, build_environment(job.environment), connection)
        ensure_compute(ml, job.compute, connection)
        submitted = _submit(ml, build_command_job(job, environment), job.experiment, connection)
        if not (wait or register):
            return Outcome(submitted.name, "Submitted", submitted.studio_url)
        status = wait_for_job(ml, submitted.name, "Job", connection)
        model = _register_job(ml, submitted.name, register, connection)
        return Outcome(submitted.name, status, submitted.studio_url, model=model)

    def submit_sweep(self, sweep: SweepSpec, connection: Connection, *, wait: bool,
                     register: RegisterSpec | None) -> Outcome:
        """Submit the sweep job; with ``wait`` (implied by ``register``) stream it, register the best trial."""
        ml = self._connect(connection)
        environment = ensure_environment(ml, build_environment(sweep.job.environment), connection)
        ensure_compute(ml, sweep.job.compute, connection)
        submitted = _submit(ml, build_sweep_job(sweep, environment), sweep.job.experiment, connection)
        if not (wait or register):
            return Outcome(submitted.name, "Submitted", submitted.studio_url)
        status = wait_for_job(ml, submitted.name, "Sweep", connection)
        finished = v2_call(f"read sweep {submitted.name}", lambda: ml.jobs.get(submitted.name), connection.timeout)
        best = (finished.properties or {}).get(BEST_CHILD)
        if not best:
            raise RunFailed(f"Sweep {submitted.name} completed without any trial reporting "
                            f"{sweep.space.primary_metric}.")
        print(f"Best trial {best} (primary metric {sweep.space.primary_metric})")
        model = _register_job(ml, best, register, connection)
        return Outcome(best, status, submitted.studio_url, model=model)

    def register_model(self, register: RegisterSpec, connection: Connection) -> Outcome:
        """Upload and register a local model directory, checked by model_format (sha256 included) before connecting."""
        model = build_model(register)
        ml = self._connect(connection)
        created = v2_call(f"register model {register.name}", lambda: ml.models.create_or_update(model),
                          connection.timeout)
        return Outcome(None, "Registered", model=f"{created.name}:{created.version}")

    def deploy(self, deploy: DeploySpec, connection: Connection) -> Outcome:
        """Create the endpoint when missing and the deployment; once that succeeded, send all traffic to it.

        An existing endpoint is not rewritten before then: its live deployments keep their traffic if this one fails.
        """
        ml = self._connect(connection)
        version = None if deploy.model_version is None else str(deploy.model_version)
        model = v2_call(f"find model {deploy.model_name} in the workspace",
                        lambda: ml.models.get(deploy.model_name, version=version, label=None if version else "latest"),
                        connection.timeout)
        environment = ensure_environment(ml, deployment_environment(deploy), connection)
        deployment = build_deployment(deploy, f"azureml:{model.name}:{model.version}", environment)
        _ensure_endpoint(ml, deploy, connection)
        state = state_text(_create_deployment(ml, deployment, connection).provisioning_state)
        endpoint = v2_call(f"read endpoint {deploy.service_name}", lambda: ml.online_endpoints.get(deploy.service_name),
                           connection.timeout)
        endpoint.traffic = {deploy.deployment_name: 100}
        endpoint = v2_call(f"send all traffic of {deploy.service_name} to {deploy.deployment_name}",
                           lambda: ml.online_endpoints.begin_create_or_update(endpoint).result(), None)
        return Outcome(None, state, model=f"{model.name}:{model.version}",
                       scoring_uri=endpoint.scoring_uri,
                       sample_request=sample_request(endpoint.scoring_uri, model.properties, no_code=False, auth=True))


def state_text(state) -> str:
    """A state as plain text: azure-ai-ml returns str enums for known states (JobStatus, ProvisioningState)."""
    return str(getattr(state, "value", state))


def registrable(environment) -> list:
    return [] if isinstance(environment, str) else [environment]


def deployment_environment(deploy: DeploySpec):
    return build_container_environment(deploy) if deploy.image else build_environment(deploy.environment)


def exists(action: str, get: Callable[[], object], connection: Connection) -> bool:
    """Whether ``get()`` finds the resource: False when Azure answers not found; any other failure raises."""
    not_found = require_sdk("azure.core.exceptions", sdk="v2").ResourceNotFoundError
    try:
        v2_call(action, get, connection.timeout)
    except WorkspaceUnreachable as exc:
        if not isinstance(exc.__cause__, not_found):
            raise
        return False
    return True


def ensure_environment(ml, environment, connection: Connection) -> str:
    """Register the environment unless this content version already exists; return its reference."""
    if isinstance(environment, str):
        return environment
    name = f"{environment.name}:{environment.version}"
    if exists(f"find environment {name}", lambda: ml.environments.get(environment.name, version=environment.version),
               connection):
        print(f"Reusing environment {name}")
    else:
        v2_call(f"register environment {name}", lambda: ml.environments.create_or_update(environment),
                connection.timeout)
        print(f"Registered environment {name}")
    return environment_reference(environment)


def ensure_compute(ml, compute: ComputeSpec, connection: Connection) -> None:
    """Check the cluster exists; create it when missing and ``--create-compute`` was given."""
    if compute.name == "local" or exists(f"find compute target {compute.name}",
                                         lambda: ml.compute.get(compute.name), connection):
        return
    if not compute.create:
        raise AzureError(f"Compute target {compute.name!r} does not exist in the workspace; create it, or pass "
                         f"--create-compute (vm size {compute.vm_size}, max {compute.max_nodes} nodes).")
    v2_call(f"create compute cluster {compute.name}",
            lambda: ml.compute.begin_create_or_update(build_compute(compute)).result(), None)


def _ensure_endpoint(ml, deploy: DeploySpec, connection: Connection) -> None:
    """Create the endpoint (key auth, no traffic yet) unless it exists; an existing one is left as it is."""
    name = deploy.service_name
    if exists(f"find endpoint {name}", lambda: ml.online_endpoints.get(name), connection):
        print(f"Updating endpoint {name}")
        return
    v2_call(f"create endpoint {name}",
            lambda: ml.online_endpoints.begin_create_or_update(build_endpoint(deploy)).result(), None)
    print(f"Created endpoint {name}")


def _create_deployment(ml, deployment, connection: Connection):
    """Create the deployment and wait for it; a deployment the service reports as failed ends with its logs.

    The service answers asynchronously and azure-core's poller raises ``HttpResponseError`` when the operation ends
    Failed: that is the deployment failing (RunFailed, with the log tail), not the workspace being unreachable.
    """
    failed = require_sdk("azure.core.exceptions", sdk="v2").HttpResponseError
    what = f"deployment {deployment.name} of {deployment.endpoint_name}"
    poller = v2_call(f"create {what}", lambda: ml.online_deployments.begin_create_or_update(deployment), None)
    print(f"Waiting for {what} (each dot is one status check; this takes minutes)", flush=True)
    try:
        return v2_call(f"wait for {what}", poller.result, None)
    except WorkspaceUnreachable as exc:
        if not isinstance(exc.__cause__, failed):
            raise
        logs = v2_call(f"read the logs of {what}", lambda: ml.online_deployments.get_logs(
            deployment.name, deployment.endpoint_name, lines=100), connection.timeout)
        raise RunFailed(f"Deployment {deployment.name} of {deployment.endpoint_name} failed: "
                        f"{first_line(exc.__cause__)}; its logs:\n"
                        f"{(logs or '')[-3000:]}") from exc.__cause__
    finally:
        print()  # ends the poller's line of dots


def _submit(ml, job, experiment: str, connection: Connection):
    submitted = v2_call(f"submit to experiment {experiment}", lambda: ml.jobs.create_or_update(job),
                        connection.timeout)
    print(f"Submitted {submitted.name} to experiment {experiment}: {submitted.studio_url}")
    return submitted


def wait_for_job(ml, name: str, what: str, connection: Connection) -> str:
    """Stream the job until it ends; a job that did not complete is RunFailed with the error it reported.

    ``ml.jobs.stream`` raises ``JobException`` when the job fails (or the stream is interrupted): an outcome of the
    job, not of the connection, so it is not left to :func:`v2_call`.
    """
    job_exception = require_sdk("azure.ai.ml.exceptions", sdk="v2").JobException

    def stream():
        try:
            ml.jobs.stream(name)
        except job_exception as exc:
            if interrupts.interrupt_behind(exc):  # Ctrl-C, which the SDK reports as a JobException
                raise
            return exc
        return None

    cancel = f"az ml job cancel --name {name} --resource-group {ml.resource_group_name} " \
             f"--workspace-name {ml.workspace_name}"
    with interrupts.waiting_on_remote(f"{what.lower()} {name} on Azure ML", cancel):
        stopped = v2_call(f"follow {name}", stream, None)
    status = state_text(v2_call(f"read the status of {name}", lambda: ml.jobs.get(name).status, connection.timeout))
    if status != "Completed":
        reason = f": {_job_error(stopped)}" if stopped else "."
        raise RunFailed(f"{what} {name} ended as {status}{reason}")
    return status


def _job_error(exc: BaseException) -> str:
    """The error in a ``JobException``: its message is ``Exception :`` and the run's error as indented JSON."""
    text = str(getattr(exc, "message", None) or exc)
    try:
        error = json.loads(text[text.index("{"):])
    except ValueError:  # no JSON: a plain message (e.g. the stream was interrupted)
        return " ".join(text.split())[:1000]
    while isinstance(error.get("error"), dict):
        error = error["error"]
    return f"{error.get('code')}: {error.get('message')}"


def _register_job(ml, job_name: str, register: RegisterSpec | None, connection: Connection) -> str | None:
    """Register the job's outputs folder, with the facts of the model.json it wrote.

    The folder is downloaded first and checked as a local model directory (model_format: model.json, then the model
    file's sha256), so what the job wrote is refused before anything is registered.
    """
    if register is None:
        return None
    with tempfile.TemporaryDirectory(prefix="job-outputs-") as folder:
        v2_call(f"download the outputs of job {job_name}", lambda: ml.jobs.download(job_name, download_path=folder),
                connection.timeout)
        try:
            sidecar = check_model_dir(Path(folder) / "artifacts" / "outputs")
        except InvalidModelDir as exc:
            raise InvalidModelDir(f"Job {job_name} did not write a usable model directory to outputs/ (was it "
                                  f"trained by training/job/train.py?): {exc}") from None
    model = build_model(register, job_name=job_name, sidecar=sidecar)
    created = v2_call(f"register model {register.name}", lambda: ml.models.create_or_update(model),
                      connection.timeout)
    return f"{created.name}:{created.version}"
