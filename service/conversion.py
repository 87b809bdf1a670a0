"""Decorated ``run()`` arguments to what inference-schema would pass, but vectorised and with 4xx errors; Flask-free.

One module per concern: :mod:`service.arrays` (``NumpyParameterType``), :mod:`service.frames`
(``PandasParameterType``), :mod:`service.values` (scalars to a dtype, and naming the first bad one) and
:mod:`service.conversion_errors` (the error and its wording). A client that works against azureml-inference-server-http
gets the same arrays here; where the reference answers 500 or silently corrupts a value, this raises a
:class:`ConversionError`, which the service answers with 400.
"""

from __future__ import annotations

from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType

from service.arrays import to_array
from service.conversion_errors import ConversionError, describe
from service.frames import to_frame

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


def _is_pandas_type(param_type) -> bool:
    try:
        from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    except ImportError:  # no pandas installed: no pandas parameter can exist either
        return False
    return isinstance(param_type, PandasParameterType)
