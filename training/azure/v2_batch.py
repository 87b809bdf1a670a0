"""Azure ML batch endpoints (SDK v2 only): the BatchEndpoint, its ModelBatchDeployment, and scoring jobs over it.

The entities are built offline from the specs of batch_spec.py, so the dry run, ``--emit-yaml`` and the real call
send the same objects; the calls reuse the online deployment's environment handling and the jobs' waiting.
"""

import shlex
from pathlib import Path

from training.azure.backend import Connection, Outcome
from training.azure.batch_spec import OUTPUT_NAME, BatchDeploySpec, BatchInvokeSpec
from training.azure.errors import AzureError, RunFailed, WorkspaceUnreachable
from training.azure.sdk import require_sdk
from training.azure.v2 import (
    ensure_compute,
    ensure_environment,
    environment_reference,
    exists,
    registrable,
    state_text,
    wait_for_job,
)
from training.azure.v2_objects import build_environment
from training.azure.v2_workspace import v2_call
from training.azure.v2_yaml import describe, write_yaml
from training.azure.workspace import first_line

V2 = "v2"


def _entities():
    return require_sdk("azure.ai.ml.entities", sdk=V2)


def model_reference(spec: BatchDeploySpec) -> str:
    """``azureml:NAME:VERSION`` or ``azureml:NAME@latest``: the registered model the deployment scores with."""
    return (f"azureml:{spec.model_name}@latest" if spec.model_version is None
            else f"azureml:{spec.model_name}:{spec.model_version}")


def build_batch_endpoint(spec: BatchDeploySpec):
    """A new ``BatchEndpoint`` without a default deployment: it is set once a deployment succeeded.

    Batch endpoints only take Microsoft Entra tokens (``aad_token``, the SDK's default), never keys.
    """
    return _entities().BatchEndpoint(name=spec.endpoint_name, description=f"{spec.model_name} batch scoring")


def build_batch_deployment(spec: BatchDeploySpec, model: str, environment):
    """``ModelBatchDeployment``: the driver of the staged source on ``environment``, on the cluster, with the settings.

    Raises
    ------
    AzureError
        A setting out of range (:meth:`BatchDeploySpec.check`), or no staged source directory.
    """
    spec.check()
    if spec.source_dir is None:
        raise AzureError("A batch deployment needs its driver's staged source directory.")
    entities = _entities()
    settings = entities.ModelBatchDeploymentSettings(
        mini_batch_size=spec.mini_batch_size, max_concurrency_per_instance=spec.max_concurrency_per_instance,
        output_action=spec.output_action, output_file_name=spec.output_file_name, error_threshold=spec.error_threshold,
        retry_settings=entities.BatchRetrySettings(max_retries=spec.retries, timeout=spec.timeout),
        logging_level=spec.logging_level)
    return entities.ModelBatchDeployment(
        name=spec.deployment_name, endpoint_name=spec.endpoint_name, model=model, environment=environment,
        compute=spec.compute.name, settings=settings,
        # the node count as `resources` only: given in `settings` too, the SDK dumps it twice and its own loader
        # then refuses the file ("Can't set instance_count when resources is provided")
        resources=entities.ResourceConfiguration(instance_count=spec.instance_count),
        code_configuration=entities.CodeConfiguration(code=str(spec.source_dir), scoring_script=spec.driver))


def batch_entities(spec: BatchDeploySpec) -> list:
    """The environment to register (none when curated), the endpoint and the deployment, offline."""
    environment = build_environment(spec.environment)
    deployment = build_batch_deployment(spec, model_reference(spec), environment_reference(environment))
    return [*registrable(environment), build_batch_endpoint(spec), deployment]


def describe_batch_deploy(spec: BatchDeploySpec) -> str:
    """The environment, endpoint and deployment as ``az ml`` YAML, and how ``az ml`` would create them."""
    return describe(batch_entities(spec)) + (
        "\n--- with az ml ---\naz ml batch-endpoint create -f endpoint.yml\n"
        "az ml batch-deployment create -f deployment.yml --set-default")


def export_batch_yaml(spec: BatchDeploySpec, directory: Path) -> list[Path]:
    """Write environment.yml (unless curated), endpoint.yml and deployment.yml (with its code) into ``directory``."""
    return write_yaml(batch_entities(spec), directory)


def invoke_arguments(spec: BatchInvokeSpec) -> dict:
    """The keyword arguments of ``ml_client.batch_endpoints.invoke``: the input (a local path made absolute, which
    azure-ai-ml uploads), the ``score`` output when a path is given, and the deployment when one is named.

    Raises
    ------
    AzureError
        The input or output is not in an accepted form (:meth:`BatchInvokeSpec.resolved_input_type`).
    """
    ml = require_sdk("azure.ai.ml", sdk=V2)
    input_type = spec.resolved_input_type()
    path = str(Path(spec.input).resolve()) if spec.is_local else spec.input
    arguments = {"endpoint_name": spec.endpoint_name, "inputs": {"input_data": ml.Input(type=input_type, path=path)}}
    if spec.output_path:
        arguments["outputs"] = {OUTPUT_NAME: ml.Output(type="uri_folder", path=spec.output_path)}
    if spec.deployment_name:
        arguments["deployment_name"] = spec.deployment_name
    return arguments


def describe_invoke(spec: BatchInvokeSpec) -> str:
    """What ``invoke-batch --dry-run`` prints: the input, what is uploaded, the output, and the ``az ml`` twin."""
    input_type = spec.resolved_input_type()
    command = ["az", "ml", "batch-endpoint", "invoke", "--name", spec.endpoint_name, "--input", spec.input,
               "--input-type", input_type]
    command += ["--deployment-name", spec.deployment_name] if spec.deployment_name else []
    command += ["--output-path", spec.output_path] if spec.output_path else []
    lines = [f"endpoint: {spec.endpoint_name} (deployment: {spec.deployment_name or 'the default'})",
             f"input: {spec.input} ({input_type}" + (", a local path uploaded to the workspace's default "
                                                     "datastore first)" if spec.is_local else ")"),
             f"output: {spec.output_path or 'the job default (azureml://datastores/workspaceblobstore/...)'}",
             f"with az ml: {shlex.join(command)}"]
    return "\n".join(lines)


def deploy_batch(ml, spec: BatchDeploySpec, connection: Connection) -> Outcome:
    """Create the endpoint when missing and the deployment; once that succeeded, make it the default.

    An existing endpoint keeps its default deployment if this one fails.
    """
    spec.check()
    version = None if spec.model_version is None else str(spec.model_version)
    model = v2_call(f"find model {spec.model_name} in the workspace",
                    lambda: ml.models.get(spec.model_name, version=version, label=None if version else "latest"),
                    connection.timeout)
    environment = ensure_environment(ml, build_environment(spec.environment), connection)
    ensure_compute(ml, spec.compute, connection)
    deployment = build_batch_deployment(spec, f"azureml:{model.name}:{model.version}", environment)
    name = spec.endpoint_name
    if exists(f"find batch endpoint {name}", lambda: ml.batch_endpoints.get(name), connection):
        print(f"Updating batch endpoint {name}")
    else:
        v2_call(f"create batch endpoint {name}",
                lambda: ml.batch_endpoints.begin_create_or_update(build_batch_endpoint(spec)).result(), None)
        print(f"Created batch endpoint {name}")
    state = _create_deployment(ml, deployment)
    endpoint = v2_call(f"read batch endpoint {name}", lambda: ml.batch_endpoints.get(name), connection.timeout)
    endpoint.defaults = {"deployment_name": spec.deployment_name}  # the SDK's form, whatever get() returned
    endpoint = v2_call(f"make {spec.deployment_name} the default deployment of {name}",
                       lambda: ml.batch_endpoints.begin_create_or_update(endpoint).result(), None)
    print(f"Default deployment of {name}: {spec.deployment_name}")
    return Outcome(None, state, model=f"{model.name}:{model.version}", scoring_uri=endpoint.scoring_uri,
                   sample_request=f"python -m training invoke-batch --backend v2 --endpoint-name {name} "
                                  "--input azureml://datastores/workspaceblobstore/paths/<folder>/")


def _create_deployment(ml, deployment) -> str:
    """Create the deployment and wait for it; its provisioning state, Succeeded (else RunFailed).

    The service answers asynchronously and azure-core's poller raises ``HttpResponseError`` when the operation ends
    Failed: that is the deployment failing (RunFailed), not the workspace being unreachable.
    """
    failed = require_sdk("azure.core.exceptions", sdk=V2).HttpResponseError
    what = f"batch deployment {deployment.name} of {deployment.endpoint_name}"
    print(f"Creating {what} (this takes a few minutes)", flush=True)
    try:
        created = v2_call(f"create {what}", lambda: ml.batch_deployments.begin_create_or_update(deployment).result(),
                          None)
    except WorkspaceUnreachable as exc:
        if not isinstance(exc.__cause__, failed):
            raise
        raise RunFailed(f"The {what} failed: {first_line(exc.__cause__)}; the endpoint's default deployment is "
                        "unchanged.") from exc.__cause__
    state = state_text(created.provisioning_state)
    if state != "Succeeded":
        raise RunFailed(f"The {what} ended as {state}; the endpoint's default deployment is unchanged.")
    return state


def invoke_batch(ml, spec: BatchInvokeSpec, connection: Connection, *, wait: bool) -> Outcome:
    """Submit a scoring job; print how to follow it and fetch its output; with ``wait``, stream it to its end."""
    arguments = invoke_arguments(spec)
    # a local input is uploaded inside the call: as long as the data takes, so not bounded by the call timeout
    job = v2_call(f"invoke batch endpoint {spec.endpoint_name}", lambda: ml.batch_endpoints.invoke(**arguments),
                  None if spec.is_local else connection.timeout)
    where = f"--resource-group {ml.resource_group_name} --workspace-name {ml.workspace_name}"
    print(f"Submitted batch scoring job {job.name} to endpoint {spec.endpoint_name}\n"
          f"Follow it:       az ml job stream --name {job.name} {where}\n"
          f"Get its output:  az ml job download --name {job.name} --output-name {OUTPUT_NAME} "
          f"--download-path . {where}", flush=True)
    if not wait:
        return Outcome(job.name, state_text(job.status) if job.status else "Submitted")
    status = wait_for_job(ml, job.name, "Batch scoring job", connection)
    return Outcome(job.name, status)
