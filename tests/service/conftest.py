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


@pytest.fixture(scope="module")
def nocode(iris_model_dir):
    """A Flask test client of the no-code script (and so the other protocols) on the plain iris model."""
    return make_client(None, iris_model_dir)


@pytest.fixture(scope="module")
def nocode_proba(iris_proba_model_dir):
    """The same on the calibrated iris model, which has predict_proba."""
    return make_client(None, iris_proba_model_dir)
