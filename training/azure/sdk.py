"""Import guard for the optional Azure ML SDKs: one clear error, naming the install command, when one is absent."""

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from training.azure.errors import INSTALL_HINT, SdkMissing

SDK_PACKAGES = {"v1": "v1 (azureml-core, azureml-train-core)", "v2": "v2 (azure-ai-ml, azure-identity)"}
SDK_PROBES = {"v1": "azureml.core", "v2": "azure.ai.ml"}


def require_sdk(module: str = "azureml.core", *, sdk: str = "v1") -> ModuleType:
    """Import and return ``module`` from the Azure ML SDK ``sdk`` (``v1``: azureml-core; ``v2``: azure-ai-ml).

    Raises
    ------
    SdkMissing
        The SDK is not installed; the message names the missing module and the install command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SdkMissing(
            f"The Azure ML commands need the Azure ML SDK {SDK_PACKAGES[sdk]}, but {module} cannot be imported "
            f"({exc}). Install it with: {INSTALL_HINT}"
        ) from exc


@contextmanager
def quiet_vendored_yaml() -> Iterator[None]:
    """Silence the PendingDeprecationWarnings azureml-core's vendored ruamel.yaml raises about its own API.

    They fire on every conda/run-configuration read or write and name nothing a user of this project can change.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module=r"azureml\.")
        yield
