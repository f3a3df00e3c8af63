"""An http task's ``url`` template, with each ``${{ }}`` value encoded for where it lands.

Pasting a value into a URL as text lets it rewrite the URL: ``@other-host/`` after a port
turns the intended host into credentials, ``x&admin=true`` adds a query parameter, ``../``
climbs out of the intended path. So the literal text of the template decides the URL's
structure, and a value can only fill the slot it sits in:

* **path** (after the first ``/`` of the path): percent-encoded as one segment — ``/``,
  ``?``, ``#``, ``%`` and the rest become ``%XX``; a value made only of dots (``..``) has its
  dots encoded, so it cannot be a dot segment either;
* **query** and **fragment**: percent-encoded whole (``&``, ``=``, ``+``, ``#`` included);
* **host or port** (inside ``scheme://...`` before the path): only host-name characters
  (letters, digits, ``.``, ``-``), or a bracketed IPv6 address for a whole host; anything
  else (``@``, ``:``, ``/``) is refused, since it would move the request elsewhere;
* **scheme** (before ``://``): letters only;
* **the start of the URL** (``${{ params.base }}/items``): the value is the base the
  author chose to make a parameter — an absolute ``http(s)://host[:port][/path]`` with no
  credentials, query or fragment;
* **the whole URL** (``url: "${{ item }}"``): any http(s) URL.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import quote, urlsplit

from flowbuilder.expressions import EXPRESSION, whole_expression

_HOST_PART = re.compile(r"[A-Za-z0-9.\-]+")
_BRACKETED_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]")
_SCHEME_PART = re.compile(r"[A-Za-z]+")


class UrlValueError(ValueError):
    """A value cannot fill its slot of the URL template without changing the URL's shape."""


def encode_segment(text: str) -> str:
    """``text`` as one path segment: every reserved character encoded, dot segments too."""
    encoded = quote(text, safe="")
    if encoded and set(encoded) == {"."}:
        encoded = "%2E" * len(encoded)
    return encoded


def render_url(template: str, value_of: Callable[[str], str]) -> str:
    """The URL ``template`` with each expression replaced by its value (``value_of(expression)``),
    encoded for its slot; :class:`UrlValueError` when a value does not fit its slot."""
    whole = whole_expression(template)
    if whole is not None:
        return value_of(whole)
    built = ""
    slot = "start"
    position = 0
    for match in EXPRESSION.finditer(template):
        built, slot = _append_literal(built, slot, template[position : match.start()])
        expression = match.group(1).strip()
        followed_by_scheme_end = template.startswith("://", match.end())
        value = value_of(expression)
        built, slot = _append_value(built, slot, value, expression, followed_by_scheme_end)
        position = match.end()
    built, _ = _append_literal(built, slot, template[position:])
    return built


def _append_literal(built: str, slot: str, text: str) -> tuple[str, str]:
    """Literal template text, moving the slot along the URL's delimiters."""
    for char in text:
        built += char
        if slot in ("start", "scheme"):
            slot = "authority" if built.endswith("://") else "scheme"
        elif slot == "authority" and char in "/?#":
            slot = {"/": "path", "?": "query", "#": "fragment"}[char]
        elif slot == "path" and char in "?#":
            slot = "query" if char == "?" else "fragment"
        elif slot == "query" and char == "#":
            slot = "fragment"
    return built, slot


def _append_value(built: str, slot: str, value: str, expression: str, before_scheme_end: bool) -> tuple[str, str]:
    shown = f"`${{{{ {expression} }}}}`"
    excerpt = value if len(value) <= 60 else value[:57] + "..."
    if slot in ("path", "query", "fragment"):
        return built + (encode_segment(value) if slot == "path" else quote(value, safe="")), slot
    if slot == "authority":
        authority = built.rpartition("://")[2]
        if _HOST_PART.fullmatch(value) or (not authority and _BRACKETED_IPV6.fullmatch(value)):
            return built + value, slot
        raise UrlValueError(
            f"the value of {shown} ({excerpt!r}) would change the host or port of the URL:"
            " in the host/port part only letters, digits, '.' and '-' are allowed"
            " (put a '/' before the expression, or use the `path` field, if it is a path)"
        )
    if slot == "scheme" or before_scheme_end:
        if _SCHEME_PART.fullmatch(value):
            return built + value, "scheme"
        raise UrlValueError(f"the value of {shown} ({excerpt!r}) is not a URL scheme (letters only)")
    # slot == "start": the value is the base of the URL, the rest of the template follows it.
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.query
        or parts.fragment
        or "?" in value
        or "#" in value
    ):
        raise UrlValueError(
            f"the value of {shown} ({excerpt!r}) starts the URL, so it must be a base like"
            " 'http://host:8000' or 'https://host/api' (no credentials, query or fragment)"
        )
    return value, "path" if parts.path else "authority"
