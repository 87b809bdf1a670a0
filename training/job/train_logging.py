"""Metric logging for the job: MLflow, an Azure ML SDK v1 run, or a JSON file in the output directory.

Part of the Azure ML snapshot (training/job/), so it imports only the standard library at load time:
- ``MLFLOW_TRACKING_URI`` set (every SDK v2 job, or any MLflow server or ``file:`` store): MLflow, numbers with
  ``log_metric`` and text such as ``Kernel type`` with ``log_param`` (a v2 sweep reads its primary metric there);
- inside a submitted SDK v1 run: that ``azureml.core.Run`` (HyperDrive reads ``run.log``); azureml-core is only
  imported then, because its import costs about a second and its offline run prints metrics without keeping them;
- else ``<output dir>/metrics.json``. A local recorded run (``python -m training train``) passes its own logger,
  with the same two methods, to the run history instead.
"""

import json
import os
import sys
from pathlib import Path


class AzureRunLogger:
    """Forwards metrics to an ``azureml.core.Run`` (``run.log`` / ``run.log_confusion_matrix``)."""

    def __init__(self, run):
        self.run = run
        self.run_id = run.id

    def log(self, name: str, value) -> None:
        """Log one scalar metric."""
        self.run.log(name, value)

    def log_confusion_matrix(self, name: str, value: dict) -> None:
        """Log a confusion matrix in Azure's ``{"schema_type": "confusion_matrix", ...}`` form."""
        self.run.log_confusion_matrix(name, value)


class MlflowLogger:
    """Logs to the active MLflow run (started, or resumed from ``MLFLOW_RUN_ID`` as on Azure ML, when none is)."""

    def __init__(self, mlflow):
        self.mlflow = mlflow
        run = mlflow.active_run() or mlflow.start_run()
        self.run_id = run.info.run_id

    def log(self, name: str, value) -> None:
        """A number as a metric; anything else (``Kernel type``) as a parameter, since MLflow metrics are numeric."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.mlflow.log_metric(name, float(value))
        else:
            self.mlflow.log_param(name, str(value))

    def log_confusion_matrix(self, name: str, value: dict) -> None:
        """The matrix table as a JSON artifact ``<name>.json`` of the run."""
        self.mlflow.log_dict(value, f"{name}.json")


class JsonFileLogger:
    """Keeps every metric and rewrites ``path`` (JSON object, name -> last value) after each one."""

    run_id = None

    def __init__(self, path: Path):
        self.path = Path(path)
        self.metrics = {}

    def log(self, name: str, value) -> None:
        """Record one scalar metric and rewrite the file."""
        self.metrics[name] = value
        self._write()

    def log_confusion_matrix(self, name: str, value: dict) -> None:
        """Record a confusion matrix table and rewrite the file."""
        self.metrics[name] = value
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(self.metrics, indent=2) + "\n")
        os.replace(partial, self.path)


def azure_run():
    """The submitted ``azureml.core.Run`` this process runs in, or None (not submitted, or azureml not installed)."""
    # Every submitted run has AZUREML_RUN_ID; without it Run.get_context() can only be offline, so skip the import.
    if not os.environ.get("AZUREML_RUN_ID"):
        return None
    try:
        from azureml.core.run import Run, _OfflineRun
    except ImportError:
        return None
    run = Run.get_context()
    return None if isinstance(run, _OfflineRun) else run


def mlflow_module():
    """The ``mlflow`` module when ``MLFLOW_TRACKING_URI`` asks for it, else None (with a warning if not installed)."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    try:
        import mlflow
    except ImportError:
        print("warning: MLFLOW_TRACKING_URI is set but mlflow is not installed (pip install mlflow-skinny); "
              "metrics go to metrics.json instead", file=sys.stderr)
        return None
    return mlflow


def default_logger(output_dir: Path):
    """The logger for a bare ``python train.py``: MLflow, else the v1 Azure run, else ``<output_dir>/metrics.json``."""
    mlflow = mlflow_module()
    if mlflow is not None:
        return MlflowLogger(mlflow)
    run = azure_run()
    return AzureRunLogger(run) if run is not None else JsonFileLogger(Path(output_dir) / "metrics.json")
