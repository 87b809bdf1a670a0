"""Request -> run() keyword arguments, per input style; every client mistake becomes a 400 or 415 with a clear message.

Schema-decorated numpy/pandas arguments are converted here, vectorised, by ``service.conversion`` before run() is
called; inference-schema then passes the ndarray/DataFrame through untouched.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
from collections.abc import Iterator

import numpy as np
import orjson
from flask import Request

from service.conversion import ConversionError, convert_argument
from service.entry_script import EntryScript, InputStyle
from service.errors import BadInput, MethodNotAllowed, UnsupportedMediaType, quote

MAX_JSON_DEPTH = 1024
"""Deepest nesting of arrays and objects accepted in client JSON, body or query: orjson's own limit, so the body's
fast path checks nothing extra, and every other entry point is held to the same number."""
_ORJSON_TOO_DEEP = "depth limit exceeded"
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 opens a level, -1 closes one
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SCAN_CHUNK = 1 << 16


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
        return {script.data_parameter: request}
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
    return body_arguments(request.get_data(), script, is_json=request.is_json)


def body_arguments(body: bytes, script: EntryScript, *, is_json: bool) -> dict[str, object]:
    """run() keyword arguments from a POST ``body`` (``is_json``: its Content-Type is JSON), for a script that is
    not @rawhttp; Flask-free, so service.fast_score uses it too.

    Raises
    ------
    BadInput, UnsupportedMediaType
        As :func:`run_arguments`.
    """
    if script.style is InputStyle.STRING:
        try:
            return {script.data_parameter: body.decode("utf-8")}
        except UnicodeDecodeError as exc:
            raise BadInput(f"Input cannot be decoded as UTF-8: {exc}") from None
    if not is_json:
        raise UnsupportedMediaType("Expects Content-Type to be application/json")
    if not body:
        raise BadInput("POST body is empty. Expecting a JSON dictionary.")
    with collector_paused():
        document = parse_json_body(body)
        if not isinstance(document, dict):
            raise BadInput(f"POST body should be a JSON dictionary, got a JSON {_json_type(document)}.")
        arguments = _by_name(document, script)
        del document  # its lists freed before the collector resumes: no collection is owed for them
    return arguments


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
    if _too_deep_to_parse(text, error):
        raise BadInput(_too_deep("POST body")) from None
    raise BadInput(f"POST body could not be decoded as JSON: {error}") from None


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a body is parsed and converted.

    Parsed JSON holds no reference cycles, yet its one list per row triggers collection after collection while it is
    built, each walking every row so far: on a 100 000-row body, a tenth of the request's CPU with the heap frozen
    (service.app.settle_heap), most of it without. Left alone when the collector is off already (by the script's
    choice, or another request's parse).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _too_deep_to_parse(text: str, error: orjson.JSONDecodeError) -> bool:
    """Whether JSON ``text``, which orjson refused with ``error``, nests deeper than MAX_JSON_DEPTH anywhere.

    orjson's own verdict settles most deep documents at no cost; it reports other errors for some truncated ones
    ("failed to allocate memory"), and a document can go too deep after its first error, so the rest are scanned.
    """
    return error.msg == _ORJSON_TOO_DEEP or _nested_too_deeply(text)


def _nested_too_deeply(text: str) -> bool:
    """Whether arrays and objects nest deeper than MAX_JSON_DEPTH in JSON ``text`` (brackets inside strings do not
    count; invalid JSON is fine).

    Only error paths pay for it, and a hostile client chooses what they scan (up to the body size limit): the work is
    done by bytes methods and numpy over the whole text, never a Python step per character or a backtracking regex,
    and it stops at the first chunk that goes past the limit.
    """
    data = text.encode("utf-8", "surrogatepass")  # no UTF-8 sequence holds an ASCII byte: scanning bytes is exact
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return False
    # Backslashes pair from the left, so once "\\" and then '\"' are gone every quote left opens or closes a string.
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = np.frombuffer(outside_strings.translate(_BRACKET_STEPS, _NOT_BRACKETS), dtype=np.int8)
    depth = 0
    for start in range(0, len(steps), _SCAN_CHUNK):
        depths = np.cumsum(steps[start:start + _SCAN_CHUNK], dtype=np.int64) + depth
        if depths.max() > MAX_JSON_DEPTH:
            return True
        depth = int(depths[-1])
    return False


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
    except orjson.JSONDecodeError as exc:
        error = exc
    if _too_deep_to_parse(value, error):
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
