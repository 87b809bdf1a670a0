"""Errors of the Azure ML commands: each is one message for the user, and the CLI exits 2 with it."""

from training.errors import TrainingError

INSTALL_HINT = "pip install -r requirements-azure.txt"


class AzureError(TrainingError):
    """Base of the Azure-side errors a user can fix (setup, credentials, workspace, snapshot, arguments)."""


class SdkMissing(AzureError, ImportError):
    """The optional Azure ML SDK v1 (azureml-core, azureml-train-core) is not installed."""


class WorkspaceUnreachable(AzureError):
    """No workspace config, no credentials usable here, no network, no permission, or the connection timed out."""


class SnapshotRefused(AzureError):
    """The source directory Azure ML would upload holds likely secrets or exceeds the snapshot limits."""


class RunFailed(AzureError):
    """A submitted run or sweep ended in a status other than Completed."""
