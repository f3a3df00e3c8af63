"""What a RocksDB failure means for the user: one line naming the cause and what to do.

rocksdict raises a plain ``Exception`` carrying RocksDB's status text, for example
``IO error: No space left on device: While appending to file: /s/000004.log: No space left
on device`` or ``Corruption: block checksum mismatch: stored = 1, computed = 2, type = 1 in
/s/000012.sst offset 0 size 4096``. Left alone these reach the CLI as ``internal error``
(exit 70) although they are facts about the disk, not bugs. The store translates them here
at its boundaries (the store object's calls and the owner's replies to other processes), so
the hot path pays nothing until something fails.
"""

from __future__ import annotations

import re
from pathlib import Path

from flowbuilder.errors import StoreError

_STATUS = re.compile(
    r"^(IO error|Corruption|Invalid argument|Not implemented|Operation aborted|Resource busy|Result incomplete"
    r"|Shutdown in progress|Operation timed out|Operation expired|Operation failed|Merge in progress"
    r"|Compaction too large|Column family dropped)\b"
)
_NO_SPACE = re.compile(r"No space left on device|\bENOSPC\b|os error 28", re.IGNORECASE)
_FILE = re.compile(r"/?(?:[^\s:]*/)?(\d+\.(?:sst|blob|log)|MANIFEST-\d+)\b")
_WHAT = re.compile(r"^Corruption:\s*([^:]*?)(?::|\s+in\s|$)")
_OFFSET = re.compile(r"\boffset (\d+)")
_KIND = {".sst": "table file", ".blob": "blob file", ".log": "write-ahead log"}


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def is_rocksdb_error(error: BaseException) -> bool:
    """Whether ``error`` is a RocksDB status raised by rocksdict (not a bug of ours)."""
    return type(error) is Exception and _STATUS.match(first_line(error)) is not None


def is_no_space(error: BaseException) -> bool:
    return _NO_SPACE.search(str(error)) is not None


def no_space_on_write(path: Path, run_id: str | None = None) -> StoreError:
    """The error of a write refused because the store's disk is full.

    RocksDB writes a batch to its write-ahead log before anything else, so a refused write
    leaves no part of the batch behind (at most a torn record, dropped on the next open)
    and every write acknowledged before it stays.
    """
    then = f"`flowbuilder resume {run_id}`" if run_id else "retry"
    return StoreError(f"no space left on device for the store {path}: the last write was not recorded, every"
                      f" write before it is kept; free disk space, then {then}")  # fmt: skip


def no_space_on_open(path: Path, wal_bytes: int) -> StoreError:
    """Opening needs room to move the write-ahead logs into table files."""
    need = max(1, -(-wal_bytes // (1024 * 1024)))
    return StoreError(f"no space left on device to open the store {path}: opening moves its write-ahead log"
                      f" ({need} MB) into table files and needs about that much free space; nothing was lost —"
                      " free disk space, then retry")  # fmt: skip


def translate(path: Path, error: BaseException) -> StoreError:
    """A one-line :class:`StoreError` for a RocksDB status (see :func:`is_rocksdb_error`)."""
    message = first_line(error)
    if is_no_space(error):
        return no_space_on_write(path)
    if message.startswith("Corruption"):
        return damaged(path, message)
    return StoreError(f"the store {path} failed: {message}; check its disk and retry")


def damaged(path: Path, message: str) -> StoreError:
    """``the store P is damaged: block checksum mismatch in its table file 000012.sst at offset 0; ...``"""
    what = _WHAT.match(message)
    found = _FILE.search(message)
    offset = _OFFSET.search(message)
    where = ""
    if found is not None:
        name = found.group(1)
        where = f" in its {_KIND.get(Path(name).suffix, 'file')} {name}"
    if offset is not None:
        where += f" at offset {offset.group(1)}"
    cause = what.group(1).strip() if what is not None else message
    return StoreError(f"the store {path} is damaged: {cause}{where}; nothing was changed —"
                      " restore the store from a backup, or move it aside to start a new one")  # fmt: skip


def wal_bytes(path: Path) -> int:
    """Total size of the live write-ahead logs of the store at ``path``."""
    total = 0
    for log in path.glob("*.log"):
        try:
            total += log.stat().st_size
        except OSError:
            pass
    return total
