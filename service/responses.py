"""JSON output: run() return values and error bodies, always valid JSON (numpy and pandas serialised, NaN/Inf -> null).

orjson does the common case in one C call; anything it refuses (integers over 64 bits, odd numpy dtypes) takes a
slower stdlib path with the same rules, so output never depends on which path ran.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import orjson

_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj: object) -> object:
    """Map what orjson cannot serialise natively to JSON-able Python; TypeError for anything else."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, Decimal):
        return float(obj)
    module = type(obj).__module__
    if module.startswith("pandas"):
        if hasattr(obj, "to_dict") and hasattr(obj, "columns"):
            return obj.to_dict(orient="records")
        if hasattr(obj, "tolist"):
            return obj.tolist()
        if hasattr(obj, "isoformat"):
            return obj.isoformat()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _sanitise(obj: object) -> object:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else str(k): _sanitise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitise(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return _sanitise(_default(obj))


def dumps(obj: object) -> bytes:
    """Serialise ``obj`` to UTF-8 JSON bytes; non-finite floats become null.

    Raises
    ------
    TypeError
        When ``obj`` holds something with no JSON form (bytes, arbitrary objects).
    """
    try:
        return orjson.dumps(obj, default=_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, TypeError) and "not JSON serializable" in str(exc.__cause__):
            raise TypeError(str(exc.__cause__)) from exc
        return json.dumps(_sanitise(obj), ensure_ascii=False, allow_nan=False).encode("utf-8")


def run_answer(output: object, elapsed_ms: str) -> tuple[bytes, list[tuple[str, str]]]:
    """/score's 200 for a run() value that is not a response: the JSON body (``{}`` for None) and the Azure run
    headers, the function's time ``elapsed_ms`` as formatted for x-ms-run-fn-exec-ms.

    Raises
    ------
    TypeError
        As :func:`dumps`.
    """
    body = b"{}" if output is None else dumps(output)
    return body, [("x-ms-run-function-failed", "False"), ("x-ms-run-fn-exec-ms", elapsed_ms)]
