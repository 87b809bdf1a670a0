"""The optional MLflow configuration (d): ``mlflow models serve`` in its own venv (.venv-mlflow, built on first use
with the same scikit-learn/numpy pins as requirements-service.txt), serving the same two iris models."""

import os
import subprocess
from pathlib import Path

from bench.servers import REPO_ROOT, ServerSpec
from bench.workloads import PLAIN, PROBA

MLFLOW_VERSION = "3.17.2"
VENV = REPO_ROOT / ".venv-mlflow"
PINNED = ("scikit-learn", "numpy", "scipy", "joblib", "pandas")


def ensure_venv() -> Path:
    """The MLflow venv's bin directory, creating the venv once.

    Raises:
        RuntimeError: venv creation or pip failed (the message holds pip's last lines).
    """
    stamp = VENV / f".installed-{MLFLOW_VERSION}"
    if not stamp.exists():
        pins = [
            line.strip()
            for line in (REPO_ROOT / "requirements-service.txt").read_text().splitlines()
            if line.split("==")[0].split("[")[0].strip() in PINNED
        ]
        steps = [
            ["python3", "-m", "venv", str(VENV)],
            [str(VENV / "bin" / "pip"), "install", "-q", f"mlflow=={MLFLOW_VERSION}", *pins],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1200)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(step[:3])} failed: {(done.stderr or done.stdout).strip()[-800:]}")
        stamp.touch()
    return VENV / "bin"


def save_models(bin_dir: Path, models: dict[str, Path], target: Path) -> dict[str, Path]:
    """MLflow copies of the plain model (pyfunc predict) and the calibrated one (pyfunc predict_proba).

    Raises:
        RuntimeError: bench/mlflow_model.py failed.
    """
    out = {}
    for flavour, method in ((PLAIN, "predict"), (PROBA, "predict_proba")):
        out[flavour] = target / f"mlflow-{flavour}"
        argv = [
            str(bin_dir / "python"),
            "-m",
            "bench.mlflow_model",
            str(models[flavour]),
            str(out[flavour]),
            "--predict-fn",
            method,
        ]
        done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"bench/mlflow_model.py exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return out


def mlflow_specs(bin_dir: Path, mlflow_models: dict[str, Path], workloads: tuple[str, ...]) -> list[ServerSpec]:
    """``mlflow models serve`` at its CLI defaults (1 uvicorn worker) for ``workloads``, and a predict_proba twin."""

    def argv(model: Path) -> tuple[str, ...]:
        return (
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model),
            "-h",
            "127.0.0.1",
            "-p",
            "{port}",
            "--env-manager",
            "local",
        )

    # the CLI starts uvicorn by name, so the venv's bin goes first on PATH
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    label = f"(d) MLflow {MLFLOW_VERSION} models serve, defaults"
    return [
        ServerSpec(
            "mlflow", "mlflow", label, argv(mlflow_models[PLAIN]), "/ping", env, workloads, "/invocations", "inputs"
        ),
        ServerSpec(
            "mlflow-proba",
            "mlflow",
            f"{label}, pyfunc_predict_fn=predict_proba",
            argv(mlflow_models[PROBA]),
            "/ping",
            env,
            ("proba1000",),
            "/invocations",
            "inputs",
        ),
    ]
