"""The registry's use of the model directory format (model_format.py), its errors turned into ``InvalidModelDir``."""

from pathlib import Path

import model_format
from training.errors import InvalidModelDir

SIDECAR_FILE = model_format.SIDECAR
sha256_file = model_format.sha256_file
serialization_format = model_format.serialization_format


def read_sidecar(directory: Path) -> dict:
    """The validated model.json of ``directory`` (model_format.read_sidecar), without the sha256 check.

    Raises
    ------
    InvalidModelDir
        With model_format's message: not a directory, no model.json or not ours, or a key missing or malformed.
    """
    try:
        return model_format.read_sidecar(directory)
    except model_format.ModelDirError as exc:
        raise InvalidModelDir(str(exc)) from None


def check_model_dir(directory: Path) -> dict:
    """``read_sidecar`` plus the model file's sha256 against model.json (model_format.check); returns the sidecar.

    Raises
    ------
    InvalidModelDir
        As ``read_sidecar``, or when the model file is missing, links outside ``directory`` or fails its sha256.
    """
    try:
        return model_format.check(directory)
    except model_format.ModelDirError as exc:
        raise InvalidModelDir(str(exc)) from None


def write_sidecar(directory: Path, sidecar: dict) -> Path:
    """Write ``sidecar`` atomically as ``directory/model.json`` after validating it (model_format.write_sidecar)."""
    return model_format.write_sidecar(directory, sidecar)
