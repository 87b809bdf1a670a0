"""SDK v2 connection: the workspace config.json found like v1's, the credential checked for a token up front."""

import json

import pytest

pytest.importorskip("azure.ai.ml", reason="azure-ai-ml is not installed: pip install -r requirements-azure.txt")

from azure.core.exceptions import ClientAuthenticationError  # noqa: E402
from fake_arm import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, FakeCredential  # noqa: E402

from training.azure.errors import WorkspaceUnreachable  # noqa: E402
from training.azure.v2_workspace import connect  # noqa: E402


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
                                "workspace_name": WORKSPACE}))
    return path


class NoCredential:
    """What DefaultAzureCredential does when nothing can sign in."""

    def get_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")


def test_the_client_of_a_config_file(config):
    client = connect(config, timeout=10, credential=FakeCredential())
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE)


def test_a_config_folder_is_searched_like_v1(config, monkeypatch):
    nested = config.parent / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert connect(None, timeout=10, credential=FakeCredential()).workspace_name == WORKSPACE


def test_no_token_is_one_clear_error(config):
    with pytest.raises(WorkspaceUnreachable, match="No Azure credentials usable here.*AZURE_CLIENT_SECRET"):
        connect(config, timeout=10, credential=NoCredential())


def test_no_config_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceUnreachable, match="No usable Azure ML workspace config in the current directory "
                                                   "or its parents: We could not find config.json"):
        connect(None, timeout=10, credential=FakeCredential())
