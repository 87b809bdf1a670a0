"""Open Inference Protocol V2 (REST), as KServe, MLServer and Triton speak it, for the served model.

Health, server and model metadata, and infer: one FP64/FP32/INT64/INT32/BOOL input tensor of shape [rows, features]
(row-major ``data``, flat or nested) or one input per feature column; ``parameters.method`` or the requested output
name picks predict or predict_proba. Triton's binary tensor data extension, which tritonclient uses by default, is
decoded and encoded too. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

import numpy as np
from flask import Blueprint, Response, request

from service import __version__
from service.errors import BadInput, HTTPStatusError, NotReady, cap, escape_markup, quote
from service.fast_score import Decoded
from service.inputs import parse_json_body
from service.pipeline import Ran, current_scoring
from service.protocols.scoring import (
    METHODS,
    ServedModel,
    json_response,
    predict,
    render_errors,
    to_rows,
)
from service.responses import dumps

BINARY_HEADER = "Inference-Header-Content-Length"
_BINARY_ENVIRON = "HTTP_INFERENCE_HEADER_CONTENT_LENGTH"
DATATYPES = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
_LABEL_DATATYPE = {bool: "BOOL", int: "INT64", float: "FP64", str: "BYTES"}
MATRIX_INPUT = "input-0"


def blueprint(model: ServedModel) -> tuple[Blueprint, FastInfer]:
    """The ``/v2`` routes for ``model``, and its infer route for service.fast_score."""
    api = _V2(model)
    bp = Blueprint("v2", __name__, url_prefix="/v2")
    bp.add_url_rule("", "server_metadata", api.server_metadata, methods=["GET"])
    bp.add_url_rule("/health/live", "live", api.live, methods=["GET"])
    bp.add_url_rule("/health/ready", "ready", api.ready, methods=["GET"])
    for prefix in ("/models/<name>", "/models/<name>/versions/<version>"):
        bp.add_url_rule(prefix, "model_metadata", api.model_metadata, methods=["GET"])
        bp.add_url_rule(f"{prefix}/ready", "model_ready", api.model_ready, methods=["GET"])
        bp.add_url_rule(f"{prefix}/infer", "infer", api.infer, methods=["POST"])
    render_errors(bp)
    return bp, FastInfer(api)


def _check_ready() -> None:
    """The spec answers "not ready" with a 4xx: 400, with the reason and Retry-After."""
    try:
        current_scoring().runner.check_ready()
    except NotReady as exc:
        error = HTTPStatusError(400, exc.message)
        error.headers.update(exc.headers)  # Retry-After
        raise error from None


class _V2:
    def __init__(self, model: ServedModel) -> None:
        self.model = model
        info = model.info
        self.features = info.feature_names
        self.metadata = {
            "name": model.name,
            "versions": [model.version] if model.version else [],
            "platform": "sklearn",
            "inputs": [
                {"name": MATRIX_INPUT, "datatype": datatype_of(info.input_dtype), "shape": [-1, info.n_features]}
            ],
            "outputs": [{"name": "predict", "datatype": _label_datatype(info.classes), "shape": [-1]}]
            + (
                [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(info.classes or [])]}]
                if info.has_predict_proba
                else []
            ),
        }

    def server_metadata(self) -> Response:
        return json_response({"name": "sklearn-scoring", "version": __version__, "extensions": ["binary_tensor_data"]})

    def live(self) -> Response:
        return json_response({"live": True})

    def ready(self) -> Response:
        _check_ready()
        return json_response({"ready": True})

    def model_metadata(self, name: str, version: str | None = None) -> Response:
        self.model.check(name, version)
        return json_response(self.metadata)

    def model_ready(self, name: str, version: str | None = None) -> Response:
        self.model.check(name, version)
        _check_ready()
        return json_response({"name": self.model.name, "ready": True})

    def infer(self, name: str, version: str | None = None) -> Response:
        self.model.check(name, version)
        inference = self.decode(request.get_data(), request.headers.get(BINARY_HEADER))
        payload, content_type, headers = self.encode(inference, predict(inference.rows, inference.method))
        response = Response(payload, 200, content_type=content_type)
        response.headers.extend(headers)
        return response

    def decode(self, body: bytes, binary_header: str | None) -> _Inference:
        """An infer request's rows, method and output options (Flask-free: service.fast_score calls it too).

        Raises
        ------
        BadInput
            The request is not an inference request this model can answer (the message says why).
        """
        document, binary = _split_body(body, binary_header)
        if not isinstance(document, dict) or not isinstance(document.get("inputs"), list) or not document["inputs"]:
            raise BadInput(
                'An inference request is a JSON object with "inputs": a non-empty list of tensors '
                '{"name", "shape", "datatype", "data"}.'
            )
        method, binary_output = _requested(document)
        blobs = _Blobs(binary)
        tensors = [_read_tensor(tensor, i, blobs) for i, tensor in enumerate(document["inputs"])]
        blobs.check_consumed()
        return _Inference(document, self._rows(tensors), method, binary_output)

    def _rows(self, tensors: list[tuple[str, list[int], list]]):
        features = self.features or []
        if len(tensors) == 1 and (tensors[0][0] not in features or len(features) == 1):
            name, shape, data = tensors[0]
            return to_rows(_shown(name), _matrix_rows(name, shape, data, self.model.info.n_features), self.model)
        names = [name for name, _, _ in tensors]
        if sorted(names) != sorted(features):
            columns = escape_markup(", ".join(features))
            expected = f"one input per feature column ({columns})" if features else "no column inputs"
            got = ", ".join(quote(name) for name in names[:10]) + (", ..." if len(names) > 10 else "")
            raise BadInput(
                f"Inputs {got} do not fit {self.model.info.label}: send one input tensor "
                f"[rows, {self.model.info.n_features}] or {expected}."
            )
        columns = {name: _column(name, shape, data) for name, shape, data in tensors}
        lengths = {len(values) for values in columns.values()}
        if len(lengths) != 1:
            raise BadInput(
                f"The column inputs have different lengths ({sorted(lengths)}); every column needs one value per row."
            )
        return to_rows("inputs", list(map(list, zip(*(columns[f] for f in features), strict=True))), self.model)

    def encode(self, inference: _Inference, output: object) -> tuple[bytes, str, list[tuple[str, str]]]:
        """The answer to ``inference`` given run()'s ``output``: (body, Content-Type, other headers)."""
        method = inference.method
        if method == "predict":
            values, shape = output, [len(output)]
            datatype = _LABEL_DATATYPE.get(type(output[0]), "FP64") if output else "FP64"
            parameters = None
        else:
            probabilities = output["probabilities"]
            values = [p for row in probabilities for p in row]
            shape = [len(probabilities), len(probabilities[0]) if probabilities else 0]
            datatype, parameters = "FP64", {"classes": output["classes"]}
        tensor: dict[str, object] = {"name": method, "datatype": datatype, "shape": shape}
        if parameters:
            tensor["parameters"] = parameters
        blob = None
        if inference.binary_output:
            blob = _encode(values, datatype)
            tensor["parameters"] = {**(parameters or {}), "binary_data_size": len(blob)}
        else:
            tensor["data"] = values
        answer: dict[str, object] = {"model_name": self.model.name}
        if self.model.version:
            answer["model_version"] = self.model.version
        if isinstance(inference.document.get("id"), str):
            answer["id"] = inference.document["id"]
        answer["outputs"] = [tensor]
        header = dumps(answer)
        if blob is None:
            return header, "application/json", []
        return header + blob, "application/octet-stream", [(BINARY_HEADER, str(len(header)))]


class FastInfer:
    """``POST /v2/models/<name>[/versions/<version>]/infer`` for service.fast_score, decoded and encoded by the
    view's own code; a request for another model is left to the view (its 404 names the model only to a client with
    the key)."""

    _RULES = {5: "/v2/models/<name>/infer", 7: "/v2/models/<name>/versions/<version>/infer"}

    def __init__(self, api: _V2) -> None:
        self.api = api

    def accepts(self, path: str) -> bool:
        return path.startswith("/v2/models/") and path.endswith("/infer")

    def decode(self, path: str, body: bytes, environ: dict) -> Decoded | None:
        parts = path.split("/")
        model = self.api.model
        if len(parts) not in self._RULES or parts[3] != model.name:
            return None
        if len(parts) == 7 and (parts[4] != "versions" or parts[5] != model.version):
            return None
        inference = self.api.decode(body, environ.get(_BINARY_ENVIRON))
        if inference.method not in METHODS:
            return None
        return Decoded(self._RULES[len(parts)], {"data": inference.rows, "method": inference.method}, inference)

    def encode(self, decoded: Decoded, ran: Ran) -> tuple[bytes, list[tuple[str, str]]]:
        payload, content_type, headers = self.api.encode(decoded.context, ran.output)
        return payload, [("Content-Type", content_type), ("Content-Length", str(len(payload))), *headers]


@dataclass(frozen=True)
class _Inference:
    document: dict
    rows: object
    method: str
    binary_output: bool


def _label_datatype(classes: list | None) -> str:
    return _LABEL_DATATYPE.get(type(classes[0]), "FP64") if classes else "FP64"


def _split_body(body: bytes, header_length: str | None) -> tuple[object, bytes]:
    """The JSON request and the binary tensor data after it (binary tensor data extension)."""
    if header_length is None:
        return parse_json_body(body), b""
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 < length <= len(body):
        raise BadInput(
            f"{BINARY_HEADER} must be the JSON header's length in bytes, at most the body's {len(body)}; got "
            f"{quote(header_length)}."
        )
    return parse_json_body(body[:length]), body[length:]


class _Blobs:
    """The binary tensor data, handed out in the order of the inputs that declare ``binary_data_size``."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def take(self, name: str, size: object) -> bytes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or self.offset + size > len(self.data):
            shown = size if isinstance(size, int) and not isinstance(size, bool) else quote(str(size))
            raise BadInput(
                f'Input "{_shown(name)}" declares binary_data_size {shown}, but only '
                f"{len(self.data) - self.offset} bytes of binary data are left in the body."
            )
        self.offset += size
        return self.data[self.offset - size : self.offset]

    def check_consumed(self) -> None:
        if self.offset != len(self.data):
            raise BadInput(
                f"The body has {len(self.data) - self.offset} bytes of binary data that no input declares "
                "(parameters.binary_data_size)."
            )


def _read_tensor(tensor: object, index: int, blobs: _Blobs) -> tuple[str, list[int], list]:
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise BadInput(f'Input {index} must be a JSON object with "name", "shape", "datatype" and "data".')
    name, shape, datatype = tensor["name"], tensor.get("shape"), tensor.get("datatype")
    dimensions = isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    if not dimensions or min(shape, default=0) < 0:
        raise BadInput(
            f'Input "{_shown(name)}" needs "shape": a list of non-negative integers, got {quote(str(shape))}.'
        )
    if datatype not in DATATYPES:
        raise BadInput(
            f'Input "{_shown(name)}" has datatype {quote(str(datatype))}, but a tensor of numbers is expected: '
            f"{', '.join(DATATYPES)}."
        )
    parameters = tensor.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadInput(
            f'Input "{_shown(name)}" has parameters {quote(str(parameters))}, but a JSON object is expected, e.g. '
            '{"binary_data_size": 32}.'
        )
    size = parameters.get("binary_data_size")
    if size is not None:
        dtype = DATATYPES[datatype]
        raw = blobs.take(name, size)
        count = math.prod(shape)  # exact: numpy's int64 product wraps around for a huge shape
        if len(raw) != count * dtype.itemsize:
            raise BadInput(
                f'Input "{_shown(name)}" has {len(raw)} bytes of binary data, but shape {shape} of {datatype} needs '
                f"{count * dtype.itemsize}."
            )
        return name, shape, np.frombuffer(raw, dtype).tolist()
    data = tensor.get("data")
    if not isinstance(data, list):
        raise BadInput(f'Input "{_shown(name)}" needs "data" (a list, row-major) or parameters.binary_data_size.')
    _check_datatype(name, datatype, data)
    return name, shape, data


def datatype_of(dtype: np.dtype) -> str:
    """The V2 datatype of a model's input dtype (one of model_format.NUMERIC_DTYPES), by kind and width, so byte order
    never matters; FP64 for a float wider than V2 names."""
    if dtype.kind == "b":
        return "BOOL"
    name = f"{dict(i='INT', u='UINT', f='FP')[dtype.kind]}{dtype.itemsize * 8}"
    return name if name in DATATYPES else "FP64"


def _check_datatype(name: str, datatype: str, data: list) -> None:
    """JSON ``data`` must hold values of the declared datatype: 2**70 is no INT64 value, 1.5 none of INT32, 1e300 none
    of FP32. Only numbers and booleans are judged; anything else (strings, null, ragged rows) is left to the
    conversion, whose messages name the position. FP64 holds every JSON number the conversion accepts."""
    if datatype == "FP64":
        return
    dtype = DATATYPES[datatype]
    try:
        values = np.asarray(data)
    except (ValueError, OverflowError):
        values = None
    if values is not None and values.dtype.kind in "biuf" and _holds(dtype, values):
        return
    stack = [data]
    while stack:  # the first value that does not fit, for the message (the valid case returned above)
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, int | float) and not _holds(dtype, np.asarray([item], dtype=object)):
            raise BadInput(
                f'Input "{_shown(name)}" has value {_shown(json.dumps(item))}, but its datatype {datatype} holds '
                f"{_range_of(dtype)}."
            )


def _holds(dtype: np.dtype, values: np.ndarray) -> bool:
    """Whether every value (a numeric array, or an object array of Python numbers) is a value of ``dtype``."""
    if values.size == 0:
        return True
    kinds = {type(value) for value in values.flat} if values.dtype.kind == "O" else {values.dtype.kind}
    if dtype.kind == "b":
        return kinds <= {"b", bool}
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        return kinds <= {"i", "u", int} and limits.min <= values.min() and values.max() <= limits.max
    # Python ints compare exactly with the float bound, however large.
    return kinds <= {"i", "u", "f", int, float} and np.abs(values).max() <= float(np.finfo(dtype).max)


def _range_of(dtype: np.dtype) -> str:
    if dtype.kind == "b":
        return "only true and false"
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        return f"integers from {limits.min} to {limits.max}"
    return f"numbers up to {float(np.finfo(dtype).max):g} in magnitude"


def _matrix_rows(name: str, shape: list[int], data: list, n_features: int) -> list:
    """The rows of a [rows, features] tensor whose data is nested (as is) or flat (cut into rows)."""
    if len(shape) != 2 or shape[1] != n_features:
        raise BadInput(
            f'Input "{_shown(name)}" has shape {shape}, but the model expects [rows, {n_features}]: one row of '
            f"{n_features} features per prediction."
        )
    if data and not isinstance(data[0], list):
        if len(data) != shape[0] * n_features:
            raise BadInput(
                f'Input "{_shown(name)}" has {len(data)} values, but shape {shape} needs {shape[0] * n_features}.'
            )
        return [data[i : i + n_features] for i in range(0, len(data), n_features)]
    if len(data) != shape[0]:
        raise BadInput(f'Input "{_shown(name)}" has {len(data)} rows, but its shape {shape} says {shape[0]}.')
    return data


def _column(name: str, shape: list[int], data: list) -> list:
    if len(shape) == 2 and shape[1] == 1 and all(isinstance(v, list) and len(v) == 1 for v in data):
        data = [v[0] for v in data]
    elif len(shape) != 1 and not (len(shape) == 2 and shape[1] == 1):
        raise BadInput(f'Column input "{_shown(name)}" has shape {shape}, but a column is [rows] or [rows, 1].')
    if len(data) != shape[0]:
        raise BadInput(f'Column input "{_shown(name)}" has {len(data)} values, but its shape {shape} says {shape[0]}.')
    return data


def _shown(text: str) -> str:
    """Client text (a tensor name, a JSON value) as a message shows it between its double quotes: cut (errors.cap) and
    markup escaped. Names are compared as sent, never in this form."""
    return escape_markup(cap(text))


def _requested(document: dict) -> tuple[str, bool]:
    """(method, binary output?) from the request's ``parameters`` and ``outputs``."""
    parameters = document.get("parameters") or {}
    outputs = document.get("outputs") or []
    if not isinstance(parameters, dict) or not isinstance(outputs, list):
        raise BadInput('"parameters" must be a JSON object and "outputs" a list of {"name"} objects.')
    names = [o.get("name") if isinstance(o, dict) else o for o in outputs]
    unknown = [quote(str(n)) for n in names if n not in METHODS]
    if unknown:
        raise BadInput(f"Output {unknown[0]} is not an output of this model; outputs: {', '.join(METHODS)}.")
    method = parameters.get("method")
    if len(set(names)) > 1 or (names and method is not None and method != names[0]):
        raise BadInput("Ask for one output per request: predict or predict_proba (by outputs or parameters.method).")
    method = names[0] if names else (method if method is not None else "predict")
    binary = parameters.get("binary_data_output") is True
    for output in outputs:
        output_parameters = output.get("parameters") if isinstance(output, dict) else None
        if output_parameters is None:
            continue
        if not isinstance(output_parameters, dict):
            raise BadInput(
                f"Output {quote(str(output.get('name')))} has parameters {quote(str(output_parameters))}, but a "
                'JSON object is expected, e.g. {"binary_data": true}.'
            )
        flag = output_parameters.get("binary_data")
        if isinstance(flag, bool):
            binary = flag
    return method, binary


def _encode(values: list, datatype: str) -> bytes:
    if datatype == "BYTES":
        encoded = [str(v).encode("utf-8") for v in values]
        return b"".join(struct.pack("<I", len(b)) + b for b in encoded)
    return np.asarray(values, dtype=DATATYPES[datatype]).tobytes()
