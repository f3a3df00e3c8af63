"""``memory://``: a store in this process's memory, for tests and throwaway runs.

Everything is lost when the process ends. Each URL names its own store within the process
(``memory://`` and ``memory://a`` differ, two opens of ``memory://a`` share), so tests can
open the same store twice the way two components of one process would.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, ClassVar, Mapping, Sequence

from flowbuilder.errors import RunNotFoundError, SequenceConflictError, StaleLeaderError, StoreError
from flowbuilder.events import RunEvent, RunState, RunStatus
from flowbuilder.interfaces.coordination import (
    MAX_COORDINATION_KEY,
    MAX_COORDINATION_VALUE,
    LeaseGrant,
    check_coordination_text,
)
from flowbuilder.interfaces.run_index import SUMMARY_KINDS
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store, definition_hash
from flowbuilder.stores.paging import page_of

if TYPE_CHECKING:  # imported where used: a run calls none of the calls that take or give these
    from flowbuilder.annotations import Annotation
    from flowbuilder.audit import AuditPage, AuditRecord
    from flowbuilder.caching import CachedResult
    from flowbuilder.control import ControlRequest
    from flowbuilder.fencing import Fence
    from flowbuilder.leases import RunLease


class _MemoryData:
    """The shared state behind every open handle of one ``memory://`` URL."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.events: dict[str, list[RunEvent]] = {}
        self.summaries: dict[str, RunSummary] = {}
        self.snapshots: dict[str, RunState] = {}
        self.definitions: dict[str, bytes] = {}
        self.logs: dict[str, list[LogLine]] = {}
        self.blobs: dict[str, bytes] = {}
        self.annotations: dict[str, list[bytes]] = {}  # stored form, as the durable stores keep it
        # Control requests and leases have a condition of their own: the owners waiting on it
        # are not woken by every append of every run (the memory store's appends are hot).
        self.control_lock = threading.Condition()
        self.control: dict[str, list[bytes]] = {}
        # Leases as written: a RunLease is immutable (a frozen dataclass of plain values), and a
        # run writes its first lease at its start, so JSON here cost every short run (issue 10).
        self.leases: dict[str, RunLease] = {}
        # Cached task results, by (workflow, task, key): stored form, as the durable stores keep it.
        self.cache_lock = threading.Lock()
        self.cache: dict[tuple[str, str, str], bytes] = {}
        # The coordination role (claimed keys, records, named leases), under a lock of its own.
        self.coordination_lock = threading.Lock()
        self.records: dict[str, str] = {}
        self.named_leases: dict[str, tuple[str, float]] = {}
        self.lease_epochs: dict[str, int] = {}
        # Fencing tokens, per scope: read and raised under ``lock``, with the appends they guard.
        self.fences: dict[str, int] = {}
        # The audit log: stored forms of records first_audit_seq, first_audit_seq + 1, ...
        self.audit_lock = threading.Lock()
        self.audit: list[bytes] = []
        self.first_audit_seq = 1


class MemoryStore(Store):
    """A thread-safe in-memory :class:`~flowbuilder.interfaces.Store`."""

    scheme: ClassVar[str] = "memory"
    default_priority: ClassVar[int] = 0
    default_url: ClassVar[str] = "memory://"
    _registry: ClassVar[dict[str, _MemoryData]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str = "memory://"):
        self.url = url
        with self._registry_lock:
            self._data = self._registry.setdefault(url, _MemoryData())

    @classmethod
    def open(cls, url: str) -> MemoryStore:
        return cls(url)

    @classmethod
    def forget(cls, url: str) -> None:
        """Drop a named in-memory store (tests use it to start clean)."""
        with cls._registry_lock:
            cls._registry.pop(url, None)

    # -- audit log (a list of stored forms; the oldest dropped beyond audit_retention) ------

    def append_audit(self, record: AuditRecord) -> AuditRecord:
        from flowbuilder.audit import decode_audit_record, encode_audit_record

        raw = encode_audit_record(record)
        data = self._data
        with data.audit_lock:
            data.audit.append(raw)
            seq = data.first_audit_seq + len(data.audit) - 1
            excess = len(data.audit) - max(self.audit_retention, 1)
            if excess > 0:
                del data.audit[:excess]
                data.first_audit_seq += excess
        return decode_audit_record(raw, seq)

    def read_audit(self, *, after: int | None = None, limit: int = 100) -> AuditPage:
        from flowbuilder.audit import AuditPage, check_audit_page, decode_audit_record

        check_audit_page(after, limit)
        data = self._data
        with data.audit_lock:
            first = data.first_audit_seq
            newest = first + len(data.audit) - 1
            top = newest if after is None else min(after - 1, newest)
            bottom = max(top - limit + 1, first)
            chosen = [(seq, data.audit[seq - first]) for seq in range(top, bottom - 1, -1)]
        records = [decode_audit_record(raw, seq) for seq, raw in chosen]
        return AuditPage(records, bottom if records and bottom > first else None)

    # -- events ---------------------------------------------------------------------------

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int) -> int:
        data = self._data
        with data.lock:
            stored = data.events.get(run_id)
            actual = len(stored) if stored is not None else 0
            if actual != expected_seq:
                raise SequenceConflictError(run_id, expected_seq, actual)
            if not events:
                return actual
            # One pass checks the sequence and picks out the few events a summary folds (run
            # created, started, finished), so the summary does not walk the batch again.
            summary_kinds = SUMMARY_KINDS
            folded: list[RunEvent] = []
            for offset, event in enumerate(events, start=1):
                if event.seq != expected_seq + offset or event.run_id != run_id:
                    raise StoreError(f"run {run_id}: event {event.seq} of run {event.run_id} out of sequence"
                                     f" (expected {expected_seq + offset})")  # fmt: skip
                if event.kind in summary_kinds:
                    folded.append(event)
            if stored is None:
                stored = data.events[run_id] = []
                data.summaries[run_id] = RunSummary(run_id=run_id)
            stored.extend(events)
            summary = data.summaries[run_id]
            summary.apply(folded)
            summary.last_seq = events[-1].seq
            data.lock.notify_all()
            return len(stored)

    def append_fenced_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int, fence: Fence) -> int:
        data = self._data
        with data.lock:  # the lock append_events takes again (a Condition over an RLock)
            highest = data.fences.get(fence.scope, -1)
            if fence.token < highest:
                raise StaleLeaderError(fence.scope, fence.token, highest)
            appended = self.append_events(run_id, events, expected_seq)
            if fence.token > highest:
                data.fences[fence.scope] = fence.token
            return appended

    def raise_fence(self, fence: Fence) -> int:
        data = self._data
        with data.lock:
            highest = data.fences.get(fence.scope, -1)
            if fence.token < highest:
                raise StaleLeaderError(fence.scope, fence.token, highest)
            data.fences[fence.scope] = fence.token
            return fence.token

    def read_fence(self, scope: str) -> int | None:
        with self._data.lock:
            return self._data.fences.get(scope)

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        with self._data.lock:
            stored = self._data.events.get(run_id, ())
            end = len(stored) if limit is None else min(len(stored), after_seq + limit)
            return list(stored[max(after_seq, 0) : end])

    def last_seq(self, run_id: str) -> int:
        with self._data.lock:
            return len(self._data.events.get(run_id, ()))

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        data = self._data
        with data.lock:
            data.lock.wait_for(lambda: len(data.events.get(run_id, ())) > after_seq, timeout=timeout)
            return list(data.events.get(run_id, ())[after_seq:])

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        data = self._data

        def changed() -> bool:  # a new event, a new annotation, or a log-only append (log followers)
            return (len(data.events.get(run_id, ())) > after_seq
                    or len(data.annotations.get(run_id, ())) > after_annotation
                    or len(data.logs.get(run_id, ())) != lines_before)  # fmt: skip

        with data.lock:
            lines_before = len(data.logs.get(run_id, ()))
            data.lock.wait_for(changed, timeout=max(timeout, 0.0))
            return list(data.events.get(run_id, ())[max(after_seq, 0) :]), self._annotations_after(
                run_id, after_annotation
            )

    # -- annotations ----------------------------------------------------------------------

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        from flowbuilder.annotations import decode_annotation, encode_annotation

        raw = encode_annotation(annotation)
        data = self._data
        with data.lock:
            if run_id not in data.summaries:
                raise RunNotFoundError(run_id)
            stored = data.annotations.setdefault(run_id, [])
            stored.append(raw)
            data.lock.notify_all()
            return decode_annotation(raw, len(stored))

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        with self._data.lock:
            return self._annotations_after(run_id, after)

    def _annotations_after(self, run_id: str, after: int) -> list[Annotation]:
        stored = self._data.annotations.get(run_id, ())
        if len(stored) <= after:
            return []
        from flowbuilder.annotations import decode_annotation

        start = max(after, 0)
        return [decode_annotation(raw, number) for number, raw in enumerate(stored[start:], start=start + 1)]

    # -- control --------------------------------------------------------------------------

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        from flowbuilder.control import decode_control_request, encode_control_request

        raw = encode_control_request(request)
        data = self._data
        with data.lock:
            if run_id not in data.summaries:
                raise RunNotFoundError(run_id)
        with data.control_lock:
            stored = data.control.setdefault(run_id, [])
            stored.append(raw)
            data.control_lock.notify_all()
            return decode_control_request(raw, len(stored))

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        with self._data.control_lock:
            return self._requests_after(run_id, after)

    def _requests_after(self, run_id: str, after: int) -> list[ControlRequest]:
        stored = self._data.control.get(run_id, ())
        if len(stored) <= after:
            return []
        from flowbuilder.control import decode_control_request

        start = max(after, 0)
        return [decode_control_request(raw, n) for n, raw in enumerate(stored[start:], start=start + 1)]

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        data = self._data

        def arrived() -> bool:
            return any(len(data.control.get(run_id, ())) > seen for run_id, seen in after.items())

        with data.control_lock:
            data.control_lock.wait_for(arrived, timeout=max(timeout, 0.0))
            return {run_id: got for run_id, seen in after.items() if (got := self._requests_after(run_id, seen))}

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        with self._data.control_lock:
            for lease in leases:
                self._data.leases[lease.run_id] = lease

    def read_lease(self, run_id: str) -> RunLease | None:
        with self._data.control_lock:
            return self._data.leases.get(run_id)

    # -- cached results -------------------------------------------------------------------

    def get_cached_result(self, workflow: str, task: str, key: str) -> CachedResult | None:
        with self._data.cache_lock:
            raw = self._data.cache.get((workflow, task, key))
        if raw is None:
            return None
        from flowbuilder.caching import decode_cached_result

        entry = decode_cached_result(raw)
        return None if entry.expired() else entry

    def put_cached_result(self, entry: CachedResult) -> None:
        from flowbuilder.caching import encode_cached_result

        raw = encode_cached_result(entry)
        with self._data.cache_lock:
            self._data.cache[(entry.workflow, entry.task, entry.key)] = raw

    def list_cached_results(self, workflow: str | None = None, task: str | None = None) -> list[CachedResult]:
        from flowbuilder.caching import decode_cached_result

        with self._data.cache_lock:
            chosen = sorted((address, raw) for address, raw in self._data.cache.items()
                            if _chosen(address, workflow, task))  # fmt: skip
        entries = [decode_cached_result(raw) for _, raw in chosen]
        return [entry for entry in entries if not entry.expired()]

    def clear_cached_results(self, workflow: str | None = None, task: str | None = None) -> int:
        from flowbuilder.caching import check_cache_name, decode_cached_result

        if workflow is not None:
            check_cache_name("workflow", workflow)
        if task is not None:
            check_cache_name("task", task)
        removed = 0
        now = time.time()
        with self._data.cache_lock:
            cache = self._data.cache
            for address in list(cache):
                chosen = _chosen(address, workflow, task)
                try:
                    expired = decode_cached_result(cache[address]).expired(now)
                except StoreError:
                    expired = False
                if chosen or expired:
                    del cache[address]
                    removed += chosen and not expired
        return removed

    # -- coordination ---------------------------------------------------------------------

    def claim_key(self, key: str, value: str) -> str:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        with self._data.coordination_lock:
            return self._data.records.setdefault(key, value)

    def read_record(self, key: str) -> str | None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        with self._data.coordination_lock:
            return self._data.records.get(key)

    def write_record(self, key: str, value: str) -> None:
        check_coordination_text("key", key, MAX_COORDINATION_KEY)
        check_coordination_text("value", value, MAX_COORDINATION_VALUE)
        with self._data.coordination_lock:
            self._data.records[key] = value

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        holder, expires_at, _ = self.acquire_lease_epoch(name, owner, ttl)
        return holder, expires_at

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        check_coordination_text("lease name", name, MAX_COORDINATION_KEY)
        check_coordination_text("lease owner", owner, MAX_COORDINATION_KEY)
        now = time.time()
        data = self._data
        with data.coordination_lock:
            held = data.named_leases.get(name)
            epoch = data.lease_epochs.get(name, 0)
            if held is None or held[1] <= now:  # free, released or expired: a new holding
                epoch = data.lease_epochs[name] = epoch + 1
                held = data.named_leases[name] = (owner, now + ttl)
            elif held[0] == owner:  # a renewal of a live holding keeps its epoch
                held = data.named_leases[name] = (owner, now + ttl)
            return LeaseGrant(held[0], held[1], epoch)

    def release_lease(self, name: str, owner: str) -> None:
        with self._data.coordination_lock:
            held = self._data.named_leases.get(name)
            if held is not None and held[0] == owner:
                del self._data.named_leases[name]

    # -- snapshots ------------------------------------------------------------------------

    def save_snapshot(self, state: RunState) -> None:
        copy = RunState.from_dict(state.to_dict())
        with self._data.lock:
            self._data.snapshots[state.run_id] = copy

    def load_snapshot(self, run_id: str) -> RunState | None:
        with self._data.lock:
            snapshot = self._data.snapshots.get(run_id)
        return RunState.from_dict(snapshot.to_dict()) if snapshot is not None else None

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunSummary:
        with self._data.lock:
            summary = self._data.summaries.get(run_id)
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
        with self._data.lock:
            summaries = [RunSummary.from_dict(s.to_dict()) for s in self._data.summaries.values()]
        return page_of(
            summaries, workflow=workflow, status=status, since=since, until=until, limit=limit, cursor=cursor
        )

    def delete_run(self, run_id: str) -> None:
        data = self._data
        with data.lock:
            data.events.pop(run_id, None)
            data.summaries.pop(run_id, None)
            data.snapshots.pop(run_id, None)
            data.logs.pop(run_id, None)
            data.annotations.pop(run_id, None)
            prefix = f"{run_id}/"
            for ref in [ref for ref in data.blobs if ref.startswith(prefix)]:
                del data.blobs[ref]
        with data.control_lock:
            data.control.pop(run_id, None)
            data.leases.pop(run_id, None)

    # -- definitions, logs, blobs ---------------------------------------------------------

    def save_definition(self, content: bytes) -> str:
        digest = definition_hash(content)
        with self._data.lock:
            self._data.definitions[digest] = bytes(content)
        return digest

    def load_definition(self, digest: str) -> bytes:
        with self._data.lock:
            content = self._data.definitions.get(digest)
        if content is None:
            raise StoreError(f"no workflow definition {digest!r} in this store")
        return content

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        with self._data.lock:
            self._data.logs.setdefault(run_id, []).extend(lines)
            if lines:
                self._data.lock.notify_all()  # wakes wait_for_updates, so log followers see the lines at once

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        with self._data.lock:
            lines = list(self._data.logs.get(run_id, ()))
        if task is not None:
            lines = [line for line in lines if line.task == task]
        return lines[after:]

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        ref = f"{run_id}/{name}"
        with self._data.lock:
            self._data.blobs[ref] = bytes(data)
        return ref

    def get_blob(self, ref: str) -> bytes:
        with self._data.lock:
            data = self._data.blobs.get(ref)
        if data is None:
            raise StoreError(f"no blob {ref!r} in this store (deleted with its run?)")
        return data


def _chosen(address: tuple[str, str, str], workflow: str | None, task: str | None) -> bool:
    """Whether a cache entry at ``address`` belongs to ``workflow`` (every one when None) and ``task``."""
    return (workflow is None or address[0] == workflow) and (task is None or address[1] == task)


__all__ = [
    "MemoryStore",
]
