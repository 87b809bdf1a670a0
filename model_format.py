"""Format 1 of the model directory (docs/model-directory.md): its keys, checks, sha256 verification and atomic write.

The one implementation of the contract between the training job (writer), the registry and the service (readers).
It imports only the standard library and numpy because training/job/ holds a byte-identical copy of it (the Azure ML
snapshot must run on its own; ``make vendor`` refreshes the copy and tests/test_model_format.py fails when they differ).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SIDECAR = "model.json"
MODEL_FILE = "model.joblib"
FORMAT = 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASH_BLOCK = 1 << 20
_QUOTE_CAP = 40


@dataclass(frozen=True)
class Key:
    """One key of model.json: its name, its type as docs/model-directory.md writes it, and whether readers need it."""

    name: str
    type: str
    required: bool = False
    expect: str = ""
    """How a message words a valid value when it differs from the type (``"64 lower-case hex digits"``)."""

    @property
    def expected(self) -> str:
        """``expect``, else the type in words: ``"a list or null"``."""
        return self.expect or " or ".join(_WORDS[part.split("[")[0]] for part in self.type.split(" or "))


KEYS = (
    Key("format", "int", required=True),
    Key("model_file", "str", required=True, expect="a file name relative to the model directory"),
    Key("sha256", "str", required=True, expect="64 lower-case hex digits"),
    Key("sklearn_version", "str"),
    Key("python_version", "str"),
    Key("estimator", "str"),
    Key("task", "str"),
    Key("feature_names", "list[str] or null"),
    Key("n_features", "int", required=True, expect="a positive integer"),
    Key("input_dtype", "str", required=True, expect='a numeric numpy dtype name such as "float64"'),
    Key("classes", "list or null"),
    Key("has_predict_proba", "bool", required=True),
    Key("input_sample", "list[list]", required=True, expect="a non-empty list of rows of numbers"),
    Key("output_sample", "list"),
    Key("params", "object"),
    Key("metrics", "object"),
    Key("data_fingerprint", "str"),
    Key("run_id", "str or null"),
    Key("created_at", "str"),
    Key("registration", "object or absent"),
)
# Named, not parsed with np.dtype(): that accepts structured and deprecated spellings and may warn.
NUMERIC_DTYPES = frozenset(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                            "float32", "float64"])
# Our sidecar is recognised by content: a JSON object with either of these keys. Another library's model.json (a
# TF.js model, a config file) has neither.
SIGNATURE = ("model_file", "sha256")
_JSON_TYPES = {"int": int, "str": str, "bool": bool, "list": list, "object": dict, "null": type(None), "absent": ()}
_WORDS = {"int": "an integer", "str": "a string", "bool": "true or false", "list": "a list", "object": "a JSON object",
          "null": "null", "absent": "absent"}


class ModelDirError(ValueError):
    """A directory that is not a usable model directory; the message names what was expected and what was found."""


class NotASidecar(ModelDirError):
    """The directory's model.json exists but is not this contract's sidecar (not a JSON object with model_file or
    sha256): another library's file, which a reader that needs no metadata may ignore."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_sidecar(directory: Path) -> dict[str, Any]:
    """Parse and validate ``directory/model.json`` (format 1). Never opens the model file.

    Raises
    ------
    NotASidecar
        model.json is not UTF-8 JSON, not an object, or has none of the keys that make it ours (:data:`SIGNATURE`).
    ModelDirError
        ``directory`` is not a directory, has no model.json or cannot read it; the sidecar is ours but of another
        format, or a key is missing or malformed.
    """
    directory = Path(directory)
    path = directory / SIDECAR
    if not directory.is_dir():
        raise ModelDirError(f"Model directory {directory} does not exist or is not a directory; expected a directory "
                            f"holding {MODEL_FILE} and {SIDECAR} (docs/model-directory.md).")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelDirError(f"{directory} has no {SIDECAR}; expected a model directory written by the training job "
                            f"({MODEL_FILE} + {SIDECAR}, docs/model-directory.md).") from None
    except OSError as exc:  # unreadable: whose it is cannot be told, so it is not waved through as a foreign file
        raise ModelDirError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotASidecar(f"{path} is not a readable UTF-8 JSON file: {exc}") from None
    try:
        sidecar = json.loads(text)
    except ValueError as exc:
        raise NotASidecar(f"{path} is not a readable UTF-8 JSON file: {exc}") from None
    if not isinstance(sidecar, dict):
        raise NotASidecar(f"{path} must hold a JSON object, got {type(sidecar).__name__}.")
    if not any(key in sidecar for key in SIGNATURE):
        raise NotASidecar(f"{path} is a JSON object without {' or '.join(map(repr, SIGNATURE))}, so it is not a "
                          "model directory sidecar (docs/model-directory.md).")
    validate(sidecar, path)
    return sidecar


def validate(sidecar: dict[str, Any], path: Path | str = SIDECAR) -> None:
    """Check a sidecar's format and every known key's type (unknown keys are ignored); ``path`` names it in messages.

    Raises
    ------
    ModelDirError
        Another format, or a key that is missing (when required) or malformed, naming expected and actual.
    """
    if sidecar.get("format") != FORMAT:
        raise ModelDirError(f"{path} has format {sidecar.get('format')!r}, but this version reads format {FORMAT}. "
                            "Re-train the model or upgrade.")

    def bad(key: str, expected: str) -> ModelDirError:
        got = "missing" if key not in sidecar else f"{type(sidecar[key]).__name__} {quote(sidecar[key])}"
        return ModelDirError(f"{path}: key {key!r} must be {expected}, got {got}.")

    for key in KEYS:
        if (key.name not in sidecar and key.required) or (
            key.name in sidecar and not _has_json_type(sidecar[key.name], key.type)
        ):
            raise bad(key.name, key.expected)
    model_file = Path(sidecar["model_file"])
    name = sidecar["model_file"]
    if not name or "\0" in name or model_file.is_absolute() or ".." in model_file.parts:
        raise bad("model_file", "a file name relative to the model directory")
    if not _HEX64.fullmatch(sidecar["sha256"]):
        raise bad("sha256", "64 lower-case hex digits")
    n_features = sidecar["n_features"]
    if n_features < 1:
        raise bad("n_features", "a positive integer")
    if sidecar["input_dtype"] not in NUMERIC_DTYPES:
        raise bad("input_dtype", 'a numeric numpy dtype name such as "float64"')
    dtype = np.dtype(sidecar["input_dtype"])
    names = sidecar.get("feature_names")
    if names is not None and (len(names) != n_features or not all(isinstance(n, str) for n in names)
                              or len(set(names)) != len(names)):
        raise bad("feature_names", f"null or a list of {n_features} distinct strings")
    sample = sidecar["input_sample"]
    if not sample or not all(isinstance(row, list) and len(row) == n_features for row in sample):
        raise bad("input_sample", f"a non-empty list of rows of {n_features} numbers")
    try:
        with np.errstate(all="raise"):  # a value float16 cannot hold is refused, not turned into inf with a warning
            np.asarray(sample, dtype=dtype)
    except (TypeError, ValueError, OverflowError, FloatingPointError):
        raise bad("input_sample", f"rows of {dtype.name} values") from None


def model_file_path(directory: Path, sidecar: dict[str, Any]) -> Path:
    """The model file of a validated sidecar, refused when it resolves (through a link) outside ``directory``.

    Raises
    ------
    ModelDirError
        The model file is a link to a file outside the model directory.
    """
    path = Path(directory) / sidecar["model_file"]
    # model.json may only vouch for a file of its own directory; a link elsewhere would let the hash follow a file
    # that anyone with write access to that other place can swap between the check and the load.
    inside, target = Path(directory).resolve(), path.resolve()
    if not target.is_relative_to(inside):
        raise ModelDirError(f"Model file {path} is a link to {target}, outside the model directory {inside}. "
                            "Refusing to load it: copy the model file into the model directory.")
    return path


def verify(directory: Path, sidecar: dict[str, Any]) -> Path:
    """Check the model file against the sidecar's sha256, so a tampered file is never unpickled; returns its path.

    Raises
    ------
    ModelDirError
        The model file is missing, unreadable, a link out of ``directory``, or its sha256 differs (both named).
    """
    path = model_file_path(directory, sidecar)
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ModelDirError(f"Model file {path} cannot be read: {exc.strerror or exc}.") from None
    if actual != sidecar["sha256"]:
        raise ModelDirError(
            f"Model file {path} has sha256 {actual}, but {SIDECAR} expects {sidecar['sha256']}; the file was changed "
            "after training. Refusing to load it: restore the original file or re-register the model."
        )
    return path


def check(directory: Path) -> dict[str, Any]:
    """:func:`read_sidecar` then :func:`verify`: what any reader does before trusting a model directory."""
    sidecar = read_sidecar(directory)
    verify(directory, sidecar)
    return sidecar


def write_sidecar(directory: Path, sidecar: dict[str, Any]) -> Path:
    """Validate ``sidecar`` and write it as ``directory/model.json`` atomically and durably: a partial file, synced,
    renamed into place, then the directory synced. A directory with a model.json is complete, also after a power
    loss. Returns the path.

    Raises
    ------
    ModelDirError
        The sidecar breaks the format: nothing is written.
    """
    path = Path(directory) / SIDECAR
    validate(sidecar, path)
    partial = path.with_name(SIDECAR + ".partial")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(sidecar, indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def describe(sidecar: dict[str, Any], name: str | None, version: int | None) -> dict[str, Any]:
    """The JSON body of the service's ``GET /model``: identity, provenance and input schema of a model directory."""
    return {
        "name": name,
        "version": version,
        "sha256": sidecar["sha256"],
        "estimator": sidecar.get("estimator"),
        "task": sidecar.get("task"),
        "sklearn_version": sidecar.get("sklearn_version"),
        "classes": sidecar.get("classes"),
        "feature_names": sidecar.get("feature_names"),
        "n_features": sidecar["n_features"],
        "input_dtype": np.dtype(sidecar["input_dtype"]).name,
        "input_sample": sidecar["input_sample"],
        "has_predict_proba": sidecar["has_predict_proba"],
        "metrics": sidecar.get("metrics", {}),
        "run_id": sidecar.get("run_id"),
        "created_at": sidecar.get("created_at"),
    }


def quote(value: object) -> str:
    """``repr`` of a value's text, cut to 40 characters, for messages that echo what came."""
    return repr(str(value)[:_QUOTE_CAP])


def _has_json_type(value: object, type_text: str) -> bool:
    allowed = tuple(_JSON_TYPES[part.split("[")[0]] for part in type_text.split(" or "))
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)
