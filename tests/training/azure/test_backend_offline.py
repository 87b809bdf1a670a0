"""The v1 backend runs every real azureml-core call up to the network and fails there with one clear error.

The workspace is a real ``Workspace`` object built without its service check, and HTTPS goes to a loopback port
nobody listens on, so each flow stops at its first request, whatever network this machine has.
"""

import pytest
from azureml.core import Workspace
from azureml.core.authentication import ServicePrincipalAuthentication

from training.azure.backend import Connection, get_backend
from training.azure.errors import AzureError, WorkspaceUnreachable
from training.azure.spec import ComputeSpec, DeploySpec, EnvironmentSpec, JobSpec, RegisterSpec, SweepSpec
from training.azure.v1 import AzureBackend


@pytest.fixture
def backend(refusing_proxy):
    auth = ServicePrincipalAuthentication("tenant-0", "client-0", "not-a-secret")
    workspace = Workspace("00000000-0000-0000-0000-000000000000", "rg-offline", "ws-offline", auth=auth,
                          _disable_service_check=True)
    return AzureBackend(connect=lambda connection: workspace)


CONNECTION = Connection(timeout=60)


@pytest.mark.parametrize(("flow", "message"), [
    (lambda b: b.submit_job(JobSpec(), CONNECTION, wait=True, register=RegisterSpec("sklearn-iris")),
     "Could not submit to experiment train_iris"),
    (lambda b: b.submit_job(JobSpec(compute=ComputeSpec("hd-cluster", create=True)), CONNECTION, wait=False,
                            register=None),
     "Could not find compute target hd-cluster"),
    (lambda b: b.submit_job(JobSpec(environment=EnvironmentSpec(curated="azureml-sklearn-1.5")), CONNECTION,
                            wait=False, register=None),
     "Could not fetch environment azureml-sklearn-1.5"),
    (lambda b: b.submit_sweep(SweepSpec(job=JobSpec()), CONNECTION, wait=True, register=None),
     "Could not submit to experiment train_iris"),
    (lambda b: b.deploy(DeploySpec("sklearn-iris", model_version=2), CONNECTION),
     "Could not find model sklearn-iris in the workspace"),
], ids=["submit", "cluster", "curated-environment", "sweep", "deploy"])
def test_each_flow_stops_at_the_network_with_a_clear_error(backend, flow, message):
    with pytest.raises(WorkspaceUnreachable, match=message) as excinfo:
        flow(backend)
    assert "ProxyError" in str(excinfo.value) and "Check the network" in str(excinfo.value)


def test_registering_a_local_model_directory_stops_at_the_network(backend, iris_model_dir, monkeypatch):
    spec = RegisterSpec("sklearn-iris", local_dir=iris_model_dir)
    with pytest.raises(AzureError, match="registers only folders under the working directory"):
        backend.register_model(spec, CONNECTION)
    monkeypatch.chdir(iris_model_dir.parent)
    with pytest.raises(WorkspaceUnreachable, match="Could not register model sklearn-iris") as excinfo:
        backend.register_model(spec, CONNECTION)
    assert "ProxyError" in str(excinfo.value)
    assert "framework: ScikitLearn 1.9.1" in backend.describe_register(spec)


def test_unknown_backend_is_refused():
    with pytest.raises(AzureError, match="backend 'v3' is not available; expected one of v1, v2"):
        get_backend("v3")
