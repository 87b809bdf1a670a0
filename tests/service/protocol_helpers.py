"""Helpers of the protocol tests (import as `protocol_helpers`): iris rows, /score's answers, V2 request bodies."""

from __future__ import annotations

import json

import numpy as np
from sklearn.datasets import load_iris

MODEL = "sklearn-iris"
PROBA_MODEL = "sklearn-iris-proba"
# One row of each species and a few more: answers that differ from row to row.
ROWS = load_iris().data[[0, 50, 100, 1, 77, 140]].tolist()
FEATURES = list(load_iris().feature_names)


def score_answer(client, rows=ROWS, method="predict"):
    """What /score answers for ``rows`` (the reference every protocol must equal)."""
    response = client.post("/score", json={"data": rows, "method": method})
    assert response.status_code == 200, response.get_data()
    return response.get_json()


def v2_tensor(rows=ROWS, *, name="input-0", datatype="FP64", flat=True) -> dict:
    """One [rows, features] input tensor, data flat (row-major) or nested."""
    data = [v for row in rows for v in row] if flat else rows
    return {"name": name, "shape": [len(rows), len(rows[0])], "datatype": datatype, "data": data}


def v2_binary_body(rows=ROWS, dtype="<f8", datatype="FP64", **request) -> tuple[bytes, int]:
    """A binary-tensor-extension body (JSON header + raw little-endian data) and its header length."""
    raw = np.asarray(rows, dtype=dtype).tobytes()
    tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": datatype}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({**request, "inputs": [tensor]}).encode()
    return header + raw, len(header)
