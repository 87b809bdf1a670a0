"""Azure-side tests need the SDK extra (requirements-azure.txt, installed by CI); skip them visibly without it."""

import pytest

_HINT = "is not installed: pip install -r requirements-azure.txt"
pytest.importorskip("azureml.core", reason=f"azureml-core {_HINT}")
pytest.importorskip("azureml.train.hyperdrive", reason=f"azureml-train-core {_HINT}")
