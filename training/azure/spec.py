"""What to run on Azure ML, independent of the SDK: jobs, sweeps, registrations and deployments as plain data.

The command line builds these from its arguments; a backend (training/azure/backend.py) turns them into SDK objects.
Nothing here imports azureml, so an SDK v2 backend can take the same specs.
"""

from dataclasses import dataclass, field
from pathlib import Path

from training.azure.errors import AzureError
from training.search_space import IRIS_SPACE, SearchSpace

TRAINING_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TRAINING_DIR.parent
JOB_DIR = TRAINING_DIR / "job"
CONDA_FILE = TRAINING_DIR / "sklearn-env.yml"
SAMPLE_ROW = [5.1, 3.5, 1.4, 0.2]  # iris row 0, the request sample when a model carries none
# SDK v2 needs a base image under a conda environment (v1 filled this one in itself): Azure ML's Ubuntu CPU image.
DEFAULT_BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


@dataclass(frozen=True)
class EnvironmentSpec:
    """The run's software: a conda file built into an environment, or a curated environment by name."""

    conda_file: Path = CONDA_FILE
    curated: str | None = None
    name: str = "sklearn-iris"
    docker: bool = True
    base_image: str = DEFAULT_BASE_IMAGE  # SDK v2 only


@dataclass(frozen=True)
class ComputeSpec:
    """Where the job runs: ``local`` or a compute cluster, created when missing if ``create`` (the sample's sizes)."""

    name: str = "local"
    create: bool = False
    vm_size: str = "STANDARD_D2_V2"
    max_nodes: int = 4


@dataclass(frozen=True)
class JobSpec:
    """One training run: ``script`` with ``arguments`` from ``source_dir`` in ``environment`` on ``compute``."""

    arguments: tuple[str, ...] = ("--kernel", "linear", "--penalty", "1.0")
    source_dir: Path = JOB_DIR
    script: str = "train.py"
    experiment: str = "train_iris"
    compute: ComputeSpec = field(default_factory=ComputeSpec)
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)


@dataclass(frozen=True)
class SweepSpec:
    """A hyperparameter sweep of ``job`` over ``space`` (HyperDrive on v1)."""

    job: JobSpec
    space: SearchSpace = IRIS_SPACE
    sampling: str = "random"
    max_total_runs: int = 12
    max_concurrent_runs: int = 4
    policy: str | None = None  # None or "bandit"
    bandit_slack_factor: float = 0.1
    bandit_evaluation_interval: int = 1
    bandit_delay_evaluation: int = 0

    def check_sizes(self) -> None:
        """Refuse run counts below 1 or concurrency above the total (both SDKs accept them silently).

        Raises
        ------
        AzureError
            With the counts that were given.
        """
        if self.max_total_runs < 1 or self.max_concurrent_runs < 1:
            raise AzureError(f"A sweep needs at least 1 run and 1 concurrent run; got max runs {self.max_total_runs}, "
                             f"concurrency {self.max_concurrent_runs}.")
        if self.max_concurrent_runs > self.max_total_runs:
            raise AzureError(f"Concurrency {self.max_concurrent_runs} exceeds the {self.max_total_runs} runs of the "
                             "sweep.")


@dataclass(frozen=True)
class RegisterSpec:
    """Registering a model in the workspace, with its size for no-code deployment.

    The model is a finished run's ``model_path``, or with ``local_dir`` a model directory on this machine (model.joblib
    + model.json, e.g. ``python -m training models path NAME``).
    """

    name: str
    model_path: str = "outputs/model.joblib"
    sidecar_path: str = "outputs/model.json"
    cpu: float = 1
    memory_in_gb: float = 0.5
    description: str | None = None
    local_dir: Path | None = None
    tags: tuple[tuple[str, str], ...] = ()
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeploySpec:
    """Deploying a registered model as a web service.

    ``entry_script`` None is Azure's no-code scikit-learn deployment; else an InferenceConfig with that scoring
    script, relative to ``source_dir`` (the staged upload, see snapshot.stage_entry_source), in ``environment``.
    On SDK v2 the service is a managed online endpoint named ``service_name`` with one deployment, either that scoring
    script or ``image`` (a container serving /health/live, /health/ready and /score on ``port``), sized by
    ``instance_type`` and ``instance_count``; ``cpu_cores``, ``memory_gb``, ``target`` apply to v1 only.
    """

    model_name: str
    model_version: int | None = None
    service_name: str = "sklearn-iris"
    target: str = "aci"  # "aci" or "aks"
    aks_cluster: str | None = None
    cpu_cores: float = 1.0
    memory_gb: float = 1.0
    entry_script: str | None = None
    source_dir: Path | None = None
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    image: str | None = None
    port: int = 5001
    deployment_name: str = "blue"
    instance_type: str = "Standard_DS3_v2"
    instance_count: int = 1
