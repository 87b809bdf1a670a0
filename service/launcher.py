"""`python -m service`: CLI flags -> Settings -> model check -> gunicorn, run in this process (no subprocess).

Running gunicorn's arbiter in-process means SIGTERM reaches the gunicorn master directly: workers finish their
in-flight requests, report not-ready meanwhile, and the process exits 0. Exit 2 for bad flags or settings, 3 when the
model directory fails its check or a worker cannot boot (e.g. init() raised), as gunicorn does.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import logging.config
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication

from service import __version__
from service.logs import NoAccessLogger, capture_prints, logging_config
from service.settings import Settings, SettingsError
from service.startup import export_environment, log_settings
from service.worker import ScoringWorker

logger = logging.getLogger("azmlinfsrv")
EXIT_USAGE = 2
EXIT_BOOT = 3
# Set from our settings; GUNICORN_CMD_ARGS may set any other gunicorn option (as with the reference).
_OWNED_OPTIONS = frozenset(
    {"bind", "workers", "timeout", "preload_app", "worker_class", "logconfig_dict", "logger_class"}
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The reference's flags plus --host; argparse exits 2 with a usage message on a bad flag."""
    parser = argparse.ArgumentParser(prog="python -m service", description=f"Scoring service v{__version__}")
    parser.add_argument("--entry_script", help="Entry script with init() and run(); default: no-code scoring.")
    parser.add_argument("--model_dir", help="Model directory, exported to the script as AZUREML_MODEL_DIR.")
    parser.add_argument("--port", type=int, help="Serving port (default 5001, or SERVER_PORT).")
    parser.add_argument("--host", help="Bind address (default 127.0.0.1, or SERVER_HOST; 0.0.0.0 for all).")
    parser.add_argument("--worker_count", type=int, help="gunicorn worker processes (default 1, or WORKER_COUNT).")
    parser.add_argument("--access_control_allow_origins", help='CORS origins, e.g. "https://a.example, ..."')
    parser.add_argument(
        "--config_file", help="JSON config file (default: config.json in AML_APP_ROOT or beside the script)."
    )
    parser.add_argument(
        "--health_port", type=int, help="Second port for the same routes, if SEPERATE_HEALTH_ENDPOINT=true."
    )
    parser.add_argument("--appinsights_instrumentation_key", help=argparse.SUPPRESS)
    parser.add_argument("--rest", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


class ScoringApplication(BaseApplication):
    """gunicorn's custom-application API: options from Settings, the app from create_app()."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        ports = [s.port] if s.health_port in (None, s.port) else [s.port, s.health_port]
        options = {
            "bind": [f"{host}:{port}" for port in ports],
            "workers": s.worker_count,
            "worker_class": ScoringWorker,
            "threads": s.worker_threads,
            "timeout": s.worker_timeout_s,
            "graceful_timeout": 30,
            "keepalive": 5,
            "preload_app": s.worker_preload,
            "accesslog": None,
            "logger_class": NoAccessLogger,
            "errorlog": "-",
            "logconfig_dict": logging_config(s.log_level, s.log_format),
            "control_socket_disable": True,
            "proc_name": "sklearn-scoring",
            "child_exit": _child_exit,
        }
        for name, value in options.items():
            self.cfg.set(name, value)
        env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
        for name, value in vars(env_args).items():
            if value is not None and name not in _OWNED_OPTIONS and name in self.cfg.settings:
                self.cfg.set(name, value)
        tls = [f"--{name}" for name in ("certfile", "keyfile") if self.cfg.settings[name].get()]
        if tls:
            # ScoringWorker serves plain HTTP only: left to boot, each worker would stop at once and be respawned.
            print(
                f"python -m service: error: GUNICORN_CMD_ARGS sets {' and '.join(tls)}, but this service does not "
                "terminate TLS; remove it and put a TLS proxy in front of the service.",
                file=sys.stderr,
            )
            sys.exit(EXIT_USAGE)

    def load(self):
        from service.app import create_app
        from service.errors import EntryScriptError, InitFailed
        from service.model_dir import ModelDirError

        # Without preload init() runs in the background of each worker; its failure ends the worker (_exit_worker).
        background = {} if self.cfg.preload_app else {"init_in_background": True, "on_init_failure": _exit_worker}
        try:
            return create_app(self.settings, verify_model=False, **background)
        except Exception as exc:
            # Logged (to stdout, with the rest of the log, as the reference does), not left to gunicorn's stderr.
            # These messages name their cause already; anything else gets its type on the line.
            known = isinstance(exc, (EntryScriptError, InitFailed, ModelDirError))
            cause = str(exc) if known else f"preparing the app raised {type(exc).__name__}: {exc}"
            logger.critical("Refusing to start: %s", cause, exc_info=exc)
            sys.exit(EXIT_BOOT)


def _child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _exit_worker(_exc: BaseException) -> None:
    """init() failed in a worker: exit with gunicorn's boot-error status so the master stops instead of respawning."""
    logging.shutdown()
    os._exit(EXIT_BOOT)


def main(argv: list[str] | None = None) -> int:
    """Run the service until it is stopped; returns the process exit status."""
    args = parse_args(argv)
    try:
        settings = Settings.load(cli=vars(args))
    except SettingsError as exc:
        print(f"python -m service: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not settings.entry_script.is_file():
        print(f"python -m service: error: entry script {settings.entry_script} does not exist.", file=sys.stderr)
        return EXIT_USAGE
    if settings.metrics_dir is not None and not settings.metrics_dir.is_dir():
        print(
            f"python -m service: error: PROMETHEUS_MULTIPROC_DIR {settings.metrics_dir} is not a directory.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if settings.is_no_code and settings.model_dir is None:
        print(
            "python -m service: error: no entry script and no model directory: pass --model_dir (or set "
            "AZUREML_MODEL_DIR) to serve a model without code, or --entry_script for your own score.py.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logging.config.dictConfig(logging_config(settings.log_level, settings.log_format))
    # Line buffering gets every line out promptly even when stdout is a pipe or a file.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    capture_prints()
    if args.appinsights_instrumentation_key:
        logger.warning(
            "--appinsights_instrumentation_key is ignored: this service does not send to Application Insights"
        )
    export_environment(settings)

    from service.app import check_model_dir
    from service.model_dir import ModelDirError

    try:
        check_model_dir(
            settings.model_dir, require_sidecar=settings.is_no_code, trusted_types=settings.model_trusted_types
        )
    except ModelDirError as exc:
        logger.critical("Refusing to start: %s", exc)
        return EXIT_BOOT

    master_pid = os.getpid()
    own_metrics_dir = settings.metrics_dir is None
    if own_metrics_dir:
        # Must be in the environment before any process imports prometheus_client.
        try:
            metrics_dir = Path(tempfile.mkdtemp(prefix="scoring-metrics-"))
        except OSError as exc:
            logger.critical(
                "Refusing to start: no directory for the workers' metrics (%s); set PROMETHEUS_MULTIPROC_DIR "
                "to a writable directory",
                exc,
            )
            return EXIT_BOOT
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        settings = dataclasses.replace(settings, metrics_dir=metrics_dir)
    logger.info(
        "Scoring service %s: entry script %s, model dir %s, http://%s:%d, %d worker(s) x %d thread(s)%s",
        __version__,
        "(no-code) " + str(settings.entry_script) if settings.is_no_code else settings.entry_script,
        settings.model_dir,
        settings.host,
        settings.port,
        settings.worker_count,
        settings.worker_threads,
        ", preload" if settings.worker_preload else "",
    )
    log_settings(settings)
    try:
        ScoringApplication(settings).run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        # Forked workers unwind through here too; only the master owns the metrics directory.
        if own_metrics_dir and os.getpid() == master_pid:
            shutil.rmtree(settings.metrics_dir, ignore_errors=True)
    return 0
