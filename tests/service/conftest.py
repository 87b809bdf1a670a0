"""Fixtures of the service tests; the helpers themselves are in service_helpers.py."""

import pytest
from service_helpers import find_reference_python, make_client


@pytest.fixture(scope="session")
def reference_python():
    """The reference server's venv python; skips visibly when scripts/reference-venv.sh exits 3 (no PyPI)."""
    return find_reference_python()


@pytest.fixture(scope="module")
def iris(iris_model_dir):
    """A Flask test client serving tests/service/scripts/iris_score.py on the plain iris model (one per module)."""
    return make_client("iris_score.py", iris_model_dir)
