"""Reading and checking a model directory (docs/model-directory.md) before the registry copies or returns it."""

import hashlib
import json
from pathlib import Path

from training.errors import InvalidModelDir

SIDECAR_FILE = "model.json"
KNOWN_FORMATS = (1,)


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sidecar(directory: Path) -> dict:
    """Parse ``<directory>/model.json`` and check its format and model file name (not the hash).

    Raises
    ------
    InvalidModelDir
        Not a directory, no model.json, not a JSON object, an unknown format, or a missing model file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidModelDir(f"'{directory}' is not a directory; expected a model directory holding model.joblib "
                              f"and model.json (docs/model-directory.md).")
    sidecar_path = directory / SIDECAR_FILE
    if not sidecar_path.is_file():
        raise InvalidModelDir(f"'{directory}' has no {SIDECAR_FILE}; expected a model directory written by "
                              f"training/job/train.py (docs/model-directory.md).")
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidModelDir(f"'{sidecar_path}' is not valid JSON: {exc}.") from exc
    if not isinstance(sidecar, dict):
        raise InvalidModelDir(f"'{sidecar_path}' holds a JSON {type(sidecar).__name__}, expected an object.")
    if sidecar.get("format") not in KNOWN_FORMATS:
        raise InvalidModelDir(f"'{sidecar_path}' has format {sidecar.get('format')!r}; this version reads format "
                              f"{', '.join(map(str, KNOWN_FORMATS))}.")
    model_file = sidecar.get("model_file")
    if not isinstance(model_file, str) or Path(model_file).name != model_file or not (directory / model_file).is_file():
        raise InvalidModelDir(f"'{sidecar_path}' names model_file {model_file!r}, which is not a file in "
                              f"'{directory}'.")
    if not isinstance(sidecar.get("sha256"), str):
        raise InvalidModelDir(f"'{sidecar_path}' has no sha256 of {model_file}.")
    return sidecar


def check_model_dir(directory: Path) -> dict:
    """``read_sidecar`` plus the sha256 check of the model file against model.json; returns the sidecar.

    Raises
    ------
    InvalidModelDir
        As ``read_sidecar``, or when the model file's sha256 differs from model.json's.
    """
    sidecar = read_sidecar(directory)
    actual = sha256_file(Path(directory) / sidecar["model_file"])
    if actual != sidecar["sha256"]:
        raise InvalidModelDir(
            f"{sidecar['model_file']} in '{directory}' has sha256 {actual[:12]}… but model.json records "
            f"{sidecar['sha256'][:12]}…; the file changed after training. Retrain to write a consistent directory."
        )
    return sidecar
