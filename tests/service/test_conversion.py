"""Tests for service.conversion: same arrays as inference-schema for valid input, a clear ConversionError otherwise."""

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema

from service.conversion import ConversionError, FeatureMatrixType, convert_argument

NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = [5.1, 3.5, 1.4, 0.2]
IRIS = FeatureMatrixType(np.array([ROW]), NAMES, model_label="model iris-svc (version 2)")
PLAIN = NumpyParameterType(np.array([ROW]))


def convert(value, param_type=IRIS):
    return convert_argument("data", value, param_type)


def reference(value, param_type):
    """What inference-schema 1.8 makes of the same JSON value (it mutates its input, hence the copy)."""
    flags = {"enforce_column_type": param_type.enforce_column_type, "enforce_shape": param_type.enforce_shape}
    theirs = NumpyParameterType(param_type.sample_input, **flags)
    return theirs.deserialize_input(copy.deepcopy(value))


# ---- valid input: identical to inference-schema -------------------------------------------------------------------

VALID = [
    ("float64", [ROW]),
    ("float64", [ROW, [6.2, 3.4, 5.4, 2.3], [5.9, 3.0, 5.1, 1.8]]),
    ("float64", [["5.1", "3.5", "1.4", "0.2"]]),
    ("float64", [[" 5.1 ", "1e0", "1_000", "-2"]]),
    ("float64", [[5, 3, 1, 0]]),
    ("float64", [[True, False, 1, 0.5]]),
    ("float64", [[2**70, -(2**70), 1e300, -1e-300]]),
    ("float32", [[5.1, "3.5", 1, True]]),
    ("int64", [[1, 2, 3, 4]]),
    ("int64", [[1.0, "2", True, -4]]),
    ("int8", [[127, -128, "5", 0]]),
    ("uint8", [[0, 255, "7", 1.0]]),
    ("bool", [[True, False, True, False]]),
]


@pytest.mark.parametrize(("dtype", "value"), VALID)
def test_valid_input_equals_inference_schema(dtype, value):
    param_type = NumpyParameterType(np.zeros((1, 4), dtype=dtype))
    ours = convert(value, param_type)
    theirs = reference(value, param_type)
    assert ours.dtype == theirs.dtype == np.dtype(dtype)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_many_rows_equal_inference_schema():
    rows = np.random.default_rng(0).normal(size=(5000, 4)).round(3).tolist()
    np.testing.assert_array_equal(convert(rows), reference(rows, PLAIN))


def test_bool_sample_accepts_zero_and_one():
    param_type = NumpyParameterType(np.array([[True, False]]))
    assert convert([[1, 0], [0.0, 1.0]], param_type).tolist() == [[True, False], [False, True]]


def test_integral_numeric_strings_are_accepted_for_integer_samples():
    # stricter parsers would refuse "5.0"; its value is an exact integer, so accepting it loses nothing
    param_type = NumpyParameterType(np.array([[1, 2]], dtype="int32"))
    assert convert([["5.0", 6]], param_type).tolist() == [[5, 6]]


def test_batch_size_is_free_and_ndarrays_pass_through():
    array = np.ones((3, 4))
    assert convert(array) is array
    assert convert([ROW] * 7).shape == (7, 4)


def test_shape_and_type_enforcement_can_be_switched_off_like_inference_schema():
    free_shape = NumpyParameterType(np.array([ROW]), enforce_shape=False)
    assert convert([[1, 2, 3]], free_shape).shape == (1, 3)
    free_type = NumpyParameterType(np.array([ROW]), enforce_column_type=False)
    ours = convert([[1, 2, 3, 4]], free_type)
    assert ours.dtype == reference([[1, 2, 3, 4]], free_type).dtype == np.int64


# ---- records with column names ------------------------------------------------------------------------------------


def test_records_are_reordered_into_feature_order():
    record = dict(zip(reversed(NAMES), reversed(ROW), strict=True))
    assert list(record) != NAMES
    np.testing.assert_array_equal(convert([record, record]), np.array([ROW, ROW]))


def test_records_accept_numeric_strings():
    record = {name: str(v) for name, v in zip(NAMES, ROW, strict=True)}
    np.testing.assert_array_equal(convert([record]), np.array([ROW]))


def test_records_with_a_missing_column_name_it():
    record = dict(zip(NAMES[:3], ROW[:3], strict=True))
    with pytest.raises(
        ConversionError,
        match=r"Record 0 of input \"data\" is missing 1 feature: 'petal width \(cm\)'; model iris-svc \(version 2\) "
        r"expects the columns: 'sepal length \(cm\)', ",
    ):
        convert([dict(zip(NAMES, ROW, strict=True)), record][::-1])


def test_records_with_unknown_columns_name_at_most_five():
    record = dict(zip(NAMES, ROW, strict=True)) | {f"extra{i}": 1 for i in range(7)}
    with pytest.raises(ConversionError) as excinfo:
        convert([record])
    message = str(excinfo.value)
    assert "has 7 unknown columns: 'extra0', 'extra1', 'extra2', 'extra3', 'extra4' and 2 more" in message
    assert "extra5" not in message


def test_records_with_missing_and_unknown_columns_name_both():
    record = dict(zip(NAMES[:3], ROW[:3], strict=True)) | {"petal_width": 0.2}
    with pytest.raises(
        ConversionError, match="is missing 1 feature: 'petal width \\(cm\\)' and has 1 unknown column: 'petal_width'"
    ):
        convert([record])


def test_records_mixed_with_rows_are_refused():
    with pytest.raises(ConversionError, match=r"Row 1 of input \"data\" is an array of 4 values, but row 0 is a rec"):
        convert([dict(zip(NAMES, ROW, strict=True)), ROW])


def test_a_record_after_rows_is_refused():
    with pytest.raises(ConversionError, match=r"Row 1 of input \"data\" is a record \(object\), .* Send either rows"):
        convert([ROW, dict(zip(NAMES, ROW, strict=True))])


def test_records_need_a_model_with_feature_names():
    with pytest.raises(ConversionError, match="Records with column names need a model with feature names"):
        convert([dict(zip(NAMES, ROW, strict=True))], PLAIN)


def test_a_double_encoded_array_gets_a_hint():
    with pytest.raises(ConversionError, match=r"got a string '\[\[5.1, .*looks like JSON encoded twice"):
        convert(json.dumps([ROW]))


def test_a_single_record_gets_a_hint_to_wrap_it():
    with pytest.raises(ConversionError, match=r"got an object with keys .*wrap it in a list: \[\{\.\.\.\}\]"):
        convert(dict(zip(NAMES, ROW, strict=True)))


@input_schema("data", IRIS)
def _decorated_run(data):
    return data


def test_feature_matrix_type_converts_records_inside_inference_schema():
    """Under the reference server inference-schema itself calls deserialize_input: records must work there too."""
    received = _decorated_run([dict(zip(NAMES, ROW, strict=True))])
    assert isinstance(received, np.ndarray)
    np.testing.assert_array_equal(received, np.array([ROW]))
    with pytest.raises(ConversionError, match="has 3 columns"):
        _decorated_run([[1, 2, 3]])


def test_feature_matrix_swagger_equals_numpy_swagger():
    assert IRIS.input_to_swagger() == PLAIN.input_to_swagger()
    assert IRIS.supported_versions() == PLAIN.supported_versions()


# ---- bad input: one clear message per class -----------------------------------------------------------------------

BAD = [
    (
        "wrong column count",
        [[1, 2, 3]],
        r'^Input "data" has 3 columns, but model iris-svc \(version 2\) is expecting 4 features as input: '
        r"sepal length \(cm\), sepal width \(cm\), petal length \(cm\), petal width \(cm\)\.$",
    ),
    ("too many columns", [[1, 2, 3, 4, 5]], r"has 5 columns, but .* is expecting 4 features"),
    ("zero columns", [[]], r"has 0 columns, but .* is expecting 4 features"),
    (
        "1-D row",
        ROW,
        r"is a 1-D array \(shape \(4,\)\), but .*2-D\)\. To send one row, wrap it in a list: \[\[\.\.\.\]\]",
    ),
    (
        "3-D",
        [[ROW]],
        r"is a 3-D array \(shape \(1, 1, 4\)\), but model iris-svc \(version 2\) expects a JSON array of rows",
    ),
    (
        "ragged rows",
        [ROW, ROW, [1, 2, 3]],
        r'^Row 2 of input "data" has 3 values, but row 0 has 4; every row must have the same number of values\.$',
    ),
    ("row is a number", [ROW, 5], r'Row 1 of input "data" is a number 5, but .* expects a JSON array of rows of 4'),
    (
        "non-numeric string",
        [ROW, [1, 2, "abc", 4]],
        r"^Input \"data\" has a non-numeric value 'abc' at row 1, column 2 \(petal length \(cm\)\); model iris-svc "
        r"\(version 2\) expects float64 values\. Send numbers, not strings\.$",
    ),
    ("boolean string", [[1, 2, "true", 4]], r"non-numeric value 'true' at row 0, column 2"),
    (
        "null",
        [[1, None, 3, 4]],
        r"^Input \"data\" contains null at row 0, column 1 \(sepal width \(cm\)\); model iris-svc \(version 2\) "
        r"does not accept missing values\.$",
    ),
    ("NaN", [[1, 2, float("nan"), 4]], r"contains NaN at row 0, column 2 \(petal length \(cm\)\)"),
    ("NaN string", [[1, 2, "NaN", 4]], r"contains NaN at row 0, column 2"),
    ("Infinity", [[float("inf"), 2, 3, 4]], r"contains Infinity at row 0, column 0 .* accepts only finite numbers"),
    ("-Infinity", [[1, 2, 3, float("-inf")]], r"contains -Infinity at row 0, column 3"),
    ("1e400 string", [[1, "1e400", 3, 4]], r"contains Infinity at row 0, column 1"),
    ("nested array", [[1, [2], 3, 4]], r"has a nested array \[2\] at row 0, column 1 .* where a single value was"),
    ("object cell", [[1, {"a": 1}, 3, 4]], r'has an object \{"a": 1\} at row 0, column 1'),
    ("empty", [], r'^Input "data" has 0 rows \(shape=\(0,\)\) while a minimum of 1 is required by model iris-svc'),
    (
        "string",
        "abc",
        r"^Input \"data\" must be a JSON array of rows of 4 values, got a string 'abc'\. For example: "
        r"\[\[5\.1, 3\.5, 1\.4, 0\.2\]\]\.$",
    ),
    ("null data", None, r"must be a JSON array of rows of 4 values, got null\."),
    ("object data", {}, r"must be a JSON array of rows of 4 values, got an empty object\."),
    ("number data", 5, r"must be a JSON array of rows of 4 values, got a number 5\."),
]


@pytest.mark.parametrize(("case", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_conversion_error_naming_expected_and_actual(case, value, message):
    with pytest.raises(ConversionError, match=message):
        convert(value)


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        ("int64", [[1.7, 2]], r"has a non-integer value 1.7 at row 0, column 0; the model expects int64 values"),
        ("int64", [["5.5", 2]], r"has a non-integer value '5.5' at row 0, column 0"),
        ("int64", [[2**70, 1]], r"value 1180591620717411303424 at row 0, column 0, which is out of range for int64"),
        ("int64", [[2.0**63, 1]], r"at row 0, column 0, which is out of range for int64"),
        ("int64", [["9223372036854775808", 1]], r"'9223372036854775808' at row 0, column 0, which is out of range"),
        ("uint64", [[2.0**64, 1]], r"at row 0, column 0, which is out of range for uint64"),
        ("int8", [[1, 300]], r"has value 300 at row 0, column 1, which is out of range for int8 \(-128 to 127\)"),
        ("uint8", [[-1, 1]], r"has value -1 at row 0, column 0, which is out of range for uint8 \(0 to 255\)"),
        ("uint8", [["-1", 1]], r"has value '-1' at row 0, column 0, which is out of range for uint8"),
        ("int64", [[None, 1]], r"contains null at row 0, column 0"),
        ("int64", [[1, "abc"]], r"non-numeric value 'abc' at row 0, column 1; the model expects int64 values"),
        ("bool", [["false", True]], r"has value 'false' at row 0, column 0; the model expects booleans"),
        ("bool", [[2, True]], r"has value 2 at row 0, column 0; the model expects booleans"),
        ("float32", [[1e300, 1.0]], r"has value 1e\+300 at row 0, column 0, which is out of range for float32"),
    ],
)
def test_bad_values_for_integer_bool_and_float32_samples(dtype, value, message):
    with pytest.raises(ConversionError, match=message):
        convert(value, NumpyParameterType(np.zeros((1, 2), dtype=dtype)))


def test_the_first_bad_value_is_reported_among_many_rows():
    rows = [ROW] * 5000
    rows[4321] = [1, 2, 3, "x"]
    with pytest.raises(ConversionError, match=r"at row 4321, column 3 \(petal width \(cm\)\)"):
        convert(rows)


def test_long_values_are_quoted_capped_never_echoed_whole():
    with pytest.raises(ConversionError) as excinfo:
        convert([[1, 2, 3, "x" * 10_000]])
    message = str(excinfo.value)
    assert "'" + "x" * 36 + "..." in message
    assert len(message) < 300


def test_without_a_model_label_messages_say_the_model():
    with pytest.raises(
        ConversionError,
        match=r'^Input "data" has 3 columns, but the model is expecting 4 features as '
        r"input\.$",
    ):
        convert([[1, 2, 3]], PLAIN)


def test_the_argument_name_is_used():
    with pytest.raises(ConversionError, match=r'^Input "features" has 3 columns'):
        convert_argument("features", [[1, 2, 3]], PLAIN)


def test_other_dtypes_fall_back_to_inference_schema_with_a_4xx_error():
    dates = NumpyParameterType(np.array(["2026-11-28"], dtype="datetime64[D]"))
    assert convert(["2026-11-29"], dates).tolist() == reference(["2026-11-29"], dates).tolist()
    with pytest.raises(ConversionError, match=r'^Input "data" could not be converted: '):
        convert(["not a date"], dates)


# ---- standard python parameters and pass-through ------------------------------------------------------------------


def test_standard_parameters_are_type_checked_like_inference_schema():
    method = StandardPythonParameterType("predict")
    assert convert_argument("method", "predict_proba", method) == "predict_proba"
    with pytest.raises(ConversionError, match=r'^Input "method" must be a string, got a number 5\.$'):
        convert_argument("method", 5, method)
    assert convert_argument("threshold", 1, StandardPythonParameterType(0.5)) == 1  # ints are fine for floats
    with pytest.raises(ConversionError, match=r'^Input "threshold" must be a number, got a string'):
        convert_argument("threshold", "0.7", StandardPythonParameterType(0.5))


def test_other_parameter_types_pass_through_unchanged():
    value = {"a": [1, 2]}
    assert convert_argument("x", value, StandardPythonParameterType({"a": [0]})) is value


def test_optional_arguments_pass_a_missing_value_through():
    assert convert_argument("data", None, PLAIN, optional=True) is None
    with pytest.raises(ConversionError, match="got null"):
        convert_argument("data", None, PLAIN)


# ---- pandas records -----------------------------------------------------------------------------------------------

FRAME_SAMPLE = pd.DataFrame({"sepal_length": [5.1], "sepal_width": [3.5], "petal_count": [3], "flag": [True]})
FRAME = PandasParameterType(FRAME_SAMPLE)


def _record(**overrides):
    return {"sepal_length": 5.1, "sepal_width": 3.5, "petal_count": 3, "flag": True} | overrides


def test_pandas_records_equal_inference_schema():
    records = [_record(), _record(sepal_length="6.2", petal_count=4, sepal_width=3), _record(flag=False)]
    ours = convert(records, FRAME)
    theirs = PandasParameterType(FRAME_SAMPLE).deserialize_input(copy.deepcopy(records))
    pd.testing.assert_frame_equal(ours, theirs)


@pytest.mark.parametrize(
    "columns",
    [
        {k: {"0": v, "1": v} for k, v in _record().items()},
        {k: {"5": v, "2": v} for k, v in _record().items()},
        {k: {"x": v, "y": v} for k, v in _record().items()},
        {k: [v, v, v] for k, v in _record().items()},
        {k: {"0": str(v) if isinstance(v, float) else v} for k, v in _record().items()},
    ],
    ids=["columns 0 1", "columns 5 2", "named index", "lists", "numeric strings"],
)
def test_pandas_columns_and_lists_equal_inference_schema(columns):
    """Azure's sample request for a pandas input is {"data": {"col": {"0": v}}}; the reference takes lists too."""
    ours = convert(columns, FRAME)
    theirs = PandasParameterType(FRAME_SAMPLE).deserialize_input(copy.deepcopy(columns))
    pd.testing.assert_frame_equal(ours, theirs)


def test_pandas_records_are_put_in_sample_column_order():
    record = dict(reversed(list(_record().items())))
    assert list(convert([record], FRAME).columns) == list(FRAME_SAMPLE.columns)


@pytest.mark.parametrize(
    ("records", "message"),
    [
        (
            [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_count": 3}],
            r"Record 0 of input \"data\" is missing 1 "
            r"feature: 'flag'; the model expects the columns: 'sepal_length', 'sepal_width', 'petal_count', 'flag'\.",
        ),
        ([_record(), _record(colour="red")], r"Record 1 of input \"data\" has 1 unknown column: 'colour'"),
        ([_record(sepal_width=None)], r"contains null at row 0, column 1 \(sepal_width\)"),
        ([_record(sepal_width="wide")], r"non-numeric value 'wide' at row 0, column 1 \(sepal_width\)"),
        ([_record(petal_count=2.5)], r"non-integer value 2.5 at row 0, column 2 \(petal_count\)"),
        ([], r'^Input "data" has 0 records while a minimum of 1 is required'),
        (
            {"sepal_length": 5.1},
            r"^Input \"data\" is missing 3 columns: 'sepal_width', 'petal_count', 'flag'; the model expects the "
            r"columns: 'sepal_length', 'sepal_width', 'petal_count', 'flag'\.$",
        ),
        (_record(), r"must be records .* got an object with keys .* To send one record, wrap it in a list: \[\{"),
        ({k: {} for k in _record()}, r'^Input "data" has 0 records while a minimum of 1 is required'),
        (
            {k: {"0": v, "1": v} for k, v in _record().items()} | {"flag": {"0": True}},
            r"Column 'flag' of input \"data\" is an object with keys '0', but column 'sepal_length' is an object "
            r"with the index labels '0', '1'; every column must have the same rows\.",
        ),
        (
            {k: [v, v] for k, v in _record().items()} | {"petal_count": [3]},
            r"Column 'petal_count' of input \"data\" is an array of 1 values, but column 'sepal_length' is an array "
            r"of 2 values; every column must have the same rows\.",
        ),
        ({k: {"0": v} for k, v in _record(petal_count="x").items()}, r"non-numeric value 'x' at row 0, column 2"),
        ([[5.1, 3.5, 3, True]], r"Row 0 of input \"data\" is an array of 4 values, but row 0 is a record"),
    ],
)
def test_bad_pandas_records(records, message):
    with pytest.raises(ConversionError, match=message):
        convert(records, FRAME)


def test_pandas_with_text_columns_uses_inference_schema():
    sample = pd.DataFrame({"city": ["Oslo"], "temp": [1.5]})
    records = [{"city": "Rome", "temp": "20"}]
    ours = convert(records, PandasParameterType(sample))
    pd.testing.assert_frame_equal(ours, PandasParameterType(sample).deserialize_input(copy.deepcopy(records)))


def test_pandas_records_of_one_dtype_equal_inference_schema():
    sample = pd.DataFrame([ROW], columns=["a", "b", "c", "d"])
    records = [dict(zip("abcd", row, strict=True)) for row in [ROW, [1, "2.5", True, 4]]]
    ours = convert(records, PandasParameterType(sample))
    pd.testing.assert_frame_equal(ours, PandasParameterType(sample).deserialize_input(copy.deepcopy(records)))
    with pytest.raises(ConversionError, match=r"contains null at row 1, column 2 \(c\)"):
        convert([records[0], dict(records[1], c=None)], PandasParameterType(sample))


@pytest.mark.parametrize("row", [0, 1, 61, 62, 63, 500, 998, 999])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([1, 2, 3, "x"], "non-numeric value 'x' at row {row}, column 3"),
        ([1, None, 3, 4], "null at row {row}, column 1"),
    ],
)
def test_the_first_bad_row_is_found_wherever_it_is(row, bad, message):
    rows = [ROW] * 1000
    rows[row] = bad
    if row + 7 < len(rows):
        rows[row + 7] = [1, 2, "later", 4]  # a second bad row must not be the one reported
    with pytest.raises(ConversionError, match=re.escape(message.format(row=row))):
        convert(rows, PLAIN)
