"""The Azure ML Environment of a job: built from training/sklearn-env.yml (Docker on), or a curated one by name."""

from pathlib import Path

from training.azure.errors import AzureError
from training.azure.sdk import quiet_vendored_yaml, require_sdk
from training.azure.spec import EnvironmentSpec


def build_environment(spec: EnvironmentSpec, workspace=None):
    """An ``azureml.core.Environment`` for ``spec``.

    A conda file is read offline with ``Environment.from_conda_specification``; a curated environment needs
    ``workspace`` (``Environment.get`` is a network call).

    Raises
    ------
    AzureError
        The conda file is missing, or a curated environment is asked for without a workspace.
    """
    core = require_sdk("azureml.core")
    if spec.curated:
        if workspace is None:
            raise AzureError(f"The curated environment {spec.curated!r} can only be fetched from a workspace.")
        return core.Environment.get(workspace, name=spec.curated)
    conda_file = Path(spec.conda_file)
    if not conda_file.is_file():
        raise AzureError(f"Conda specification {conda_file} not found; pass --conda-file with an existing file.")
    with quiet_vendored_yaml():
        return core.Environment.from_conda_specification(spec.name, str(conda_file))


def docker_configuration(spec: EnvironmentSpec):
    """``DockerConfiguration(use_docker=...)``: how SDK v1 (>= 1.33) switches Docker on for a run."""
    return require_sdk("azureml.core.runconfig").DockerConfiguration(use_docker=spec.docker)


def describe_environment(spec: EnvironmentSpec, environment=None) -> str:
    """The environment as ``--dry-run`` prints it: its name and source, and the conda YAML Azure will build."""
    if spec.curated:
        return f"environment: {spec.curated} (curated, fetched from the workspace at submission)"
    with quiet_vendored_yaml():
        conda_yaml = environment.python.conda_dependencies.serialize_to_string()
    return (f"environment: {environment.name} (from {spec.conda_file}; base image {environment.docker.base_image})\n"
            f"--- conda dependencies ---\n{conda_yaml.rstrip()}")
