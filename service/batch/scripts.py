"""Load a batch driver (an Azure batch scoring script with ``init()`` and ``run(mini_batch)``) from a file, or the
default one (service.batch.driver)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEFAULT_DRIVER = "service.batch.driver"


class DriverError(ValueError):
    """The driver cannot be loaded or lacks ``init`` / ``run``."""


def load_driver(path: Path | None) -> ModuleType:
    """Import the driver at ``path`` (its folder first on ``sys.path``, as Azure's code folder is), or the default.

    Raises
    ------
    DriverError
        The file is missing, fails to import (the exception is named), or has no callable ``init`` and ``run``.
    """
    if path is None:
        return importlib.import_module(DEFAULT_DRIVER)
    path = Path(path).resolve()
    if not path.is_file():
        raise DriverError(f"Batch driver {path} does not exist. Pass a .py file with init() and run(mini_batch).")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"batch_driver_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module may raise anything at import
        raise DriverError(f"Batch driver {path} failed to import: {type(exc).__name__}: {exc}") from exc
    missing = [name for name in ("init", "run") if not callable(getattr(module, name, None))]
    if missing:
        raise DriverError(
            f"Batch driver {path} has no {' and no '.join(missing)} function, but Azure's batch contract needs "
            "init() and run(mini_batch)."
        )
    return module
