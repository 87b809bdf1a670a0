"""A training job as SDK v1 objects: ScriptRunConfig, compute provisioning, and registering the run's model."""

import json
import os
import tempfile
from pathlib import Path

from training.azure.environment import describe_environment, docker_configuration
from training.azure.errors import AzureError
from training.azure.sdk import quiet_vendored_yaml, require_sdk
from training.azure.spec import ComputeSpec, JobSpec, RegisterSpec
from training.errors import InvalidModelDir
from training.model_dir import SIDECAR_FILE, read_sidecar

# Metrics copied to the registered model's tags (train.py logs them under these names, like the sample).
TAGGED_METRICS = ("Kernel type", "Penalty", "Accuracy", "Precision", "Recall", "F1")


def build_script_run_config(job: JobSpec, environment):
    """``ScriptRunConfig(source_directory, script, arguments, compute_target, environment)`` with Docker per spec.

    Raises
    ------
    AzureError
        ``job.script`` is not a file of ``job.source_dir`` (azureml-core would only find out on the remote side).
    """
    if not (Path(job.source_dir) / job.script).is_file():
        raise AzureError(f"Script {job.script!r} not found in the source directory {job.source_dir}.")
    core = require_sdk("azureml.core")
    with quiet_vendored_yaml():
        return core.ScriptRunConfig(
            source_directory=str(job.source_dir), script=job.script, arguments=list(job.arguments),
            compute_target=job.compute.name, environment=environment,
            docker_runtime_config=docker_configuration(job.environment),
        )


def provisioning_configuration(compute: ComputeSpec):
    """``AmlCompute.provisioning_configuration(vm_size, max_nodes)`` used to create a missing cluster."""
    compute_module = require_sdk("azureml.core.compute")
    return compute_module.AmlCompute.provisioning_configuration(vm_size=compute.vm_size, max_nodes=compute.max_nodes)


def run_config_yaml(script_run_config) -> str:
    """The merged run configuration exactly as azureml-core serialises it (``RunConfiguration.save``)."""
    merge = require_sdk("azureml.core.script_run_config").get_run_config_from_script_run
    run_config = merge(script_run_config)
    with tempfile.TemporaryDirectory() as folder, quiet_vendored_yaml():
        os.mkdir(os.path.join(folder, ".azureml"))
        run_config.save(path=folder, name="job")
        return Path(folder, ".azureml", "job").read_text()


def describe_job(job: JobSpec, script_run_config) -> str:
    """The full job definition ``--dry-run`` prints: where, what, with which arguments, environment, run config."""
    compute = job.compute.name
    if compute != "local" and job.compute.create:
        compute += f" (created if missing: {job.compute.vm_size}, max {job.compute.max_nodes} nodes)"
    lines = [
        f"experiment: {job.experiment}",
        f"compute target: {compute}",
        f"source directory: {job.source_dir}",
        f"script: {job.script}",
        f"arguments: {' '.join(str(a) for a in job.arguments)}",
        f"docker: {'enabled' if job.environment.docker else 'disabled'}",
        describe_environment(job.environment, script_run_config.run_config.environment),
        "--- run configuration ---",
        run_config_yaml(script_run_config).rstrip(),
    ]
    return "\n".join(lines)


def register_run_model(run, spec: RegisterSpec):
    """Register the model a finished run wrote, with its framework, size, metrics and model.json facts.

    Reads ``spec.sidecar_path`` (model.json) from the run for the scikit-learn version the model was pickled with,
    validates it with model_format, then calls ``run.register_model(...)`` and returns the ``Model`` it gives back.
    The model file stays in the run, so its sha256 is checked by whoever downloads it (the service does at load).

    Raises
    ------
    AzureError
        The run has no model.json (it was not trained by training/job/train.py).
    InvalidModelDir
        Its model.json is not ours or invalid (model_format's message).
    """
    core = require_sdk("azureml.core")
    resource = require_sdk("azureml.core.resource_configuration")
    azureml_error = require_sdk("azureml.exceptions").AzureMLException
    with tempfile.TemporaryDirectory(prefix="run-outputs-") as folder:
        try:
            run.download_file(spec.sidecar_path, output_file_path=os.path.join(folder, SIDECAR_FILE))
        except (OSError, azureml_error) as exc:
            raise AzureError(f"Run {run.id} has no readable {spec.sidecar_path} ({exc}); was it trained by "
                             "training/job/train.py?") from exc
        try:
            sidecar = read_sidecar(Path(folder))
        except InvalidModelDir as exc:
            raise InvalidModelDir(f"Run {run.id} did not write a usable {spec.sidecar_path} (was it trained by "
                                  f"training/job/train.py?): {exc}") from None
    metrics = run.get_metrics()
    tags = {name: str(metrics[name]) for name in TAGGED_METRICS if name in metrics}
    properties = {**tags, "sha256": sidecar["sha256"], "data_fingerprint": str(sidecar.get("data_fingerprint")),
                  "input_sample": json.dumps(sidecar.get("input_sample", [])[:1])}
    return run.register_model(
        model_name=spec.name,
        model_path=spec.model_path,
        model_framework=core.Model.Framework.SCIKITLEARN,
        model_framework_version=sidecar.get("sklearn_version"),
        resource_configuration=resource.ResourceConfiguration(cpu=spec.cpu, memory_in_gb=spec.memory_in_gb),
        tags=tags,
        properties=properties,
        description=spec.description or f"{sidecar.get('estimator')} trained by run {run.id}",
    )
