"""The audit log's records: who did what to which run, when, from where, and how it ended.

Servers (REST, gRPC) append one :class:`AuditRecord` per mutating call, allowed or refused,
to the store's audit log (:class:`~flowbuilder.interfaces.audit_log.AuditLog`). The log
belongs to no run: it is a key space of its own, numbered by the store (``seq`` 1, 2, ...)
in arrival order across every process sharing the store, append-only (there is no delete
call), and bounded: a store keeps the newest :data:`DEFAULT_AUDIT_RETENTION` records (or
its ``audit_retention``), dropping the oldest as new ones arrive.

Every store keeps records in one encoding (:func:`encode_audit_record`), which is also
where the two rules that protect the log are applied, so no store can forget them:

* **masking** — ``detail`` is free text (a request's summary, a refused call's reason). Any
  value of a field whose name looks secret (``password``, ``token``, ``secret``,
  ``api_key``, ``authorization``, ``credential``, ``private_key``...) in JSON (``"token":
  "..."``), form/query (``token=...``) or text (``token: "..."``, protobuf's text format)
  shape, and any ``Bearer``/``Basic`` credential, is
  replaced by ``***``. Callers that know secret *values* (the server knows the token it was
  shown; a run knows its secrets) mask them first with core's
  :class:`~flowbuilder.secrets.SecretMasker` — :func:`audit_detail` does both;
* **size** — ``detail`` keeps at most :data:`MAX_AUDIT_DETAIL` characters and every other
  text field :data:`MAX_AUDIT_FIELD`; longer text is cut and says so (an audit entry is
  never refused for being long: losing the record would be worse than shortening it).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import UNREADABLE_RECORD, StoreError, unreadable_record
from flowbuilder.interfaces.audit_log import DEFAULT_AUDIT_RETENTION, audit_retention_setting
from flowbuilder.secrets import MASK

if TYPE_CHECKING:
    from flowbuilder.secrets import SecretMasker

MAX_AUDIT_DETAIL = 4096
"""Characters of ``detail`` kept; the rest is cut with a note saying how much."""
MAX_AUDIT_FIELD = 512
"""Characters kept of each other text field (actor, role, action, target, outcome, client)."""

_SENSITIVE_NAME = (
    r"[\w.-]*(?:passw(?:or)?d|secret|token|api[_-]?key|authorization|credential|private[_-]?key|cookie)[\w.-]*"
)


@functools.cache
def _masking_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The credential, JSON-field and plain-field patterns, compiled on first use: compiling them
    took about 5 ms of every ``flowbuilder`` command that opens a store, and only servers mask."""
    return (
        re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
        re.compile(r'("' + _SENSITIVE_NAME + r'"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\]\s]+)', re.IGNORECASE),
        re.compile(r"(\b" + _SENSITIVE_NAME + r'\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^&\s,;}\]]+)', re.IGNORECASE),
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise StoreError(f"audit time {moment.isoformat()} has no time zone; use datetime.now(timezone.utc)")
    return moment.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of the audit log.

    ``actor`` is who called (a token's name, an OIDC subject; ``anonymous`` when nobody was
    recognised), ``role`` the role they held (empty when none), ``action`` what they asked
    (``POST /api/v1/runs/{run_id}/cancel`` or a gRPC method), ``target`` what it was about
    (a run id, a workflow), ``outcome`` how it ended (an HTTP status or a gRPC code, as
    text), ``client`` where from (an address), ``detail`` anything else (masked, bounded:
    see the module docstring). ``at`` is when, in UTC. ``seq`` is the record's place in the
    log, given by the store: leave it 0 when appending.
    """

    actor: str
    action: str
    outcome: str
    role: str = ""
    target: str = ""
    client: str = ""
    detail: str = ""
    at: datetime = field(default_factory=_now)
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (``at`` as ISO 8601 text in UTC), for CLIs and APIs."""
        return {"seq": self.seq, "at": self.at.isoformat().replace("+00:00", "Z"), "actor": self.actor,
                "role": self.role, "action": self.action, "target": self.target, "outcome": self.outcome,
                "client": self.client, "detail": self.detail}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of :meth:`~flowbuilder.interfaces.audit_log.AuditLog.read_audit`, newest first.

    ``next_after`` is the cursor of the next (older) page: pass it as ``after``; None when
    this page holds the oldest record kept.
    """

    records: list[AuditRecord]
    next_after: int | None = None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = f"… [cut: {len(text) - limit} more characters]"
    return text[: max(limit - len(note), 0)] + note


def mask_secret_fields(text: str) -> str:
    """``text`` with values of secret-looking fields and ``Bearer``/``Basic`` credentials as ``***``."""
    auth_scheme, json_field, plain_field = _masking_patterns()
    text = auth_scheme.sub(lambda match: f"{match.group(1)} {MASK}", text)
    text = json_field.sub(lambda match: f'{match.group(1)}"{MASK}"', text)
    return plain_field.sub(lambda match: f"{match.group(1)}{MASK}", text)


def audit_detail(value: Any, masker: SecretMasker | None = None) -> str:
    """``value`` (text, bytes or a JSON value) as the masked, bounded text of a record's ``detail``.

    Bytes are decoded as UTF-8 with bad bytes replaced; other values are written as compact
    JSON. ``masker`` (core's :class:`~flowbuilder.secrets.SecretMasker`) hides values the
    caller knows are secret; secret-looking fields are hidden in any case.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if masker:
        text = masker.mask(text)
    return _cut(mask_secret_fields(text), MAX_AUDIT_DETAIL)


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise StoreError(f"audit field {name!r} must be text, not {type(value).__name__}")
    cleaned = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be stored
    return _cut(cleaned, limit)


def normalized_audit_record(record: AuditRecord) -> AuditRecord:
    """``record`` as every store keeps it: texts checked and cut, ``detail`` masked, ``at`` in UTC.

    Raises a one-line :class:`StoreError` for a field that is not text or a time without a zone.
    """
    if not isinstance(record, AuditRecord):
        raise StoreError(f"an audit record must be an AuditRecord, not {type(record).__name__}")
    if not isinstance(record.at, datetime):
        raise StoreError(f"audit time must be a datetime, not {type(record.at).__name__}")
    actor = _text("actor", record.actor, MAX_AUDIT_FIELD)
    action = _text("action", record.action, MAX_AUDIT_FIELD)
    if not actor or not action:
        raise StoreError("an audit record needs an actor and an action")
    detail = _cut(mask_secret_fields(_text("detail", record.detail, 1 << 62)), MAX_AUDIT_DETAIL)
    return replace(record, actor=actor, action=action, role=_text("role", record.role, MAX_AUDIT_FIELD),
                   target=_text("target", record.target, MAX_AUDIT_FIELD),
                   outcome=_text("outcome", record.outcome, MAX_AUDIT_FIELD),
                   client=_text("client", record.client, MAX_AUDIT_FIELD), detail=detail, at=_utc(record.at))  # fmt: skip


def encode_audit_record(record: AuditRecord) -> bytes:
    """The stored form (compact UTF-8 JSON, without ``seq``: the key holds it), after
    :func:`normalized_audit_record`."""
    kept = normalized_audit_record(record)
    data = {"at": kept.at.isoformat(), "w": kept.actor, "r": kept.role, "a": kept.action, "t": kept.target,
            "o": kept.outcome, "c": kept.client, "d": kept.detail}  # fmt: skip
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def decode_audit_record(raw: bytes | str, seq: int) -> AuditRecord:
    """Inverse of :func:`encode_audit_record`, numbered by where the store found it."""
    try:
        data = json.loads(raw)
        return AuditRecord(actor=data["w"], role=data["r"], action=data["a"], target=data["t"], outcome=data["o"],
                           client=data["c"], detail=data["d"], at=datetime.fromisoformat(data["at"]),
                           seq=seq)  # fmt: skip
    except UNREADABLE_RECORD as error:  # `flowbuilder audit` was exit 70
        raise unreadable_record(f"stored audit record {seq}", error) from None


def check_audit_page(after: int | None, limit: int) -> None:
    """One-line :class:`StoreError` for a page request no store can answer."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise StoreError(f"audit page limit must be a whole number of at least 1, got {limit!r}")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int) or not 1 <= after < 1 << 63):
        # Record numbers are 64-bit counters (Redis's INCR, RocksDB's 8-byte keys): a larger
        # cursor came from no page, and a store that packs it would fail with its own error.
        raise StoreError(f"audit cursor must be a record number from a previous page, got {after!r}")


__all__ = [
    "DEFAULT_AUDIT_RETENTION",
    "MAX_AUDIT_DETAIL",
    "MAX_AUDIT_FIELD",
    "AuditPage",
    "AuditRecord",
    "audit_detail",
    "audit_retention_setting",
    "check_audit_page",
    "decode_audit_record",
    "encode_audit_record",
    "mask_secret_fields",
    "normalized_audit_record",
]
