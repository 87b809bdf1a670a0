"""Undecorated run(): returns the value named by the raw body, to check how return values are serialised."""

import json

import numpy as np
import pandas as pd
from azureml.contrib.services.aml_response import AMLResponse
from flask import Response


def init():
    pass


def run(raw_data):
    values = {
        "list": lambda: [1, 2],
        "tuple": lambda: (1, 2),
        "none": lambda: None,
        "string": lambda: "hello",
        "json-string": lambda: json.dumps({"a": 1}),
        "unicode": lambda: {"k": "é€"},
        "bigint": lambda: 2**70,
        "nonfinite": lambda: [float("nan"), float("inf"), float("-inf")],
        "ndarray": lambda: np.array([[1.5, np.nan], [np.inf, 2.0]]),
        "np-int": lambda: np.int64(7),
        "np-float32-in-dict": lambda: {"a": np.float32(1.5)},
        "dataframe": lambda: pd.DataFrame({"a": [1, 2], "b": [0.5, None]}),
        "set": lambda: {3},
        "bytes": lambda: b"raw",
        "aml-text": lambda: AMLResponse("plain text", 200, {"Custom": "a, b", "Content-Type": "text/plain"}),
        "aml-json": lambda: AMLResponse({"a": 1}, 201, json_str=True),
        "aml-json-numpy": lambda: AMLResponse({"a": np.int64(1)}, 201, json_str=True),
        "aml-none": lambda: AMLResponse(None, 202),
        "aml-503": lambda: AMLResponse("down", 503),
        "flask-500": lambda: Response("x", 500),
    }
    return values[raw_data]()
