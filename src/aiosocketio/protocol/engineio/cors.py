"""Cross-origin headers for polling answers, as the npm ``cors`` package computes them.

Pure functions: they take the :class:`~aiosocketio.protocol.engineio.options.CorsOptions` and the
request's headers and return the headers to add.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiosocketio.protocol.engineio.options import CorsOptions

__all__ = ["allowed_origin", "cors_headers", "preflight_headers"]


def allowed_origin(cors: CorsOptions, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``, or None to send none.

    ``"*"`` without credentials answers ``*``; ``True`` (or ``"*"`` with credentials)
    reflects the request's origin; a list or a callable admits the origins it accepts.
    """
    allowed = cors.origin
    if allowed == "*" and not cors.credentials:
        return "*"
    if allowed is True or allowed == "*":
        return origin
    if isinstance(allowed, str):
        return allowed
    if callable(allowed):
        return origin if allowed(origin) is True else None
    if allowed and origin in allowed:
        return origin
    return None


def cors_headers(cors: CorsOptions, origin: str | None) -> list[tuple[str, str]]:
    """The headers of an ordinary (not preflight) answer."""
    headers: list[tuple[str, str]] = []
    value = allowed_origin(cors, origin)
    if value:
        headers.append(("access-control-allow-origin", value))
    if value != "*":
        headers.append(("vary", "Origin"))
    if cors.credentials:
        headers.append(("access-control-allow-credentials", "true"))
    if cors.exposed_headers:
        headers.append(("access-control-expose-headers", ",".join(cors.exposed_headers)))
    return headers


def preflight_headers(
    cors: CorsOptions, request_headers: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The headers of the 204 answer to an ``OPTIONS`` preflight."""
    headers = cors_headers(cors, request_headers.get("origin"))
    headers.append(("access-control-allow-methods", ",".join(cors.methods)))
    if cors.allowed_headers is not None:
        allowed = ",".join(cors.allowed_headers)
    else:
        allowed = request_headers.get("access-control-request-headers", "")
    if allowed:
        headers.append(("access-control-allow-headers", allowed))
        headers.append(("vary", "Access-Control-Request-Headers"))
    if cors.max_age is not None:
        headers.append(("access-control-max-age", str(cors.max_age)))
    return headers
