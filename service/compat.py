"""The Azure ML scoring API for entry scripts: AMLRequest, AMLResponse and @rawhttp.

Scripts import them as ``azureml.contrib.services.aml_request`` / ``aml_response`` (or from
``azureml_inference_server_http.api``); :func:`install` makes those names resolve to this module, as the reference
server does, when an entry script is loaded (never on ``import service``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from flask import Request, Response

from service.responses import dumps

ALIASES = (
    "azureml.contrib.services.aml_request",
    "azureml.contrib.services.aml_response",
    "azureml_inference_server_http.api.aml_request",
    "azureml_inference_server_http.api.aml_response",
)
RAWHTTP_ATTRIBUTE = "__azureml_rawhttp__"


def rawhttp(func: Callable) -> Callable:
    """Mark ``run()`` to receive the HTTP request (an :class:`AMLRequest`) as its first argument, for any method."""
    setattr(func, RAWHTTP_ATTRIBUTE, True)
    return func


def is_rawhttp(func: Callable) -> bool:
    """True when ``func`` was decorated with :func:`rawhttp`."""
    return bool(getattr(func, RAWHTTP_ATTRIBUTE, False))


class AMLRequest(Request):
    """The request class of the service's Flask app, so a @rawhttp run() receives a real AMLRequest."""


class AMLResponse(Response):
    """A response returned as-is by run().

    ``json_str=True`` serialises ``message`` as JSON; otherwise it is the raw body (text/html unless
    ``response_headers`` sets a Content-Type). ``message=None`` gives ``{}``. Each header value is split on commas
    into repeated headers, as in the reference (``{"X": "a, b"}`` -> ``X: a`` and ``X: b``).
    """

    def __init__(
        self,
        message: object,
        status_code: int,
        response_headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        headers = dict(response_headers or {})
        if message is None:
            super().__init__(b"{}", status=status_code, mimetype="application/json")
        elif json_str:
            super().__init__(dumps(message), status=status_code, mimetype="application/json")
        else:
            super().__init__(message, status=status_code)
            if any(name.lower() == "content-type" for name in headers):
                del self.headers["Content-Type"]
        self.headers["x-ms-run-function-failed"] = str(bool(run_function_failed))
        for name, value in headers.items():
            for part in str(value).split(","):
                self.headers.add(name, part.strip())


def install() -> None:
    """Make the Azure import names of this API resolve to this module (idempotent)."""
    module = sys.modules[__name__]
    for alias in ALIASES:
        sys.modules[alias] = module
