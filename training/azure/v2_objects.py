"""A job, sweep, model and online deployment as SDK v2 (azure-ai-ml) entities, built offline from the specs.

The v2 twins of environment.py, submit.py, hyperdrive.py and deploy.py: nothing here talks to Azure, so the dry run,
``--emit-yaml`` and the backend build exactly the same objects.
"""

import hashlib
import json
import re
from pathlib import Path

from training.azure.errors import AzureError
from training.azure.sdk import require_sdk
from training.azure.spec import DeploySpec, EnvironmentSpec, JobSpec, RegisterSpec, SweepSpec
from training.model_dir import check_model_dir
from training.search_space import SearchSpace

V2 = "v2"
# The routes our container (docker/Dockerfile, the service) answers on, as a managed online deployment needs them.
CONTAINER_ROUTES = {"liveness_route": "/health/live", "readiness_route": "/health/ready", "scoring_route": "/score"}
# The train.py flag whose value is a file to upload (an uri_file input); every other value is a literal input.
DATA_FLAG = "--data"


def _entities():
    return require_sdk("azure.ai.ml.entities", sdk=V2)


def content_version(*parts: str | bytes) -> str:
    """A version derived from the content (16 hex digits of a sha256): the same spec gives the same version."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def build_environment(spec: EnvironmentSpec):
    """An ``Environment(name, version, image, conda_file)``, or ``azureml:<curated>@latest`` for a curated one.

    The version is derived from the conda file and the base image, so an unchanged spec names an environment that
    already exists in the workspace and is reused instead of rebuilt.

    Raises
    ------
    AzureError
        The conda file is missing.
    """
    if spec.curated:
        return f"azureml:{spec.curated}@latest"
    conda_file = Path(spec.conda_file)
    if not conda_file.is_file():
        raise AzureError(f"Conda specification {conda_file} not found; pass --conda-file with an existing file.")
    return _entities().Environment(
        name=spec.name, version=content_version(spec.base_image, conda_file.read_bytes()), image=spec.base_image,
        conda_file=str(conda_file), description=f"{conda_file.name} on {spec.base_image}")


def build_container_environment(spec: DeploySpec):
    """The environment of a custom-container deployment: ``spec.image`` with the service's routes and port."""
    routes = {key: {"path": path, "port": spec.port} for key, path in CONTAINER_ROUTES.items()}
    return _entities().Environment(
        name=f"{spec.service_name}-container", image=spec.image, inference_config=routes,
        version=content_version(spec.image, json.dumps(routes, sort_keys=True)),
        description="the scoring service's own container image")


def input_name(flag: str) -> str:
    """The job input a train.py flag is bound to: ``--test-size`` -> ``test_size``."""
    return flag.lstrip("-").replace("-", "_")


def _literal(text: str):
    """``"1.0"`` -> 1.0, ``"3"`` -> 3, anything else unchanged: the job's inputs keep the types train.py parses."""
    try:
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    except ValueError:
        return text


def _split_arguments(arguments: tuple[str, ...]) -> tuple[dict[str, object], list[str]]:
    """``{flag: value}`` for flags with a value, and the bare switches (``--probability``), in order."""
    valued, switches, rest = {}, [], list(arguments)
    while rest:
        flag = str(rest.pop(0))
        if rest and not str(rest[0]).startswith("--"):
            valued[flag] = str(rest.pop(0))
        else:
            switches.append(flag)
    return valued, switches


def build_command_job(job: JobSpec, environment, swept: dict[str, object] | None = None):
    """A ``command()`` job (code, command, inputs, environment, compute, experiment_name) running ``job.script``.

    Every train.py option with a value becomes an input bound as ``${{inputs.<name>}}``; ``--data`` is a
    ``uri_file`` input, so a local CSV is uploaded with the job. ``swept`` adds the flags a sweep sets, with the
    default the trial inputs need.

    Raises
    ------
    AzureError
        ``job.script`` is not a file of ``job.source_dir``.
    """
    if not (Path(job.source_dir) / job.script).is_file():
        raise AzureError(f"Script {job.script!r} not found in the source directory {job.source_dir}.")
    ml = require_sdk("azure.ai.ml", sdk=V2)
    valued, switches = _split_arguments(job.arguments)
    valued = {**valued, **{flag: str(value) for flag, value in (swept or {}).items()}}
    inputs = {input_name(flag): (_data_input(ml, value) if flag == DATA_FLAG else _literal(value))
              for flag, value in valued.items()}
    bound = [f"{flag} ${{{{inputs.{input_name(flag)}}}}}" for flag in valued]
    return ml.command(
        code=str(job.source_dir), command=" ".join(["python", job.script, *bound, *switches]), inputs=inputs,
        environment=environment, compute=job.compute.name, experiment_name=job.experiment,
        display_name=f"{job.experiment} {job.script}")


def _data_input(ml, value: str):
    """A local file is uploaded with the job; anything else (``azureml:``, ``https:``) is passed as a URI."""
    local = Path(value)
    return ml.Input(type="uri_file", path=str(local.resolve()) if local.is_file() else value)


def build_compute(spec):
    """``AmlCompute(name, size, max_instances)`` for a cluster created when missing (``--create-compute``)."""
    return _entities().AmlCompute(name=spec.name, size=spec.vm_size, min_instances=0, max_instances=spec.max_nodes)


def build_sweep_job(sweep: SweepSpec, environment):
    """The command job over ``sweep.space`` as a sweep: sampling, primary metric and goal, limits, Bandit policy.

    The sweep carries ``experiment_name`` itself (v2 does not inherit it from the trial job).

    Raises
    ------
    AzureError
        Trial counts below 1, concurrency above the total, or an unknown sampling or policy.
    """
    sweep.check_sizes()
    if sweep.sampling not in ("random", "grid"):
        raise AzureError(f"Sampling {sweep.sampling!r} is not supported; expected one of random, grid.")
    if sweep.policy not in (None, "bandit"):
        raise AzureError(f"Early-termination policy {sweep.policy!r} is not supported; expected 'bandit' or none.")
    trial = build_command_job(sweep.job, environment, {c.flag: c.values[0] for c in sweep.space.choices})
    sweep_module = require_sdk("azure.ai.ml.sweep", sdk=V2)
    policy = None
    if sweep.policy == "bandit":
        policy = sweep_module.BanditPolicy(slack_factor=sweep.bandit_slack_factor,
                                           evaluation_interval=sweep.bandit_evaluation_interval,
                                           delay_evaluation=sweep.bandit_delay_evaluation)
    job = trial(**search_space(sweep.space)).sweep(
        compute=sweep.job.compute.name, sampling_algorithm=sweep.sampling,
        primary_metric=sweep.space.primary_metric, goal=sweep.space.goal.capitalize(),
        early_termination_policy=policy)
    job.set_limits(max_total_trials=sweep.max_total_runs, max_concurrent_trials=sweep.max_concurrent_runs)
    job.experiment_name = sweep.job.experiment
    job.display_name = f"{sweep.job.experiment} sweep"
    return job._to_job()


def search_space(space: SearchSpace) -> dict:
    """``{input name: Choice(values)}`` for every choice of the space (keys are input names, not flags)."""
    choice = require_sdk("azure.ai.ml.sweep", sdk=V2).Choice
    return {input_name(c.flag): choice(values=list(c.values)) for c in space.choices}


def job_output_path(job_name: str) -> str:
    """The datastore URI of a job's whole ``outputs/`` folder (model.joblib + model.json)."""
    return f"azureml://jobs/{job_name}/outputs/artifacts/paths/outputs/"


def build_model(spec: RegisterSpec, *, job_name: str | None = None, sidecar: dict | None = None):
    """``Model(type=custom_model)`` of a local model directory (``spec.local_dir``) or of a job's whole outputs.

    v2 has no framework or resource-configuration fields: they go into tags and properties, with the metrics, the
    sha256 and the input sample of the model's model.json (read from ``spec.local_dir`` after model_format's checks,
    sha256 of the model file included, or ``sidecar`` as downloaded from the job and checked by the caller).

    Raises
    ------
    InvalidModelDir
        ``spec.local_dir`` is not a model directory, its model.json is not ours or invalid, or the model file fails
        its sha256 (model_format's message).
    AzureError
        Neither a directory nor a job.
    """
    if spec.local_dir is not None:
        sidecar = check_model_dir(spec.local_dir)
        path, origin = str(Path(spec.local_dir).resolve()), "registered from a local model directory"
    elif job_name:
        path, origin = job_output_path(job_name), f"trained by job {job_name}"
    else:
        raise AzureError("A model registration needs a local model directory or a finished job.")
    sidecar = sidecar or {}
    tags = {"model_framework": "ScikitLearn", "model_framework_version": sidecar.get("sklearn_version"),
            **{name: str(value) for name, value in (sidecar.get("metrics") or {}).items()}, **dict(spec.tags)}
    properties = {"resource_cpu": str(spec.cpu), "resource_memory_in_gb": str(spec.memory_in_gb),
                  "sha256": sidecar.get("sha256"), "input_sample": json.dumps(sidecar.get("input_sample", [])[:1]),
                  "data_fingerprint": sidecar.get("data_fingerprint"), "job": job_name, **dict(spec.properties)}
    return _entities().Model(name=spec.name, path=path, type="custom_model",
                             description=spec.description or f"{sidecar.get('estimator')} {origin}",
                             tags={k: v for k, v in tags.items() if v is not None},
                             properties={k: v for k, v in properties.items() if v is not None})


def model_reference(spec: DeploySpec) -> str:
    """``azureml:NAME:VERSION`` or ``azureml:NAME@latest``: the registered model a deployment serves."""
    return (f"azureml:{spec.model_name}@latest" if spec.model_version is None
            else f"azureml:{spec.model_name}:{spec.model_version}")


def build_endpoint(spec: DeploySpec):
    """A new ``ManagedOnlineEndpoint(name, auth_mode=key)`` without traffic: it moves once a deployment is up."""
    return _entities().ManagedOnlineEndpoint(name=spec.service_name, auth_mode="key",
                                             description=f"{spec.model_name} scoring service")


def build_deployment(spec: DeploySpec, model, environment):
    """``ManagedOnlineDeployment``: the scoring script on ``environment``, or the container of ``spec.image``.

    Raises
    ------
    AzureError
        Both or neither of a scoring script and an image, or a scoring script without its staged source.
    """
    entities = _entities()
    if (spec.image is None) == (spec.entry_script is None):
        raise AzureError("A v2 deployment runs either a scoring script (--entry-script) or a container image "
                         f"(--image); got entry script {spec.entry_script!r} and image {spec.image!r}.")
    code = None
    if spec.entry_script is not None:
        if spec.source_dir is None:
            raise AzureError("A scoring-script deployment needs the entry script and its staged source directory.")
        code = entities.CodeConfiguration(code=str(spec.source_dir), scoring_script=spec.entry_script)
    return entities.ManagedOnlineDeployment(
        name=spec.deployment_name, endpoint_name=spec.service_name, model=model, environment=environment,
        code_configuration=code, instance_type=spec.instance_type, instance_count=spec.instance_count)
