"""Control requests: how any process asks the process running a run to cancel, pause or signal it.

Only the run's owner (the process executing it) appends to its events, so another process
never writes the run's history directly. It records a :class:`ControlRequest` in the run's
control key space instead (:meth:`~flowbuilder.interfaces.Store.request_control`), numbered
by the store in arrival order (1, 2, ...) like annotations, so recording one never moves the
event sequence. The owner is woken by the store's push, applies each request in number order
and records it in the run's history (``run_cancel_requested``, ``run_paused``,
``run_unpaused``, ``run_signalled``, each with ``request``, ``by``, ``requested_at`` and
``reason``), which is how a requester sees that it was honoured.

Every store keeps requests in the same encoding (:func:`encode_control_request`): compact
UTF-8 JSON without the run id and number.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from flowbuilder.errors import UNREADABLE_RECORD, StoreError, unreadable_record

CONTROL_ACTIONS = ("cancel", "pause", "unpause", "signal")
"""What a request may ask: stop the run, stop starting attempts, start them again, or tell it something."""
MAX_CONTROL_BYTES = 16 * 1024
"""A request's stored form may be at most this big: a signal carries a small message, not data."""
MAX_REASON_CHARS = 1000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """One request for a run, from any process.

    ``action`` is one of :data:`CONTROL_ACTIONS`; ``name`` and ``payload`` are the signal's
    name (a letter, then up to 63 letters, digits or ``_ . : -``) and JSON value (only for
    ``signal``); ``by`` says who asked (``user@host:pid`` by default), ``reason`` why, and
    ``time`` when. ``number`` is the request's place among the run's requests (1-based),
    given by the store: leave it 0 when recording one.
    """

    action: str
    name: str | None = None
    payload: Any = None
    by: str = ""
    reason: str = ""
    time: float = field(default_factory=time.time)
    number: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "action": self.action, "name": self.name, "payload": self.payload,
                "by": self.by, "reason": self.reason, "time": self.time}  # fmt: skip

    def history_data(self) -> dict[str, Any]:
        """What the owner records in the run's history when it honours this request."""
        data: dict[str, Any] = {"request": self.number, "by": self.by, "requested_at": self.time}
        if self.reason:
            data["reason"] = self.reason
        return data


def requester() -> str:
    """``user@host:pid`` of this process: who asked, when the caller gives no ``by``."""
    import getpass  # here: a run that makes no request (most) does not need it, nor its termios

    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def encode_control_request(request: ControlRequest) -> bytes:
    """The stored form; :class:`StoreError` (one line, saying what to change) for a bad request."""
    if request.action not in CONTROL_ACTIONS:
        raise StoreError(f"invalid control action {request.action!r}: use one of {', '.join(CONTROL_ACTIONS)}")
    if request.action == "signal":
        if not isinstance(request.name, str) or not _NAME.match(request.name):
            raise StoreError(f"invalid signal name {request.name!r}: use a letter followed by up to 63 letters,"
                             " digits or _ . : -")  # fmt: skip
    elif request.name is not None or request.payload is not None:
        raise StoreError(f"a {request.action} request takes no name or payload (only a signal does)")
    if not isinstance(request.time, (int, float)) or not math.isfinite(request.time):
        raise StoreError(f"invalid control request time {request.time!r}: use seconds since the epoch")
    if len(str(request.reason)) > MAX_REASON_CHARS:
        raise StoreError(f"the reason is {len(str(request.reason))} characters, more than the {MAX_REASON_CHARS}"
                         " allowed; say it shorter")  # fmt: skip
    record: dict[str, Any] = {"c": request.action, "t": request.time}
    if request.name is not None:
        record["n"] = request.name
    if request.payload is not None:
        record["p"] = request.payload
    if request.by:
        record["w"] = str(request.by)
    if request.reason:
        record["r"] = str(request.reason)
    try:
        raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as error:  # RecursionError: a payload nested too deep
        raise StoreError(f"signal payload is not JSON ({error}); encode binary data as base64 text") from None
    except UnicodeEncodeError:
        raise StoreError("control request holds text that is not valid Unicode (lone surrogates); send UTF-8") from None
    if len(raw) > MAX_CONTROL_BYTES:
        raise StoreError(f"control request is {len(raw)} bytes, more than the {MAX_CONTROL_BYTES} allowed; keep large"
                         " data in a file or blob and signal its reference")  # fmt: skip
    return raw


def decode_control_request(raw: bytes | str, number: int) -> ControlRequest:
    """Inverse of :func:`encode_control_request`, numbered by where the store found it."""
    try:
        record = json.loads(raw)
        return ControlRequest(action=record["c"], name=record.get("n"), payload=record.get("p"),
                              by=record.get("w", ""), reason=record.get("r", ""), time=record["t"],
                              number=number)  # fmt: skip
    except UNREADABLE_RECORD as error:
        raise unreadable_record(f"stored control request {number}", error) from None


__all__ = [
    "CONTROL_ACTIONS",
    "MAX_CONTROL_BYTES",
    "ControlRequest",
    "decode_control_request",
    "encode_control_request",
    "requester",
]
