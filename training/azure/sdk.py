"""Import guard for the optional Azure ML SDK v1: one clear error, naming the install command, when it is absent."""

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from training.azure.errors import INSTALL_HINT, SdkMissing


def require_sdk(module: str = "azureml.core") -> ModuleType:
    """Import and return ``module`` from the Azure ML SDK v1 (azureml-core / azureml-train-core).

    Raises
    ------
    SdkMissing
        The SDK is not installed; the message names the missing module and the install command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SdkMissing(
            f"The Azure ML commands need the Azure ML SDK v1, but {module} cannot be imported ({exc}). "
            f"Install it with: {INSTALL_HINT}"
        ) from exc


@contextmanager
def quiet_vendored_yaml() -> Iterator[None]:
    """Silence the PendingDeprecationWarnings azureml-core's vendored ruamel.yaml raises about its own API.

    They fire on every conda/run-configuration read or write and name nothing a user of this project can change.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"azureml\.")
        yield
