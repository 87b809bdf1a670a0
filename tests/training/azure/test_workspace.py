"""Workspace connection fails fast and clearly offline: no config, no credentials, no network, a silent network."""

import json

import pytest
from azureml.core.authentication import ServicePrincipalAuthentication

from training.azure.errors import SdkMissing, WorkspaceUnreachable
from training.azure.sdk import require_sdk
from training.azure.workspace import bounded, connect, resolve_auth

SP_ENV = {"AZURE_TENANT_ID": "tenant-0", "AZURE_CLIENT_ID": "client-0", "AZURE_CLIENT_SECRET": "not-a-secret"}


@pytest.fixture
def workspace_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"subscription_id": "00000000-0000-0000-0000-000000000000",
                                "resource_group": "rg-offline", "workspace_name": "ws-offline"}))
    return path


@pytest.fixture
def service_principal(monkeypatch):
    for name, value in SP_ENV.items():
        monkeypatch.setenv(name, value)


def test_service_principal_from_environment():
    auth = resolve_auth(SP_ENV, interactive=False)
    assert isinstance(auth, ServicePrincipalAuthentication)
    assert (auth._tenant_id, auth._service_principal_id) == ("tenant-0", "client-0")


def test_partial_service_principal_names_what_is_missing():
    expected = r"AZURE_TENANT_ID, AZURE_CLIENT_ID set but AZURE_CLIENT_SECRET missing"
    with pytest.raises(WorkspaceUnreachable, match=expected):
        resolve_auth({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, interactive=True)


def test_no_interactive_login_without_a_terminal():
    with pytest.raises(WorkspaceUnreachable, match="device-code prompt nobody answers"):
        resolve_auth({}, interactive=False)


def test_connect_without_credentials_refuses_before_any_network(workspace_config, monkeypatch):
    for name in SP_ENV:
        monkeypatch.delenv(name, raising=False)
    # pytest's stdin is not a terminal, exactly like CI.
    with pytest.raises(WorkspaceUnreachable, match="non-interactive session"):
        connect(workspace_config, timeout=30)


def test_missing_config_is_a_clear_error(tmp_path, monkeypatch, service_principal):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceUnreachable, match=r"No usable Azure ML workspace config .*could not be found"):
        connect(None, timeout=30)


def test_offline_connection_error_is_reported(workspace_config, service_principal, refusing_proxy):
    expected = r"Could not reach the Azure ML workspace configured in .*config\.json"
    with pytest.raises(WorkspaceUnreachable, match=expected):
        connect(workspace_config, timeout=60)


def test_silent_network_times_out(workspace_config, service_principal, silent_proxy):
    with pytest.raises(WorkspaceUnreachable, match=r"Timed out after 2 s while trying to reach the Azure ML workspace"):
        connect(workspace_config.parent, timeout=2)


def test_bounded_passes_results_and_errors_through():
    assert bounded("add", lambda: 1 + 1, 5) == 2
    with pytest.raises(ZeroDivisionError):
        bounded("divide", lambda: 1 / 0, 5)


def test_missing_sdk_names_the_install_command():
    expected = r"azureml\.not_a_module cannot be imported.*pip install -r requirements-azure\.txt"
    with pytest.raises(SdkMissing, match=expected):
        require_sdk("azureml.not_a_module")
