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

This module is the public API and the fast path (one numpy call for valid input); when that fails,
:mod:`service.conversion_errors` finds the first bad value and words the message.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

from service.conversion_errors import ConversionError, Spec, cap, describe, diagnose, records_problem
from service.errors import escape_markup

__all__ = ["ConversionError", "FeatureMatrixType", "convert_argument", "to_array", "to_frame"]

_STANDARD_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


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
            raise ConversionError(f'Input "{name}" must be {_STANDARD_TYPES[expected]}, got {describe(value)}.')
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
    spec = Spec(name, param_type)
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
    spec = Spec(name, param_type, columns=[str(c) for c in sample.columns])
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


def _convert(spec: Spec, value: list, dtype: np.dtype | None, column: int | None = None) -> np.ndarray:
    """Fast path: one numpy call plus vectorised checks; on any doubt, :func:`diagnose` names the culprit."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array = _fast(value, dtype)
    except (TypeError, ValueError, OverflowError):
        array = None
    if array is None:
        raise ConversionError(diagnose(spec, value, dtype, column, _fast))
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


def _records_to_rows(spec: Spec, records: list) -> list:
    """Turn records into rows in feature order: one ``len`` per record to check, one itemgetter to extract."""
    names = spec.feature_names
    count = len(names)
    get = (lambda r: (r[names[0]],)) if count == 1 else itemgetter(*names)
    if all(isinstance(r, dict) and len(r) == count for r in records):
        try:
            return list(map(get, records))
        except KeyError:
            pass
    raise ConversionError(records_problem(spec, records))


def _check_shape(spec: Spec, array: np.ndarray) -> None:
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
        raise ConversionError(f'Input "{name}" could not be converted: {escape_markup(cap(str(exc), 120))}') from exc


def _is_pandas_type(param_type) -> bool:
    try:
        from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    except ImportError:  # no pandas installed: no pandas parameter can exist either
        return False
    return isinstance(param_type, PandasParameterType)
