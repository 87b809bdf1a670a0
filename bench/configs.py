"""The server configurations under test, (a)–(e) of issue 6 and the scoring floor of issue 15; (f), the compute
floor, runs in-process (runner.py). A new configuration is one more ServerSpec here (its system name then appears in
report.RATIOS / TARGETS when it is compared)."""

import sys
from pathlib import Path

from bench.servers import ServerSpec
from bench.workloads import PLAIN, PROBA

WORKER_CLASS = "service.worker.ScoringWorker"
"""Our service's gunicorn worker class: the floors run on it, so a ratio to them isolates the service's own work."""
ONE_ROW_WORKLOADS = ("seq1", "par8")
ENTRY_SCRIPT = "tests/service/scripts/iris_score.py"
PROBA_SCRIPT = "bench/proba_score.py"
MAIN_WORKLOADS = ("seq1", "par8", "batch1000", "big100k")
EQUAL_WORKER_WORKLOADS = ("seq1", "par8", "batch1000")


def _ours_default_threads() -> int | None:
    """Threads per worker of our service at its defaults, so the HTTP floor runs the same gunicorn worker model."""
    try:
        from service.settings import Settings
    except ImportError:
        return None
    return Settings.worker_threads


def server_specs(ref_python: str | None, models: dict[str, Path], include_ours: bool = True) -> list[ServerSpec]:
    """Every configuration, in the order one repetition starts them. ``ref_python`` None leaves the reference out.

    ``system`` groups instances whose results share a row: e.g. "ours" serves the plain model for four workloads and
    a second instance with the predict_proba script and model for the fifth.
    """
    ours = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", "{port}"]
    ref = [ref_python or "", "scripts/reference_server.py", "--port", "{port}"]
    plain = ["--entry_script", ENTRY_SCRIPT, "--model_dir", str(models[PLAIN])]
    proba = ["--entry_script", PROBA_SCRIPT, "--model_dir", str(models[PROBA])]
    w2 = ["--worker_count", "2"]
    specs = []
    if include_ours:
        specs += [
            ServerSpec(
                "ours", "ours", "(a) our service, defaults", (*ours, *plain), "/health/ready", {}, MAIN_WORKLOADS
            ),
            ServerSpec(
                "ours-proba", "ours", "(a) predict_proba script", (*ours, *proba), "/health/ready", {}, ("proba1000",)
            ),
        ]
    if ref_python:
        specs += [
            ServerSpec(
                "reference",
                "reference",
                "(b) azureml-inference-server-http 1.5.1, defaults",
                (*ref, *plain),
                "/",
                {},
                MAIN_WORKLOADS,
            ),
            ServerSpec(
                "reference-proba", "reference", "(b) predict_proba script", (*ref, *proba), "/", {}, ("proba1000",)
            ),
        ]
    if include_ours:
        specs.append(
            ServerSpec(
                "ours-w2",
                "ours-w2",
                "(c) our service, 2 workers",
                (*ours, *plain, *w2),
                "/health/ready",
                {},
                EQUAL_WORKER_WORKLOADS,
            )
        )
    if ref_python:
        specs.append(
            ServerSpec(
                "reference-w2",
                "reference-w2",
                "(c) reference, 2 workers",
                (*ref, *plain, *w2),
                "/",
                {},
                EQUAL_WORKER_WORKLOADS,
            )
        )
    if include_ours:
        preload = {"WORKER_PRELOAD": "true"}
        specs += [
            ServerSpec(
                "ours-preload",
                "ours-preload",
                "ours, WORKER_PRELOAD=true, 1 worker (memory)",
                (*ours, *plain),
                "/health/ready",
                preload,
                ("par8",),
            ),
            ServerSpec(
                "ours-w2-preload",
                "ours-w2-preload",
                "ours, WORKER_PRELOAD=true, 2 workers (memory)",
                (*ours, *plain, *w2),
                "/health/ready",
                preload,
                ("par8",),
            ),
        ]
    threads = _ours_default_threads()
    worker = ["--worker-class", WORKER_CLASS, "--threads", str(threads)] if threads else []
    gunicorn = (sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "1", "--no-control-socket", *worker)
    model_name = f"{WORKER_CLASS.rsplit('.', 1)[1]}{f' x{threads}' if threads else ''}"
    specs.append(
        ServerSpec(
            "floor-http",
            "floor-http",
            f"(e) bare gunicorn + Flask constant, 1 worker, {model_name}",
            (*gunicorn, "bench.floor_app:app"),
            "/",
            {},
            EQUAL_WORKER_WORKLOADS,
        )
    )
    specs.append(
        ServerSpec(
            "floor-score",
            "floor-score",
            f"bare Flask view: parse, convert, predict, serialise inline, 1 worker, {model_name}",
            (*gunicorn, "bench.floor_score_app:app"),
            "/",
            {"BENCH_MODEL_DIR": str(models[PLAIN])},
            ONE_ROW_WORKLOADS,
        )
    )
    return specs


PROBE_READ_TIMEOUT_S = {True: 3, False: 10}
"""REQUEST_READ_TIMEOUT_S of the probe instance (--quick: True): long enough to measure while the slow
connections are held, short enough to wait for their 408s."""


def probe_spec(models: dict[str, Path], quick: bool) -> ServerSpec:
    """Ours at its defaults but a short read deadline, for bench/idle_probe.py."""
    ours = (sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", "{port}")
    return ServerSpec(
        "ours-probe",
        "ours-probe",
        f"ours, REQUEST_READ_TIMEOUT_S={PROBE_READ_TIMEOUT_S[quick]} (idle/slow connection probe)",
        (*ours, "--entry_script", ENTRY_SCRIPT, "--model_dir", str(models[PLAIN])),
        "/health/ready",
        {"REQUEST_READ_TIMEOUT_S": str(PROBE_READ_TIMEOUT_S[quick])},
    )
