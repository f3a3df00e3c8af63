"""The framing between a process that owns a ``rocksdb://`` directory and its clients.

A frame is ``u32 header length, u32 payload length, header JSON, payload bytes``. The
header names the method and carries JSON arguments; the payload carries raw bytes (blobs,
definitions, exports) so they are never base64'd or decoded. Nothing is unpickled.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

_HEAD = struct.Struct(">II")
MAX_FRAME = 1 << 31


class ConnectionLost(Exception):
    """The other side closed the connection or it broke (internal: triggers failover)."""


def send_frame(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        sock.sendall(_HEAD.pack(len(encoded), len(payload)) + encoded + payload)
    except OSError as error:
        raise ConnectionLost(str(error)) from None


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    if size == 0:
        return b""
    chunks = bytearray()
    while len(chunks) < size:
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except OSError as error:
            raise ConnectionLost(str(error)) from None
        if not chunk:
            raise ConnectionLost("connection closed")
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    header_size, payload_size = _HEAD.unpack(_recv_exact(sock, _HEAD.size))
    if header_size > MAX_FRAME or payload_size > MAX_FRAME:
        raise ConnectionLost("oversized frame")
    header = json.loads(_recv_exact(sock, header_size))
    return header, _recv_exact(sock, payload_size)
