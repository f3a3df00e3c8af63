"""Whether this process has the memory to hand RocksDB a big write batch.

RocksDB copies a batch twice — into the ``WriteBatch`` it builds and into the memtable it
applies it to — so a batch of N bytes needs about 2N more (measured: 800 one-MB events took
1.58 GB beyond the events themselves). When an allocation for that fails inside RocksDB, the
C++ ``std::bad_alloc`` unwinds into rocksdict's Rust code, which cannot catch it, and the
process aborts (``fatal runtime error: Rust cannot catch foreign exceptions``, exit 134)
before anything can be reported or recorded. Python cannot catch that either, so the store
checks before it starts — only for batches over :data:`CHECKED_BATCH_BYTES`, so ordinary
appends pay nothing.
"""

from __future__ import annotations

import resource
from pathlib import Path

from flowbuilder.errors import StoreError

CHECKED_BATCH_BYTES = 64 * 1024 * 1024
"""Batches at least this big are checked against the memory left."""
ROCKSDB_COPIES = 2
"""Bytes RocksDB allocates per byte of a batch (the WriteBatch and the memtable)."""
_MB = 1024 * 1024


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", "rb") as stream:
            for line in stream:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _status_kb(field: bytes) -> int | None:
    try:
        with open("/proc/self/status", "rb") as stream:
            for line in stream:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _address_space_left() -> int | None:
    """What ``ulimit -v`` (RLIMIT_AS) still allows this process to map."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    mapped = _status_kb(b"VmSize:")
    return None if mapped is None else soft - mapped


def _cgroup_left() -> int | None:
    """What the process's cgroup (v2) memory limit still allows, if it has one."""
    try:
        with open("/proc/self/cgroup") as stream:
            relative = next((line.strip().split(":", 2)[2] for line in stream if line.startswith("0::")), None)
        if relative is None:
            return None
        base = Path("/sys/fs/cgroup") / relative.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text())
    except (OSError, ValueError, IndexError):
        return None


def memory_left() -> int | None:
    """The smallest of the limits that apply (system, ``ulimit -v``, cgroup), or None if none is known."""
    known = [left for left in (_meminfo_available(), _address_space_left(), _cgroup_left()) if left is not None]
    return min(known) if known else None


def ensure_room_for_batch(path: Path, events: int, batch_bytes: int) -> None:
    """Raise a one-line :class:`StoreError` if RocksDB would run out of memory writing the batch.

    Callers check ``batch_bytes >= CHECKED_BATCH_BYTES`` first (reading the limits costs
    tens of microseconds).
    """
    left = memory_left()
    need = ROCKSDB_COPIES * batch_bytes
    if left is not None and need > left:
        raise not_enough_memory(path, events, f"{batch_bytes // _MB} MB; RocksDB needs about {need // _MB} MB"
                                              f" more to write them, {max(left, 0) // _MB} MB are left")  # fmt: skip


def not_enough_memory(path: Path, events: int, detail: str = "Python could not encode it") -> StoreError:
    what = "1 event" if events == 1 else f"{events} events"
    return StoreError(f"not enough memory to write {what} to the store {path} ({detail}); nothing of the batch"
                      " was written — keep large task outputs in files, or run with a lower --concurrency so"
                      " that fewer outputs are recorded at once")  # fmt: skip
