"""Locating damage in RocksDB write-ahead logs, to tell a torn tail from damage in the middle.

Only used when RocksDB refuses to open a store with a corruption error (so its cost — a
pure-Python CRC32C over the live logs — is paid only then). A log is a sequence of 32 KiB
blocks of records ``crc32c(4, masked) | length(2) | type(1) [| log number(4)] | payload``;
the checksum covers the type byte, the log number of recyclable records and the payload.

* a *torn tail*: the first bad record is followed by no good record, neither in its own
  log nor in any newer one — the last write was cut (by a crash, or by a full disk: RocksDB
  then starts a new, empty log when it tries to flush, so the torn log is no longer the
  newest). The store opens keeping every record before it.
* *damage in the middle*: good records follow a bad one. The store refuses to open and
  names the file and offset, because skipping would silently lose acknowledged writes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

BLOCK_SIZE = 32 * 1024
_LEGACY_HEADER = 7
_RECYCLABLE_HEADER = 11
_RECYCLABLE_TYPES = frozenset({5, 6, 7, 8, 11, 131})
_KNOWN_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130, 131})
_MASK_DELTA = 0xA282EAD8


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _unmask(masked: int) -> int:
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class WalDamage:
    """The first bad record of a log file; ``tail`` when no good record follows it."""

    file: Path
    offset: int
    tail: bool
    size: int


def _record_at(data: bytes, offset: int) -> int | None:
    """Length of the good record at ``offset`` (header included), or None if it is bad."""
    block_left = BLOCK_SIZE - offset % BLOCK_SIZE
    if block_left < _LEGACY_HEADER or offset + _LEGACY_HEADER > len(data):
        return None
    masked, length, kind = struct.unpack_from("<IHB", data, offset)
    if kind not in _KNOWN_TYPES:
        return None
    header = _RECYCLABLE_HEADER if kind in _RECYCLABLE_TYPES else _LEGACY_HEADER
    end = offset + header + length
    if header + length > block_left or end > len(data):
        return None
    if crc32c(data[offset + 6 : end]) != _unmask(masked):
        return None
    return int(header + length)


def _good_record_after(data: bytes, offset: int) -> bool:
    """Whether any good record starts at a block boundary after ``offset`` (records re-sync there)."""
    block = (offset // BLOCK_SIZE + 1) * BLOCK_SIZE
    while block < len(data):
        if _record_at(data, block) is not None:
            return True
        block += BLOCK_SIZE
    return False


def scan_wal(path: Path) -> WalDamage | None:
    """The first damaged record of one log file, or None if every record is good."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        block_left = BLOCK_SIZE - offset % BLOCK_SIZE
        if block_left < _LEGACY_HEADER:  # block trailer: zero padding
            offset += block_left
            continue
        if not any(data[offset : offset + _LEGACY_HEADER]):
            rest = data[offset:]
            if not any(rest):  # preallocated, never written: the end
                return None
            offset += block_left  # zero padding to the end of a block
            continue
        length = _record_at(data, offset)
        if length is None:
            return WalDamage(path, offset, tail=not _good_record_after(data, offset), size=len(data))
        offset += length
    return None


def holds_records(path: Path) -> bool:
    """Whether a log file holds any good record (a log's records start at offset 0 and
    re-sync at every block boundary, so checking those finds one if there is one)."""
    data = path.read_bytes()
    return any(_record_at(data, block) is not None for block in range(0, len(data), BLOCK_SIZE))


def find_wal_damage(directory: Path) -> WalDamage | None:
    """The first damaged record across the live logs, oldest first.

    It is a tail only if no good record follows it in its own log or in any newer log.
    """
    logs = sorted(directory.glob("*.log"), key=lambda p: (len(p.name), p.name))  # numbered: 000009 < 1000000
    for index, log in enumerate(logs):
        damage = scan_wal(log)
        if damage is not None:
            last_write = damage.tail and not any(holds_records(newer) for newer in logs[index + 1 :])
            return WalDamage(damage.file, damage.offset, last_write, damage.size)
    return None
