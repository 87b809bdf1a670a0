"""Connecting to an Azure ML workspace with SDK v2: ``MLClient.from_config`` + ``DefaultAzureCredential``.

``MLClient`` builds no connection until its first call, so a missing login would only show up deep inside the first
operation; a token is fetched right away instead (bounded by the timeout) to fail with one clear message first.
Every later call goes through :func:`v2_call`, bounded and with Azure's errors turned into ``WorkspaceUnreachable``.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from training.azure.errors import WorkspaceUnreachable
from training.azure.sdk import require_sdk
from training.azure.workspace import SERVICE_PRINCIPAL_VARS, bounded, first_line, has_service_principal, unreachable

ARM_SCOPE = "https://management.azure.com/.default"

T = TypeVar("T")


def default_credential():
    """``DefaultAzureCredential()``: service principal variables, workload or managed identity, ``az login``, ..."""
    return require_sdk("azure.identity", sdk="v2").DefaultAzureCredential()


def connect(config: Path | None, *, timeout: float, credential=None, **client_options):
    """``MLClient.from_config(credential, path=config)``, after checking that the credential yields a token.

    ``client_options`` go to ``MLClient`` (tests pass ``transport``).

    Raises
    ------
    WorkspaceUnreachable
        No config file, no usable credential, or no token within ``timeout``.
    """
    ml = require_sdk("azure.ai.ml", sdk="v2")
    core_errors = require_sdk("azure.core.exceptions", sdk="v2")
    where = str(config) if config else "the current directory or its parents"
    has_service_principal()  # a partial service principal is a mistake, whatever else could sign in
    credential = credential or default_credential()
    try:
        client = ml.MLClient.from_config(credential=credential, path=str(config) if config else None,
                                         **client_options)
    except core_errors.AzureError as exc:
        raise WorkspaceUnreachable(
            f"No usable Azure ML workspace config in {where}: {first_line(exc)} (or pass --workspace-config PATH)"
        ) from exc
    try:
        bounded("get an Azure access token", lambda: credential.get_token(ARM_SCOPE), timeout)
    except core_errors.ClientAuthenticationError as exc:
        raise WorkspaceUnreachable(
            "No Azure credentials usable here: DefaultAzureCredential found none (service principal, workload or "
            f"managed identity, az login). Set {', '.join(SERVICE_PRINCIPAL_VARS)} for a service principal, or "
            "run `az login`."
        ) from exc
    return client


def v2_call(action: str, call: Callable[[], T], timeout: float | None) -> T:
    """``call()`` (bounded by ``timeout`` unless None) with Azure SDK errors turned into one clear error.

    Raises
    ------
    WorkspaceUnreachable
        The call timed out, could not reach Azure, or Azure refused it (``action`` names what was tried).
    """
    core_errors = require_sdk("azure.core.exceptions", sdk="v2")
    try:
        return call() if timeout is None else bounded(action, call, timeout)
    except core_errors.AzureError as exc:  # also MlException, HttpResponseError, ServiceRequestError
        raise unreachable(action, exc) from exc
