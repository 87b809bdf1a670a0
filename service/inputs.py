"""Request -> run() keyword arguments, per input style; every client mistake becomes a 400 or 415 with a clear message.

Schema-decorated numpy/pandas arguments are converted here, vectorised, by ``service.conversion`` before run() is
called; inference-schema then passes the ndarray/DataFrame through untouched.
"""

from __future__ import annotations

import inspect
import json
import re

import orjson
from flask import Request

from service.conversion import ConversionError, convert_argument
from service.entry_script import EntryScript, InputStyle
from service.errors import BadInput, MethodNotAllowed, UnsupportedMediaType, quote

MAX_JSON_DEPTH = 1024
"""Deepest nesting of arrays and objects accepted in client JSON, body or query: orjson's own limit, so the body's
fast path checks nothing extra, and every other entry point is held to the same number."""
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]")


def run_arguments(request: Request, script: EntryScript) -> dict[str, object]:
    """Build the keyword arguments for ``script``'s run() from ``request``.

    Raises
    ------
    BadInput
        Malformed or empty JSON, a body that is not a JSON object, a missing parameter, non-UTF-8 text, or an
        argument that does not match the schema (wrong shape, non-numeric values, NaN, ...).
    UnsupportedMediaType
        A POST to a schema-decorated run() without a JSON Content-Type.
    MethodNotAllowed
        Any method but GET and POST for a run() that is not @rawhttp.
    """
    if script.style is InputStyle.RAW:
        return {script.data_parameter: request._get_current_object()}
    if request.method == "GET":
        query = _query_arguments(request)
        if script.style is InputStyle.STRING:
            try:
                return {script.data_parameter: json.dumps(query)}
            except RecursionError:
                raise BadInput(_too_deep("The query string")) from None
        return _by_name(query, script)
    if request.method != "POST":
        raise MethodNotAllowed("Method not allowed")
    body = request.get_data()
    if script.style is InputStyle.STRING:
        try:
            return {script.data_parameter: body.decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise BadInput(f"Input cannot be decoded as UTF-8: {exc}") from None
    if not request.is_json:
        raise UnsupportedMediaType("Expects Content-Type to be application/json")
    if not body:
        raise BadInput("POST body is empty. Expecting a JSON dictionary.")
    document = parse_json_body(body)
    if not isinstance(document, dict):
        raise BadInput(f"POST body should be a JSON dictionary, got a JSON {_json_type(document)}.")
    return _by_name(document, script)


def parse_json_body(body: bytes) -> object:
    """Parse a JSON request body (UTF-8, or UTF-16/32 as the reference accepts); NaN/Infinity literals are refused.

    Raises
    ------
    BadInput
        When the body is not valid JSON, is nested deeper than MAX_JSON_DEPTH, or is not decodable text.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    if nesting_depth(body) > MAX_JSON_DEPTH:
        raise BadInput(_too_deep("POST body")) from None
    encoding = json.detect_encoding(body)
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadInput(f"POST body could not be decoded as {encoding.upper()}: {exc}") from None
    if encoding != "utf-8":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            error = exc
    raise BadInput(f"POST body could not be decoded as JSON: {error}") from None


def nesting_depth(document: bytes | str) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings do not count; invalid JSON is fine).

    Only error paths pay for it: valid JSON is parsed by orjson, which enforces the limit itself.
    """
    data = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", data)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _query_arguments(request: Request) -> dict[str, object]:
    """Query parameters as the reference reads them: each value JSON-decoded when possible, repeated keys -> list."""
    parsed: dict[str, object] = {}
    for key in request.args.keys():
        values = [_json_or_text(key, v) for v in request.args.getlist(key)]
        parsed[key] = values[0] if len(values) == 1 else values
    return parsed


def _json_or_text(key: str, value: str) -> object:
    """``value`` JSON-decoded as the reference's json.loads reads it, else the text itself.

    orjson parses first, so the depth limit is the body's; json.loads then takes what orjson refuses but the reference
    accepts (NaN, integers beyond 64 bits, lone surrogates).
    """
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    if nesting_depth(value) > MAX_JSON_DEPTH:
        raise BadInput(_too_deep(f"Query parameter {quote(key)}"))
    try:
        return json.loads(value)
    except ValueError:
        return value
    except RecursionError:  # the stdlib parser stops at the interpreter's recursion limit, a little under ours
        raise BadInput(_too_deep(f"Query parameter {quote(key)}")) from None


def _too_deep(what: str) -> str:
    return f"{what} holds JSON nested too deeply; expected at most {MAX_JSON_DEPTH} levels of arrays and objects."


def _by_name(document: dict, script: EntryScript) -> dict[str, object]:
    arguments: dict[str, object] = {}
    for parameter in script.parameters:
        value = document.get(parameter.name, parameter.default)
        if value is inspect.Parameter.empty:
            raise BadInput(f"A value is not provided for the {parameter.name!r} parameter.")
        param_type = script.schema_types.get(parameter.name)
        if param_type is not None:
            try:
                value = convert_argument(parameter.name, value, param_type)
            except ConversionError as exc:
                raise BadInput(str(exc)) from None
        arguments[parameter.name] = value
    return arguments


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {list: "array", str: "string"}.get(type(value), type(value).__name__)
