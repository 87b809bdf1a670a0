"""`register PATH --azure` checks the model directory with model_format before anything reaches Azure.

A foreign model.json, one failing validation, or a model file whose sha256 differs from model.json: the in-process
CLI exits 2 with model_format's own message, and the backend never connects (v2: the offline fake of fake_arm.py
records no request, no upload). The same command on the intact directory does connect, so the check can fail.
"""

import importlib
import shutil

import pytest

from training.azure import options
from training.azure.errors import WorkspaceUnreachable

BACKENDS = ("v1", "v2")


class Boundary:
    """Where the backend would reach Azure: the connections it asked for and, on v2, the offline fake it talked to."""

    def __init__(self, fake=None, client=None):
        self.connections, self.fake, self.client = [], fake, client

    def connect(self, connection):
        self.connections.append(connection)
        if self.client is None:  # v1: the test ends at the connection
            raise WorkspaceUnreachable("offline test: the workspace was asked for")
        return self.client


@pytest.fixture
def boundary(monkeypatch, request, backend):
    """The CLI's backend, connecting through a Boundary (v2: an ``MLClient`` answered by fake_arm.py)."""
    boundary = Boundary(*request.getfixturevalue("fake_azure")) if backend == "v2" else Boundary()
    monkeypatch.setattr(options, "get_backend", lambda name: importlib.import_module(
        f"training.azure.{name}").AzureBackend(connect=boundary.connect))
    return boundary


def _register(cli, model_dir, backend, *extra):
    return cli("register", model_dir, "--name", "sklearn-iris", "--azure", "--backend", backend, *extra)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", [(), ("--dry-run",)], ids=["send", "dry-run"])
def test_a_broken_model_directory_exits_2_with_model_formats_message(cli, boundary, broken_model_dir, backend,
                                                                      mode, monkeypatch):
    model_dir, message = broken_model_dir
    monkeypatch.chdir(model_dir.parent)  # v1 registers only folders under the working directory
    code, out, err = _register(cli, model_dir, backend, *mode)
    assert (code, err) == (2, f"error: {message}\n")
    assert "Registered" not in out
    assert boundary.connections == []
    if boundary.fake is not None:
        assert (boundary.fake.requests, boundary.fake.blobs) == ([], {})


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_intact_directory_gets_to_the_workspace(cli, boundary, iris_model_dir, tmp_path, backend, monkeypatch):
    model_dir = shutil.copytree(iris_model_dir, tmp_path / "sklearn-iris")
    monkeypatch.chdir(tmp_path)
    code, out, err = _register(cli, model_dir, backend)
    assert len(boundary.connections) == 1
    if boundary.fake is None:
        assert (code, err) == (2, "error: offline test: the workspace was asked for\n")
    else:
        assert (code, out) == (0, "Status: Registered\nRegistered model sklearn-iris:1\n"), err
        assert [r.resource for r in boundary.fake.sent("PUT", "^/models/")] == ["/models/sklearn-iris/versions/1"]
