"""Connecting to an Azure ML workspace: credentials from the environment, ``Workspace.from_config``, a hard timeout.

Authentication is a service principal when AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are all set, else
azureml-core's interactive login, which is refused when stdin is not a terminal: in CI its browser-less fallback is a
device-code prompt that would wait forever. Every network step runs in a daemon thread joined with a timeout, because
azureml-core has unbounded waits (cloud metadata, token and ARM calls behind a silent proxy).
"""

import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from training.azure.errors import WorkspaceUnreachable
from training.azure.sdk import require_sdk

SERVICE_PRINCIPAL_VARS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
DEFAULT_TIMEOUT = 120.0

T = TypeVar("T")


def resolve_auth(environ: Mapping[str, str] = os.environ, *, interactive: bool | None = None):
    """The azureml-core authentication object to use: service principal from ``environ``, else interactive login.

    ``interactive`` defaults to whether stdin is a terminal.

    Raises
    ------
    WorkspaceUnreachable
        Only some of the service-principal variables are set, or none are set and the session is not interactive.
    """
    auth = require_sdk("azureml.core.authentication")
    if has_service_principal(environ):
        return auth.ServicePrincipalAuthentication(
            tenant_id=environ["AZURE_TENANT_ID"],
            service_principal_id=environ["AZURE_CLIENT_ID"],
            service_principal_password=environ["AZURE_CLIENT_SECRET"],
        )
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        raise WorkspaceUnreachable(
            "No Azure credentials for a non-interactive session: interactive login would wait for a device-code "
            f"prompt nobody answers. Set {', '.join(SERVICE_PRINCIPAL_VARS)} for a service principal."
        )
    return auth.InteractiveLoginAuthentication()


def has_service_principal(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether all three service-principal variables are set (shared by both SDK backends).

    Raises
    ------
    WorkspaceUnreachable
        Only some of them are set: the message names the missing ones.
    """
    present = [name for name in SERVICE_PRINCIPAL_VARS if environ.get(name)]
    if present and len(present) < len(SERVICE_PRINCIPAL_VARS):
        missing = [name for name in SERVICE_PRINCIPAL_VARS if name not in present]
        raise WorkspaceUnreachable(
            f"Service-principal authentication needs {', '.join(SERVICE_PRINCIPAL_VARS)}; {', '.join(present)} "
            f"set but {', '.join(missing)} missing or empty. Set all three, or unset them for interactive login."
        )
    return bool(present)


def bounded(action: str, call: Callable[[], T], timeout: float) -> T:
    """Run ``call()`` in a daemon thread and return its result, or give up after ``timeout`` seconds.

    A call that times out keeps running in its daemon thread until it fails on its own; the process may exit.

    Raises
    ------
    WorkspaceUnreachable
        ``call`` did not finish in time (the message names ``action`` and the timeout).
    BaseException
        Whatever ``call`` raised, unchanged.
    """
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"azure: {action}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise WorkspaceUnreachable(
            f"Timed out after {timeout:g} s while trying to {action}. Check the network connection (and any "
            "HTTPS_PROXY), or raise --timeout."
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def azure_call(action: str, call: Callable[[], T], timeout: float | None) -> T:
    """``call()`` (bounded by ``timeout`` unless None) with azureml and network failures turned into one clear error.

    Raises
    ------
    WorkspaceUnreachable
        The call timed out, could not reach Azure, or Azure refused it (``action`` names what was tried).
    """
    exceptions = require_sdk("azureml.exceptions")
    import requests  # a dependency of azureml-core; its errors escape azureml-core unwrapped

    try:
        return call() if timeout is None else bounded(action, call, timeout)
    except (exceptions.AzureMLException, requests.exceptions.RequestException) as exc:
        raise unreachable(action, exc) from exc


def connect(config: Path | None = None, *, timeout: float = DEFAULT_TIMEOUT, auth=None):
    """``Workspace.from_config(config, auth)`` bounded by ``timeout``, with one clear error for every failure.

    ``config`` is a config.json file or a directory holding one (None: the current directory and its parents, as
    azureml-core searches). ``auth`` defaults to :func:`resolve_auth`.

    Raises
    ------
    SdkMissing
        azureml-core is not installed.
    WorkspaceUnreachable
        No config file, unusable credentials, no network, no permission, or the timeout expired.
    """
    core = require_sdk("azureml.core")
    exceptions = require_sdk("azureml.exceptions")
    import requests

    where = str(config) if config else "the current directory or its parents"
    action = f"reach the Azure ML workspace configured in {where}"
    if auth is None:
        auth = resolve_auth()
    try:
        return bounded(action, lambda: core.Workspace.from_config(path=str(config) if config else None, auth=auth),
                       timeout)
    except exceptions.AuthenticationException as exc:
        raise WorkspaceUnreachable(
            f"Azure authentication failed for the workspace in {where}: {first_line(exc)}") from exc
    except exceptions.UserErrorException as exc:
        raise WorkspaceUnreachable(
            f"No usable Azure ML workspace config in {where}: {first_line(exc)} (or pass --workspace-config PATH)"
        ) from exc
    except (exceptions.AzureMLException, requests.exceptions.RequestException) as exc:
        raise unreachable(action, exc) from exc


def unreachable(action: str, exc: BaseException) -> WorkspaceUnreachable:
    return WorkspaceUnreachable(f"Could not {action} ({type(exc).__name__}: {first_line(exc)}). Check the network, "
                                "the credentials, and that they have access to the workspace.")


def first_line(exc: BaseException) -> str:
    # AzureMLException.__str__ is a multi-line report; its .message is the one sentence meant for people.
    text = (getattr(exc, "message", None) or str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:400]
