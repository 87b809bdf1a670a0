"""How conversion failures are worded: the error type, what an argument expects (:class:`Spec`), and how client
values and column names are quoted in messages (scikit-learn's shape: observed, expected, who, fix)."""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np

from service.errors import cap, escape_markup

_LIST_MAX = 5


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
            return f"a JSON array of records (objects with the columns {names(self.feature_names)})"
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


def records_problem(spec: Spec, records: list) -> str:
    """Message for records the fast extraction rejected: names the first non-record or record with wrong columns."""
    columns = spec.feature_names
    known = set(columns)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return (
                f'Row {i} of input "{spec.name}" is {describe(record)}, but row 0 is a record (object); send either '
                "rows of values or records with column names, not both."
            )
        missing = [n for n in columns if n not in record]
        unknown = [k for k in record if k not in known]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"is missing {count(len(missing), 'feature')}: {names(missing)}")
            if unknown:
                parts.append(f"has {count(len(unknown), 'unknown column')}: {names(unknown)}")
            return (
                f'Record {i} of input "{spec.name}" {" and ".join(parts)}; {spec.who} expects the columns: '
                f"{names(columns, limit=20)}."
            )
    return f'Input "{spec.name}" has records that do not match the columns {names(columns)}.'


def describe(value) -> str:
    """A client value as a message names it: ``null``, ``a string 'abc'``, ``an array of 3 values``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"a string {quote(value)}"
    if isinstance(value, int | float):
        return f"a number {quote(value)}"
    if isinstance(value, dict):
        return f"an object with keys {names(list(value))}" if value else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} values"
    return f"a {type(value).__name__}"


def quote(value) -> str:
    """A client value as a message quotes it: ``'abc'`` for a string, JSON otherwise, capped, markup escaped."""
    try:
        text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    except RecursionError:  # nesting the parser accepts can be deeper than the stdlib encoder's recursion limit
        return "(nested too deeply to quote)"
    return escape_markup(cap(text))


def names(items: list, limit: int = _LIST_MAX) -> str:
    """Up to ``limit`` quoted names, then how many more: ``'a', 'b' and 3 more``."""
    shown = ", ".join(quote(str(n)) for n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def count(n: int, noun: str) -> str:
    """``1 feature``, ``2 features``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def with_inference_schema(name: str, value, param_type):
    """Convert with inference-schema itself (dtypes and orients the vectorised paths do not cover); its errors become
    :class:`ConversionError` naming the argument.

    Raises
    ------
    ConversionError
        inference-schema could not convert ``value``.
    """
    try:
        return param_type.deserialize_input(value)
    except Exception as exc:  # inference-schema raises bare Exception too; all of them mean "bad input" here
        raise ConversionError(f'Input "{name}" could not be converted: {escape_markup(cap(str(exc), 120))}') from exc


def _example(sample) -> str | None:
    if not isinstance(sample, np.ndarray) or sample.ndim == 0 or not len(sample) or sample.dtype.kind not in "biuf":
        return None
    text = json.dumps(sample[:1].tolist())
    return text if len(text) <= 80 else None
