"""Fixtures of the reliability suite; the helpers themselves are in reliability_helpers.py, the corpus in corpus.py."""

import pytest
from corpus import BODY_LIMIT, READ_TIMEOUT_S
from reliability_helpers import Server, iris_args


@pytest.fixture(scope="module")
def no_code_server(iris_model_dir):
    """The no-code entry script serving the plain iris SVC, 1 worker of WORKER_THREADS threads, 1 MiB body limit,
    READ_TIMEOUT_S for each request to arrive."""
    env = {"MAX_REQUEST_BODY_BYTES": str(BODY_LIMIT), "REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
    with Server(*iris_args(iris_model_dir, script=None), env=env) as server:
        yield server.wait_ready()
