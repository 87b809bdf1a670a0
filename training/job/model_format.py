"""Formats 1 and 2 of the model directory (docs/model-directory.md): keys, checks, sha256 and skops type checks, writes.

The one implementation of the contract between the training job (writer), the registry and the service (readers).
It imports only the standard library and numpy (skops lazily, for a skops model only) because training/job/ holds a
byte-identical copy of it (the Azure ML snapshot must run on its own; ``make vendor`` refreshes the copy and
tests/test_model_format.py fails when they differ).
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
SKOPS_FILE = "model.skops"
FORMATS = (1, 2)
"""The sidecar formats readers accept. A writer writes the lowest one that describes its model: 1 for joblib (what
older readers know), 2 for skops (so an older reader refuses it instead of unpickling a skops file)."""
SERIALIZATIONS = {"joblib": (MODEL_FILE, 1), "skops": (SKOPS_FILE, 2)}
"""``serialization_format`` -> the model file a writer names and the sidecar format it writes."""
TRUSTED_TYPES_SETTING = "MODEL_TRUSTED_TYPES"
"""The service setting with which an operator trusts more types than a skops model's model.json records."""
_TYPE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_SHOWN_TYPES = 10
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
    Key("serialization_format", "str or absent", expect='"joblib" or "skops" (required from format 2)'),
    Key("trusted_types", "list[str] or absent", expect="a list of fully qualified type names"),
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


class UntrustedTypes(ModelDirError):
    """A skops model file holds types that neither its model.json nor the reader's setting trusts; nothing of the file
    was loaded."""


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
    """Parse and validate ``directory/model.json`` (format 1 or 2). Never opens the model file.

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
    version = sidecar.get("format")
    if version not in FORMATS:
        raise ModelDirError(f"{path} has format {version!r}, but this version reads formats "
                            f"{' and '.join(map(str, FORMATS))}. Re-train the model or upgrade.")

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
    _check_serialization(sidecar, version, bad)
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


def verify(directory: Path, sidecar: dict[str, Any], *, also_trusted: tuple[str, ...] = ()) -> Path:
    """Check the model file against the sidecar's sha256, so a tampered file is never unpickled, and a skops file's
    types against :func:`check_trusted_types`; returns its path.

    Raises
    ------
    UntrustedTypes
        A skops file holds types neither its sidecar's ``trusted_types`` nor ``also_trusted`` names.
    ModelDirError
        The model file is missing, unreadable, a link out of ``directory``, or its sha256 differs (both named); a
        skops file that skops cannot read, or skops is not installed.
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
    if serialization_format(sidecar) == "skops":
        check_trusted_types(path, sidecar, also_trusted)
    return path


def is_type_name(text: str) -> bool:
    """Whether ``text`` is a fully qualified type name such as ``sklearn.tree._tree.Tree`` (trusted_types' entries)."""
    return bool(_TYPE_NAME.fullmatch(text))


def serialization_format(sidecar: dict[str, Any]) -> str:
    """How a validated sidecar's model file is serialized: ``"joblib"`` (format 1 has no key for it) or ``"skops"``."""
    return sidecar.get("serialization_format", "joblib")


def check_trusted_types(path: Path, sidecar: dict[str, Any], also_trusted: tuple[str, ...] = ()) -> list[str]:
    """The types skops needs trusted to load the skops file at ``path``, when each is in the sidecar's
    ``trusted_types`` or in ``also_trusted``; returns that list.

    ``skops.io.get_untrusted_types`` reads only the file's schema: it imports no module the file names and builds
    nothing, so a refused file has run nothing.

    Raises
    ------
    UntrustedTypes
        Some type is trusted by neither; the one-line message names them and how to allow them.
    ModelDirError
        skops is not installed, or the file is not a skops file it can read.
    """
    try:
        import skops.io
    except ImportError:
        raise ModelDirError(f"Model file {path} is a skops file, but skops is not installed here. Install skops "
                            "(the version pinned in requirements-service.txt) to load it.") from None
    try:
        present = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # a zip or schema that skops cannot parse can raise many types; name the cause
        raise ModelDirError(f"Model file {path} is not a skops file that skops can read: "
                            f"{type(exc).__name__}: {_one_line(str(exc))}") from None
    allowed = set(sidecar.get("trusted_types") or ()) | set(also_trusted)
    unexpected = sorted(set(present) - allowed)
    if unexpected:
        shown = ", ".join(_one_line(name) for name in unexpected[:_SHOWN_TYPES])
        more = f" and {len(unexpected) - _SHOWN_TYPES} more" if len(unexpected) > _SHOWN_TYPES else ""
        raise UntrustedTypes(
            f"Model file {path} holds {len(unexpected)} type(s) that {SIDECAR} does not record as trusted: "
            f"{shown}{more}. Refusing to load it (nothing of it has run): re-train the model with --format skops, "
            f"which records the types it writes, or, if you vouch for these types, allow them with the service "
            f"setting {TRUSTED_TYPES_SETTING}."
        )
    return present


def load(directory: Path, sidecar: dict[str, Any], *, also_trusted: tuple[str, ...] = ()) -> object:
    """:func:`verify` the model file, then load it: ``joblib.load`` for joblib, ``skops.io.load`` for skops trusting
    exactly the sidecar's ``trusted_types`` plus ``also_trusted``. The one place a model file is deserialized.

    Raises
    ------
    ModelDirError
        From :func:`verify` (:class:`UntrustedTypes` included), or when the verified file still cannot be loaded.
    """
    path = verify(directory, sidecar, also_trusted=also_trusted)
    try:
        if serialization_format(sidecar) == "skops":
            import skops.io

            # skops checks the types again as it builds them, so a file swapped after verify is refused too.
            return skops.io.load(path, trusted=sorted({*sidecar["trusted_types"], *also_trusted}))
        import joblib

        return joblib.load(path)
    except Exception as exc:  # loading can raise anything; the file's hash was fine, so name the cause
        raise ModelDirError(f"Model file {path} could not be loaded: {type(exc).__name__}: {exc}") from exc


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
        "serialization_format": serialization_format(sidecar),
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


def _check_serialization(sidecar: dict[str, Any], version: int, bad) -> None:
    """``serialization_format`` and ``trusted_types`` against the sidecar's format (``bad(key, expected)`` words it)."""
    if "serialization_format" not in sidecar:
        if version >= 2:
            raise bad("serialization_format", f'"joblib" or "skops" in format {version}')
        return
    allowed = [name for name, (_, since) in SERIALIZATIONS.items() if since <= version]
    if sidecar["serialization_format"] not in allowed:
        # A format-1 reader ignores unknown keys, so a format-1 sidecar must never name a model it would misread.
        raise bad("serialization_format", f"{' or '.join(map(json.dumps, allowed))} in format {version}")
    trusted = sidecar.get("trusted_types")
    if sidecar["serialization_format"] == "skops":
        if not isinstance(trusted, list) or not all(isinstance(t, str) and is_type_name(t) for t in trusted):
            raise bad("trusted_types", "a list of fully qualified type names (what skops.io.get_untrusted_types "
                                       "listed for the written file)")
    elif "trusted_types" in sidecar:
        raise bad("trusted_types", "absent for a joblib model")


def _one_line(text: str) -> str:
    """``text`` with control characters escaped and cut to 80 characters: names read from a file go in one line."""
    escaped = text.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= 80 else escaped[:77] + "..."


def _has_json_type(value: object, type_text: str) -> bool:
    allowed = tuple(_JSON_TYPES[part.split("[")[0]] for part in type_text.split(" or "))
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)
