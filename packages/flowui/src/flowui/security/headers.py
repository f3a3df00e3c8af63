"""The security headers every response carries (and ``Cache-Control: no-store`` on the API)."""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
"""Set on every response, replacing any value the app set: the UI needs nothing looser (its
assets come from the server itself), and a page that could be framed or sniffed is a
click-jacking or XSS risk."""

NO_STORE = (b"cache-control", b"no-store")
"""API answers hold run data and must not linger in shared or browser caches."""

API_PREFIX = "/api"


def with_security_headers(headers: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    """``headers`` (an ASGI header list) with ours in place of any of the same names."""
    ours = SECURITY_HEADERS + ((NO_STORE,) if path == API_PREFIX or path.startswith(API_PREFIX + "/") else ())
    names = {name for name, _ in ours}
    return [(name, value) for name, value in headers if name.lower() not in names] + list(ours)


__all__ = ["API_PREFIX", "CONTENT_SECURITY_POLICY", "NO_STORE", "SECURITY_HEADERS", "with_security_headers"]
