"""Constants and helpers imported by the training tests (conftest.py holds the fixtures)."""

import socket
import sys
from pathlib import Path

from sklearn.datasets import load_iris

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def write_iris_csv(path: Path, *, label: str = "species") -> Path:
    """iris with named columns and string labels (setosa, versicolor, virginica), in the data set's row order."""
    iris = load_iris(as_frame=True)
    frame = iris.data.copy()
    frame.columns = IRIS_COLUMNS
    frame[label] = iris.target_names[iris.target]
    frame.to_csv(path, index=False)
    return path


def subprocess_env(**overrides: str) -> dict:
    """The current environment with the repository importable (for ``python -m training`` in a subprocess)."""
    import os

    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    env.update(overrides)
    return env


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed), so a connection to it is refused at once."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def find_job_python() -> Path:
    """The python of .venv-job (scripts/job-venv.sh: the job environment's own pip pins); skip only without an index."""
    from venv_helpers import venv_python

    return venv_python("job-venv.sh", "job environment")
