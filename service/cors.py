"""CORS for the Azure routes, as the reference configures flask-cors: listed origins only, methods GET and POST.

An allowed Origin gets Access-Control-Allow-Origin (echoed) and Vary: Origin; a preflight also gets the allowed
methods and the requested headers. A disallowed origin is still served, just without CORS headers (the browser
enforces the policy, as with the reference).
"""

from __future__ import annotations

from flask import Request, Response

ALLOWED_METHODS = ("GET", "POST")


def add_cors_headers(request: Request, response: Response, origins: tuple[str, ...]) -> None:
    """Add CORS headers to ``response`` when ``request`` comes from one of ``origins``."""
    origin = request.headers.get("Origin")
    if not origins or origin is None or origin not in origins:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    requested_method = request.headers.get("Access-Control-Request-Method")
    if request.method == "OPTIONS" and requested_method:
        if requested_method.upper() not in ALLOWED_METHODS:
            del response.headers["Access-Control-Allow-Origin"]
            return
        requested = request.headers.get("Access-Control-Request-Headers", "")
        names = sorted({h.strip().lower() for h in requested.split(",") if h.strip()})
        if names:
            response.headers["Access-Control-Allow-Headers"] = ", ".join(names)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(ALLOWED_METHODS)
    response.vary.add("Origin")
