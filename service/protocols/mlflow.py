"""MLflow's scoring protocol (``mlflow models serve``) for the served model: ``/invocations``, ``/ping``, ``/version``.

``/invocations`` takes MLflow's JSON forms, exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``
and ``inputs`` (plus ``params``, where ``{"method": "predict_proba"}`` asks for probabilities), or ``text/csv`` with
a header row, and answers ``{"predictions": [...]}``. Errors are MLflow's ``{"error_code", "message"}``.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, request

from service import __version__
from service.errors import BadInput, UnsupportedMediaType, cap, escape_markup, quote
from service.fast_score import JSON, Decoded, content_type
from service.inputs import parse_json_body
from service.pipeline import Ran, current_scoring
from service.protocols.scoring import METHODS, ServedModel, predict, render_errors, to_rows
from service.responses import dumps

FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CSV_INPUT = "csv"
"""The input name the conversion's messages give a text/csv body."""
_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    415: "BAD_REQUEST",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def blueprint(model: ServedModel) -> tuple[Blueprint, FastInvocations]:
    """``/invocations``, ``/ping`` (also ``/health``) and ``/version`` for ``model``, and ``/invocations`` for
    service.fast_score."""
    bp = Blueprint("mlflow", __name__)

    def ping() -> Response:
        current_scoring().runner.check_ready()
        return Response("\n", 200, mimetype="application/json")

    def version() -> Response:
        return Response(__version__, 200, mimetype="text/plain")

    def invocations() -> Response:
        body = request.get_data()
        if request.mimetype == "text/csv":
            rows = _csv_rows(body, model)
            method = "predict"
        elif request.mimetype == JSON:
            rows, method = _json_rows(parse_json_body(body), model)
        else:
            got = quote(request.mimetype) if request.mimetype else "none"
            raise UnsupportedMediaType(f"Content-Type must be application/json or text/csv, got {got}.")
        return Response(_answer(method, predict(rows, method)), 200, mimetype=JSON)

    bp.add_url_rule("/ping", "ping", ping, methods=["GET"])
    bp.add_url_rule("/health", "health", ping, methods=["GET"])
    bp.add_url_rule("/version", "version", version, methods=["GET"])
    bp.add_url_rule("/invocations", "invocations", invocations, methods=["POST"])
    render_errors(bp, _error_body)
    return bp, FastInvocations(model)


class FastInvocations:
    """``POST /invocations`` with a JSON body for service.fast_score, decoded and encoded by the view's own code."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model

    def accepts(self, path: str) -> bool:
        return path == "/invocations"

    def decode(self, path: str, body: bytes, environ: dict) -> Decoded | None:
        if content_type(environ) != JSON:
            return None
        rows, method = _json_rows(parse_json_body(body), self.model)
        if method not in METHODS:
            return None
        return Decoded("/invocations", {"data": rows, "method": method}, method)

    def encode(self, decoded: Decoded, ran: Ran) -> tuple[bytes, list[tuple[str, str]]]:
        payload = _answer(decoded.context, ran.output)
        return payload, [("Content-Type", JSON), ("Content-Length", str(len(payload)))]


def _answer(method: str, output: object) -> bytes:
    return dumps({"predictions": output if method == "predict" else output["probabilities"]})


def _error_body(status: int, message: str) -> dict:
    code = _ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return {"error_code": code, "message": message}


def _json_rows(document: object, model: ServedModel) -> tuple[object, str]:
    if not isinstance(document, dict):
        raise BadInput(f"The request body must be a JSON object with one of {', '.join(FORMS)}.")
    forms = [key for key in FORMS if key in document]
    unknown = sorted(set(document) - set(FORMS) - {"params"})
    if len(forms) != 1 or unknown:
        got = ", ".join(quote(str(k)) for k in list(document)[:10]) or "none"
        raise BadInput(
            f"The request body must hold exactly one of {', '.join(FORMS)} (and optionally params); got keys: {got}."
        )
    params = document.get("params") or {}
    if not isinstance(params, dict) or set(params) - {"method"}:
        raise BadInput('"params" may hold only "method": "predict" or "predict_proba".')
    form = forms[0]
    value = document[form]
    if form == "dataframe_split":
        value = _split_rows(value, model)
    elif form == "inputs" and isinstance(value, dict):
        value = _column_rows(value, model)
    return to_rows(form, value, model), params.get("method", "predict")


def _split_rows(split: object, model: ServedModel) -> object:
    """pandas' split orient: rows as they are when the columns are the features in order, else as records."""
    if not isinstance(split, dict) or not isinstance(split.get("data"), list):
        raise BadInput('"dataframe_split" must be an object with "data" (a list of rows) and "columns".')
    columns, data = split.get("columns"), split["data"]
    features = model.info.feature_names
    if columns is None or columns == features or features is None:
        return data
    if not isinstance(columns, list) or not all(isinstance(row, list) and len(row) == len(columns) for row in data):
        raise BadInput('"dataframe_split" needs "columns" (a list of names) and rows with one value per column.')
    return [dict(zip(columns, row, strict=True)) for row in data]


def _column_rows(columns: dict, model: ServedModel) -> list:
    """``inputs`` as a dict of columns ``{"feature": [values...]}``: records, so the conversion checks the names."""
    if not all(isinstance(values, list) for values in columns.values()) or len({len(v) for v in columns.values()}) > 1:
        raise BadInput('"inputs" as an object needs one list of values per feature column, all of the same length.')
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _csv_rows(body: bytes, model: ServedModel):
    """CSV with a header row (as ``pandas.read_csv`` reads it for MLflow), converted as the JSON forms are: the cells
    are strings, which the conversion takes where numeric strings are accepted, with the same messages otherwise."""
    try:
        table = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"The CSV body could not be read: {escape_markup(cap(str(exc), 120))}") from None
    table = [row for row in table if row]  # blank lines, as pandas skips them
    if len(table) < 2:
        raise BadInput("The CSV body needs a header row with the feature names and at least one data row.")
    header, rows = table[0], table[1:]
    for index, row in enumerate(rows):
        if len(row) != len(header):
            raise BadInput(f"CSV row {index} has {len(row)} values, but the header has {len(header)} columns.")
    if header != model.info.feature_names and model.info.feature_names is not None:
        rows = [dict(zip(header, row, strict=True)) for row in rows]
    return to_rows(CSV_INPUT, rows, model)
