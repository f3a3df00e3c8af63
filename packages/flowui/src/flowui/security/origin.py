"""CSRF: refusing mutating requests that a browser sends on behalf of another site.

The API takes its credential from an ``Authorization`` header, never a cookie, and browsers
never add that header to a request by themselves — so a forged cross-site form or ``fetch``
arrives without a token and is refused already (classic CSRF needs ambient credentials).
As a second wall, a mutating request (POST, PUT, PATCH, DELETE) is refused with 403 when the
browser says it comes from elsewhere: an ``Origin`` that is not the server's own (the
scheme and ``Host`` the request was sent to) or one of ``allowed_origins``, or
``Sec-Fetch-Site: cross-site`` / ``same-site``. Clients that are not browsers (curl, the
CLI, SDKs) send neither header and are judged by their token alone.
"""

from __future__ import annotations

from typing import Collection
from urllib.parse import urlsplit

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalized_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case with the default port left out; None if it is not one."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{scheme}://{host}:{port}"


def own_origin(scheme: str, host_header: str) -> str | None:
    """The origin a browser shows for a page of this server: the request's scheme and Host."""
    web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return normalized_origin(f"{web_scheme}://{host_header}") if host_header else None


def cross_site_reason(origin: str | None, fetch_site: str | None, own: str | None,
                      allowed_origins: Collection[str]) -> str | None:  # fmt: skip
    """Why a mutating request looks cross-site (a one-line reason), or None when it does not."""
    if origin is not None:
        normalized = normalized_origin(origin)
        if normalized is None or (normalized != own and normalized not in allowed_origins):
            return f"cross-origin request refused: Origin {origin[:200]!r} is not this server's origin"
        return None
    if fetch_site is not None and fetch_site.strip().lower() in ("cross-site", "same-site"):
        return f"cross-site request refused (Sec-Fetch-Site: {fetch_site.strip()[:40]})"
    return None


__all__ = ["MUTATING_METHODS", "cross_site_reason", "normalized_origin", "own_origin"]
