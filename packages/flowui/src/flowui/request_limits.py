"""Refuse oversized and over-nested request bodies before any handler parses them (pure ASGI).

A body larger than ``max_body_bytes`` gets 413 whether it announces its length or streams
in chunks; a JSON body nested deeper than ``max_json_depth`` gets 400 (Python's parser
would otherwise recurse until it fails), and so does one with a lone UTF-16 surrogate escape
(``"\\ud800"``): Python's parser turns it into a string that cannot be encoded again, so a
param, a posted workflow or a task name holding one failed deep in a store's encoding (a 500).
All answer in the API's error shape.

A body must arrive whole within ``body_seconds`` (:data:`BODY_READ_SECONDS`) of the request's
head: uvicorn bounds the time between requests (keep-alive) but not the time a request's
body takes, so a client announcing ``Content-Length: 100`` and sending 2 bytes held its
connection and a server task forever. Past the deadline it gets 408 and the connection is
closed; a refused body (413) is drained under the same deadline.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Awaitable, Callable, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 64
BODY_READ_SECONDS = 30.0
"""How long a request's whole body may take to arrive (the largest allowed, 2 MiB, needs
70 kB/s); a client slower than that, or one that sends less than it announced, gets 408."""
MAX_DRAIN_BYTES = 64 * 1024 * 1024
"""Beyond this a refused body is no longer read: the connection closes (the client may see a reset)."""

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")
_ESCAPES = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.S)


def json_depth(body: bytes) -> int:
    """How deeply ``body``'s arrays and objects nest (strings ignored); linear in its size."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b"", body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def lone_surrogate(body: bytes) -> int | None:
    """Where ``body``'s first ``\\uD800``-``\\uDFFF`` escape that is not half of a pair starts
    (a byte offset), or None; linear in the body's size. ``\\\\`` is read as one escape, so
    an escaped backslash followed by ``ud800`` is text, not a surrogate."""
    if b"\\u" not in body:
        return None
    pending = -1  # where an unpaired high surrogate starts
    pending_end = -1
    for match in _ESCAPES.finditer(body):
        code = match.group(1)
        value = int(code, 16) if code is not None else -1
        if pending >= 0:
            if match.start() == pending_end and 0xDC00 <= value <= 0xDFFF:
                pending = -1
                continue
            return pending
        if 0xD800 <= value <= 0xDBFF:
            pending, pending_end = match.start(), match.end()
        elif 0xDC00 <= value <= 0xDFFF:
            return match.start()
    return pending if pending >= 0 else None


class RequestLimits:
    """ASGI middleware: buffer the body (up to the limit), check it, replay it to the app."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, max_json_depth: int = MAX_JSON_DEPTH,
                 body_seconds: float = BODY_READ_SECONDS):  # fmt: skip
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        read = _BodyRead()
        try:
            async with asyncio.timeout(self.body_seconds):
                await self._read_body(scope, receive, read)
        except TimeoutError:
            if not read.too_large:  # a refused body's drain ran out of time: the 413 still goes out
                await _refuse(send, 408, f"the request body did not arrive within {self.body_seconds:g} s"
                                         " (was less sent than Content-Length announced?)")  # fmt: skip
                return
        if read.too_large:
            await _refuse(send, 413, f"request body larger than {self.max_body_bytes} bytes")
            return
        if read.body is None:
            return  # the client left
        body = read.body
        headers = dict(scope.get("headers") or ())
        if b"json" in headers.get(b"content-type", b"").lower():
            if json_depth(body) > self.max_json_depth:
                await _refuse(send, 400, f"JSON nested deeper than {self.max_json_depth} levels")
                return
            at = lone_surrogate(body)
            if at is not None:
                escape = body[at : at + 6].decode("ascii")
                await _refuse(send, 400, f"the JSON body holds a lone surrogate escape {escape} at byte {at};"
                                         " text must be valid Unicode (a surrogate only as half of a pair)")  # fmt: skip
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the app waits for a disconnect (streaming responses)
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive, read: _BodyRead) -> None:
        """Fill ``read``: the whole body, or ``too_large`` (the rest drained), or nothing (the client left).

        Sends nothing: the caller answers, outside the body's deadline."""
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            read.too_large = True
            await _drain(receive)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                read.too_large = True
                if message.get("more_body", False):
                    await _drain(receive)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                read.body = b"".join(chunks)
                return


class _BodyRead:
    """What reading a request's body came to."""

    __slots__ = ("body", "too_large")

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.too_large = False


async def _drain(receive: Receive) -> None:
    """Read and drop the rest of a refused body (up to :data:`MAX_DRAIN_BYTES`), so the client,
    still sending, reads the 413 instead of a connection reset (the caller bounds the time)."""
    drained = 0
    while drained <= MAX_DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": {"status": status, "reason": reason}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "ASGIApp",
    "BODY_READ_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "RequestLimits",
    "json_depth",
    "lone_surrogate",
]
