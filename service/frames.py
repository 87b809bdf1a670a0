"""Parsed JSON records to a DataFrame for a ``PandasParameterType`` argument, with the sample's columns and dtypes."""

from __future__ import annotations

import numpy as np

from service.arrays import records_to_rows
from service.conversion_errors import ConversionError, Spec, with_inference_schema
from service.values import convert_values


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
        return with_inference_schema(name, value, param_type)
    spec = Spec(name, param_type, columns=[str(c) for c in sample.columns])
    if not isinstance(value, list):
        raise ConversionError(spec.wrong_type(value))
    if not value:
        raise ConversionError(f'Input "{name}" has 0 records while a minimum of 1 is required by {spec.who}.')
    rows = records_to_rows(spec, value)
    if dtypes.nunique() == 1:  # one dtype: convert the whole matrix in one numpy call
        return pd.DataFrame(convert_values(spec, rows, dtypes.iloc[0]), columns=sample.columns)
    data = {}
    for j, column in enumerate(sample.columns):
        data[column] = convert_values(spec, [row[j] for row in rows], dtypes.iloc[j], column=j)
    return pd.DataFrame(data, columns=sample.columns)
