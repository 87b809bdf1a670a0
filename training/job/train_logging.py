"""Metric logging for the job: an Azure ML run when inside one, else a JSON file in the output directory.

Part of the Azure ML snapshot (training/job/). azureml-core is imported lazily and only inside a submitted run,
because its import costs about a second and its offline run prints metrics without keeping them.
A local recorded run (``python -m training train``) passes its own logger with the same two methods instead.
"""

import json
import os
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


def default_logger(output_dir: Path):
    """The logger for a bare ``python train.py``: Azure inside a submitted run, else ``<output_dir>/metrics.json``."""
    run = azure_run()
    return AzureRunLogger(run) if run is not None else JsonFileLogger(Path(output_dir) / "metrics.json")
