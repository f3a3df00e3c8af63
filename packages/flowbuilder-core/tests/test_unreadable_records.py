"""Stored records core decodes for every store (annotations, control requests, run leases):
bytes that are not what this release wrote are one-line StoreErrors, never a bare ValueError
or KeyError that the CLI reports as an internal error (exit 70)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import pytest

from flowbuilder.annotations import Annotation, decode_annotation, encode_annotation
from flowbuilder.audit import AuditRecord, decode_audit_record, encode_audit_record
from flowbuilder.control import ControlRequest, decode_control_request, encode_control_request
from flowbuilder.errors import StoreError
from flowbuilder.leases import RunLease, decode_lease, encode_lease

GARBAGE = [b'{"garbage": [}', b"[1, 2]", b'{"k": "note"}', b"\xff\xfe", b"[" * 100_000, b'"text"']

DECODERS: list[tuple[str, Callable[[bytes], Any], str]] = [
    ("annotation", lambda raw: decode_annotation(raw, 3), "stored annotation 3"),
    ("control", lambda raw: decode_control_request(raw, 2), "stored control request 2"),
    ("lease", decode_lease, "a stored run lease"),
    ("audit", lambda raw: decode_audit_record(raw, 4), "stored audit record 4"),
]


@pytest.mark.parametrize(("name", "decode", "named"), DECODERS, ids=[d[0] for d in DECODERS])
@pytest.mark.parametrize("raw", GARBAGE, ids=range(len(GARBAGE)))
def test_a_stored_record_core_cannot_read_is_a_one_line_store_error(
    name: str, decode: Callable[[bytes], Any], named: str, raw: bytes
) -> None:
    with pytest.raises(StoreError, match=rf"^{named} cannot be read \(\w+: [^\n]*\): the store is damaged") as caught:
        decode(raw)
    assert "\n" not in str(caught.value)


def test_what_the_encoders_write_still_reads_back() -> None:
    note = Annotation("note", {"x": 1}, task="t", attempt=1, author="me", time=5.0)
    assert decode_annotation(encode_annotation(note), 1).payload == {"x": 1}
    request = ControlRequest("signal", name="go", payload=[1], by="me", reason="why", time=6.0)
    assert decode_control_request(encode_control_request(request), 1).name == "go"
    lease = RunLease("r", "o", "h", 7, 1.0, 2.0)
    assert decode_lease(encode_lease(lease)) == lease
    record = AuditRecord(actor="me", action="POST /api/v1/runs", outcome="201", target="w")
    assert decode_audit_record(encode_audit_record(record), 9) == replace(record, seq=9)
