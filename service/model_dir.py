"""The reader side of the model directory (docs/model-directory.md): find it in a layout, then load it through the
shared format module (model_format.py), which reads, validates and verifies the sha256 (and a skops file's types)
before anything is loaded."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import model_format
from model_format import SIDECAR, ModelDirError, NotASidecar, UntrustedTypes

__all__ = ["ModelDirError", "ModelInfo", "NotASidecar", "UntrustedTypes", "check_model_dir", "describe",
           "find_model_dirs", "load_model", "read_model_info", "resolve_model_dir", "verify_model_file"]
log = logging.getLogger("azmlinfsrv.model_dir")


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
    """Parse and validate ``model_dir/model.json`` (format 1 or 2, model_format.py). Never loads the model file.

    Raises
    ------
    NotASidecar
        model.json is another library's file, not a model directory sidecar.
    ModelDirError
        model.json is missing, of an unknown format, or a required key is missing or malformed.
    """
    model_dir = Path(model_dir)
    sidecar = model_format.read_sidecar(model_dir)
    name, version = _name_and_version(sidecar, model_dir)
    return ModelInfo(path=model_dir, sidecar=sidecar, name=name, version=version)


def verify_model_file(info: ModelInfo, trusted_types: tuple[str, ...] = ()) -> None:
    """Check that the model file's sha256 equals the sidecar's, so a tampered or truncated model is never unpickled,
    and that a skops file holds only types its model.json or ``trusted_types`` (MODEL_TRUSTED_TYPES) trusts.

    Raises
    ------
    UntrustedTypes
        A skops file holds a type trusted by neither (named in the message); nothing of it was loaded.
    ModelDirError
        The model file is missing or unreadable, resolves (through a symbolic link) to a file outside the model
        directory, or its sha256 differs from model.json's (both hashes are named).
    """
    model_format.verify(info.path, info.sidecar, also_trusted=tuple(trusted_types))


def check_model_dir(
    model_dir: Path | None, *, verify: bool = True, require_sidecar: bool = False, trusted_types: tuple[str, ...] = ()
) -> ModelInfo | None:
    """Read (and verify the sha256 of) every model.json of ``model_dir``, in its own or the Azure layout.

    Returns the ModelInfo when there is exactly one model directory, else None (custom scripts may use a model
    directory without model.json, or several models). A model.json that is another library's file counts as no
    sidecar and is reported in one log line, by the start-up check (``verify=True``); ``verify=False`` is the
    workers' re-read after that check and stays silent. ``require_sidecar`` (the no-code script, which serves the
    sidecar's model) asks for exactly one sidecar of ours. ``trusted_types`` (MODEL_TRUSTED_TYPES) are trusted in a
    skops file beyond those its model.json records.

    Raises
    ------
    ModelDirError
        The directory does not exist, a sidecar of ours is invalid, or its model file is missing or does not match
        its sha256; with ``require_sidecar`` also when there is not exactly one sidecar, or it is not ours.
    """
    if model_dir is None:
        return None
    if require_sidecar:
        info = read_model_info(resolve_model_dir(model_dir))
        if verify:
            verify_model_file(info, trusted_types)
        return info
    infos = []
    for path in find_model_dirs(model_dir):
        try:
            infos.append(read_model_info(path))
        except NotASidecar as exc:
            if verify:
                log.warning("%s Serving %s as a folder without model metadata.", exc, path)
    if verify:
        for info in infos:
            verify_model_file(info, trusted_types)
    return infos[0] if len(infos) == 1 else None


def load_model(model_dir: Path, *, trusted_types: tuple[str, ...] = ()) -> tuple[object, ModelInfo]:
    """Resolve ``model_dir``, read and validate model.json, verify the sha256, then load the model: ``joblib.load``
    for joblib, ``skops.io.load`` for skops, trusting exactly model.json's ``trusted_types`` plus ``trusted_types``
    (the operator's MODEL_TRUSTED_TYPES), after checking that the file needs no other.

    Logs a warning when the model was trained with another scikit-learn version.

    Raises
    ------
    UntrustedTypes
        A skops file holds a type neither trusts; refused before anything of the file is loaded.
    ModelDirError
        From :func:`resolve_model_dir`, :func:`read_model_info` or :func:`verify_model_file`, or when the verified
        file still cannot be loaded.
    """
    info = read_model_info(resolve_model_dir(model_dir))
    _warn_on_version_skew(info)
    return model_format.load(info.path, info.sidecar, also_trusted=tuple(trusted_types)), info


def describe(info: ModelInfo) -> dict[str, Any]:
    """The JSON body of ``GET /model``: identity, provenance and input schema of the served model."""
    return model_format.describe(info.sidecar, info.name, info.version)


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
