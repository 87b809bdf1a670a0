"""service.startup: the variables exported to the entry script and the reference's start-up settings lines."""

from pathlib import Path

from service_helpers import SCRIPTS, make_settings

from service.settings import Settings
from service.startup import export_environment, settings_lines


def test_the_references_variables_are_exported_with_the_values_in_effect(iris_model_dir):
    settings = make_settings("query_echo.py", iris_model_dir, AML_CORS_ORIGINS="http://a.example")
    environ = {"AML_APP_ROOT": "/a/stale/value"}
    export_environment(settings, environ)
    assert environ == {
        "AML_APP_ROOT": str(SCRIPTS),
        "AZUREML_ENTRY_SCRIPT": str(SCRIPTS / "query_echo.py"),
        "AZUREML_MODEL_DIR": str(iris_model_dir),
        "SERVER_PORT": "5001",
        "HEALTH_PORT": "5001",
        "WORKER_COUNT": "1",
        "TRANSPORT_PROTOCOL": "grpc",
        "AML_APP_INSIGHTS_ENABLED": "false",
        "HTTP_X_MS_SERVER_VERSION": settings.server_version_header,
        "AML_CORS_ORIGINS": "http://a.example",
    }


def test_the_no_code_script_exports_no_entry_script_and_app_root_defaults_to_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(cli={}, environ={"SERVER_VERSION_LOG_RESPONSE_ENABLED": "false"})
    environ: dict[str, str] = {}
    export_environment(settings, environ)
    assert environ["AML_APP_ROOT"] == str(Path.cwd())
    unset = {"AZUREML_ENTRY_SCRIPT", "AZUREML_MODEL_DIR", "AML_CORS_ORIGINS", "HTTP_X_MS_SERVER_VERSION"}
    assert not unset & set(environ)


def test_settings_lines_use_the_references_wording_and_the_values_in_effect():
    settings = Settings.load(
        cli={"port": 8080, "health_port": 8081},
        environ={"SEPERATE_HEALTH_ENDPOINT": "true", "WORKER_COUNT": "3", "AML_CORS_ORIGINS": "*"},
    )
    lines = settings_lines(settings)
    assert lines[3:7] == ["Worker Count: 3", "Worker Timeout (seconds): 300", "Server Port: 8080", "Health Port: 8081"]
    assert "CORS for the specified origins: Enabling CORS for *" in lines
    assert "Create dedicated endpoint for health: true" in lines
    assert lines[-2:] == ["Liveness Probe: GET   127.0.0.1:8081/", "Score:          POST  127.0.0.1:8080/score"]
