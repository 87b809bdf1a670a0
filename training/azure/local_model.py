"""A local model directory (model.joblib + model.json) as both backends register it: its model.json facts."""

import json
from pathlib import Path

from training.azure.errors import AzureError


def read_sidecar(model_dir: Path) -> dict:
    """The model.json of ``model_dir`` (sha256, scikit-learn version, metrics, input sample).

    Raises
    ------
    AzureError
        ``model_dir`` has no readable model.json.
    """
    path = Path(model_dir) / "model.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AzureError(f"{model_dir} is not a model directory: {path} is missing or not JSON ({exc}); expected "
                         "model.joblib + model.json as written by train.py.") from exc
