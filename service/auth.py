"""Optional bearer-key authentication for /score, /swagger.json, /model and the other protocols' scoring and model
metadata routes (health, readiness, metrics and the /docs page stay open; /docs/openapi.json answers only an outline
without the key)."""

from __future__ import annotations

import hmac

from service.errors import Unauthorized

PROTECTED_ENDPOINTS = frozenset(
    {
        "score",
        "swagger",
        "model",
        "v2.model_metadata",
        "v2.infer",
        "kserve_v1.models",
        "kserve_v1.predict",
        "kserve_v1.predict_proba",
        "mlflow.invocations",
    }
)


def check_bearer_key(authorization: str | None, api_key: str) -> None:
    """Accept ``Authorization: Bearer <api_key>``; the key comparison takes constant time.

    Raises
    ------
    Unauthorized
        The header is missing, not a Bearer credential, or holds another key (the message does not say which).
    """
    if not presents_bearer_key(authorization, api_key):
        raise Unauthorized(
            "Missing or invalid credentials: expected the header 'Authorization: Bearer <key>' with the service key.",
            headers={"WWW-Authenticate": 'Bearer realm="scoring"'},
        )


def presents_bearer_key(authorization: str | None, api_key: str) -> bool:
    """Whether ``authorization`` is ``Bearer <api_key>``, compared in constant time; for open routes that answer
    less without the key."""
    scheme, _, presented = (authorization or "").partition(" ")
    valid = hmac.compare_digest(presented.strip().encode("utf-8"), api_key.encode("utf-8"))
    return scheme.lower() == "bearer" and valid
