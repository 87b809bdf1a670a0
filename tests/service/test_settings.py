"""Settings: precedence CLI > environment > config.json > default, discovery of config.json, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.settings import NO_CODE_ENTRY_SCRIPT, Settings, SettingsError


def load(tmp_path: Path, cli=None, **env: str) -> Settings:
    return Settings.load(cli=cli or {}, environ={"AML_APP_ROOT": str(tmp_path), **env})


def test_defaults(tmp_path):
    settings = load(tmp_path)
    assert settings.entry_script == NO_CODE_ENTRY_SCRIPT and settings.is_no_code
    assert (settings.host, settings.port, settings.worker_count, settings.worker_threads) == ("127.0.0.1", 5001, 1, 4)
    assert (settings.worker_timeout_s, settings.worker_preload, settings.scoring_timeout_ms) == (300, False, 3_600_000)
    assert settings.max_body_bytes == 100 * 1024 * 1024
    assert (settings.service_name, settings.service_version, settings.service_path_prefix) == ("ML service", "1.0", "")
    assert settings.api_key is None and settings.cors_origins == ()
    assert settings.server_version_header.startswith("sklearn-scoring/")


def test_cli_beats_environment(tmp_path):
    cli = {"port": 18111, "worker_count": 3, "host": "0.0.0.0", "entry_script": "a.py", "model_dir": "m"}
    settings = load(tmp_path, cli, SERVER_PORT="9", WORKER_COUNT="2", SERVER_HOST="::1", AZUREML_MODEL_DIR="x")
    assert (settings.port, settings.worker_count, settings.host) == (18111, 3, "0.0.0.0")
    assert settings.entry_script == Path("a.py").resolve()  # a flag is relative to the current directory
    assert settings.model_dir == Path("m")


def test_environment_names_of_the_reference(tmp_path):
    settings = load(
        tmp_path,
        AZUREML_ENTRY_SCRIPT="score.py",
        WORKER_COUNT="2",
        WORKER_TIMEOUT="7",
        WORKER_PRELOAD="TRUE",
        SCORING_TIMEOUT_MS="700",
        AML_CORS_ORIGINS=" http://a.example ,http://b.example ",
        SERVICE_NAME="svc",
        SERVICE_VERSION="9",
        SERVICE_PATH_PREFIX="/p/",
        HTTP_X_MS_SERVER_VERSION="custom/1",
        AZUREML_SOURCE_DIRECTORY="src",
    )
    assert settings.entry_script == (tmp_path / "score.py").resolve()
    assert (settings.worker_count, settings.worker_timeout_s, settings.worker_preload) == (2, 7, True)
    assert settings.scoring_timeout_ms == 700
    assert settings.cors_origins == ("http://a.example", "http://b.example")
    assert (settings.service_name, settings.service_version, settings.service_path_prefix) == ("svc", "9", "/p/")
    assert settings.server_version_header == "custom/1"
    assert settings.source_dir == tmp_path / "src"


def test_server_version_header_off(tmp_path):
    assert load(tmp_path, SERVER_VERSION_LOG_RESPONSE_ENABLED="False").server_version_header is None


def test_config_json_is_discovered_and_the_environment_wins(tmp_path):
    config = {"SCORING_TIMEOUT_MS": 700, "SERVICE_NAME": "from-config-json", "foo": 1, "bar": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    settings = load(tmp_path, SERVICE_NAME="from-env")
    assert settings.config_file == tmp_path / "config.json"
    assert settings.scoring_timeout_ms == 700
    assert settings.service_name == "from-env"
    assert settings.warnings == (f"Config file {tmp_path / 'config.json'}: ignoring unknown keys ['bar', 'foo']",)


def test_config_json_beside_the_entry_script(tmp_path):
    script_dir = tmp_path / "code"
    script_dir.mkdir()
    (script_dir / "config.json").write_text(json.dumps({"SERVICE_VERSION": "4.2"}))
    settings = load(tmp_path / "elsewhere", {"entry_script": str(script_dir / "score.py")})
    assert settings.service_version == "4.2"


def test_empty_config_json_is_ignored(tmp_path):
    (tmp_path / "config.json").write_text("")
    assert load(tmp_path).config_file is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKER_COUNT": "two"}, "--worker_count / WORKER_COUNT must be an integer, got 'two'."),
        ({"SERVER_PORT": "0"}, "--port / SERVER_PORT must be between 1 and 65535, got 0."),
        ({"SCORING_TIMEOUT_MS": "-5"}, "SCORING_TIMEOUT_MS must be at least 1, got -5."),
        ({"WORKER_PRELOAD": "maybe"}, "WORKER_PRELOAD must be true or false, got 'maybe'."),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json, got 'xml'."),
        ({"AZUREML_LOG_LEVEL": "loud"}, "AZUREML_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ({"SCORING_API_KEY": "  "}, "SCORING_API_KEY must not be empty"),
        ({"SCORING_API_KEY_FILE": "/nonexistent/key"}, "SCORING_API_KEY_FILE must name a readable file"),
        (
            {"MAX_REQUEST_BODY_BYTES": "1000", "MAX_BUFFERED_BYTES": "999"},
            "MAX_BUFFERED_BYTES must be at least MAX_REQUEST_BODY_BYTES (1000), got 999",
        ),
    ],
)
def test_bad_values_name_the_setting(tmp_path, env, message):
    with pytest.raises(SettingsError, match=None) as excinfo:
        load(tmp_path, **env)
    assert message in str(excinfo.value)


def test_bad_config_file_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(SettingsError, match="must hold a JSON object, got list"):
        load(tmp_path)


def test_api_key_from_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n")
    assert load(tmp_path, SCORING_API_KEY_FILE=str(key_file)).api_key == "file-key"
    assert "file-key" not in repr(load(tmp_path, SCORING_API_KEY_FILE=str(key_file)))


def test_separate_health_endpoint_and_run_concurrency(tmp_path):
    assert load(tmp_path).health_port is None
    assert load(tmp_path, SEPERATE_HEALTH_ENDPOINT="true").health_port == 5000
    assert load(tmp_path, {"health_port": 18112}, SEPERATE_HEALTH_ENDPOINT="true").health_port == 18112
    assert load(tmp_path).max_concurrent_runs == 1
    assert load(tmp_path, MAX_CONCURRENT_RUNS="3").max_concurrent_runs == 3


def test_the_buffered_bytes_budget_follows_the_body_limit(tmp_path):
    assert load(tmp_path).max_buffered_bytes == 2 * load(tmp_path).max_body_bytes
    assert load(tmp_path, MAX_REQUEST_BODY_BYTES="1000").max_buffered_bytes == 2000
    assert load(tmp_path, MAX_REQUEST_BODY_BYTES="1000", MAX_BUFFERED_BYTES="5000").max_buffered_bytes == 5000
