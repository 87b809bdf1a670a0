"""Conversion's slow path, run only after the fast path failed: find the culprit, word the client-facing 400 message."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property

import numpy as np

from service.errors import escape_markup

_QUOTE_MAX = 40
_LIST_MAX = 5
_SEQUENCES = (list, tuple)  # JSON arrays, and the tuples records are turned into
_POS = "\0"  # stands for the position in a leaf message; quoted client values never contain a raw NUL


class ConversionError(ValueError):
    """Client input that cannot be converted; the message names expected vs actual and is safe to send back."""


class Spec:
    """What one argument expects, and how messages name it and its positions."""

    def __init__(self, name, param_type, columns=None):
        self.name = name
        sample = param_type.sample_input
        self.ndim = sample.ndim
        self.shape = sample.shape
        self.records = columns is not None
        self.enforce_shape = param_type.enforce_shape
        self.feature_names = columns or getattr(param_type, "feature_names", None)
        self.who = getattr(param_type, "model_label", "the model")
        self._sample = sample

    @cached_property
    def example(self) -> str | None:
        """The sample's first row as JSON (``[[5.1, 3.5, 1.4, 0.2]]``) for hints; None when absent or too long."""
        return _example(self._sample)

    def position(self, index: tuple[int, ...]) -> str:
        """How a message names ``index``: ``row 3``, ``row 3, column 1 (sepal width (cm))`` or ``index [1, 2, 0]``."""
        if len(index) == 1:
            return f"row {index[0]}" if self.ndim >= 2 else f"position {index[0]}"
        if len(index) == 2 and self.ndim == 2:
            named = f" ({self.feature_names[index[1]]})" if self.feature_names else ""
            return f"row {index[0]}, column {index[1]}{named}"
        return f"index {list(index)}"

    def expected_rows(self) -> str:
        """What the argument must be, in words: ``a JSON array of rows of 4 values``, records, or an N-D array."""
        if self.records:
            return f"a JSON array of records (objects with the columns {_names(self.feature_names)})"
        if self.ndim == 2:
            return f"a JSON array of rows of {self.shape[1]} values"
        return f"a {self.ndim}-D JSON array"

    def wrong_type(self, value) -> str:
        """Message for a ``value`` that is not a JSON array at all, with a hint at the likely fix."""
        hint = ""
        if isinstance(value, dict) and self.feature_names and set(value) & set(self.feature_names):
            hint = " To send one record, wrap it in a list: [{...}]."
        elif isinstance(value, str) and value.lstrip().startswith(("[", "{")):
            hint = " The string looks like JSON encoded twice: send the array itself, not a string holding it."
        elif self.example:
            hint = f" For example: {self.example}."
        return f'Input "{self.name}" must be {self.expected_rows()}, got {describe(value)}.{hint}'


def diagnose(
    spec: Spec,
    value: list,
    dtype: np.dtype | None,
    column: int | None,
    fast: Callable[[list, np.dtype | None], np.ndarray | None],
) -> str:
    """Message for ``value``, which ``fast`` (the fast-path converter) rejected: its first bad value and position.

    The first bad row is found by bisection with ``fast``, which keeps a bad request cheap (about two conversions'
    worth of numpy work), so an invalid 100 000-row body costs the server no more than a valid one.

    Raises
    ------
    ConversionError
        A row is not an array, or rows differ in length (checked first, at every level above the values).
    """
    depth = 1 if column is not None else _check_structure(spec, value)

    def converts(chunk: list) -> bool:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                return fast(chunk, dtype) is not None
        except (TypeError, ValueError, OverflowError):
            return False

    row = _first_failing(value, converts)
    if row is not None:
        prefix = (row,) if column is None else (row, column)
        for index, leaf in _leaves(prefix, value[row], depth - 1):
            problem = _leaf_problem(spec, leaf, dtype)
            if problem:
                return problem.replace(_POS, spec.position(index))
    return f'Input "{spec.name}" could not be converted to {spec.expected_rows()} of {dtype or "values"}.'


def records_problem(spec: Spec, records: list) -> str:
    """Message for records the fast extraction rejected: names the first non-record or record with wrong columns."""
    names = spec.feature_names
    known = set(names)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return (
                f'Row {i} of input "{spec.name}" is {describe(record)}, but row 0 is a record (object); send either '
                "rows of values or records with column names, not both."
            )
        missing = [n for n in names if n not in record]
        unknown = [k for k in record if k not in known]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"is missing {_count(len(missing), 'feature')}: {_names(missing)}")
            if unknown:
                parts.append(f"has {_count(len(unknown), 'unknown column')}: {_names(unknown)}")
            return (
                f'Record {i} of input "{spec.name}" {" and ".join(parts)}; {spec.who} expects the columns: '
                f"{_names(names, limit=20)}."
            )
    return f'Input "{spec.name}" has records that do not match the columns {_names(names)}.'


def _check_structure(spec: Spec, value: list) -> int:
    """Raise for a row that is not an array or is ragged, at every level above the values; return the depth."""
    depth = spec.ndim if spec.enforce_shape else _depth(value)
    if depth == 2:  # the common case, in one cheap pass
        width = len(value[0]) if type(value[0]) in _SEQUENCES else None
        if all(map(_SEQUENCES.__contains__, map(type, value))) and set(map(len, value)) == {width}:
            return depth
        bad = next(i for i, row in enumerate(value) if type(row) not in _SEQUENCES or len(row) != width)
        raise ConversionError(_row_problem(spec, (bad,), value[bad], (0,), width))
    level = [((i,), v) for i, v in enumerate(value)]
    for d in range(1, depth):
        first_index, first = level[0]
        width = len(first) if isinstance(first, list | tuple) else None
        for index, node in level:
            if not isinstance(node, list | tuple) or len(node) != width:
                raise ConversionError(_row_problem(spec, index, node, first_index, width))
        if d < depth - 1:
            level = [(index + (j,), v) for index, node in level for j, v in enumerate(node)]
    return depth


def _row_problem(spec: Spec, index: tuple, node, first_index: tuple, width: int | None) -> str:
    where = spec.position(index)
    where = where[0].upper() + where[1:]
    if isinstance(node, list | tuple):
        return (
            f'{where} of input "{spec.name}" has {len(node)} values, but {spec.position(first_index)} has {width}; '
            "every row must have the same number of values."
        )
    what, fix = describe(node), ""
    if isinstance(node, dict):
        what = "a record (object)"
        fix = (
            " Send either rows of values or records with column names, not both."
            if spec.feature_names
            else " Records with column names need a model with feature names."
        )
    return f'{where} of input "{spec.name}" is {what}, but {spec.who} expects {spec.expected_rows()}.{fix}'


def _first_failing(items: list, converts) -> int | None:
    """Index of the first item that makes ``converts`` fail (it fails for a chunk iff the chunk has a bad item).

    A linear pass over 16 chunks, then bisection inside the failing one: about 1.1 conversions of the whole input.
    """
    step = max(1, len(items) // 16)
    for start in range(0, len(items), step):
        if converts(items[start : start + step]):
            continue
        low, high = start, min(start + step, len(items))  # the first bad item is in items[low:high]
        while high - low > 1:
            middle = (low + high) // 2
            if converts(items[low:middle]):
                low = middle
            else:
                high = middle
        return low
    return None


def _leaves(index: tuple, node, depth: int):
    """``(index, value)`` for every value ``depth`` levels below ``node`` (``node`` itself when depth is 0)."""
    if depth <= 0 or not isinstance(node, list | tuple):
        yield index, node
        return
    for j, child in enumerate(node):
        yield from _leaves(index + (j,), child, depth - 1)


def _depth(value) -> int:
    depth = 0
    while isinstance(value, list) and value:
        depth, value = depth + 1, value[0]
    return depth


def _leaf_problem(spec: Spec, leaf, dtype: np.dtype | None) -> str | None:
    """A message (with ``_POS`` where the position goes) when ``leaf`` is not acceptable for ``dtype``, else None."""
    head = f'Input "{spec.name}"'
    expects = f"{spec.who} expects {dtype.name if dtype is not None else 'numeric'} values"
    if leaf is None:
        return head + f" contains null at {_POS}; {spec.who} does not accept missing values."
    if isinstance(leaf, list | tuple):
        return head + f" has a nested array {_quote(leaf)} at {_POS} where a single value was expected; {expects}."
    if isinstance(leaf, dict):
        return head + f" has an object {_quote(leaf)} at {_POS} where a single value was expected; {expects}."
    if dtype is None:
        return _nonfinite(head, spec, leaf) if isinstance(leaf, float) else None
    if dtype.kind == "b":
        if isinstance(leaf, bool) or (isinstance(leaf, int | float) and leaf in (0, 1)):
            return None
        return head + f" has value {_quote(leaf)} at {_POS}; {spec.who} expects booleans (true or false, or 0 or 1)."
    number = leaf
    if isinstance(leaf, str):
        number = _parse_number(leaf, integer=dtype.kind in "iu")
        if number is None:
            return head + f" has a non-numeric value {_quote(leaf)} at {_POS}; {expects}. Send numbers, not strings."
    if isinstance(number, float):
        problem = _nonfinite(head, spec, number)
        if problem:
            return problem
        if dtype.kind in "iu" and not number.is_integer():
            return head + f" has a non-integer value {_quote(leaf)} at {_POS}; {expects}."
    if not isinstance(number, int | float):
        return head + f" has {describe(leaf)} at {_POS}; {expects}."
    if dtype.kind in "iu":
        low, high = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    else:
        high = float(np.finfo(dtype).max)
        low = -high
    if not low <= number <= high:
        bounds = f"{low} to {high}" if dtype.kind in "iu" else f"{low:g} to {high:g}"
        return head + f" has value {_quote(leaf)} at {_POS}, which is out of range for {dtype.name} ({bounds})."
    return None


def _nonfinite(head: str, spec: Spec, number: float) -> str | None:
    if np.isnan(number):
        return head + f" contains NaN at {_POS}; {spec.who} does not accept missing values."
    if np.isinf(number):
        sign = "-" if number < 0 else ""
        return head + f" contains {sign}Infinity at {_POS}; {spec.who} accepts only finite numbers."
    return None


def _example(sample) -> str | None:
    if not isinstance(sample, np.ndarray) or sample.ndim == 0 or not len(sample) or sample.dtype.kind not in "biuf":
        return None
    text = json.dumps(sample[:1].tolist())
    return text if len(text) <= 80 else None


def _parse_number(text: str, integer: bool) -> int | float | None:
    """Parse a numeric string as numpy does for the dtype: int() first for integer dtypes, then float()."""
    if integer:
        try:
            return int(text)
        except ValueError:
            pass
    try:
        return float(text)
    except ValueError:
        return None


def describe(value) -> str:
    """A client value as a message names it: ``null``, ``a string 'abc'``, ``an array of 3 values``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"a string {_quote(value)}"
    if isinstance(value, int | float):
        return f"a number {_quote(value)}"
    if isinstance(value, dict):
        return f"an object with keys {_names(list(value))}" if value else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} values"
    return f"a {type(value).__name__}"


def _quote(value) -> str:
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    except RecursionError:  # nesting the parser accepts can be deeper than the stdlib encoder's recursion limit
        return "(nested too deeply to quote)"
    return escape_markup(cap(text, _QUOTE_MAX))


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names(names: list, limit: int = _LIST_MAX) -> str:
    shown = ", ".join(_quote(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
