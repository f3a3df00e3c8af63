"""Key layout of a ``rocksdb://`` store (one RocksDB database, default column family).

Every key starts with a one-byte tag; run ids are UTF-8 and end with NUL where more key
follows; numbers are unsigned 64-bit big-endian so byte order is numeric order.

=========================================  ==============================================
key                                        value
=========================================  ==============================================
``!format``                                JSON ``{"format": 1, "app": "flowbuilder"}``
``e`` RUN_ID ``\\0`` SEQ(u64)               event, core's JSON event encoding
``r`` RUN_ID                               run summary JSON (status, workflow, last_seq...)
``t`` CREATED_AT(f64 BE) RUN_ID             empty; the newest-first run index
``s`` RUN_ID                               newest snapshot (``RunState.to_dict`` JSON)
``d`` SHA256_HEX                           workflow definition, the file's bytes
``l`` RUN_ID ``\\0`` N(u64)                 log line JSON ``{n,a,s,x,t}``
``c`` RUN_ID                               log counters JSON ``{"n": lines, "b": bytes}``
``b`` RUN_ID ``\\0`` NAME                   blob bytes (large values go to blob files)
``n`` RUN_ID ``\\0`` N(u64)                 annotation N (1-based) of the run, core's JSON encoding
``q`` RUN_ID ``\\0`` N(u64)                 control request N (1-based) of the run, core's JSON encoding
``o`` RUN_ID                               the run owner's lease, core's JSON encoding
``k`` WORKFLOW ``\\0`` TASK ``\\0`` KEY         a cached task result (core's cache entry encoding; KEY is a hex digest)
``y`` KEY                                  a claimed key's or a record's value, UTF-8 (coordination role)
``g`` NAME                                 a named lease, JSON ``{"owner": ..., "expires_at": ...}``
``h`` NAME                                 a named lease's epoch (holdings so far), ASCII decimal; kept after release
``f`` SCOPE                                the highest fencing token seen for SCOPE, ASCII decimal
``a`` SEQ(u64)                             audit record SEQ (1-based, store-wide), core's JSON encoding
=========================================  ==============================================
"""

from __future__ import annotations

import struct

FORMAT_KEY = b"!format"
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")


def _run(run_id: str) -> bytes:
    return run_id.encode()


pack_seq = _U64.pack
"""SEQ(u64) as it appears at the end of an event key."""


def event_key(run_id: str, seq: int) -> bytes:
    return b"e" + _run(run_id) + b"\x00" + _U64.pack(seq)


def event_prefix(run_id: str) -> bytes:
    return b"e" + _run(run_id) + b"\x00"


def seq_of_event_key(key: bytes) -> int:
    return int(_U64.unpack(key[-8:])[0])


def summary_key(run_id: str) -> bytes:
    return b"r" + _run(run_id)


SUMMARY_TAG = b"r"


def index_key(created_at: float, run_id: str) -> bytes:
    return b"t" + _F64.pack(max(created_at, 0.0)) + _run(run_id)


INDEX_TAG = b"t"


def parse_index_key(key: bytes) -> tuple[float, str]:
    return float(_F64.unpack(key[1:9])[0]), key[9:].decode()


def snapshot_key(run_id: str) -> bytes:
    return b"s" + _run(run_id)


def definition_key(digest: str) -> bytes:
    return b"d" + digest.encode()


def log_key(run_id: str, number: int) -> bytes:
    return b"l" + _run(run_id) + b"\x00" + _U64.pack(number)


def log_prefix(run_id: str) -> bytes:
    return b"l" + _run(run_id) + b"\x00"


def log_counter_key(run_id: str) -> bytes:
    return b"c" + _run(run_id)


def blob_key(run_id: str, name: str) -> bytes:
    return b"b" + _run(run_id) + b"\x00" + name.encode()


def blob_prefix(run_id: str) -> bytes:
    return b"b" + _run(run_id) + b"\x00"


def annotation_key(run_id: str, number: int) -> bytes:
    return b"n" + _run(run_id) + b"\x00" + _U64.pack(number)


def annotation_prefix(run_id: str) -> bytes:
    return b"n" + _run(run_id) + b"\x00"


def control_key(run_id: str, number: int) -> bytes:
    return b"q" + _run(run_id) + b"\x00" + _U64.pack(number)


def control_prefix(run_id: str) -> bytes:
    return b"q" + _run(run_id) + b"\x00"


def lease_key(run_id: str) -> bytes:
    return b"o" + _run(run_id)


CACHE_TAG = b"k"


def cache_key(workflow: str, task: str, key: str) -> bytes:
    return b"k" + workflow.encode() + b"\x00" + task.encode() + b"\x00" + key.encode()


def cache_prefix(workflow: str | None = None, task: str | None = None) -> bytes:
    """Every cached result (no workflow), a workflow's, or one task's of it (names hold no NUL)."""
    if workflow is None:
        return CACHE_TAG
    prefix = b"k" + workflow.encode() + b"\x00"
    return prefix if task is None else prefix + task.encode() + b"\x00"


def record_key(key: str) -> bytes:
    return b"y" + key.encode()


def named_lease_key(name: str) -> bytes:
    return b"g" + name.encode()


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix`` (prefixes end in NUL here)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def lease_epoch_key(name: str) -> bytes:
    return b"h" + name.encode()


def fence_key(scope: str) -> bytes:
    return b"f" + scope.encode()


AUDIT_TAG = b"a"


def audit_key(seq: int) -> bytes:
    return AUDIT_TAG + _U64.pack(seq)
