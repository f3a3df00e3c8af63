"""The process that owns a ``rocksdb://`` directory does its reads and writes here.

RocksDB allows one writer per directory, so exactly one :class:`RocksEngine` per directory
exists on the machine at a time (see :mod:`flowbuilder_storage._rocks_owner` for how other
processes reach it). The database is opened in rocksdict's raw mode: keys and values are
bytes in, bytes out, and rocksdict never unpickles anything (the layout is in
:mod:`flowbuilder_storage._rocks_layout`).

Appends are conditional and atomic: under one lock the engine compares the run's last
sequence number with ``expected_seq`` and writes the events, the updated run summary and
the run index in one ``WriteBatch``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, cast

from flowbuilder.errors import RunNotFoundError, SequenceConflictError, StaleLeaderError, StoreError
from flowbuilder.events import EventKind, RunEvent, RunState, RunStatus
from flowbuilder.interfaces.coordination import (
    MAX_COORDINATION_KEY,
    MAX_COORDINATION_VALUE,
    LeaseGrant,
    check_coordination_text,
)
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, definition_hash
from flowbuilder.leases import RunLease, decode_lease, encode_lease
from flowbuilder.stores.paging import decode_cursor, encode_cursor
from flowbuilder_storage import _rocks_layout as keys
from flowbuilder_storage._event_bytes import decode_events, event_values, grouped_values, split_value
from flowbuilder_storage._memory_room import CHECKED_BATCH_BYTES, ensure_room_for_batch, not_enough_memory
from flowbuilder_storage._records import (
    ROCKSDB_FORMAT_VERSION,
    check_batch,
    check_run_id,
    decode_log_line,
    decode_snapshot,
    decode_summary,
    dump_json,
    encode_log_line,
    encode_summary,
    format_number,
    load_json,
    split_blob_ref,
)
from flowbuilder_storage._rocks_errors import (
    first_line,
    is_no_space,
    is_rocksdb_error,
    no_space_on_open,
    no_space_on_write,
    translate,
    wal_bytes,
)
from flowbuilder_storage._sync import Durability, SyncPolicy
from flowbuilder_storage._wal_scan import WalDamage, find_wal_damage

if TYPE_CHECKING:  # imported where used: a run neither annotates, nor requests control, nor fences
    from flowbuilder.annotations import Annotation
    from flowbuilder.control import ControlRequest
    from flowbuilder.fencing import Fence

DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024
_SUMMARY_CACHE_SIZE = 4096
WRITE_BUFFER_BYTES = 8 * 1024 * 1024
"""Size of a memtable (RocksDB's default is 64 MiB). Writes stay in the write-ahead log until
their memtable is moved into table files, and opening a store replays the live logs into
table files before it deletes them, so it needs about as much free space as the logs hold:
small memtables keep that (and the memory they take) to about twice this size plus the
largest single write, which is what lets a store open again on a disk that filled up."""
_RUN_LEVEL = frozenset({EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.RUN_FINISHED})
_KIND = attrgetter("kind")
_NOTHING = (0, b"")
# Files RocksDB writes while it creates a database (before CURRENT exists): another process
# may be creating the store right now, which is not a foreign directory.
_ROCKSDB_FILE = re.compile(
    r"^(LOCK|IDENTITY|LOG(\.old\.\d+)?|CURRENT|\d+\.(log|sst|blob|dbtmp)|MANIFEST-\d+|"
    r"OPTIONS-\d+(\.dbtmp)?|rocksdict-config\.json|owner\.sock)$"
)
_DATA_FILE = re.compile(r"^(\d+\.(log|sst|blob)|MANIFEST-(?!0*1$)\d+)$")
"""Files RocksDB writes only after a database's CURRENT file exists (a write-ahead log, table and
blob files, a MANIFEST after the first): next to them, a missing CURRENT is damage, not a creation
in progress."""
_LOCK_MESSAGE = re.compile(r"LOCK|lock hold|No locks available|Resource temporarily unavailable", re.IGNORECASE)


def bounded_range(source: Any, method: str, start: bytes, end: bytes) -> Iterator[Any]:
    """``source.<method>()`` (``items``, ``keys`` or ``values`` of a database or snapshot) for
    the keys from ``start`` up to, not including, ``end``.

    The only way this package iterates with an upper bound, because rocksdict hands RocksDB
    a pointer into the bound's bytes and its iterator keeps neither those bytes nor the
    ``ReadOptions`` alive. A bound passed as a temporary is freed as soon as ``items()``
    returns; once Python reuses the memory (for the next value read, typically) the
    iterator runs past ``end`` into the keys after it — a run's summary was read as its
    next event (``KeyError: 's'``). This generator's frame holds both for as long as the
    iteration lasts, including while a consumer that stopped early has not closed it.

    rocksdict's ``items()`` also ends quietly when RocksDB meets a damaged block (a checksum
    error in an ``.sst`` file): the range would look shorter than it is. So a range read to
    its end is checked once more (see :func:`raise_if_ended_by_error`).
    """
    import rocksdict

    options = rocksdict.ReadOptions()
    options.set_iterate_upper_bound(end)
    pairs = source.items(from_key=start, read_opt=options)
    last: bytes | None = None
    if method == "items":
        for last, value in pairs:
            yield last, value
    elif method == "keys":
        for last, _ in pairs:
            yield last
    else:
        for last, value in pairs:  # noqa: B007  (``last`` is read after the loop)
            yield value
    probe = source.iter(options)
    try:
        probe.seek(start if last is None else last)
        if last is not None and probe.valid():
            probe.next()
        raise_if_ended_by_error(probe)
    finally:
        del probe


def raise_if_ended_by_error(iterator: Any) -> None:
    """Raise RocksDB's error if ``iterator`` stopped because of one rather than at the end.

    A RocksDB iterator reports a damaged block only by turning invalid; without this check
    a loop over it ends early as if the keys after the damage did not exist.
    """
    if not iterator.valid():
        iterator.status()


AUDIT_RETRY_WINDOW = 64
"""How many of the newest audit records an append compares itself with (see ``append_audit_raw``)."""


class StoreLockedError(Exception):
    """Another process holds the RocksDB lock of the directory (internal: callers route instead)."""


def _options(create: bool, recovery: str = "tolerate_corrupted_tail_records") -> Any:
    import rocksdict

    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(create)
    # Normally only an incomplete last record is tolerated; `point_in_time` is used only
    # after _wal_scan proved that the damage is a torn tail (see _verify_existing).
    options.set_wal_recovery_mode(getattr(rocksdict.DBRecoveryMode, recovery)())
    options.set_paranoid_checks(True)
    options.set_enable_blob_files(True)
    options.set_min_blob_size(64 * 1024)
    options.set_keep_log_file_num(3)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    return options


def check_directory(path: Path) -> bool:
    """Refuse paths that are not ours before RocksDB touches them; return True if the store is new."""
    try:
        return _check_directory(path)
    except PermissionError:
        raise StoreError(f"no permission to reach the store directory {path};"
                         " fix the permissions of it and its parents or choose another --store rocksdb://PATH") from None  # fmt: skip


def _check_directory(path: Path) -> bool:
    if path.exists() and not path.is_dir():
        raise StoreError(f"store path {path} is a file, not a directory; give rocksdb:// a directory path")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            raise StoreError(f"no permission to read and write the store directory {path};"
                             " fix its permissions or choose another --store rocksdb://PATH")  # fmt: skip
        entries = set(os.listdir(path))
        if not entries:
            return True
        if "CURRENT" in entries:
            return False
        data = sorted(name for name in entries if _DATA_FILE.match(name))
        if data:
            # Opened for writing, RocksDB would start a new, empty database here (and delete
            # the files of the old one as obsolete on a later open): every run would be lost.
            manifests = sorted((name for name in data if name.startswith("MANIFEST-")), key=lambda n: int(n[9:]))
            hint = (f"; if only CURRENT was lost, `echo {manifests[-1]} > {path / 'CURRENT'}` may recover it"
                    if manifests else "")  # fmt: skip
            raise StoreError(f"the store {path} is damaged: its CURRENT file is missing, yet it holds data"
                             f" ({', '.join(data[:3])}{', ...' if len(data) > 3 else ''}); nothing was changed —"
                             f" restore it from a backup{hint}")  # fmt: skip
        if all(_ROCKSDB_FILE.match(name) for name in entries):
            return True  # being created by another process (or a creation cut short): RocksDB decides
        raise StoreError(f"{path} is not a FlowBuilder store (it holds other files and no RocksDB database);"
                         " choose an empty or new directory")  # fmt: skip
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:  # another process created it just now
        if not path.is_dir():
            raise StoreError(
                f"store path {path} is a file, not a directory; give rocksdb:// a directory path"
            ) from None
        return _check_directory(path)
    except PermissionError:
        raise StoreError(
            f"no permission to create the store directory {path}; choose another --store rocksdb://PATH"
        ) from None
    except OSError as error:
        raise StoreError(f"cannot create the store directory {path}: {error.strerror}") from None
    return True


def _check_format(path: Path, raw: bytes | None, has_keys: bool) -> None:
    if raw is None:
        if has_keys:
            raise StoreError(f"{path} is a RocksDB database but not a FlowBuilder store (no format key);"
                             " nothing was changed — choose another directory")  # fmt: skip
        return
    version = format_number(raw)
    if version is None:
        raise StoreError(f"{path}: unreadable format key {raw[:40]!r}; the store is damaged or foreign") from None
    if version > ROCKSDB_FORMAT_VERSION:
        raise StoreError(f"{path} was written by a newer flowbuilder-storage (format {version}, this one reads"
                         f" {ROCKSDB_FORMAT_VERSION}); upgrade flowbuilder-storage")  # fmt: skip


def stored_format(raw: bytes | None) -> int:
    """The format number of a marker :func:`_check_format` accepted (0: none)."""
    return (format_number(raw) or 0) if raw is not None else 0


FORMAT_MARKER = dump_json({"format": ROCKSDB_FORMAT_VERSION, "app": "flowbuilder"})


class RocksEngine:
    """The owning process's handle on one RocksDB directory; thread-safe."""

    def __init__(self, path: Path, durability: Durability, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES):
        import rocksdict

        self.path = path
        self.durability = durability
        self.max_log_bytes = max_log_bytes
        self.recovered: WalDamage | None = None
        fresh = check_directory(path)
        recovery = "tolerate_corrupted_tail_records"
        if not fresh:
            recovery = self._verify_existing(rocksdict)
        self._recovery = recovery
        self._read_only: StoreError | None = None  # why writes are refused (a full disk), if they are
        self._reopen_verified = True
        try:
            self._db = rocksdict.Rdict(str(path), _options(create=True, recovery=recovery))
        except Exception as error:  # rocksdict raises plain Exception
            if _LOCK_MESSAGE.search(str(error)):
                raise StoreLockedError(str(error)) from None
            if is_no_space(error) and not fresh:
                self._db = self._open_read_only(rocksdict)
            elif is_no_space(error):
                raise no_space_on_open(path, wal_bytes(path)) from None
            else:
                raise StoreError(f"cannot open the store {path}: {first_line(error)}; it may be damaged —"
                                 " move it aside and restore a backup") from None  # fmt: skip
        self._identity = _directory_identity(path)  # to tell, on close, whether the directory was deleted
        self._batch_type = rocksdict.WriteBatch
        self._write_options = rocksdict.WriteOptions()
        self._write_options.sync = durability.policy is SyncPolicy.ALWAYS
        self._failure: StoreError | None = None  # a write failed for lack of space; the handle is stuck
        self._marked_current = False
        """Whether the store's marker says :data:`ROCKSDB_FORMAT_VERSION` (else the first value of
        several events raises it, in its own batch: see :meth:`append_events`)."""
        try:
            raw_format = self._db.get(keys.FORMAT_KEY)
            if raw_format is None and self._read_only is None:
                self._db.put(keys.FORMAT_KEY, FORMAT_MARKER, self._sync_options(rocksdict))
                self._marked_current = True
            else:  # checked again: a store created by another process just now was not verified
                _check_format(path, raw_format, has_keys=False)
                self._marked_current = stored_format(raw_format) >= ROCKSDB_FORMAT_VERSION
        except Exception as error:
            try:
                self._db.close()
            except Exception:
                pass  # the error that matters is the first one
            raise translate(path, error) if is_rocksdb_error(error) else error from None
        damage: WalDamage | None = self.recovered  # set by _verify_existing
        if damage is not None:
            logging.getLogger("flowbuilder_storage").warning(
                "recovered the store %s: dropped the damaged tail of its write-ahead log (%s from offset %d, %d bytes),"
                " the last write, cut short by a crash or a full disk; every record before it is kept",
                path,
                damage.file.name,
                damage.offset,
                damage.size - damage.offset,
            )
        self._lock = threading.RLock()
        self._appended = threading.Condition(self._lock)
        self._summaries: OrderedDict[str, RunSummary | None] = OrderedDict()
        self._annotation_counts: dict[str, int] = {}
        self._log_appends: dict[str, int] = {}  # log appends per run in this process: wakes wait_for_updates
        self._audit_bounds: tuple[int, int] | None = None  # (oldest, newest) audit seq kept; read once
        self._control = threading.Condition()  # wakes owners waiting for control requests (never held for I/O)
        self._closed = False
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._background_syncs = 0  # RocksDB's "Cumulative WAL ... syncs" counts only synced writes
        self._syncer: threading.Thread | None = None
        if durability.policy is SyncPolicy.BATCH:
            self._syncer = threading.Thread(
                target=self._sync_loop, name=f"flowbuilder-wal-sync:{path.name}", daemon=True
            )
            self._syncer.start()

    def _verify_existing(self, rocksdict: Any) -> str:
        """Check an existing directory read-only (nothing written) before opening it for writing.

        Returns the WAL recovery mode to open with. A damaged tail of the newest
        write-ahead log (a write torn by a crash) is recovered to the last good record and
        reported on the ``flowbuilder_storage`` logger; damage anywhere else stops the open
        with the file and offset named, and nothing is changed.
        """
        read_only = rocksdict.AccessType.read_only()
        recovery = "tolerate_corrupted_tail_records"
        try:
            reader = rocksdict.Rdict(str(self.path), _options(False, "absolute_consistency"), access_type=read_only)
        except Exception as error:
            message = first_line(error)
            if "Corruption" not in message:
                raise StoreError(f"cannot open {self.path} as a FlowBuilder store: {message};"
                                 " nothing was changed — it is damaged or not a RocksDB database") from None  # fmt: skip
            damage = find_wal_damage(self.path)
            if damage is None and "truncated record" in message:
                # RocksDB saw a record cut short at the end of a log that our scan did not place
                # (a full disk can tear one where the scan does not look). If RocksDB itself
                # opens it as a torn tail, it is one: nothing before it is lost.
                try:
                    reader = rocksdict.Rdict(str(self.path), _options(False, recovery), access_type=read_only)
                except Exception:
                    pass
                else:
                    logging.getLogger("flowbuilder_storage").warning(
                        "recovered the store %s: dropped a write-ahead log record cut short at its end (%s),"
                        " the last write, cut short by a crash or a full disk; every record before it is kept",
                        self.path,
                        message,
                    )
                    return self._checked_format(reader, recovery)
            if damage is None:
                raise StoreError(f"the store {self.path} is damaged ({message}) outside its write-ahead log;"
                                 " nothing was changed — restore it from a backup") from None  # fmt: skip
            if not damage.tail:
                raise StoreError(f"the store {self.path} is damaged in the middle of its write-ahead log:"
                                 f" {damage.file.name} at offset {damage.offset} ({message}), with good records"
                                 " after it; nothing was changed — restore it from a backup") from None  # fmt: skip
            recovery = "point_in_time"
            self.recovered = damage
            try:
                reader = rocksdict.Rdict(str(self.path), _options(False, recovery), access_type=read_only)
            except Exception as again:
                raise StoreError(f"cannot open {self.path}: {first_line(again)}; nothing was changed —"
                                 " restore it from a backup") from None  # fmt: skip
        return self._checked_format(reader, recovery)

    def _checked_format(self, reader: Any, recovery: str) -> str:
        """Check the format marker through the read-only ``reader`` (closed here); return ``recovery``."""
        try:
            raw = reader.get(keys.FORMAT_KEY)
            iterator = reader.iter()
            iterator.seek_to_first()
            has_keys = iterator.valid()
            raise_if_ended_by_error(iterator)
            del iterator
        except Exception as error:
            if is_rocksdb_error(error):
                raise translate(self.path, error) from None
            raise
        finally:
            reader.close()
            del reader
        _check_format(self.path, raw, has_keys)
        return recovery

    def _open_read_only(self, rocksdict: Any) -> Any:
        """On a disk too full to open for writing (which moves the logs into table files
        first): open read-only, so every run can still be read; writes are refused until
        :meth:`_open_for_writing` succeeds."""
        try:
            db = rocksdict.Rdict(str(self.path), _options(False, self._recovery),
                                 access_type=rocksdict.AccessType.read_only())  # fmt: skip
        except Exception:
            raise no_space_on_open(self.path, wal_bytes(self.path)) from None
        logs = wal_bytes(self.path)
        self._read_only = no_space_on_open(self.path, logs)
        logging.getLogger("flowbuilder_storage").warning(
            "opened the store %s read-only: no space left on device to move its write-ahead log (%d MB) into table"
            " files; writes fail until about that much space is free", self.path, -(-logs // (1024 * 1024)))  # fmt: skip
        return db

    def _leave_failed_handle(self) -> None:
        """After a write failed for lack of space, RocksDB refuses every later write of the
        handle; swap it for a read-only one (readers carry on) and let it go, so that
        :meth:`_open_for_writing` can open the directory again once there is room."""
        import rocksdict

        with self._lock:
            if self._failure is None:
                return
            try:
                reader = rocksdict.Rdict(str(self.path), _options(False, "tolerate_corrupted_tail_records"),
                                         access_type=rocksdict.AccessType.read_only())  # fmt: skip
            except Exception:
                raise StoreError(str(self._failure)) from None
            # Dropping the last reference closes the failed handle and releases the directory's lock
            # (at once, or when the last reader still using it lets go).
            self._db = reader
            self._read_only = self._failure
            self._failure = None
            self._reopen_verified = False

    def _open_for_writing(self) -> None:
        """Leave read-only mode if there is space now; else raise the one-line no-space error."""
        import rocksdict

        with self._lock:
            if self._read_only is None:
                return
            if not self._reopen_verified:  # after a failed write: the log may end in a torn record
                try:
                    self._recovery = self._verify_existing(rocksdict)
                except StoreError:
                    if _nearly_full(self.path):
                        # A write cut short by the full disk may have torn a file other than the
                        # log (RocksDB's manifest); that is the full disk speaking, not damage to
                        # restore from a backup. Stay read-only and check again once there is room.
                        raise StoreError(str(self._read_only)) from None
                    raise
                self._reopen_verified = True
            try:
                db = rocksdict.Rdict(str(self.path), _options(False, self._recovery))
            except Exception as error:
                if is_no_space(error):
                    self._read_only = no_space_on_open(self.path, wal_bytes(self.path))
                    raise StoreError(str(self._read_only)) from None
                if _LOCK_MESSAGE.search(str(error)):  # the failed handle is still in use by a reader
                    raise StoreError(str(self._read_only)) from None
                raise translate(self.path, error) if is_rocksdb_error(error) else error from None
            # The read-only handle holds no lock; it goes when the last reader still using it lets go.
            self._db = db
            self._read_only = None

    @staticmethod
    def _sync_options(rocksdict: Any) -> Any:
        options = rocksdict.WriteOptions()
        options.sync = True
        return options

    def _sync_loop(self) -> None:
        interval = self.durability.interval_ms / 1000.0
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(interval):
                break
            self._dirty.clear()
            try:
                self._db.flush_wal(True)
            except Exception:  # closed underneath us during shutdown, or the disk failed (writes say so)
                if self._stop.is_set():
                    return
                continue
            self._background_syncs += 1

    def _write(self, batch: Any, run_id: str | None = None) -> None:
        if self._failure is not None:
            self._leave_failed_handle()
        if self._read_only is not None:
            self._open_for_writing()
        try:
            self._db.write(batch, self._write_options)
        except Exception as error:
            raise self._write_failed(error, run_id) from None
        if self._syncer is not None:
            self._dirty.set()

    def _write_failed(self, error: Exception, run_id: str | None) -> Exception:
        """The error to raise for a refused write; remembers a full disk.

        After a failed log write RocksDB refuses every later write of this handle with
        ``Writer has previous error``; those get the first failure's message, which says
        what happened and what to do.
        """
        if not is_rocksdb_error(error):
            return error
        if is_no_space(error):
            self._failure = no_space_on_write(self.path, run_id)
            return self._failure
        if self._failure is not None:
            return StoreError(str(self._failure))
        return translate(self.path, error)

    def _new_batch(self) -> Any:
        return self._batch_type(raw_mode=True)

    # -- events ---------------------------------------------------------------------------

    def _last_event_seq(self, run_id: str) -> int:
        prefix = keys.event_prefix(run_id)
        iterator = self._db.iter()
        try:
            iterator.seek_for_prev(keys.prefix_end(prefix))
            if iterator.valid() and iterator.key().startswith(prefix):
                return keys.seq_of_event_key(iterator.key())
            raise_if_ended_by_error(iterator)
            return 0
        finally:
            del iterator

    def _stored_summary(self, run_id: str, raw: bytes) -> RunSummary:
        """A summary read from disk, with ``last_seq`` made current (see append_events)."""
        summary = decode_summary(raw, run_id)
        summary.last_seq = self._last_event_seq(run_id)
        return summary

    def _summary(self, run_id: str) -> RunSummary | None:
        cache = self._summaries
        if run_id in cache:
            cache.move_to_end(run_id)
            return cache[run_id]
        raw = self._db.get(keys.summary_key(run_id))
        summary = self._stored_summary(run_id, raw) if raw is not None else None
        cache[run_id] = summary
        if len(cache) > _SUMMARY_CACHE_SIZE:
            cache.popitem(last=False)
        return summary

    def append_encoded(self, run_id: str, encoded: Sequence[bytes], expected_seq: int,
                       fence: Fence | None = None) -> int:  # fmt: skip
        """:meth:`append_events` for events already in their stored form (from a routed client).

        They are decoded to be checked, and stored as the bytes that came.
        """
        events = decode_events(run_id, encoded)
        return self.append_events(run_id, events, expected_seq, encoded, fence)

    # -- fencing: the highest token per scope, checked and raised under the engine's lock -----

    def _check_fence(self, fence: Fence) -> Any:
        """StaleLeaderError if ``fence`` is below its scope's highest; else a write batch that
        raises the highest to it (None when it is there already). Call under ``self._lock``."""
        raw = self._db.get(keys.fence_key(fence.scope))
        highest = int(bytes(raw)) if raw is not None else -1
        if fence.token < highest:
            raise StaleLeaderError(fence.scope, fence.token, highest)
        if fence.token == highest:
            return None
        batch = self._new_batch()
        batch.put(keys.fence_key(fence.scope), str(fence.token).encode())
        return batch

    def raise_fence(self, fence: Fence) -> int:
        with self._lock:
            batch = self._check_fence(fence)
            if batch is not None:
                self._write(batch)
            return fence.token

    def read_fence(self, scope: str) -> int | None:
        with self._lock:
            raw = self._db.get(keys.fence_key(scope))
        return int(bytes(raw)) if raw is not None else None

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int,
                      encoded: Sequence[bytes] | None = None, fence: Fence | None = None) -> int:  # fmt: skip
        """Append atomically if the run's last seq is ``expected_seq``.

        The stored summary is rewritten only by batches that create the run or change its
        run-level state (created, started, finished); task events only add event keys.
        The current ``last_seq`` is the newest event key's number (kept in memory while
        the store is open, found with one seek after opening). With a ``fence``, the scope's
        highest token is checked first and raised in the same write batch.
        """
        check_run_id(run_id)
        with self._lock:
            fence_raised = self._check_fence(fence) if fence is not None else None
            summary = self._summary(run_id)
            actual = summary.last_seq if summary is not None else 0
            if actual != expected_seq:
                raise SequenceConflictError(run_id, expected_seq, actual)
            if not events:
                if fence_raised is not None:
                    self._write(fence_raised)
                return actual
            try:
                if encoded is None:
                    values = event_values(run_id, events, expected_seq)
                else:
                    check_batch(run_id, events, expected_seq)
                    values = grouped_values(encoded)
            except MemoryError:
                raise not_enough_memory(self.path, len(events)) from None
            if values is None:  # not numbered on from expected_seq, or another run's: check_batch says which
                check_batch(run_id, events, expected_seq)
            assert values is not None  # check_batch raised: its test is event_values's
            size = 0
            for _count, value in values:
                size += len(value)
            if size >= CHECKED_BATCH_BYTES:  # before RocksDB allocates: it aborts the process when it cannot
                ensure_room_for_batch(self.path, len(values), size)
            batch = self._batch_type(raw_mode=True) if fence_raised is None else fence_raised
            prefix = keys.event_prefix(run_id)
            pack = keys.pack_seq
            seq = expected_seq
            grouped = False
            for index, (count, value) in enumerate(values):
                seq += count
                if count > 1:
                    grouped = True
                batch.put(prefix + pack(seq), value)
                values[index] = _NOTHING  # let it go as soon as the batch holds its copy (big batches)
            marking = grouped and not self._marked_current
            if marking:  # in the same batch: an older version never sees a value it would misread
                batch.put(keys.FORMAT_KEY, FORMAT_MARKER)
            run_level = summary is None or not _RUN_LEVEL.isdisjoint(map(_KIND, events))
            if run_level:
                updated = replace(summary) if summary is not None else RunSummary(run_id=run_id)
                updated.apply(events)
                if summary is None or updated.created_at != summary.created_at:
                    if summary is not None:
                        batch.delete(keys.index_key(summary.created_at, run_id))
                    batch.put(keys.index_key(updated.created_at, run_id), b"")
                batch.put(keys.summary_key(run_id), encode_summary(updated))
                self._write(batch, run_id)
                self._summaries[run_id] = updated
            else:
                self._write(batch, run_id)
                summary.last_seq = seq  # type: ignore[union-attr]  # not None: run_level covers that
            if marking:
                self._marked_current = True
            self._appended.notify_all()
            return seq

    def _scan(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        iterator = self._db.iter()
        try:
            iterator.seek(start)
            while iterator.valid():
                key = iterator.key()
                if key >= end:
                    break
                yield key, iterator.value()
                iterator.next()
            raise_if_ended_by_error(iterator)
        finally:
            del iterator

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        return decode_events(run_id, self.read_encoded(run_id, after_seq, limit))

    def read_encoded(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[bytes]:
        """The stored bytes of the events :meth:`read_events` returns."""
        if (limit is not None and limit <= 0) or after_seq >= _MAX_SEQ:  # no run has that many (a key holds 64 bits)
            return []
        prefix = keys.event_prefix(run_id)
        start = keys.event_key(run_id, max(after_seq, 0) + 1)
        found: list[bytes] = []
        for key, value in bounded_range(self._db, "items", start, keys.prefix_end(prefix)):
            if not cast(bytes, key).startswith(prefix):  # belt and braces: never hand out another key's value
                break
            events = split_value(cast(bytes, value))
            first = keys.seq_of_event_key(cast(bytes, key)) - len(events) + 1
            found.extend(events[after_seq - first + 1 :] if first <= after_seq else events)
            if limit is not None and len(found) >= limit:
                del found[limit:]
                break
        return found

    def last_seq(self, run_id: str) -> int:
        with self._lock:
            summary = self._summary(run_id)
        return summary.last_seq if summary is not None else 0

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        with self._appended:
            self._appended.wait_for(lambda: self.last_seq(run_id) > after_seq, timeout=max(timeout, 0.0))
        return self.read_events(run_id, after_seq)

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """Woken by :meth:`append_events`, :meth:`annotate` and :meth:`append_logs` of this process
        (routed writers included); after a log-only append it returns ``([], [])`` early."""
        with self._appended:
            appends = self._log_appends.get(run_id, 0)
            self._appended.wait_for(lambda: self.last_seq(run_id) > after_seq
                                    or self._annotation_count(run_id) > after_annotation
                                    or self._log_appends.get(run_id, 0) != appends,
                                    timeout=max(timeout, 0.0))  # fmt: skip
        return self.read_events(run_id, after_seq), self.read_annotations(run_id, after_annotation)

    # -- annotations ----------------------------------------------------------------------

    def _newest_number(self, prefix: bytes) -> int:
        """The number of the newest key under ``prefix`` (annotations, control requests: keys
        numbered 1, 2, ...), 0 if none; call under the lock."""
        iterator = self._db.iter()
        try:
            iterator.seek_for_prev(keys.prefix_end(prefix))
            if iterator.valid() and iterator.key().startswith(prefix):
                return keys.seq_of_event_key(iterator.key())
            raise_if_ended_by_error(iterator)
            return 0
        finally:
            del iterator

    def _annotation_count(self, run_id: str) -> int:
        """The run's number of annotations (its newest key's number; cached; call under the lock)."""
        count = self._annotation_counts.get(run_id)
        if count is None:
            count = self._newest_number(keys.annotation_prefix(run_id))
            if len(self._annotation_counts) >= _SUMMARY_CACHE_SIZE:
                self._annotation_counts.clear()
            self._annotation_counts[run_id] = count
        return count

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        from flowbuilder.annotations import encode_annotation

        return self.annotate_encoded(run_id, encode_annotation(annotation))

    def annotate_encoded(self, run_id: str, raw: bytes) -> Annotation:
        """Store an annotation in its stored form (checked by the caller or decoded here)."""
        from flowbuilder.annotations import decode_annotation

        check_run_id(run_id)
        with self._lock:
            if self._summary(run_id) is None:
                raise RunNotFoundError(run_id)
            number = self._annotation_count(run_id) + 1
            annotation = decode_annotation(raw, number)  # refuses bytes that are not an annotation
            batch = self._new_batch()
            batch.put(keys.annotation_key(run_id, number), bytes(raw))
            self._write(batch, run_id)
            self._annotation_counts[run_id] = number
            self._appended.notify_all()
        return annotation

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        prefix = keys.annotation_prefix(run_id)
        start = keys.annotation_key(run_id, max(after, 0) + 1)
        found = list(bounded_range(self._db, "items", start, keys.prefix_end(prefix)))
        if not found:  # the common case (`flowbuilder run` reads them after each run): no import
            return []
        from flowbuilder.annotations import decode_annotation

        return [decode_annotation(value, keys.seq_of_event_key(key)) for key, value in found]

    # -- control --------------------------------------------------------------------------

    def _control_count(self, run_id: str) -> int:
        """The run's number of control requests (its newest key's number); under the lock, like
        every iterator of the handle (a failed write reopens the database under it)."""
        with self._lock:
            return self._newest_number(keys.control_prefix(run_id))

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        from flowbuilder.control import encode_control_request

        return self.request_control_encoded(run_id, encode_control_request(request))

    def request_control_encoded(self, run_id: str, raw: bytes) -> ControlRequest:
        """Record a control request in its stored form (checked by the caller or decoded here)."""
        from flowbuilder.control import decode_control_request

        check_run_id(run_id)
        with self._lock:
            if self._summary(run_id) is None:
                raise RunNotFoundError(run_id)
            number = self._control_count(run_id) + 1
            request = decode_control_request(raw, number)  # refuses bytes that are not a request
            batch = self._new_batch()
            batch.put(keys.control_key(run_id, number), bytes(raw))
            self._write(batch, run_id)
        with self._control:
            self._control.notify_all()
        return request

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        from flowbuilder.control import decode_control_request

        prefix = keys.control_prefix(run_id)
        start = keys.control_key(run_id, max(after, 0) + 1)
        return [decode_control_request(value, keys.seq_of_event_key(key))
                for key, value in bounded_range(self._db, "items", start, keys.prefix_end(prefix))]  # fmt: skip

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        """Woken by :meth:`request_control` of this process (routed requesters included)."""
        with self._control:
            self._control.wait_for(lambda: any(self._control_count(run_id) > seen for run_id, seen in after.items()),
                                   timeout=max(timeout, 0.0))  # fmt: skip
        return {run_id: got for run_id, seen in after.items() if (got := self.read_control_requests(run_id, seen))}

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        if not leases:
            return
        batch = self._new_batch()
        for lease in leases:
            check_run_id(lease.run_id)
            batch.put(keys.lease_key(lease.run_id), encode_lease(lease))
        self._write(batch)

    def read_lease(self, run_id: str) -> RunLease | None:
        raw = self._db.get(keys.lease_key(run_id))
        return decode_lease(raw) if raw is not None else None

    # -- cached results -------------------------------------------------------------------

    def get_cached_raw(self, workflow: str, task: str, key: str) -> bytes | None:
        """The stored form of a cache entry (expired or not: the store checks), or None."""
        raw = self._db.get(keys.cache_key(workflow, task, key))
        return bytes(raw) if raw is not None else None

    def put_cached_raw(self, workflow: str, task: str, key: str, raw: bytes) -> None:
        batch = self._new_batch()
        batch.put(keys.cache_key(workflow, task, key), bytes(raw))
        self._write(batch)

    def list_cached_raw(self, workflow: str | None, task: str | None) -> list[bytes]:
        """Stored forms of the entries of ``workflow`` (all when None) and ``task``, in key order."""
        prefix = keys.cache_prefix(workflow, task)
        found = []
        for key, value in bounded_range(self._db, "items", prefix, keys.prefix_end(prefix)):
            if task is None or workflow is not None or key.split(b"\x00")[1] == task.encode():
                found.append(bytes(value))
        return found

    def clear_cached(self, workflow: str | None, task: str | None) -> int:
        """Delete the chosen entries and every expired one (all entries are read to find those);
        the number of live chosen entries deleted. One batch, so a clear lands whole or not at all."""
        from flowbuilder.caching import decode_cached_result

        now = time.time()
        chosen_prefix = keys.cache_prefix(workflow, task)
        batch = self._new_batch()
        removed = deleted = 0
        for key, value in bounded_range(self._db, "items", keys.CACHE_TAG, keys.prefix_end(keys.CACHE_TAG)):
            chosen = key.startswith(chosen_prefix) and (
                task is None or workflow is not None or key.split(b"\x00")[1] == task.encode())  # fmt: skip
            try:
                expired = decode_cached_result(value).expired(now)
            except StoreError:
                expired = False  # unreadable by this version: only an explicit clear removes it
            if chosen or expired:
                batch.delete(key)
                deleted += 1
                removed += chosen and not expired
        if deleted:
            self._write(batch)
        return removed

    # -- the audit log (store-wide numbers, the oldest dropped beyond the retention) ---------

    def _audit_range(self) -> tuple[int, int]:
        """(oldest, newest) audit seq on disk, (1, 0) when none; cached; call under the lock."""
        if self._audit_bounds is None:
            newest = self._newest_number(keys.AUDIT_TAG)
            oldest = newest + 1
            for key, _ in bounded_range(self._db, "items", keys.audit_key(0), keys.prefix_end(keys.AUDIT_TAG)):
                oldest = keys.seq_of_event_key(cast(bytes, key))
                break
            self._audit_bounds = (min(oldest, newest + 1) if newest else 1, newest)
        return self._audit_bounds

    def append_audit_raw(self, raw: bytes, retention: int) -> int:
        """Store an audit record's stored form as the next number; drop those beyond ``retention``
        in the same write batch. Returns the record's number.

        A record identical to one of the newest :data:`AUDIT_RETRY_WINDOW` (its stored form
        holds its time to the microsecond, so only a retry repeats it) is not stored again: its
        number is returned. A client whose call was cut by an owner hand-over retries it with
        the next owner, and the record the old owner had already written would land twice.
        """
        with self._lock:
            oldest, newest = self._audit_range()
            for kept in range(newest, max(oldest, newest - AUDIT_RETRY_WINDOW + 1) - 1, -1):
                if self._db.get(keys.audit_key(kept)) == raw:
                    return kept
            seq = newest + 1
            batch = self._new_batch()
            batch.put(keys.audit_key(seq), bytes(raw))
            keep_from = max(seq - max(retention, 1) + 1, oldest)
            if keep_from - oldest == 1:
                batch.delete(keys.audit_key(oldest))
            elif keep_from > oldest:
                batch.delete_range(keys.audit_key(oldest), keys.audit_key(keep_from))
            self._write(batch)
            self._audit_bounds = (keep_from, seq)
            return seq

    def read_audit_raw(self, after: int | None, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (number, stored form) pairs, newest first, numbered below ``after``."""
        found: list[tuple[int, bytes]] = []
        with self._lock:
            iterator = self._db.iter()
            try:
                iterator.seek_for_prev(
                    keys.audit_key(after - 1) if after is not None else keys.prefix_end(keys.AUDIT_TAG)
                )
                while iterator.valid() and len(found) < limit:
                    key = iterator.key()
                    if not key.startswith(keys.AUDIT_TAG) or len(key) != 9:
                        break
                    found.append((keys.seq_of_event_key(key), bytes(iterator.value())))
                    iterator.prev()
                raise_if_ended_by_error(iterator)
            finally:
                del iterator
        return found

    # -- coordination (claimed keys, records, named leases) ----------------------------------

    def claim_key(self, key: str, value: str) -> str:
        """Under the engine's lock, which every process sharing the directory goes through."""
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        with self._lock:
            held = self._db.get(keys.record_key(key))
            if held is not None:
                return bytes(held).decode()
            batch = self._new_batch()
            batch.put(keys.record_key(key), value.encode())
            self._write(batch)
            return value

    def read_record(self, key: str) -> str | None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        with self._lock:
            held = self._db.get(keys.record_key(key))
        return bytes(held).decode() if held is not None else None

    def write_record(self, key: str, value: str) -> None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        with self._lock:
            batch = self._new_batch()
            batch.put(keys.record_key(key), value.encode())
            self._write(batch)

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        holder, expires_at, _ = self.acquire_lease_epoch(name, owner, ttl)
        return holder, expires_at

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        """Take, renew or read the lease and its epoch in one step under the engine's lock."""
        check_coordination_text("lease name", name, MAX_COORDINATION_KEY)
        check_coordination_text("lease owner", owner, MAX_COORDINATION_KEY)
        with self._lock:
            now = time.time()
            raw = self._db.get(keys.named_lease_key(name))
            raw_epoch = self._db.get(keys.lease_epoch_key(name))
            epoch = int(bytes(raw_epoch)) if raw_epoch is not None else 0
            renewal = False
            if raw is not None:
                held = json.loads(bytes(raw))
                live = float(held["expires_at"]) > now
                if held["owner"] != owner and live:
                    return LeaseGrant(str(held["owner"]), float(held["expires_at"]), epoch)
                renewal = live  # our own holding, not expired: it keeps its epoch
            expires_at = now + ttl
            batch = self._new_batch()
            batch.put(keys.named_lease_key(name), json.dumps({"owner": owner, "expires_at": expires_at}).encode())
            if not renewal:
                epoch += 1
                batch.put(keys.lease_epoch_key(name), str(epoch).encode())
            self._write(batch)
            return LeaseGrant(owner, expires_at, epoch)

    def release_lease(self, name: str, owner: str) -> None:
        with self._lock:
            raw = self._db.get(keys.named_lease_key(name))
            if raw is None or json.loads(bytes(raw))["owner"] != owner:
                return
            batch = self._new_batch()
            batch.delete(keys.named_lease_key(name))
            self._write(batch)

    # -- snapshots ------------------------------------------------------------------------

    def save_snapshot(self, state: RunState) -> None:
        check_run_id(state.run_id)
        batch = self._new_batch()
        batch.put(keys.snapshot_key(state.run_id), dump_json(state.to_dict()))
        self._write(batch)

    def load_snapshot(self, run_id: str) -> RunState | None:
        raw = self._db.get(keys.snapshot_key(run_id))
        return decode_snapshot(raw, run_id) if raw is not None else None

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunSummary:
        with self._lock:
            summary = self._summary(run_id)
        if summary is None:
            raise RunNotFoundError(run_id)
        return RunSummary.from_dict(summary.to_dict())

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: RunStatus | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        if limit < 1:
            raise StoreError(f"page limit must be at least 1, got {limit}")
        after = decode_cursor(cursor) if cursor else None
        bound = keys.index_key(after[0], after[1]) if after else b"u"
        page: list[RunSummary] = []
        more = False
        iterator = self._db.iter()
        try:
            iterator.seek_for_prev(bound)
            while iterator.valid():
                key = iterator.key()
                if not key.startswith(keys.INDEX_TAG):
                    break
                if key >= bound:  # the cursor's own run
                    iterator.prev()
                    continue
                created_at, run_id = keys.parse_index_key(key)
                iterator.prev()
                if until is not None and created_at >= until:
                    continue
                if since is not None and created_at < since:
                    break
                with self._lock:
                    summary = self._summary(run_id)
                if summary is None:
                    continue
                summary = replace(summary)
                if (workflow is not None and summary.workflow != workflow) or (
                    status is not None and summary.status is not status
                ):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(summary)
            raise_if_ended_by_error(iterator)
        finally:
            del iterator
        return RunPage(runs=page, next_cursor=encode_cursor(page[-1]) if more else None)

    def delete_run(self, run_id: str) -> None:
        with self._lock:
            summary = self._summary(run_id)
            batch = self._new_batch()
            for prefix in (keys.event_prefix(run_id), keys.log_prefix(run_id), keys.blob_prefix(run_id),
                           keys.annotation_prefix(run_id), keys.control_prefix(run_id)):  # fmt: skip
                batch.delete_range(prefix, keys.prefix_end(prefix))
            for key in (keys.summary_key(run_id), keys.snapshot_key(run_id), keys.log_counter_key(run_id),
                        keys.lease_key(run_id)):  # fmt: skip
                batch.delete(key)
            if summary is not None:
                batch.delete(keys.index_key(summary.created_at, run_id))
            self._write(batch)
            self._summaries[run_id] = None
            self._annotation_counts.pop(run_id, None)

    # -- definitions, logs, blobs ---------------------------------------------------------

    def save_definition(self, content: bytes) -> str:
        digest = definition_hash(content)
        key = keys.definition_key(digest)
        if self._db.get(key) is None:
            batch = self._new_batch()
            batch.put(key, bytes(content))
            self._write(batch)
        return digest

    def load_definition(self, digest: str) -> bytes:
        content = self._db.get(keys.definition_key(digest))
        if content is None:
            raise StoreError(f"no workflow definition {digest!r} in this store")
        return bytes(content)

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        check_run_id(run_id)
        if not lines:
            return
        with self._lock:
            raw = self._db.get(keys.log_counter_key(run_id))
            counter = load_json(raw) if raw is not None else {"n": 0, "b": 0}
            batch = self._new_batch()
            for line in lines:
                if counter["b"] >= self.max_log_bytes:
                    if not counter.get("cut"):
                        note = LogLine(line.task, line.attempt, "system",
                                       f"log capped at {self.max_log_bytes} bytes; later lines were dropped", line.time)  # fmt: skip
                        batch.put(keys.log_key(run_id, counter["n"]), encode_log_line(note))
                        counter["n"] += 1
                        counter["cut"] = True
                    break
                encoded = encode_log_line(line)
                batch.put(keys.log_key(run_id, counter["n"]), encoded)
                counter["n"] += 1
                counter["b"] += len(encoded)
            batch.put(keys.log_counter_key(run_id), dump_json(counter))
            self._write(batch, run_id)
            if len(self._log_appends) >= _SUMMARY_CACHE_SIZE and run_id not in self._log_appends:
                self._log_appends.clear()  # a waiter whose count went returns early once: harmless
            self._log_appends[run_id] = self._log_appends.get(run_id, 0) + 1
            self._appended.notify_all()

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        prefix = keys.log_prefix(run_id)
        lines = [decode_log_line(value) for _, value in self._scan(prefix, keys.prefix_end(prefix))]
        if task is not None:
            lines = [line for line in lines if line.task == task]
        return lines[after:]

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        check_run_id(run_id)
        if not name:
            raise StoreError("a blob needs a non-empty name")
        batch = self._new_batch()
        batch.put(keys.blob_key(run_id, name), bytes(data))
        self._write(batch)
        return f"{run_id}/{name}"

    def get_blob(self, ref: str) -> bytes:
        run_id, name = split_blob_ref(ref)
        data = self._db.get(keys.blob_key(run_id, name))
        if data is None:
            raise StoreError(f"no blob {ref!r} in this store (deleted with its run?)")
        return bytes(data)

    # -- maintenance and analytics --------------------------------------------------------

    def compact(self) -> None:
        """Reclaim the space of deleted runs now instead of in background compactions."""
        self._db.compact_range(None, None)

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        """Stored events in bulk: ``(run ids, NDJSON of their events)``.

        The NDJSON lines are the stored values as they are (core's event encoding): every
        event of the first run (seq 1, 2, ...), then every event of the next, so a line with
        ``"s":1`` starts the next run of the list. The fast path of the analytics: nothing
        is decoded or re-encoded in Python. Without ``run_ids``: every run, read from one
        consistent snapshot (summary keys sort like event keys, as run ids hold no NUL).
        """
        if run_ids is None:
            every_run: list[str] = []
            values: list[bytes] = []
            for runs, raw in self.export_event_chunks():
                every_run.extend(runs)
                values.append(raw)
            return every_run, b"\n".join(value for value in values if value)
        chosen: list[str] = []
        values = []
        for run_id in run_ids:
            chunk = self.read_encoded(run_id)
            if chunk:
                chosen.append(run_id)
                values.extend(chunk)
        return chosen, b"\n".join(values)

    def export_event_chunks(self, runs_per_chunk: int = 4096) -> Iterator[tuple[list[str], bytes]]:
        """:meth:`export_events` of every run, in pieces of ``runs_per_chunk`` runs.

        All pieces come from one consistent snapshot; a consumer can parse a piece while
        the next is read (the analytics do).
        """
        snapshot = self._db.snapshot()
        try:
            summary_keys = bounded_range(snapshot, "keys", keys.SUMMARY_TAG, keys.prefix_end(keys.SUMMARY_TAG))
            every_run = [cast(bytes, key)[1:].decode() for key in summary_keys]
            for start in range(0, len(every_run), runs_per_chunk):
                runs = every_run[start : start + runs_per_chunk]
                low = keys.event_prefix(runs[0])
                high = keys.prefix_end(keys.event_prefix(runs[-1]))
                yield runs, b"\n".join(bounded_range(snapshot, "values", low, high))
        finally:
            del snapshot

    def wal_stats(self) -> tuple[int, int]:
        """(WAL writes, WAL syncs) since open.

        Writes and the syncs of synced writes come from RocksDB's own counters, which leave
        out an explicit WAL sync (``flush_wal(True)``), so the batch policy's background
        syncs are added from this engine's count of them.
        """
        text = self._db.property_value("rocksdb.dbstats") or ""
        match = re.search(r"Cumulative WAL: (\d+) writes, (\d+) syncs", text)
        writes, synced_writes = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
        return writes, synced_writes + self._background_syncs

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._dirty.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        wal_error: Exception | None = None
        try:
            if self._read_only is None:
                self._db.flush_wal(True)
        except Exception as error:
            wal_error = error
        gone = self._identity is not None and _directory_identity(self.path) != self._identity
        try:
            self._db.close()  # moves the memtable into table files, then closes (even when that fails)
        except Exception as error:
            if wal_error is None and self._failure is None and self._read_only is None and not gone:
                # The log is synced, so nothing is lost: the next open replays it (a full disk, typically).
                # After a refused write the user was already told, in one line, and this adds nothing.
                logging.getLogger("flowbuilder_storage").warning(
                    "closed the store %s without moving its write-ahead log into table files (%s);"
                    " nothing is lost, the next open replays the log", self.path, first_line(error))  # fmt: skip
        finally:
            del self._db
        if gone:
            # RocksDB kept writing into the files it held open, so every write "succeeded"; they
            # went with the directory. Saying so is all that is left to do (the warning above
            # would claim that the next open replays the log).
            raise StoreError(f"the store directory {self.path} was deleted or moved while this process had it open:"
                             " what it wrote went with it (lost, if it was deleted); keep the store's directory in"
                             " place while a process uses it")  # fmt: skip
        if wal_error is not None and self._failure is None:
            # No earlier write failed, yet the log could not be synced: acknowledged writes may not be on disk.
            raise translate(self.path, wal_error) if is_rocksdb_error(wal_error) else wal_error


def _directory_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the directory at ``path``; None if there is none."""
    try:
        stats = os.stat(path)
    except OSError:
        return None
    return stats.st_dev, stats.st_ino


_MAX_SEQ = (1 << 63) - 1
"""A sequence number past any run's: reading after it finds nothing (and needs no key)."""

_ROOM_TO_REOPEN = 8 * 1024 * 1024
"""Free bytes below which a store that met a full disk is still treated as on a full disk."""


def _nearly_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has (almost) no room left for a non-root writer."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _ROOM_TO_REOPEN
