"""What the reference shows at start: the variables it exports to the entry script, and the settings lines operators
grep for (``Server Port: 5001``), in its wording.

azureml-inference-server-http's launcher writes these into ``os.environ`` before gunicorn starts, so a ``run()`` may
read ``os.environ["AML_APP_ROOT"]``; we export the same names with the same values (the server version is ours). It
prints the settings once, in the master; we log them once, in the launcher, one line each.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping

from service.settings import Settings

logger = logging.getLogger("azmlinfsrv")


def export_environment(settings: Settings, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the variables the reference exports to user code (in ``os.environ`` unless ``environ`` is given).

    Every value is the one in effect: ``AML_APP_ROOT`` is the settings' app root (the variable's value when it was
    set, as the reference's ``setdefault`` keeps it, else the working directory). ``AZUREML_ENTRY_SCRIPT`` is left
    alone for the no-code script (the reference has none), and ``AZUREML_MODEL_DIR`` / ``AML_CORS_ORIGINS`` /
    ``MODEL_TRUSTED_TYPES`` are set only when configured.
    """
    env = os.environ if environ is None else environ
    env["AML_APP_ROOT"] = str(settings.app_root)
    if not settings.is_no_code:
        env["AZUREML_ENTRY_SCRIPT"] = str(settings.entry_script)
    if settings.model_dir is not None:
        env["AZUREML_MODEL_DIR"] = str(settings.model_dir)
    env["SERVER_PORT"] = str(settings.port)
    env["HEALTH_PORT"] = str(settings.health_port or settings.port)
    env["WORKER_COUNT"] = str(settings.worker_count)
    env["TRANSPORT_PROTOCOL"] = "grpc"  # the reference's default (it sets "rest" only for a hidden flag)
    env["AML_APP_INSIGHTS_ENABLED"] = "false"  # nothing is sent to Application Insights
    if settings.server_version_header:
        env["HTTP_X_MS_SERVER_VERSION"] = settings.server_version_header
    if settings.cors_origins:
        env.setdefault("AML_CORS_ORIGINS", ", ".join(settings.cors_origins))
    if settings.model_trusted_types:  # what the no-code script's init() reads (entry scripts get no Settings)
        env["MODEL_TRUSTED_TYPES"] = ",".join(settings.model_trusted_types)


def settings_lines(settings: Settings) -> list[str]:
    """The reference's "Server Settings" and "Server Routes" lines, with this instance's effective values.

    Unlike the reference, ``Worker Timeout (seconds)`` and ``Config File`` show the values in effect (the reference
    prints the unset environment variable as ``None``).
    """
    cors = f"Enabling CORS for {', '.join(settings.cors_origins)}" if settings.cors_origins else None
    health_port = settings.health_port or settings.port
    return [
        f"Entry Script Name: {settings.entry_script}",
        f"Model Directory: {settings.model_dir}",
        f"Config File: {settings.config_file}",
        f"Worker Count: {settings.worker_count}",
        f"Worker Timeout (seconds): {settings.worker_timeout_s}",
        f"Server Port: {settings.port}",
        f"Health Port: {health_port}",
        "Application Insights Enabled: false",
        "Application Insights Key: None",
        f"Inferencing HTTP server version: {settings.server_version_header}",
        f"CORS for the specified origins: {cors}",
        f"Create dedicated endpoint for health: {'true' if settings.health_port else None}",
        f"Liveness Probe: GET   {settings.host}:{health_port}/",
        f"Score:          POST  {settings.host}:{settings.port}/score",
    ]


def log_settings(settings: Settings) -> None:
    """Log :func:`settings_lines`, one record each (the launcher calls this once, before any worker starts)."""
    for line in settings_lines(settings):
        logger.info("%s", line)
