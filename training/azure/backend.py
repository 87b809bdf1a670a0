"""The SDK-neutral interface the Azure commands call, and the choice of implementation.

Only SDK v1 (azureml-core, training/azure/v1.py) exists. An SDK v2 backend (azure-ai-ml) would be a ``v2.py`` beside
it, with an ``AzureBackend`` class implementing the same protocol (command job + sweep job, MLClient models, managed
online endpoints; mapping in the README), and one more entry in ``BACKENDS``; the command line and specs stay.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from training.azure.errors import AzureError
from training.azure.spec import DeploySpec, JobSpec, RegisterSpec, SweepSpec

BACKENDS = {"v1": "training.azure.v1"}


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

    def submit_job(self, job: JobSpec, connection: Connection, *, wait: bool,
                   register: RegisterSpec | None) -> Outcome:
        """Submit a training run; with ``wait``, stream it, then register its model when asked."""

    def submit_sweep(self, sweep: SweepSpec, connection: Connection, *, wait: bool,
                     register: RegisterSpec | None) -> Outcome:
        """Submit a sweep; with ``wait``, stream it, then register the best run's model when asked."""

    def deploy(self, deploy: DeploySpec, connection: Connection) -> Outcome:
        """Deploy a registered model and report its scoring URI and a sample request."""


def get_backend(name: str = "v1") -> Backend:
    """The backend called ``name``.

    Raises
    ------
    AzureError
        Unknown backend name.
    """
    if name not in BACKENDS:
        raise AzureError(f"Azure ML backend {name!r} is not available; expected one of {', '.join(BACKENDS)}.")
    return importlib.import_module(BACKENDS[name]).AzureBackend()
