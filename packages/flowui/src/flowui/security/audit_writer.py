"""Appending audit records without ever making a request wait for the store.

The middleware and the gRPC interceptor :meth:`~AuditWriter.submit` a record when a call
has ended; a thread of the writer's own appends it to the store. The queue between them is
bounded: when the store is slow or dead and the queue is full, new records are **dropped
and counted** rather than held in memory or allowed to block the event loop. A record the
store refuses (unreachable Redis, full disk) is counted as failed. :meth:`~AuditWriter.stats`
gives the counts for a health endpoint (``/healthz``), and every loss is logged (at most one
line per second).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from flowbuilder.audit import AuditRecord
from flowbuilder.interfaces.audit_log import AuditLog

DEFAULT_CAPACITY = 10_000
"""Records waiting for the store before new ones are dropped (a few MB at most)."""
_STOP = object()
log = logging.getLogger("flowui.security.audit")


class AuditWriter:
    """A bounded queue and one thread appending to ``store`` (see the module docstring)."""

    def __init__(self, store: AuditLog, capacity: int = DEFAULT_CAPACITY):
        self.store = store
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(capacity, 1))
        self._counts_lock = threading.Lock()
        self.written = 0
        self.dropped = 0
        """Records refused because the queue was full (the store too slow or dead)."""
        self.failed = 0
        """Records the store refused (an error from ``append_audit``)."""
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._append_forever, name="flowui-audit-writer", daemon=True)
        self._thread.start()

    def submit(self, record: AuditRecord) -> bool:
        """Queue ``record`` for the store without waiting; False (and counted) when it was dropped."""
        try:
            self._queue.put_nowait(record)
            return True
        except queue.Full:
            with self._counts_lock:
                self.dropped += 1
                dropped = self.dropped
            self._warn(f"audit log: dropped a record ({dropped} so far): the store is not keeping up or unreachable")
            return False

    def stats(self) -> dict[str, int]:
        """``written``, ``queued``, ``dropped`` (queue full) and ``failed`` (store refused) records."""
        with self._counts_lock:
            return {"written": self.written, "queued": self._queue.qsize(), "dropped": self.dropped,
                    "failed": self.failed}  # fmt: skip

    def flush(self, timeout: float) -> bool:
        """Wait until every queued record was handled (written or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._queue.all_tasks_done.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Append what is queued (for up to ``timeout`` seconds), then stop the thread."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return  # the store is stuck: the daemon thread ends with the process
        self._thread.join(timeout)

    def _append_forever(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is _STOP:
                    return
                self.store.append_audit(record)
                with self._counts_lock:
                    self.written += 1
            except Exception as error:  # the store's failure must never end the writer
                with self._counts_lock:
                    self.failed += 1
                    failed = self.failed
                self._warn(f"audit log: the store refused a record ({failed} so far): {_first_line(error)}")
            finally:
                self._queue.task_done()

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            log.warning("%s", message)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


__all__ = ["DEFAULT_CAPACITY", "AuditWriter"]
