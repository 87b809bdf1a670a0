"""Parsed JSON to an ndarray shaped and typed like a ``NumpyParameterType`` sample (the batch size is free); records
with the sample's column names become rows in their order."""

from __future__ import annotations

from operator import itemgetter

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType

from service.conversion_errors import ConversionError, Spec, records_problem, with_inference_schema
from service.values import convert_values


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
        value = records_to_rows(spec, value)
    dtype = param_type.sample_input.dtype
    if not param_type.enforce_column_type:
        array = convert_values(spec, value, None)
    elif dtype.kind in "biuf":
        array = convert_values(spec, value, dtype)
    else:
        return with_inference_schema(name, value, param_type)
    if param_type.enforce_shape:
        _check_shape(spec, array)
    return array


def records_to_rows(spec: Spec, records: list) -> list:
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
