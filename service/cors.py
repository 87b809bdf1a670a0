"""CORS for the Azure routes, as the reference configures flask-cors 6: ``CORS(blueprint, methods=["GET", "POST"],
origins=<AML_CORS_ORIGINS split on commas>)``, reproduced header for header.

- An origin is ``*`` (any origin), a regular expression when it holds one of ``*\\]?$^[]()`` (matched from the start,
  case-insensitively, as ``re.match`` does), else a literal compared case-insensitively.
- A matching ``Origin`` is echoed in Access-Control-Allow-Origin (never ``*``); ``Vary: Origin`` is added when the
  answer can vary: more than one origin configured, or any of them a pattern (``*`` is one).
- A preflight (OPTIONS with Access-Control-Request-Method GET or POST) also gets Access-Control-Allow-Headers (the
  requested names, stripped and sorted, case kept) and Access-Control-Allow-Methods ``GET, POST``; any other method
  keeps only the origin header. ``Access-Control-Request-Private-Network: true`` is answered ``false``.
- A disallowed origin is still served, without CORS headers: the browser enforces the policy.

flask-cors itself is not used: its after_request hook selects responses by URL pattern, so it would also decorate the
app-level 404/405 answers that the reference (CORS on the blueprint only) sends bare, and the pieces that would let us
call it per routed response are internal.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from flask import Request, Response

ALLOWED_METHODS = ("GET", "POST")
_REGEX_HINTS = frozenset("*\\]?$^[]()")


@dataclass(frozen=True)
class _Policy:
    literals: frozenset[str]
    patterns: tuple[re.Pattern, ...]
    varies: bool

    def allows(self, origin: str) -> bool:
        return origin.casefold() in self.literals or any(p.match(origin) for p in self.patterns)


@functools.lru_cache(maxsize=8)
def _policy(origins: tuple[str, ...]) -> _Policy:
    # Built once per configuration (the settings hold one tuple), not per request.
    sources = [".*" if origin == "*" else origin for origin in origins]
    patterns = tuple(re.compile(s, re.IGNORECASE) for s in sources if not _REGEX_HINTS.isdisjoint(s))
    literals = frozenset(s.casefold() for s in sources if _REGEX_HINTS.isdisjoint(s))
    return _Policy(literals, patterns, varies=len(sources) > 1 or bool(patterns))


def add_cors_headers(request: Request, response: Response, origins: tuple[str, ...]) -> None:
    """Add the reference's CORS headers to ``response`` when ``request``'s Origin is one of ``origins``."""
    origin = request.headers.get("Origin")
    if not origins or not origin:
        return
    policy = _policy(origins)
    if not policy.allows(origin):
        return
    headers = response.headers
    headers["Access-Control-Allow-Origin"] = origin
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        headers["Access-Control-Allow-Private-Network"] = "false"
    preflight_method = request.headers.get("Access-Control-Request-Method", "").upper()
    if request.method == "OPTIONS" and preflight_method in ALLOWED_METHODS:
        requested = request.headers.get("Access-Control-Request-Headers")
        names = ", ".join(sorted(h.strip() for h in requested.split(","))) if requested else ""
        if names:
            headers["Access-Control-Allow-Headers"] = names
        headers["Access-Control-Allow-Methods"] = ", ".join(ALLOWED_METHODS)
    if policy.varies:
        response.vary.add("Origin")
