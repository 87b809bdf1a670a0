"""Scalars to a dtype: one numpy call (plus vectorised checks) converts valid input; for invalid input the first bad
value is found by bisection and named with its position.

The rules are inference-schema 1.8's for every input it converts correctly (ints and booleans for float samples,
numeric strings, integral floats for integer samples), stricter where it fails or corrupts: null, NaN and ±Infinity,
non-numeric strings, nested values, a fraction or an out-of-range value for an integer dtype, and anything but
true/false/0/1 for a boolean dtype are refused.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from service.conversion_errors import ConversionError, Spec, describe, quote

_SEQUENCES = (list, tuple)  # JSON arrays, and the tuples records are turned into
_POS = "\0"  # stands for the position in a leaf message; quoted client values never contain a raw NUL


def convert_values(spec: Spec, value: list, dtype: np.dtype | None, column: int | None = None) -> np.ndarray:
    """``value`` (rows, or one column's values when ``column`` is given) as an array of ``dtype``.

    One numpy call plus vectorised checks; on any doubt, :func:`diagnose` names the first bad value.

    Raises
    ------
    ConversionError
        A value ``dtype`` does not accept, or (rows) a row that is not an array or is ragged.
    """
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = _fast(value, dtype)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None:
        raise ConversionError(_diagnose(spec, value, dtype, column, _fast))
    return array


def _fast(value: list, dtype: np.dtype | None) -> np.ndarray | None:
    if dtype is None:
        array = np.array(value)
        if array.dtype.kind == "O" or (array.dtype.kind in "fc" and not np.isfinite(array).all()):
            return None
        return array
    if dtype.kind == "f":
        array = np.array(value, dtype=dtype)
        return array if np.isfinite(array).all() else None
    inferred = np.array(value)
    if dtype.kind == "b":
        if inferred.dtype.kind == "b":
            return inferred
        if inferred.dtype.kind in "iuf" and np.isin(inferred, (0, 1)).all():
            return inferred.astype(dtype)
        return None
    return _to_int(inferred, dtype, value)


def _to_int(array: np.ndarray, dtype: np.dtype, value: list | None = None) -> np.ndarray | None:
    """Integers, integral floats and integer-valued numeric strings, each checked against ``dtype``'s range."""
    kind = array.dtype.kind
    if kind == "U":  # numeric strings: integers exactly, else via float (integral "5.0"); mixed with numbers or bools
        widest = np.uint64 if dtype.kind == "u" else np.int64
        try:
            integers = array.astype(widest)
        except (ValueError, OverflowError):
            return _to_int(np.array(value, dtype=np.float64), dtype)
        # numpy wraps a string beyond the widest integer around silently: one that does not read back is out of range
        if not np.array_equal(integers.astype(np.float64), array.astype(np.float64)):
            return None
        return _to_int(integers, dtype)
    if kind not in "biuf":
        return None
    if kind == "f" and not (np.isfinite(array).all() and (array == np.trunc(array)).all()):
        return None
    info = np.iinfo(dtype)
    # A float compares with the exclusive bound: float(2**63 - 1) rounds up to 2**63, which int64 cannot hold.
    too_large = array.max() >= float(info.max + 1) if kind == "f" else array.max() > info.max
    if array.size and (array.min() < info.min or too_large):
        return None
    return array.astype(dtype)


def _diagnose(
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
        return head + f" has a nested array {quote(leaf)} at {_POS} where a single value was expected; {expects}."
    if isinstance(leaf, dict):
        return head + f" has an object {quote(leaf)} at {_POS} where a single value was expected; {expects}."
    if dtype is None:
        return _nonfinite(head, spec, leaf) if isinstance(leaf, float) else None
    if dtype.kind == "b":
        if isinstance(leaf, bool) or (isinstance(leaf, int | float) and leaf in (0, 1)):
            return None
        return head + f" has value {quote(leaf)} at {_POS}; {spec.who} expects booleans (true or false, or 0 or 1)."
    number = leaf
    if isinstance(leaf, str):
        number = _parse_number(leaf, integer=dtype.kind in "iu")
        if number is None:
            return head + f" has a non-numeric value {quote(leaf)} at {_POS}; {expects}. Send numbers, not strings."
    if isinstance(number, float):
        problem = _nonfinite(head, spec, number)
        if problem:
            return problem
        if dtype.kind in "iu" and not number.is_integer():
            return head + f" has a non-integer value {quote(leaf)} at {_POS}; {expects}."
    if not isinstance(number, int | float):
        return head + f" has {describe(leaf)} at {_POS}; {expects}."
    if dtype.kind in "iu":
        low, high = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    else:
        high = float(np.finfo(dtype).max)
        low = -high
    if not low <= number <= high:
        bounds = f"{low} to {high}" if dtype.kind in "iu" else f"{low:g} to {high:g}"
        return head + f" has value {quote(leaf)} at {_POS}, which is out of range for {dtype.name} ({bounds})."
    return None


def _nonfinite(head: str, spec: Spec, number: float) -> str | None:
    if np.isnan(number):
        return head + f" contains NaN at {_POS}; {spec.who} does not accept missing values."
    if np.isinf(number):
        sign = "-" if number < 0 else ""
        return head + f" contains {sign}Infinity at {_POS}; {spec.who} accepts only finite numbers."
    return None


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
