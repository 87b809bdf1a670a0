"""Flask-free conversion of parsed JSON arguments to numpy arrays and pandas DataFrames: vectorised, with clear errors.

The rules are inference-schema 1.8's (``NumpyParameterType`` / ``PandasParameterType``) for every input it converts
correctly, so a client that works against azureml-inference-server-http gets the same arrays here. Deliberately
stricter (a :class:`ConversionError`, which the service answers with 400, where the reference answers 500 or silently
corrupts the value):

- null, NaN and ±Infinity (also as strings, or a float beyond the dtype's range) are rejected: models never get
  missing values through this path;
- non-numeric strings, objects or nested arrays where a number is expected, ragged rows, a wrong ndim or column count,
  0 rows, and an argument that is not an array are rejected, naming the position and the expected shape;
- integer samples: a float with a fraction (1.7) or a value outside the dtype's range is rejected (the reference
  truncates or overflows); boolean samples accept only true/false and 0/1 (the reference turns "false" into True);
- records (pandas, or :class:`FeatureMatrixType`) must carry exactly the sample's column names.

Accepted as by the reference: ints and booleans for float samples, numeric strings (" 5.1 ", "1e3"), integral floats
for integer samples; the first dimension (batch size) is free.
"""

from __future__ import annotations

import json
from functools import cached_property
from operator import itemgetter

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

_QUOTE_MAX = 40
_LIST_MAX = 5
_SEQUENCES = (list, tuple)  # JSON arrays, and the tuples records are turned into
_POS = "\0"  # stands for the position in a leaf message; quoted client values never contain a raw NUL
_STANDARD_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


class ConversionError(ValueError):
    """Client input that cannot be converted; the message names expected vs actual and is safe to send back."""


class FeatureMatrixType(NumpyParameterType):
    """A ``NumpyParameterType`` for a model's feature matrix that also accepts records with column names.

    ``[{"sepal length (cm)": 5.1, ...}, ...]`` is reordered into ``feature_names`` order. The swagger schema is the
    parent's, so documents equal those of a plain ``NumpyParameterType`` with the same sample. ``model_label``
    (e.g. ``"model iris (version 2)"``) and ``input_name`` only shape error messages.
    """

    def __init__(
        self,
        sample_input,
        feature_names=None,
        *,
        model_label="the model",
        input_name="data",
        enforce_column_type=True,
        enforce_shape=True,
    ):
        super().__init__(sample_input, enforce_column_type=enforce_column_type, enforce_shape=enforce_shape)
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.model_label = model_label
        self.input_name = input_name

    def deserialize_input(self, input_data):
        """Convert rows or records to an ndarray of the sample's dtype (also under the reference server).

        Raises
        ------
        ConversionError
            As :func:`to_array`.
        """
        return to_array(self.input_name, input_data, self)


def convert_argument(name: str, value, param_type, *, optional: bool = False):
    """Convert one decorated ``run()`` argument the way inference-schema would, but vectorised and with 4xx errors.

    ``NumpyParameterType`` (and :class:`FeatureMatrixType`) → ndarray; ``PandasParameterType`` → DataFrame;
    ``StandardPythonParameterType`` with a str/int/float/bool sample → ``value`` after a type check; anything else →
    ``value`` unchanged. ``optional`` mirrors ``input_schema(..., optional=True)``: a falsy value passes unchanged.

    Raises
    ------
    ConversionError
        The value does not fit the parameter's sample (the message names the argument, expected and actual).
    """
    if optional and not value:
        return value
    if isinstance(param_type, NumpyParameterType):
        return to_array(name, value, param_type)
    if _is_pandas_type(param_type):
        return to_frame(name, value, param_type)
    if isinstance(param_type, StandardPythonParameterType):
        expected = type(param_type.sample_input)
        if expected in _STANDARD_TYPES and not (
            isinstance(value, expected) or (expected is float and type(value) is int)
        ):
            raise ConversionError(f'Input "{name}" must be {_STANDARD_TYPES[expected]}, got {_describe(value)}.')
    return value


def to_array(name: str, value, param_type: NumpyParameterType) -> np.ndarray:
    """Convert parsed JSON ``value`` to an ndarray shaped and typed like ``param_type.sample_input``.

    Numeric (float, int, uint, bool) samples take the vectorised path; other dtypes (datetime, str, structured) are
    converted by inference-schema itself, with its errors turned into :class:`ConversionError`.

    Raises
    ------
    ConversionError
        See the module docstring for the rejected inputs.
    """
    if isinstance(value, np.ndarray):
        return value
    spec = _Spec(name, param_type)
    if not isinstance(value, list):
        raise ConversionError(spec.wrong_type(value))
    if not value:
        raise ConversionError(f'Input "{name}" has 0 rows (shape=(0,)) while a minimum of 1 is required by {spec.who}.')
    if spec.feature_names is not None and isinstance(value[0], dict):
        value = _records_to_rows(spec, value)
    dtype = param_type.sample_input.dtype
    if not param_type.enforce_column_type:
        array = _convert(spec, value, None)
    elif dtype.kind in "biuf":
        array = _convert(spec, value, dtype)
    else:
        return _with_inference_schema(name, value, param_type)
    if param_type.enforce_shape:
        _check_shape(spec, array)
    return array


def to_frame(name: str, value, param_type):
    """Convert records (``[{"col": value, ...}, ...]``) to a DataFrame with the sample's columns, order and dtypes.

    Only a records-orient ``PandasParameterType`` with default flags whose sample columns are all numeric or boolean
    takes this path; any other is converted by inference-schema, with its errors turned into :class:`ConversionError`.

    Raises
    ------
    ConversionError
        Not a list of objects, 0 records, missing or unknown columns, or a value the column's dtype does not accept.
    """
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    sample = param_type.sample_input
    dtypes = sample.dtypes
    numeric = all(isinstance(t, np.dtype) and t.kind in "biuf" for t in dtypes)
    simple = param_type.enforce_column_type and param_type.enforce_shape and not param_type.apply_column_names
    if param_type.orient != "records" or not numeric or not simple:
        return _with_inference_schema(name, value, param_type)
    spec = _Spec(name, param_type, columns=[str(c) for c in sample.columns])
    if not isinstance(value, list):
        raise ConversionError(spec.wrong_type(value))
    if not value:
        raise ConversionError(f'Input "{name}" has 0 records while a minimum of 1 is required by {spec.who}.')
    rows = _records_to_rows(spec, value)
    if dtypes.nunique() == 1:  # one dtype: convert the whole matrix in one numpy call
        return pd.DataFrame(_convert(spec, rows, dtypes.iloc[0]), columns=sample.columns)
    data = {}
    for j, column in enumerate(sample.columns):
        data[column] = _convert(spec, [row[j] for row in rows], dtypes.iloc[j], column=j)
    return pd.DataFrame(data, columns=sample.columns)


class _Spec:
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
        return _example(self._sample)

    def position(self, index: tuple[int, ...]) -> str:
        if len(index) == 1:
            return f"row {index[0]}" if self.ndim >= 2 else f"position {index[0]}"
        if len(index) == 2 and self.ndim == 2:
            named = f" ({self.feature_names[index[1]]})" if self.feature_names else ""
            return f"row {index[0]}, column {index[1]}{named}"
        return f"index {list(index)}"

    def expected_rows(self) -> str:
        if self.records:
            return f"a JSON array of records (objects with the columns {_names(self.feature_names)})"
        if self.ndim == 2:
            return f"a JSON array of rows of {self.shape[1]} values"
        return f"a {self.ndim}-D JSON array"

    def wrong_type(self, value) -> str:
        hint = ""
        if isinstance(value, dict) and self.feature_names and set(value) & set(self.feature_names):
            hint = " To send one record, wrap it in a list: [{...}]."
        elif isinstance(value, str) and value.lstrip().startswith(("[", "{")):
            hint = " The string looks like JSON encoded twice: send the array itself, not a string holding it."
        elif self.example:
            hint = f" For example: {self.example}."
        return f'Input "{self.name}" must be {self.expected_rows()}, got {_describe(value)}.{hint}'


def _convert(spec: _Spec, value: list, dtype: np.dtype | None, column: int | None = None) -> np.ndarray:
    """Fast path: one numpy call plus vectorised checks; on any doubt, :func:`_diagnose` finds and names the culprit."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = _fast(value, dtype)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None:
        raise ConversionError(_diagnose(spec, value, dtype, column))
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
        try:
            return _to_int(array.astype(np.int64), dtype)
        except (ValueError, OverflowError):
            return _to_int(np.array(value, dtype=np.float64), dtype)
    if kind not in "biuf":
        return None
    if kind == "f" and not (np.isfinite(array).all() and (array == np.trunc(array)).all()):
        return None
    info = np.iinfo(dtype)
    if array.size and (array.min() < info.min or array.max() > info.max):
        return None
    return array.astype(dtype)


def _diagnose(spec: _Spec, value: list, dtype: np.dtype | None, column: int | None) -> str:
    """Error path only: find the first bad row by bisection with the fast converter, then name its first bad value.

    Bisection keeps a bad request cheap (about two conversions' worth of numpy work), so an invalid 100 000-row body
    costs the server no more than a valid one.
    """
    depth = 1 if column is not None else _check_structure(spec, value)

    def converts(chunk: list) -> bool:
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                return _fast(chunk, dtype) is not None
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


def _check_structure(spec: _Spec, value: list) -> int:
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


def _row_problem(spec: _Spec, index: tuple, node, first_index: tuple, width: int | None) -> str:
    where = spec.position(index)
    where = where[0].upper() + where[1:]
    if isinstance(node, list | tuple):
        return (
            f'{where} of input "{spec.name}" has {len(node)} values, but {spec.position(first_index)} has {width}; '
            "every row must have the same number of values."
        )
    what, fix = _describe(node), ""
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


def _leaf_problem(spec: _Spec, leaf, dtype: np.dtype | None) -> str | None:
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
        return head + f" has {_describe(leaf)} at {_POS}; {expects}."
    if dtype.kind in "iu":
        low, high = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    else:
        high = float(np.finfo(dtype).max)
        low = -high
    if not low <= number <= high:
        bounds = f"{low} to {high}" if dtype.kind in "iu" else f"{low:g} to {high:g}"
        return head + f" has value {_quote(leaf)} at {_POS}, which is out of range for {dtype.name} ({bounds})."
    return None


def _nonfinite(head: str, spec: _Spec, number: float) -> str | None:
    if np.isnan(number):
        return head + f" contains NaN at {_POS}; {spec.who} does not accept missing values."
    if np.isinf(number):
        sign = "-" if number < 0 else ""
        return head + f" contains {sign}Infinity at {_POS}; {spec.who} accepts only finite numbers."
    return None


def _records_to_rows(spec: _Spec, records: list) -> list:
    """Turn records into rows in feature order: one ``len`` per record to check, one itemgetter to extract."""
    names = spec.feature_names
    count = len(names)
    get = (lambda r: (r[names[0]],)) if count == 1 else itemgetter(*names)
    if all(isinstance(r, dict) and len(r) == count for r in records):
        try:
            return list(map(get, records))
        except KeyError:
            pass
    known = set(names)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ConversionError(
                f'Row {i} of input "{spec.name}" is {_describe(record)}, but row 0 is a record (object); send either '
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
            raise ConversionError(
                f'Record {i} of input "{spec.name}" {" and ".join(parts)}; {spec.who} expects the columns: '
                f"{_names(names, limit=20)}."
            )
    raise ConversionError(f'Input "{spec.name}" has records that do not match the columns {_names(names)}.')


def _check_shape(spec: _Spec, array: np.ndarray) -> None:
    expected = spec.shape
    if array.ndim != len(expected):
        hint = ""
        if array.ndim == 1 and len(expected) == 2 and array.shape[0] == expected[1]:
            hint = " To send one row, wrap it in a list: [[...]]."
        elif spec.example:
            hint = f" For example: {spec.example}."
        raise ConversionError(
            f'Input "{spec.name}" is a {array.ndim}-D array (shape {array.shape}), but {spec.who} expects '
            f"{spec.expected_rows()} ({len(expected)}-D).{hint}"
        )
    for dim in range(1, len(expected)):
        if array.shape[dim] == expected[dim]:
            continue
        if len(expected) == 2:
            names = f": {', '.join(spec.feature_names)}" if spec.feature_names and len(spec.feature_names) <= 20 else ""
            raise ConversionError(
                f'Input "{spec.name}" has {array.shape[1]} columns, but {spec.who} is expecting {expected[1]} features '
                f"as input{names}."
            )
        raise ConversionError(
            f'Input "{spec.name}" has size {array.shape[dim]} on dimension {dim} (shape {array.shape}), but '
            f"{spec.who} expects {expected[dim]} (sample shape {expected})."
        )


def _with_inference_schema(name: str, value, param_type):
    try:
        return param_type.deserialize_input(value)
    except Exception as exc:  # inference-schema raises bare Exception too; all of them mean "bad input" here
        raise ConversionError(f'Input "{name}" could not be converted: {_cap(str(exc), 120)}') from exc


def _is_pandas_type(param_type) -> bool:
    try:
        from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    except ImportError:  # no pandas installed: no pandas parameter can exist either
        return False
    return isinstance(param_type, PandasParameterType)


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


def _describe(value) -> str:
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
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return _cap(text, _QUOTE_MAX)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names(names: list, limit: int = _LIST_MAX) -> str:
    shown = ", ".join(_quote(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
