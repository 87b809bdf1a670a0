"""create_app(settings): the Flask app for one entry script, with its model check, runner, swagger and metrics."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from service import routes
from service.compat import AMLRequest
from service.entry_script import load_entry_script
from service.fast_score import FastScore, ScoreRoute
from service.metrics import Metrics
from service.model_dir import ModelInfo, check_model_dir
from service.runner import Runner
from service.settings import Settings
from service.startup import export_environment
from service.swagger import SwaggerDocuments, build_documents

logger = logging.getLogger("azmlinfsrv")
EXTENSION = "scoring"


@dataclass(frozen=True)
class Scoring:
    """Everything the views need, stored once in ``app.extensions["scoring"]``."""

    settings: Settings
    runner: Runner
    swagger: SwaggerDocuments
    metrics: Metrics
    model_info: ModelInfo | None
    """The served model directory's model.json, None when there is none (or several)."""


def create_app(
    settings: Settings,
    *,
    init_in_background: bool = False,
    on_init_failure: Callable[[BaseException], None] | None = None,
    verify_model: bool = True,
) -> Flask:
    """Build the app: check the model directory, load the entry script, start init(), prepare swagger and metrics.

    ``init_in_background`` runs init() in a thread so the worker answers at once: /health/live 200, ``/`` and
    /health/ready 503 until init() is done, /score after waiting for it (at most SCORING_TIMEOUT_MS);
    ``on_init_failure(exc)`` is called if it fails.
    ``verify_model=False`` skips the sha256 check when the caller (the launcher) has done it already.

    Raises
    ------
    service.model_dir.ModelDirError
        The model directory's model.json is invalid or its model file fails the sha256 check.
    service.errors.EntryScriptError
        The entry script cannot be imported or breaks the init()/run() contract.
    service.errors.InitFailed
        init() raised, when it runs in this thread (the original exception is its ``__cause__``).
    """
    # The entry-script contract: scripts read the model location (and the reference's other variables) from there.
    export_environment(settings)
    for path in (settings.app_root, settings.source_dir):
        if path is not None and str(path) not in sys.path:
            sys.path.append(str(path))
    for warning in settings.warnings:
        logger.warning(warning)

    model_info = check_model_dir(settings.model_dir, verify=verify_model, trusted_types=settings.model_trusted_types)
    script = load_entry_script(settings.entry_script)
    runner = Runner(script, timeout_ms=settings.scoring_timeout_ms, threads=settings.max_concurrent_runs)
    swagger = build_documents(
        script.run,
        app_root=settings.app_root,
        title=settings.service_name,
        version=settings.service_version,
        path_prefix=settings.service_path_prefix,
    )
    metrics = Metrics(settings.metrics_dir)

    app = Flask("service")
    app.request_class = AMLRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    scoring = Scoring(settings, runner, swagger, metrics, model_info)
    app.extensions[EXTENSION] = scoring
    protocol_routes = routes.register(app)
    if FastScore.serves(script):
        app.wsgi_app = FastScore(app.wsgi_app, scoring, [ScoreRoute(script), *protocol_routes])

    def on_ready() -> None:
        if runner.init_seconds is not None:
            metrics.model_load.set(runner.init_seconds)
        settle_heap()
        # The reference's line, which log watchers wait for: once per process that ran init() (each worker).
        logger.info("Worker with pid %d ready for serving traffic", os.getpid())

    runner.start(background=init_in_background, on_failure=on_init_failure, on_ready=on_ready)
    logger.info("Scoring timeout is set to %d ms", settings.scoring_timeout_ms)
    return app


def settle_heap() -> None:
    """Move every object alive now (modules, the model) out of the garbage collector's sight with ``gc.freeze()``.

    Why: a request body parses into one list per row, and those allocations trigger collections that each walk the
    whole heap of scikit-learn, numpy and pandas; a 100 000-row request spent about 100 ms of its 150 ms in the
    collector. Frozen objects are still freed by reference counting; only cycles among them outlive the freeze. No
    ``gc.collect()`` first: after the iris init() it found nothing and took 77 ms, which readiness would wait for.
    With WORKER_PRELOAD this runs in the master before the fork, which also keeps the shared pages shared.
    """
    gc.freeze()
