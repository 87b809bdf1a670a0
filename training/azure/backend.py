"""The SDK-neutral interface the Azure commands call, and the choice of implementation.

Two implementations: SDK v1 (azureml-core, training/azure/v1.py; out of support since 2026-06-30, still the default
because existing workflows use it) and SDK v2 (azure-ai-ml, training/azure/v2.py: command and sweep jobs, MLClient
models, managed online endpoints). ``$SKLEARN_AZURE_BACKEND`` changes the default of ``--backend``.
"""

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from training.azure.errors import AzureError
from training.azure.sdk import SDK_PROBES, require_sdk
from training.azure.spec import DeploySpec, JobSpec, RegisterSpec, SweepSpec

BACKENDS = {"v1": "training.azure.v1", "v2": "training.azure.v2"}
BACKEND_VARIABLE = "SKLEARN_AZURE_BACKEND"
SUPPORT = {"v1": "azureml-core; out of support since 2026-06-30", "v2": "azure-ai-ml; the current SDK"}


@dataclass(frozen=True)
class Connection:
    """How to reach the workspace: config file or folder (None: search from the working directory), timeout."""

    config: Path | None = None
    timeout: float = 120.0


@dataclass(frozen=True)
class Outcome:
    """What a submission or deployment ended with: ids, status, and what to show the user."""

    run_id: str | None
    status: str
    portal_url: str | None = None
    model: str | None = None  # "name:version" when a model was registered
    scoring_uri: str | None = None
    sample_request: str | None = None


class Backend(Protocol):
    """Build (offline) and run (online) jobs, sweeps and deployments from specs."""

    def describe_job(self, job: JobSpec) -> str:
        """The full job definition, without network."""

    def describe_sweep(self, sweep: SweepSpec) -> str:
        """The job definition plus the sweep settings, without network."""

    def describe_deploy(self, deploy: DeploySpec) -> str:
        """The deployment definition, without network."""

    def describe_register(self, register: RegisterSpec) -> str:
        """The registration of a local model directory, without network."""

    def export_yaml(self, spec, directory: Path) -> list[Path]:
        """Write what would be sent for ``spec`` as ``az ml`` YAML files into ``directory``; return them."""

    def submit_job(self, job: JobSpec, connection: Connection, *, wait: bool,
                   register: RegisterSpec | None) -> Outcome:
        """Submit a training run; with ``wait``, stream it, then register its model when asked."""

    def submit_sweep(self, sweep: SweepSpec, connection: Connection, *, wait: bool,
                     register: RegisterSpec | None) -> Outcome:
        """Submit a sweep; with ``wait``, stream it, then register the best run's model when asked."""

    def register_model(self, register: RegisterSpec, connection: Connection) -> Outcome:
        """Register the local model directory ``register.local_dir`` in the workspace."""

    def deploy(self, deploy: DeploySpec, connection: Connection) -> Outcome:
        """Deploy a registered model and report its scoring URI and a sample request."""


def default_backend(environ=os.environ) -> str:
    """``$SKLEARN_AZURE_BACKEND`` when set, else ``v1`` (checked by :func:`get_backend` when a command runs)."""
    return environ.get(BACKEND_VARIABLE) or "v1"


def get_backend(name: str = "v1") -> Backend:
    """The backend called ``name``, once its SDK is known to import (before its module, which may need the SDK's
    dependencies).

    Raises
    ------
    AzureError
        Unknown backend name.
    SdkMissing
        The backend's SDK is not installed.
    """
    if name not in BACKENDS:
        raise AzureError(f"Azure ML backend {name!r} is not available; expected one of {', '.join(BACKENDS)} "
                         f"(--backend, or ${BACKEND_VARIABLE} for the default).")
    require_sdk(SDK_PROBES[name], sdk=name)
    return importlib.import_module(BACKENDS[name]).AzureBackend()
