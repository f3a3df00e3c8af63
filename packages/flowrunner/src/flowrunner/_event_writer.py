"""Numbering run events and delivering them in batches to the store and the sinks.

The scheduler calls :meth:`EventWriter.emit` for every state change (cheap: one slotted
object appended to a list) and :meth:`EventWriter.flush` once per scheduling step, so the
store sees one ``append_events`` per step and each sink one ``handle`` call, never one per
event. A sink that raises is reported once on the run's log and dropped; it never fails
the run (the :class:`~flowbuilder.interfaces.EventSink` contract).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from flowbuilder.events import EventKind, RunEvent

if TYPE_CHECKING:
    from flowbuilder.interfaces import EventSink, LogLine, Store
    from flowbuilder.secrets import SecretMasker

_EMPTY: Mapping[str, Any] = {}
FLUSH_EVERY = 4096
"""Events buffered before the scheduler flushes inside one long scheduling step (bounds memory).

Flushes happen only from the scheduler's main loop, never from completion callbacks, so a
store that fails surfaces in ``run_async`` (which then stops the run's attempts)."""


class EventWriter:
    """Owns a run's sequence numbers from ``start_seq + 1`` on."""

    __slots__ = ("run_id", "store", "sinks", "seq", "flushed_seq", "pending", "logs", "events_kept", "keep", "masker")

    def __init__(self, run_id: str, store: Store | None, sinks: Sequence[EventSink], start_seq: int = 0,
                 keep: bool = False, masker: SecretMasker | None = None):  # fmt: skip
        self.run_id = run_id
        self.store = store
        self.sinks = list(sinks)
        self.seq = start_seq
        self.flushed_seq = start_seq
        self.pending: list[RunEvent] = []
        self.logs: list[LogLine] = []
        self.keep = keep
        self.events_kept: list[RunEvent] = []
        self.masker = masker
        """Set when the run has secrets: every event and log line is masked before it leaves."""

    def emit(
        self, kind: EventKind, task: str | None = None, attempt: int = 0, data: Mapping[str, Any] = _EMPTY
    ) -> None:
        self.seq += 1
        self.pending.append(RunEvent(self.run_id, self.seq, kind, task, attempt, data, time.time()))

    def log(self, line: LogLine) -> None:
        self.logs.append(line)

    def flush(self) -> None:
        """Append the buffered events (and logs) to the store, then hand them to the sinks."""
        if self.masker is not None:
            self._mask_pending()
        if self.logs and self.store is not None:
            logs, self.logs = self.logs, []
            self.store.append_logs(self.run_id, logs)
        elif self.logs and self.store is None:
            self.logs = []
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        if self.store is not None:
            self.flushed_seq = self.store.append_events(self.run_id, batch, self.flushed_seq)
        else:
            self.flushed_seq = batch[-1].seq
        if self.keep:
            self.events_kept.extend(batch)
        for sink in tuple(self.sinks):
            try:
                sink.handle(batch)
            except Exception as error:  # a broken sink never fails the run
                self.sinks.remove(sink)
                print(f"flowrunner: event sink {type(sink).__name__} failed and was dropped: {error}", file=sys.stderr)

    def _mask_pending(self) -> None:
        """Replace secret values (and their encodings) in what is about to be stored and shown."""
        masker = self.masker
        assert masker is not None
        for event in self.pending:
            if event.data:
                event.data = masker.mask_value(event.data)
        self.logs = [replace(line, text=masker.mask(line.text)) for line in self.logs]

    def close(self) -> None:
        self.flush()
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as error:
                print(f"flowrunner: closing event sink {type(sink).__name__} failed: {error}", file=sys.stderr)
