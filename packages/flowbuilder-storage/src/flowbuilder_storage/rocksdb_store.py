"""``rocksdb://PATH``: the embedded, durable default store (no server needed).

``PATH`` is a directory (relative paths start at the working directory; the default is
``.flowbuilder/`` there). Options go in the query: ``sync=always|batch|never``,
``sync_interval_ms=50``, ``max_log_bytes=67108864`` (each run's log cap); ``sync`` and
``sync_interval_ms`` can also be set in ``[rocksdb]`` of flowbuilder.toml or as
``FLOWBUILDER_ROCKSDB__SYNC``. See the package README for the key layout, the sync
policies and what each can lose, and how several processes share one directory.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Sequence

from flowbuilder.errors import ConfigurationError, RunNotFoundError, SequenceConflictError, quoted, shown_url
from flowbuilder.events import RunEvent, RunState, RunStatus, encode_event, fold_events
from flowbuilder.interfaces.audit_log import audit_retention_setting
from flowbuilder.interfaces.coordination import LeaseGrant
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store
from flowbuilder.leases import RunLease
from flowbuilder_storage._rocks_engine import DEFAULT_MAX_LOG_BYTES
from flowbuilder_storage._rocks_errors import is_rocksdb_error, translate
from flowbuilder_storage._rocks_owner import MAX_WAIT_SECONDS, Handle, RemoteEngine, acquire, connect_waiter
from flowbuilder_storage._rocks_wire import ConnectionLost
from flowbuilder_storage._sync import Durability, durability_from
from flowbuilder_storage._urls import rocksdb_path, rocksdb_url_from, settings_section

if TYPE_CHECKING:  # imported where used: a run neither annotates, audits, requests control nor fences
    from flowbuilder.annotations import Annotation
    from flowbuilder.audit import AuditPage, AuditRecord
    from flowbuilder.caching import CachedResult
    from flowbuilder.control import ControlRequest
    from flowbuilder.fencing import Fence

_FAILOVER_ATTEMPTS = 50
_EARLY_SECONDS = 0.05
"""An owner's long poll answering this much before its timeout with nothing new was woken (by a log append)."""
NO_ANNOTATIONS = 1 << 62
"""``after_annotation`` for a wait that only cares about events (no run has that many annotations)."""
SNAPSHOT_EVERY = 1000
"""load_state saves a snapshot when it had to fold more than this many events."""


def _check_cache_filter(workflow: str | None, task: str | None) -> None:
    """Names that choose cache entries are names (they become key prefixes: no NUL, no surprises)."""
    from flowbuilder.caching import check_cache_name

    if workflow is not None:
        check_cache_name("workflow", workflow)
    if task is not None:
        check_cache_name("task", task)


class RocksDBStore(Store):
    """A :class:`~flowbuilder.interfaces.Store` in a RocksDB directory, shared safely by processes."""

    scheme: ClassVar[str] = "rocksdb"
    default_priority: ClassVar[int] = 10
    default_url: ClassVar[str] = "rocksdb://.flowbuilder"

    def __init__(self, path: Path, durability: Durability, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES):
        self.path = path
        self.durability = durability
        self.max_log_bytes = max_log_bytes
        self._handle: Handle | None = acquire(path, durability, max_log_bytes)
        self._waiters: list[RemoteEngine] = []  # idle long-poll connections to the owner (routed only)
        self._waiters_lock = threading.Lock()
        self._failover_lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> RocksDBStore:
        path, query = rocksdb_path(url)
        section = settings_section("rocksdb")
        durability = durability_from(query, section, f"store URL {shown_url(url)!r}")
        raw_cap = query.get("max_log_bytes", section.get("max_log_bytes", DEFAULT_MAX_LOG_BYTES))
        try:
            cap = int(str(raw_cap))
        except ValueError:
            cap = -1
        if cap < 0:  # as redis:// refuses it (a negative cap kept no line)
            raise ConfigurationError(
                f"store URL {quoted(shown_url(url))}: max_log_bytes={quoted(raw_cap)} must be a whole number >= 0"
            )
        store = cls(path, durability, cap)
        store.audit_retention = audit_retention_setting(settings_section("audit"))
        return store

    @classmethod
    def exists(cls, url: str) -> bool:
        """False when the URL's path does not exist or is an empty directory (reading creates nothing)."""
        path, _ = rocksdb_path(url)
        try:
            return path.exists() and (not path.is_dir() or any(path.iterdir()))
        except OSError:  # cannot look: open() says why
            return True

    @classmethod
    def resolve_url(cls, url: str, base: Path) -> str:
        """A relative path (``rocksdb://state``, and ``rocksdb://`` = ``.flowbuilder``) is read from ``base``."""
        return rocksdb_url_from(url, base)

    @property
    def is_owner(self) -> bool:
        """Whether this process holds the directory (False: calls are routed to the owner)."""
        return self._live().local

    def _live(self) -> Handle:
        if self._handle is None:
            from flowbuilder.errors import StoreError

            raise StoreError(f"the store {self.path} is closed")
        return self._handle

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        for _ in range(_FAILOVER_ATTEMPTS):
            handle = self._live()
            try:
                return getattr(handle.engine, method)(*args, **kwargs)
            except ConnectionLost:
                self._failover(handle)
            except Exception as error:  # rocksdict raises plain Exception with RocksDB's status
                if is_rocksdb_error(error):
                    raise translate(self.path, error) from None
                raise
        from flowbuilder.errors import StoreError

        raise StoreError(f"the store {self.path} keeps changing owner; retry the command")

    def _failover(self, broken: Handle) -> None:
        """Replace a handle whose owner went away; once, however many threads noticed
        (a subscription's long poll and a write often notice together)."""
        with self._failover_lock:
            if self._handle is not broken:  # another thread failed over already (or the store closed)
                return
            broken.release()
            self._handle = acquire(self.path, self.durability, self.max_log_bytes)

    # -- events ---------------------------------------------------------------------------

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        return self._append(run_id, events, expected_seq, None)

    def append_fenced_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence) -> int:
        """Checked and raised by the owner process under its engine's lock, with the batch."""
        return self._append(run_id, events, expected_seq, fence)

    def raise_fence(self, fence: Fence) -> int:
        return int(self._call("raise_fence", fence))

    def read_fence(self, scope: str) -> int | None:
        highest: int | None = self._call("read_fence", scope)
        return highest

    def _append(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence | None) -> int:
        attempt = 0
        while True:
            handle = self._live()
            try:
                if fence is None:
                    return int(handle.engine.append_events(run_id, events, expected_seq))
                return int(handle.engine.append_events(run_id, events, expected_seq, fence=fence))
            except ConnectionLost:
                attempt += 1
                if attempt >= _FAILOVER_ATTEMPTS:
                    raise
                self._failover(handle)
            except SequenceConflictError as conflict:
                if attempt and self._landed_before(run_id, events, expected_seq, conflict):
                    return expected_seq + len(events)
                raise
            except Exception as error:
                if is_rocksdb_error(error):
                    raise translate(self.path, error) from None
                raise

    def _landed_before(self, run_id: str, events: Sequence[RunEvent], expected_seq: int,
                       conflict: SequenceConflictError) -> bool:  # fmt: skip
        """After a broken call: is the conflict our own batch, written before the break?"""
        if not events or conflict.actual_seq < expected_seq + len(events):
            return False
        stored = self._call("read_events", run_id, expected_seq, len(events))
        return [encode_event(e) for e in stored] == [encode_event(e) for e in events]

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        return list(self._call("read_events", run_id, after_seq, limit))

    def last_seq(self, run_id: str) -> int:
        return int(self._call("last_seq", run_id))

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        if self._live().local:
            return list(self._call("wait_for_events", run_id, after_seq, timeout))
        return self.wait_for_updates(run_id, after_seq, NO_ANNOTATIONS, timeout)[0]  # pushed, not polled

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """The owner wakes it: in this process through a condition, from another process over
        a connection of its own (a long poll on the owner's socket). If the owner dies, the
        wait fails over like every call (this process may become the owner)."""
        for _ in range(_FAILOVER_ATTEMPTS):
            handle = self._live()
            if handle.local:
                result: tuple[list[RunEvent], list[Annotation]] = self._call(
                    "wait_for_updates", run_id, after_seq, after_annotation, timeout)  # fmt: skip
                return result
            waiter = self._take_waiter()
            if waiter is None:
                self._failover(handle)
                continue
            try:
                result = self._long_poll(waiter, run_id, after_seq, after_annotation, timeout)
            except ConnectionLost:
                waiter.close()
                self._call("last_seq", run_id)  # fails the shared handle over if the owner is gone
                continue
            with self._waiters_lock:
                self._waiters.append(waiter)
            return result
        from flowbuilder.errors import StoreError

        raise StoreError(f"the store {self.path} keeps changing owner; retry the command")

    @staticmethod
    def _long_poll(waiter: RemoteEngine, run_id: str, after_seq: int, after_annotation: int,
                   timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """The owner serves waits of at most MAX_WAIT_SECONDS each; ask again until ``timeout``."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            started = time.monotonic()
            left = deadline - started
            asked = max(min(left, MAX_WAIT_SECONDS), 0.0)
            events, notes = waiter.wait_for_updates(run_id, after_seq, after_annotation, asked)
            # An answer well before its timeout with nothing new: a log-only append woke the owner.
            woken = time.monotonic() - started < asked - _EARLY_SECONDS
            if events or notes or woken or left <= MAX_WAIT_SECONDS:
                return events, notes

    def _take_waiter(self) -> RemoteEngine | None:
        with self._waiters_lock:
            if self._waiters:
                return self._waiters.pop()
        return connect_waiter(self.path)

    # -- annotations ----------------------------------------------------------------------

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        """See :meth:`Store.annotate`. A call cut by an owner hand-over is retried, so it may land twice."""
        noted: Annotation = self._call("annotate", run_id, annotation)
        return noted

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        return list(self._call("read_annotations", run_id, after))

    # -- control --------------------------------------------------------------------------

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        """See :meth:`Store.request_control`. A call cut by an owner hand-over is retried, so it may land twice
        (the owner applies both; a second cancel or pause changes nothing)."""
        recorded: ControlRequest = self._call("request_control", run_id, request)
        return recorded

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        return list(self._call("read_control_requests", run_id, after))

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        """Woken by the owner like :meth:`wait_for_updates`: a condition in its process, a long poll
        on a connection of its own from another."""
        watched = dict(after)
        for _ in range(_FAILOVER_ATTEMPTS):
            handle = self._live()
            if handle.local:
                found: dict[str, list[ControlRequest]] = self._call("wait_for_control", watched, timeout)
                return found
            waiter = self._take_waiter()
            if waiter is None:
                self._failover(handle)
                continue
            try:
                deadline = time.monotonic() + max(timeout, 0.0)
                while True:
                    left = deadline - time.monotonic()
                    found = waiter.wait_for_control(watched, max(min(left, MAX_WAIT_SECONDS), 0.0))
                    if found or left <= MAX_WAIT_SECONDS:
                        break
            except ConnectionLost:
                waiter.close()
                self._call("last_seq", "")  # fails the shared handle over if the owner is gone
                continue
            with self._waiters_lock:
                self._waiters.append(waiter)
            return found
        from flowbuilder.errors import StoreError

        raise StoreError(f"the store {self.path} keeps changing owner; retry the command")

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        self._call("renew_leases", list(leases))

    def read_lease(self, run_id: str) -> RunLease | None:
        lease: RunLease | None = self._call("read_lease", run_id)
        return lease

    # -- cached results (expiry checked on read; expired entries removed by clear) ---------

    def get_cached_result(self, workflow: str, task: str, key: str) -> CachedResult | None:
        from flowbuilder.caching import check_cache_key, check_cache_name, decode_cached_result

        check_cache_name("workflow", workflow)
        check_cache_name("task", task)
        check_cache_key(key)
        raw: bytes | None = self._call("get_cached_raw", workflow, task, key)
        if raw is None:
            return None
        entry = decode_cached_result(raw)
        return None if entry.expired() else entry

    def put_cached_result(self, entry: CachedResult) -> None:
        from flowbuilder.caching import encode_cached_result

        raw = encode_cached_result(entry)
        self._call("put_cached_raw", entry.workflow, entry.task, entry.key, raw)

    def list_cached_results(self, workflow: str | None = None, task: str | None = None) -> list[CachedResult]:
        _check_cache_filter(workflow, task)
        from flowbuilder.caching import decode_cached_result

        now = time.time()
        entries = [decode_cached_result(raw) for raw in self._call("list_cached_raw", workflow, task)]
        return [entry for entry in entries if not entry.expired(now)]

    def clear_cached_results(self, workflow: str | None = None, task: str | None = None) -> int:
        _check_cache_filter(workflow, task)
        removed: int = self._call("clear_cached", workflow, task)
        return removed

    # -- the audit log: numbered by the owner process, under its engine's lock -------------

    def append_audit(self, record: AuditRecord) -> AuditRecord:
        """See :meth:`Store.append_audit`. A call cut by an owner hand-over is retried with the next
        owner, which finds the record among the newest if the old owner had written it (never twice)."""
        from flowbuilder.audit import decode_audit_record, encode_audit_record

        raw = encode_audit_record(record)
        seq = int(self._call("append_audit_raw", raw, self.audit_retention))
        return decode_audit_record(raw, seq)

    def read_audit(self, *, after: int | None = None, limit: int = 100) -> AuditPage:
        from flowbuilder.audit import AuditPage, check_audit_page, decode_audit_record

        check_audit_page(after, limit)
        listed: list[tuple[int, bytes]] = self._call("read_audit_raw", after, limit + 1)
        records = [decode_audit_record(raw, seq) for seq, raw in listed[:limit]]
        return AuditPage(records, records[-1].seq if len(listed) > limit else None)

    # -- coordination: the owner process decides, under its engine's lock ------------------

    def claim_key(self, key: str, value: str) -> str:
        held: str = self._call("claim_key", key, value)
        return held

    def read_record(self, key: str) -> str | None:
        held: str | None = self._call("read_record", key)
        return held

    def write_record(self, key: str, value: str) -> None:
        self._call("write_record", key, value)

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        held: tuple[str, float] = self._call("acquire_lease", name, owner, ttl)
        return held

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        grant: LeaseGrant = self._call("acquire_lease_epoch", name, owner, ttl)
        return grant

    def release_lease(self, name: str, owner: str) -> None:
        self._call("release_lease", name, owner)

    # -- snapshots ------------------------------------------------------------------------

    def save_snapshot(self, state: RunState) -> None:
        self._call("save_snapshot", state)

    def load_snapshot(self, run_id: str) -> RunState | None:
        state: RunState | None = self._call("load_snapshot", run_id)
        return state

    def load_state(self, run_id: str) -> RunState:
        """The newest snapshot plus the events after it; saves a new snapshot after a long fold."""
        snapshot = self.load_snapshot(run_id)
        events = self.read_events(run_id, snapshot.seq if snapshot is not None else 0)
        if snapshot is None and not events:
            raise RunNotFoundError(run_id)
        state = fold_events(run_id, events, snapshot)
        if len(events) > SNAPSHOT_EVERY:
            self.save_snapshot(state)
        return state

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunSummary:
        summary: RunSummary = self._call("get_run", run_id)
        return summary

    def list_runs(self, *, workflow: str | None = None, status: RunStatus | None = None, since: float | None = None,
                  until: float | None = None, limit: int = 50, cursor: str | None = None) -> RunPage:  # fmt: skip
        page: RunPage = self._call("list_runs", workflow=workflow, status=status, since=since, until=until,
                                   limit=limit, cursor=cursor)  # fmt: skip
        return page

    def delete_run(self, run_id: str) -> None:
        self._call("delete_run", run_id)

    # -- definitions, logs, blobs ---------------------------------------------------------

    def save_definition(self, content: bytes) -> str:
        return str(self._call("save_definition", content))

    def load_definition(self, digest: str) -> bytes:
        return bytes(self._call("load_definition", digest))

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        self._call("append_logs", run_id, lines)

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        return list(self._call("read_logs", run_id, task, after))

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        return str(self._call("put_blob", run_id, name, data))

    def get_blob(self, ref: str) -> bytes:
        return bytes(self._call("get_blob", ref))

    # -- beyond the interface -------------------------------------------------------------

    def compact(self) -> None:
        """Reclaim disk space after deletions (``flowbuilder gc`` calls it)."""
        self._call("compact")

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        """Events in bulk for the analytics: ``(run ids, NDJSON of their events, run after run)``."""
        runs, raw = self._call("export_events", run_ids)
        return list(runs), bytes(raw)

    def export_event_chunks(self, runs_per_chunk: int = 4096) -> Iterator[tuple[list[str], bytes]]:
        """Every run's events in pieces (see the engine); one piece when routed to another process."""
        handle = self._live()
        if handle.local:
            try:
                yield from handle.engine.export_event_chunks(runs_per_chunk)
            except Exception as error:
                if is_rocksdb_error(error):
                    raise translate(self.path, error) from None
                raise
        else:
            yield self.export_events()

    def wal_stats(self) -> tuple[int, int]:
        """(write-ahead-log writes, syncs) of the owner since it opened the directory."""
        writes, syncs = self._call("wal_stats")
        return int(writes), int(syncs)

    def close(self) -> None:
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.close()
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.release()
