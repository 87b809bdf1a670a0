"""The gunicorn configuration the launcher builds from Settings (the server itself is exercised in test_server.py)."""

from __future__ import annotations

from gunicorn.config import Config
from service_helpers import make_settings

from service.launcher import ScoringApplication, parse_args
from service.logs import NoAccessLogger
from service.worker import ScoringWorker


def test_gunicorn_options_come_from_settings():
    settings = make_settings("query_echo.py", WORKER_COUNT="3", WORKER_TIMEOUT="42", WORKER_PRELOAD="true")
    cfg = ScoringApplication(settings).cfg
    assert cfg.bind == ["127.0.0.1:5001"]
    assert (cfg.workers, cfg.timeout, cfg.preload_app, cfg.threads) == (3, 42, True, 4)
    assert cfg.worker_class is ScoringWorker
    assert cfg.control_socket_disable is True
    assert cfg.accesslog is None  # the app writes the one access line per request
    assert cfg.logger_class is NoAccessLogger


def test_gunicorn_never_formats_its_own_access_line():
    cfg = Config()
    cfg.set("accesslog", "-")  # even when asked to, e.g. through GUNICORN_CMD_ARGS
    assert Config().logger_class(cfg).access_log_enabled
    assert not NoAccessLogger(cfg).access_log_enabled


def test_gunicorn_cmd_args_set_other_options_but_not_ours(monkeypatch):
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--threads 8 --keep-alive 9 --workers 5 --bind 0.0.0.0:1")
    cfg = ScoringApplication(make_settings("query_echo.py")).cfg
    assert (cfg.threads, cfg.keepalive) == (8, 9)
    assert (cfg.workers, cfg.bind) == (1, ["127.0.0.1:5001"])


def test_ipv6_host_and_separate_health_port_bind_both():
    settings = make_settings("query_echo.py", SERVER_HOST="::1", SEPERATE_HEALTH_ENDPOINT="true", HEALTH_PORT="18113")
    assert ScoringApplication(settings).cfg.bind == ["[::1]:5001", "[::1]:18113"]


def test_reference_flags_are_accepted():
    args = parse_args(
        [
            "--entry_script",
            "s.py",
            "--model_dir",
            "m",
            "--port",
            "1",
            "--worker_count",
            "2",
            "--health_port",
            "3",
            "--access_control_allow_origins",
            "a",
            "--config_file",
            "c.json",
            "--appinsights_instrumentation_key",
            "k",
            "--rest",
            "--host",
            "0.0.0.0",
        ]
    )
    assert (args.entry_script, args.model_dir, args.port, args.worker_count, args.host) == (
        "s.py",
        "m",
        1,
        2,
        "0.0.0.0",
    )
