"""Azure-side tests need the SDK extra (requirements-azure.txt, installed by CI); skip them visibly without it.

Also the loopback proxies the offline tests send HTTPS through: one that refuses, one that never answers; model
directories that model_format refuses; and a repository layout holding a batch driver of the tests' own.
"""

import json
import shutil
import socket
import threading
from pathlib import Path

import pytest
from training_helpers import refused_port

import model_format
from training.azure.spec import REPO_ROOT

_HINT = "is not installed: pip install -r requirements-azure.txt"
pytest.importorskip("azureml.core", reason=f"azureml-core {_HINT}")
pytest.importorskip("azureml.train.hyperdrive", reason=f"azureml-train-core {_HINT}")


@pytest.fixture
def refusing_proxy(monkeypatch):
    """HTTPS through a loopback port nobody listens on: connection refused at once, whatever the real network."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{refused_port()}")
    monkeypatch.setenv("NO_PROXY", "")


@pytest.fixture
def silent_proxy_port():
    """A loopback port that accepts connections and never answers: every HTTPS call through it hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    accepted, stop = [], threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()  # lets the abandoned azureml call fail and its daemon thread end
    server.close()


@pytest.fixture
def silent_proxy(monkeypatch, silent_proxy_port):
    """HTTPS in this process goes through ``silent_proxy_port``."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{silent_proxy_port}")
    monkeypatch.setenv("NO_PROXY", "")


@pytest.fixture
def fake_azure(monkeypatch):
    """An ``MLClient`` answered by an in-memory resource manager (fake_arm.py), with every real socket refused.

    Returns (fake, client): ``fake.requests`` records each request the SDK sent.
    """
    pytest.importorskip("azure.ai.ml", reason=f"azure-ai-ml {_HINT}")
    import requests
    from azure.ai.ml import MLClient
    from azure.core.pipeline.transport import RequestsTransport
    from fake_arm import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeAzure, FakeCredential

    fake = FakeAzure()
    session = requests.Session()
    session.adapters.clear()
    session.mount("https://", fake)
    session.mount("http://", fake)
    # azure-ai-ml builds its blob clients without the MLClient transport: their requests reach the fake too.
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda self, request, **kwargs: fake.send(request))

    def refuse(*args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    client = MLClient(FakeCredential(), SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE,
                      transport=RequestsTransport(session=session))
    return fake, client


def _foreign(model_dir: Path) -> None:  # a TensorFlow.js model.json: JSON, but not our sidecar
    (model_dir / "model.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {},
                                                      "weightsManifest": []}))


def _invalid(model_dir: Path) -> None:  # our sidecar with a malformed key
    sidecar = json.loads((model_dir / "model.json").read_text())
    (model_dir / "model.json").write_text(json.dumps({**sidecar, "sha256": "not-a-digest"}))


def _tampered(model_dir: Path) -> None:  # a valid sidecar whose model file was changed after training
    with open(model_dir / "model.joblib", "ab") as handle:
        handle.write(b"\0")


BROKEN_MODEL_DIRS = {"foreign": _foreign, "invalid": _invalid, "tampered": _tampered}


@pytest.fixture(params=sorted(BROKEN_MODEL_DIRS))
def broken_model_dir(request, iris_model_dir, tmp_path) -> tuple[Path, str]:
    """A copy of the iris model directory broken one way (the parameter), and model_format's message refusing it."""
    model_dir = shutil.copytree(iris_model_dir, tmp_path / "sklearn-iris")
    BROKEN_MODEL_DIRS[request.param](model_dir)
    with pytest.raises(model_format.ModelDirError) as refused:
        model_format.check(model_dir)
    return model_dir, str(refused.value)


BATCH_DRIVER = "service/batch/driver.py"
# In the shape of Azure's published batch scoring scripts: init() once per process, run() once per mini-batch.
DRIVER_SOURCE = '''"""A test batch driver: one prediction line per input file."""
import os


def init():
    global model_dir
    model_dir = os.environ["AZUREML_MODEL_DIR"]


def run(mini_batch):
    return [f"{os.path.basename(path)},0" for path in mini_batch]
'''


@pytest.fixture
def repository(tmp_path) -> Path:
    """A repository layout with the service package, model_format.py and the test's batch driver."""
    root = tmp_path / "repository"
    shutil.copytree(REPO_ROOT / "service", root / "service",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "service" / "batch").mkdir(exist_ok=True)
    (root / BATCH_DRIVER).write_text(DRIVER_SOURCE)
    shutil.copy2(REPO_ROOT / "model_format.py", root / "model_format.py")
    return root
