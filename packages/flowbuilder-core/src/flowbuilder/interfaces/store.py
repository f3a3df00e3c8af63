"""The Store interface: where runs, their events, logs, outputs and definitions are kept.

Stores are registered by URL scheme through ``flowbuilder_stores`` (``memory://``,
``rocksdb://PATH``, ``redis://HOST:PORT/DB``) and opened with :meth:`Store.open`. Every
implementation passes the same suite in ``contracts/``.

:class:`Store` is what a plugin subclasses. It is made of roles, each an ABC of its own
module, so that a consumer types against only the part it uses (a log viewer takes a
:class:`~flowbuilder.interfaces.logs.LogStore`, a live monitor an
:class:`~flowbuilder.interfaces.event_log.EventLog`):

* :class:`~flowbuilder.interfaces.event_log.EventLog` — ``append_events``, ``read_events``,
  ``last_seq``, ``wait_for_events``, ``wait_for_updates``, ``subscribe``, ``save_snapshot``,
  ``load_snapshot``, ``load_state``; it includes
  :class:`~flowbuilder.interfaces.annotation_store.AnnotationStore` — ``annotate``,
  ``read_annotations`` (subscribers receive both);
* :class:`~flowbuilder.interfaces.run_index.RunIndex` — ``get_run``, ``list_runs``, ``delete_run``;
* :class:`~flowbuilder.interfaces.definitions.DefinitionStore` — ``save_definition``, ``load_definition``;
* :class:`~flowbuilder.interfaces.logs.LogStore` — ``append_logs``, ``read_logs``;
* :class:`~flowbuilder.interfaces.blobs.BlobStore` — ``put_blob``, ``get_blob``;
* :class:`~flowbuilder.interfaces.result_cache.ResultCache` — ``get_cached_result``,
  ``put_cached_result``, ``list_cached_results``, ``clear_cached_results`` (task results
  kept across runs by key, with an expiry).
* :class:`~flowbuilder.interfaces.coordination.CoordinationStore` — ``claim_key``,
  ``read_record``, ``write_record``, ``acquire_lease``, ``release_lease``.
* :class:`~flowbuilder.interfaces.audit_log.AuditLog` — ``append_audit``, ``read_audit``
  (who did what: an append-only, bounded log belonging to no run).

What crosses roles stays here: ``open``, ``scheme``, ``default_priority``, ``default_url``,
``export_events`` / ``export_event_chunks`` (read the run index and the event log),
``compact``, ``close`` and the context manager.

The names that lived here before the split (``RunSummary``, ``RunPage``, ``LogLine``,
``definition_hash``) are still importable from this module.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import ClassVar, Iterator, Sequence

from flowbuilder.interfaces.audit_log import AuditLog
from flowbuilder.interfaces.blobs import BlobStore
from flowbuilder.interfaces.control import ControlChannel
from flowbuilder.interfaces.coordination import CoordinationStore
from flowbuilder.interfaces.definitions import DefinitionStore, definition_hash
from flowbuilder.interfaces.event_log import EventLog
from flowbuilder.interfaces.logs import LogLine, LogStore
from flowbuilder.interfaces.result_cache import ResultCache
from flowbuilder.interfaces.run_index import RunIndex, RunPage, RunSummary


class Store(EventLog, RunIndex, DefinitionStore, LogStore, BlobStore, ControlChannel, ResultCache, CoordinationStore,
            AuditLog):  # fmt: skip
    """Durable (or, for ``memory://``, throwaway) home of runs: every role in one object.

    Guarantees every implementation gives (and ``contracts/`` checks):

    * :meth:`append_events` is atomic and conditional: a batch is written whole or not at
      all, and only if ``expected_seq`` equals the run's last sequence number, otherwise
      :class:`~flowbuilder.errors.SequenceConflictError`. Events must be numbered
      ``expected_seq + 1, + 2, ...``, else :class:`~flowbuilder.errors.StoreError`. When
      both are wrong the conflict wins: ``expected_seq`` is checked first (see
      :mod:`flowbuilder.interfaces.event_log`).
    * reads return events in sequence order; a run's summary reflects every appended event.
    * logs come back in the order they were appended; blobs byte for byte.
    * a blob reference (from :meth:`put_blob`) is an opaque string that only this store
      interprets; it stays readable, from any process opening the same store, until its
      run is deleted; a second ``put_blob`` of the same run and name replaces the bytes
      (see :mod:`flowbuilder.interfaces.blobs`).
    * values are stored in a documented, non-executable encoding; nothing is unpickled.
    * annotations (:meth:`annotate`) are a second key space of a run: any number of writers
      add them, live or after the run finished, and they never change the run's event
      sequence, so they never cause a :class:`~flowbuilder.errors.SequenceConflictError`.
    * :meth:`subscribe` pushes a run's new events and annotations to the subscriber as they
      are appended (from any process sharing the store), ending after ``run_finished``.
    * control requests (:meth:`request_control`) are a third key space of a run, and the
      owner's lease (:meth:`renew_leases`) one record per run: the control role, declared in
      :class:`~flowbuilder.interfaces.control.ControlChannel` (its docstring states the rules).
    * cached task results are a key space of their own, by workflow, task and key, never
      returned once expired: the result cache role, declared in
      :class:`~flowbuilder.interfaces.result_cache.ResultCache`.
    * claimed keys, records and named leases (:meth:`claim_key`, :meth:`acquire_lease`) are
      the coordination role, declared in
      :class:`~flowbuilder.interfaces.coordination.CoordinationStore`: what schedulers sharing
      the store agree through (one run per logical time, one active scheduler).
    * the audit log (:meth:`append_audit`, :meth:`read_audit`) is a key space of its own,
      append-only, numbered across processes, newest-first pages, bounded to the newest
      ``audit_retention`` records: declared in :class:`~flowbuilder.interfaces.audit_log.AuditLog`.

    Thread safety: one open store may be used from several threads at once — every method,
    including concurrent appends to one run (exactly one of two racing appends at the same
    ``expected_seq`` wins) and concurrent annotations (each lands, with its own number).

    Methods added after 0.2 (:meth:`annotate`, :meth:`read_annotations`,
    :meth:`wait_for_updates`, :meth:`subscribe`, and the control role's
    :meth:`request_control`, :meth:`read_control_requests`, :meth:`wait_for_control`,
    :meth:`renew_leases`, :meth:`read_lease`, and the result cache role's four methods) have defaults, so a store written for 0.2
    keeps working: it subscribes through its own :meth:`wait_for_events`, reports that it
    keeps no annotations, control requests or cached results, and keeps no leases until it overrides them
    (see docs/plugins.md, "Subscriptions and annotations" and "Control requests and leases").
    """

    scheme: ClassVar[str]
    default_priority: ClassVar[int] = 0
    """Which installed store is the default when none is configured: the highest wins."""
    default_url: ClassVar[str] = ""
    """The URL opened when this store is the default; empty means ``SCHEME://``."""

    @classmethod
    @abstractmethod
    def open(cls, url: str) -> Store:
        """Open (creating if needed) the store at ``url``; raise StoreError with advice if it cannot."""

    @classmethod
    def exists(cls, url: str) -> bool:
        """Whether something is at ``url`` to read, found without creating anything.

        Commands that only read (``runs list``, ``runs show``, ``logs``, ``runs watch``,
        ``resume``, ``gc``) ask this before :meth:`open`, so that reading in a folder with no
        store never leaves an empty store behind: they report "there is no store at URL"
        instead. Return False only when you are sure nothing is there (``rocksdb://``: no
        such path, or an empty directory); when unsure (a path you cannot read, something
        that may not be a store) return True and let :meth:`open` say what is wrong.

        Default: True, right for stores that create nothing when opened or cannot tell
        without connecting (``memory://``, ``redis://``).
        """
        return True

    @classmethod
    def resolve_url(cls, url: str, base: Path) -> str:
        """``url`` with a relative filesystem path in it made absolute against ``base``.

        A ``store =`` URL in ``flowbuilder.toml`` is read from that file's folder, whatever
        the current directory (``store = "rocksdb://state"`` next to the file means the
        file's ``state/``); :meth:`flowbuilder.plugins.PluginHost.default_store_url` calls
        this with that folder. URLs from ``--store`` and ``FLOWBUILDER_STORE`` are not
        passed here: relative paths in them stay relative to the current directory. Must
        return a URL of the same scheme, and return an absolute one unchanged.

        Default: ``url`` unchanged, right for URLs that hold no filesystem path
        (``memory://``, ``redis://HOST:PORT/DB``).
        """
        return url

    # -- bulk export (analytics) ----------------------------------------------------------

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        """Stored events in bulk: ``(run ids, their events as NDJSON, run after run)``.

        Each line is :func:`~flowbuilder.events.encode_event` of one event; runs without
        events are left out of both. ``None`` means every run. ``flowbuilder stats`` reads
        history through it. The default reads run after run with :meth:`read_events`;
        stores that keep the encoded bytes override it to hand them over directly.
        """
        from flowbuilder.events import encode_event

        if run_ids is None:
            run_ids = self._all_run_ids()
        chosen: list[str] = []
        lines: list[bytes] = []
        for run_id in run_ids:
            events = self.read_events(run_id)
            if events:
                chosen.append(run_id)
                lines.extend(encode_event(event) for event in events)
        return chosen, b"\n".join(lines)

    def export_event_chunks(self) -> Iterator[tuple[list[str], bytes]]:
        """:meth:`export_events` of every run, in pieces a reader can parse while the next is read.

        Default: one piece, ``export_events()``. Override when the store can read in pieces.
        """
        yield self.export_events()

    def _all_run_ids(self) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            page = self.list_runs(limit=1000, cursor=cursor)
            ids.extend(summary.run_id for summary in page.runs)
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor

    def compact(self) -> None:
        """Reclaim the space of deleted runs (``flowbuilder gc`` calls it after deleting).

        Optional: the default does nothing (right for stores that free space as they delete,
        like ``memory://`` and Redis); RocksDB overrides it to compact its files. Must leave
        every remaining run readable and may be called any number of times.
        """

    def close(self) -> None:
        """Flush and release the store (idempotent)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = [
    "LogLine",
    "RunPage",
    "RunSummary",
    "Store",
    "definition_hash",
]


__all__ = ["LogLine", "RunPage", "RunSummary", "Store", "definition_hash"]
