"""The reader side of the model directory contract (docs/model-directory.md): find, validate, verify, then load."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SIDECAR = "model.json"
SUPPORTED_FORMAT = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASH_CHUNK = 1 << 20


class ModelDirError(Exception):
    """A model directory that cannot be served; the message is safe to log and print and names expected vs actual."""


@dataclass(frozen=True)
class ModelInfo:
    """A validated ``model.json`` and where it was found.

    ``name`` and ``version`` come from the sidecar's ``registration`` block, else from the ``<name>/<version>/`` path
    components when the directory's own name is a positive integer (Azure ML layout, local registry copies), else None.
    """

    path: Path
    sidecar: dict[str, Any]
    name: str | None
    version: int | None

    @property
    def model_file(self) -> Path:
        return self.path / self.sidecar["model_file"]

    @property
    def sha256(self) -> str:
        return self.sidecar["sha256"]

    @property
    def feature_names(self) -> list[str] | None:
        return self.sidecar.get("feature_names")

    @property
    def n_features(self) -> int:
        return self.sidecar["n_features"]

    @property
    def classes(self) -> list | None:
        return self.sidecar.get("classes")

    @property
    def has_predict_proba(self) -> bool:
        return self.sidecar["has_predict_proba"]

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self.sidecar["input_dtype"])

    @property
    def input_sample(self) -> np.ndarray:
        """The sidecar's sample rows as a 2-D array of ``input_dtype`` (the schema sample of the no-code script)."""
        return np.asarray(self.sidecar["input_sample"], dtype=self.input_dtype).reshape(-1, self.n_features)

    @property
    def label(self) -> str:
        """How messages name this model: ``model iris (version 2)``, ``model iris`` or ``the model``."""
        if self.name is None:
            return "the model"
        return f"model {self.name}" + ("" if self.version is None else f" (version {self.version})")


def find_model_dirs(root: Path) -> list[Path]:
    """Every model directory of ``root`` (the value of ``AZUREML_MODEL_DIR``), sorted: the layout's one definition.

    That is ``[root]`` when it holds model.json, else each directory below it that does: ``<name>/<version>/`` (Azure
    ML layout) or, as when Azure ML registers a folder, ``<folder>/``. Empty when there is none.

    Raises
    ------
    ModelDirError
        ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise ModelDirError(f"Model directory {root} does not exist or is not a directory.")
    if (root / SIDECAR).is_file():
        return [root]
    return sorted({p.parent for pattern in (f"*/{SIDECAR}", f"*/*/{SIDECAR}") for p in root.glob(pattern)})


def resolve_model_dir(root: Path) -> Path:
    """Return the one model directory of ``root`` (see :func:`find_model_dirs`).

    Raises
    ------
    ModelDirError
        ``root`` is not a directory, or no model.json / several model.json files were found.
    """
    root = Path(root)
    found = find_model_dirs(root)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelDirError(
            f"No {SIDECAR} in {root}, nor in a <name>/<version>/ directory below it. Point the model directory at a "
            f"directory written by the training job (model.joblib + {SIDECAR})."
        )
    shown = ", ".join(str(p.relative_to(root)) for p in found[:5]) + (", ..." if len(found) > 5 else "")
    raise ModelDirError(
        f"{root} holds {len(found)} model directories ({shown}), but exactly one is expected. "
        "Point the model directory at one of them."
    )


def read_model_info(model_dir: Path) -> ModelInfo:
    """Parse and validate ``model_dir/model.json`` (format 1). Never unpickles anything.

    Unknown keys are ignored; the keys the service relies on are type-checked.

    Raises
    ------
    ModelDirError
        model.json is missing, not UTF-8 JSON, of an unknown format, or a required key is missing or malformed.
    """
    model_dir = Path(model_dir)
    path = model_dir / SIDECAR
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelDirError(f"{path} not found; a model directory needs model.joblib and {SIDECAR}.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelDirError(f"{path} is not a readable UTF-8 JSON file: {exc}") from None
    if not isinstance(sidecar, dict):
        raise ModelDirError(f"{path} must hold a JSON object, got {type(sidecar).__name__}.")
    _validate(sidecar, path)
    name, version = _name_and_version(sidecar, model_dir)
    return ModelInfo(path=model_dir, sidecar=sidecar, name=name, version=version)


def verify_model_file(info: ModelInfo) -> None:
    """Check that the model file's sha256 equals the sidecar's, so a tampered or truncated model is never unpickled.

    Raises
    ------
    ModelDirError
        The model file is missing or unreadable, resolves (through a symbolic link) to a file outside the model
        directory, or its sha256 differs from model.json's (both hashes are named).
    """
    _refuse_escaping_link(info)
    digest = hashlib.sha256()
    try:
        with open(info.model_file, "rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ModelDirError(f"Model file {info.model_file} cannot be read: {exc.strerror or exc}.") from None
    actual = digest.hexdigest()
    if actual != info.sha256:
        raise ModelDirError(
            f"Model file {info.model_file} has sha256 {actual}, but {SIDECAR} expects {info.sha256}; the file was "
            "changed after training. Refusing to load it: restore the original file or re-register the model."
        )


def _refuse_escaping_link(info: ModelInfo) -> None:
    # model.json may only vouch for a file of its own directory; a link elsewhere would let the hash follow a file
    # that anyone with write access to that other place can swap between the check and joblib.load.
    directory, target = info.path.resolve(), info.model_file.resolve()
    if not target.is_relative_to(directory):
        raise ModelDirError(
            f"Model file {info.model_file} is a link to {target}, outside the model directory {directory}. "
            "Refusing to load it: copy the model file into the model directory."
        )


def load_model(model_dir: Path) -> tuple[object, ModelInfo]:
    """Resolve ``model_dir``, read and validate model.json, verify the sha256, then ``joblib.load`` the model.

    Logs a warning when the model was trained with another scikit-learn version.

    Raises
    ------
    ModelDirError
        From :func:`resolve_model_dir`, :func:`read_model_info` or :func:`verify_model_file`, or when the verified
        file still cannot be unpickled.
    """
    import joblib  # deferred: only needed once the hash has been checked

    info = read_model_info(resolve_model_dir(model_dir))
    verify_model_file(info)
    _warn_on_version_skew(info)
    try:
        model = joblib.load(info.model_file)
    except Exception as exc:  # unpickling can raise anything; the file's hash was fine, so name the cause
        raise ModelDirError(f"Model file {info.model_file} could not be loaded: {type(exc).__name__}: {exc}") from exc
    return model, info


def describe(info: ModelInfo) -> dict[str, Any]:
    """The JSON body of ``GET /model``: identity, provenance and input schema of the served model."""
    sidecar = info.sidecar
    return {
        "name": info.name,
        "version": info.version,
        "sha256": info.sha256,
        "estimator": sidecar.get("estimator"),
        "task": sidecar.get("task"),
        "sklearn_version": sidecar.get("sklearn_version"),
        "classes": info.classes,
        "feature_names": info.feature_names,
        "n_features": info.n_features,
        "input_dtype": info.input_dtype.name,
        "input_sample": sidecar["input_sample"],
        "has_predict_proba": info.has_predict_proba,
        "metrics": sidecar.get("metrics", {}),
        "run_id": sidecar.get("run_id"),
        "created_at": sidecar.get("created_at"),
    }


def _validate(sidecar: dict[str, Any], path: Path) -> None:
    fmt = sidecar.get("format")
    if fmt != SUPPORTED_FORMAT:
        raise ModelDirError(
            f"{path} has format {fmt!r}, but this service reads format {SUPPORTED_FORMAT}. "
            "Re-train the model or upgrade the service."
        )

    def bad(key: str, expected: str) -> ModelDirError:
        got = "missing" if key not in sidecar else f"{type(sidecar[key]).__name__} {str(sidecar[key])[:40]!r}"
        return ModelDirError(f"{path}: key {key!r} must be {expected}, got {got}.")

    model_file = sidecar.get("model_file")
    if (
        not isinstance(model_file, str)
        or not model_file
        or Path(model_file).is_absolute()
        or ".." in Path(model_file).parts
    ):
        raise bad("model_file", "a file name relative to the model directory")
    if not isinstance(sidecar.get("sha256"), str) or not _HEX64.fullmatch(sidecar["sha256"]):
        raise bad("sha256", "64 lower-case hex digits")
    n_features = sidecar.get("n_features")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise bad("n_features", "a positive integer")
    try:
        dtype = np.dtype(sidecar.get("input_dtype"))
    except TypeError:
        raise bad("input_dtype", 'a numpy dtype name such as "float64"') from None
    if not isinstance(sidecar.get("input_dtype"), str) or dtype.kind not in "biuf":
        raise bad("input_dtype", 'a numeric numpy dtype name such as "float64"')
    if not isinstance(sidecar.get("has_predict_proba"), bool):
        raise bad("has_predict_proba", "true or false")
    names = sidecar.get("feature_names")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_features
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise bad("feature_names", f"null or a list of {n_features} distinct strings")
    if sidecar.get("classes") is not None and not isinstance(sidecar["classes"], list):
        raise bad("classes", "null or a list")
    sample = sidecar.get("input_sample")
    if (
        not isinstance(sample, list)
        or not sample
        or not all(isinstance(row, list) and len(row) == n_features for row in sample)
    ):
        raise bad("input_sample", f"a non-empty list of rows of {n_features} numbers")
    try:
        np.asarray(sample, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise bad("input_sample", f"rows of {dtype.name} values") from None


def _name_and_version(sidecar: dict[str, Any], model_dir: Path) -> tuple[str | None, int | None]:
    registration = sidecar.get("registration")
    if isinstance(registration, dict) and isinstance(registration.get("name"), str):
        version = registration.get("version")
        return registration["name"], version if isinstance(version, int) and not isinstance(version, bool) else None
    resolved = model_dir.resolve()
    if re.fullmatch(r"[0-9]+", resolved.name) and int(resolved.name) > 0 and resolved.parent.name:
        return resolved.parent.name, int(resolved.name)
    return None, None


def _warn_on_version_skew(info: ModelInfo) -> None:
    import sklearn

    trained = info.sidecar.get("sklearn_version")
    if trained and trained != sklearn.__version__:
        log.warning(
            "Model %s was trained with scikit-learn %s but this service runs %s; predictions may differ. "
            "Re-train the model with scikit-learn %s to silence this warning.",
            info.model_file,
            trained,
            sklearn.__version__,
            sklearn.__version__,
        )
