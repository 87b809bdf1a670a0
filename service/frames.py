"""Parsed JSON to a DataFrame for a ``PandasParameterType`` argument, in every orientation the reference accepts.

inference-schema re-serialises the value and calls ``pd.read_json(..., orient=<the parameter's orient>)``. For the
default ``orient="records"`` that is ``DataFrame(value)``, so three JSON forms work there:

- records: ``[{"col": v, ...}, ...]`` (Azure ML's usual request);
- columns: ``{"col": {"0": v0, "1": v1}, ...}`` (the sample request Azure ML shows for a pandas input); the index
  labels are kept, as integers when they all are;
- lists: ``{"col": [v0, v1], ...}``.

Those are converted here column by column, one numpy call each, with the sample's column order and dtypes, when the
sample's columns are all numeric or boolean and the parameter keeps its default flags. Anything else (another
``orient``, text or date columns) goes through inference-schema itself, its errors turned into 400s.
Deliberately stricter than the reference: the columns must be exactly the sample's (it fills a missing column with
NaN or fails later), values follow :mod:`service.values`' rules, and the columns come in the sample's order.
"""

from __future__ import annotations

import re

import numpy as np

from service.arrays import records_to_rows
from service.conversion_errors import ConversionError, Spec, count, describe, names, quote, with_inference_schema
from service.values import convert_values

_INTEGER = re.compile(r"-?[0-9]+")


def to_frame(name: str, value, param_type):
    """Convert records, columns or lists (see the module docstring) to a DataFrame like ``param_type``'s sample.

    Raises
    ------
    ConversionError
        Not one of the accepted forms, 0 rows, missing or unknown columns, columns of different lengths or index
        labels, or a value the column's dtype does not accept.
    """
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    sample = param_type.sample_input
    dtypes = sample.dtypes
    numeric = all(isinstance(t, np.dtype) and t.kind in "biuf" for t in dtypes)
    simple = param_type.enforce_column_type and param_type.enforce_shape and not param_type.apply_column_names
    if param_type.orient != "records" or not numeric or not simple:
        return with_inference_schema(name, value, param_type)
    spec = Spec(name, param_type, columns=[str(c) for c in sample.columns])
    if isinstance(value, list) and value:
        rows = records_to_rows(spec, value)
        if dtypes.nunique() == 1:  # one dtype: the whole matrix in one numpy call
            return pd.DataFrame(convert_values(spec, rows, dtypes.iloc[0]), columns=sample.columns)
        columns, index = list(zip(*rows, strict=True)), None
    elif isinstance(value, dict) and value:
        columns, index = _columns(spec, value)
    elif isinstance(value, list | dict):
        raise ConversionError(f'Input "{name}" has 0 records while a minimum of 1 is required by {spec.who}.')
    else:
        raise ConversionError(_wrong_type(spec, value))
    data = {
        column: convert_values(spec, list(columns[j]), dtypes.iloc[j], column=j)
        for j, column in enumerate(sample.columns)
    }
    return pd.DataFrame(data, columns=sample.columns, index=index)


def _columns(spec: Spec, value: dict) -> tuple[list, list | None]:
    """The columns of a ``{"col": {label: v}}`` or ``{"col": [v, ...]}`` object, in the sample's order, and the index
    labels (None for lists)."""
    wanted = spec.feature_names
    missing, unknown = [c for c in wanted if c not in value], [c for c in value if c not in wanted]
    if missing or unknown:
        parts = [f"is missing {count(len(missing), 'column')}: {names(missing)}"] if missing else []
        parts += [f"has {count(len(unknown), 'unknown column')}: {names(unknown)}"] if unknown else []
        raise ConversionError(
            f'Input "{spec.name}" {" and ".join(parts)}; {spec.who} expects the columns: {names(wanted, limit=20)}.'
        )
    first = value[wanted[0]]
    if isinstance(first, dict | list) and not first:
        raise ConversionError(f'Input "{spec.name}" has 0 records while a minimum of 1 is required by {spec.who}.')
    if isinstance(first, dict):
        labels = list(first)
        for column in wanted:
            cells = value[column]
            if not isinstance(cells, dict) or cells.keys() != first.keys():
                raise ConversionError(_ragged(spec, column, cells, f"an object with the index labels {names(labels)}"))
        columns = [[value[column][label] for label in labels] for column in wanted]
        return columns, _index(labels)
    if isinstance(first, list):
        for column in wanted:
            cells = value[column]
            if not isinstance(cells, list) or len(cells) != len(first):
                raise ConversionError(_ragged(spec, column, cells, f"an array of {len(first)} values"))
        return [value[column] for column in wanted], None
    raise ConversionError(_wrong_type(spec, value) + " To send one record, wrap it in a list: [{...}].")


def _index(labels: list[str]) -> list:
    """Index labels as pandas' read_json leaves them: integers when every label is one, else the strings."""
    if all(_INTEGER.fullmatch(label) for label in labels):
        return [int(label) for label in labels]
    return labels


def _ragged(spec: Spec, column: str, cells, expected: str) -> str:
    first = spec.feature_names[0]
    return (
        f'Column {quote(column)} of input "{spec.name}" is {describe(cells)}, but column {quote(first)} is '
        f"{expected}; every column must have the same rows."
    )


def _wrong_type(spec: Spec, value) -> str:
    return (
        f'Input "{spec.name}" must be records [{{"column": value, ...}}, ...], or columns {{"column": {{"0": value, '
        f'...}}, ...}} or {{"column": [value, ...], ...}} with the columns {names(spec.feature_names)}, got '
        f"{describe(value)}."
    )
