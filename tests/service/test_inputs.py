"""The JSON depth check of service.inputs under hostile input (issue 14): refusing an invalid body or query value costs
Python work that does not grow with its size, and the 400 still names the depth limit when that is the problem."""

from __future__ import annotations

import sys

import pytest

from service import inputs
from service.errors import BadInput
from service.inputs import MAX_JSON_DEPTH, parse_json_body

TOO_DEEP = f"holds JSON nested too deeply; expected at most {MAX_JSON_DEPTH} levels of arrays and objects."
SIZE = 1 << 20
LINES_ALLOWED = 300  # a count of executed lines, not a timing: the old bracket loop ran several per bracket


def _lines_run_in_inputs(call) -> int:
    """How many lines of service/inputs.py ``call()`` executes."""
    count = 0

    def count_lines(frame, event, arg):
        nonlocal count
        count += event == "line"
        return count_lines

    def trace_inputs_only(frame, event, arg):
        return count_lines if frame.f_code.co_filename == inputs.__file__ else None

    previous = sys.gettrace()
    sys.settrace(trace_inputs_only)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


BODIES = {
    "brackets, invalid at the end": (b"[" + b"[1, {}]," * (SIZE // 8) + b"x", "could not be decoded as JSON"),
    "brackets, UTF-16": (("[" + "[1, {}]," * (SIZE // 16) + "x").encode("utf-16"), "could not be decoded as JSON"),
    "too deep": (b'{"data": ' + b"[" * SIZE, TOO_DEEP),
    "too deep, truncated near the limit": (b"[" * (MAX_JSON_DEPTH + 76), TOO_DEEP),
    "too deep after an error": (b"[NaN, " + b"[" * SIZE, TOO_DEEP),
    "too deep, UTF-32": (("[" * SIZE).encode("utf-32"), TOO_DEEP),
}


@pytest.mark.parametrize("case", list(BODIES))
def test_refusing_an_invalid_body_takes_python_work_independent_of_its_size(case):
    body, message = BODIES[case]
    refused = []
    lines = _lines_run_in_inputs(lambda: refused.append(pytest.raises(BadInput, parse_json_body, body)))
    assert message in str(refused[0].value)
    assert lines < LINES_ALLOWED


def test_brackets_inside_strings_and_escapes_do_not_count():
    deep_in_strings = "[" + ", ".join(['"' + "[" * 800 + '\\"' + "{" * 800 + '"'] * 2) + ", x]"
    with pytest.raises(BadInput, match="could not be decoded as JSON"):
        parse_json_body(deep_in_strings.encode())
    escaped_backslash = '["\\\\", ' + "[" * (MAX_JSON_DEPTH + 10)  # the quote after \\ closes the string
    with pytest.raises(BadInput, match="nested too deeply"):
        parse_json_body(escaped_backslash.encode())


@pytest.mark.parametrize("value", ["[" * (SIZE // 8), "[]," * (SIZE // 24) + "x"], ids=["too deep", "invalid"])
def test_refusing_a_query_value_takes_python_work_independent_of_its_size(iris, value):
    answers = []
    lines = _lines_run_in_inputs(lambda: answers.append(iris.get("/score", query_string={"data": value})))
    assert answers[0].status_code == 400
    assert lines < LINES_ALLOWED
