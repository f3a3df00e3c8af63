"""Pages of a run's log lines for ``GET /runs/{id}/logs``, without a full read per page.

The store interface has no log paging: :meth:`LogStore.read_logs
<flowbuilder.interfaces.logs.LogStore.read_logs>` returns every line after ``after``, and the
stores read the run's whole log to skip to it (RocksDB scans every line, Redis ``LRANGE 0 -1``).
On a run with 200,000 lines each 500-line page cost the full read (~2.5 s on RocksDB), so
paging through it cost 400 full reads.

:class:`LogPages` keeps, per run and task, a window of the lines its last read returned
(:data:`WINDOW_LINES` at most, a few windows in all), and answers a page that lies wholly
inside a window from it. That is exact, not a guess: a run's log lines are only ever
appended (a store that caps a log drops the later lines), so the lines at given numbers
never change once stored; a page that reaches a window's end goes to the store, where newer
lines may be. Paging forward through 200,000 lines costs 200,000 / :data:`WINDOW_LINES` reads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbuilder.interfaces import LogLine, LogStore

WINDOW_LINES = 20_000
"""Lines kept from one read (40 pages of the default 500)."""
MAX_WINDOWS = 8
"""Windows kept at once (least recently used dropped first)."""
MAX_KEPT_CHARS = 32 * 1024 * 1024
"""Log text kept in all windows together: long lines make a window shorter, never larger."""


class LogPages:
    """See the module docstring. Thread-safe (the route runs in the thread pool)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._windows: OrderedDict[tuple[str, str | None], tuple[int, list[LogLine]]] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, run_id: str, task: str | None, after: int, limit: int) -> list[LogLine]:
        """The run's log lines (of ``task`` if given) numbered ``after + 1`` to ``after + limit``."""
        key = (run_id, task)
        with self._lock:
            window = self._windows.get(key)
            if window is not None:
                start, lines = window
                if start <= after and after + limit <= start + len(lines):
                    self._windows.move_to_end(key)
                    return lines[after - start : after - start + limit]
        read = self.store.read_logs(run_id, task, after)
        if len(read) > limit:  # pages follow this one: keep them
            self._keep(key, after, _capped(read[:WINDOW_LINES], MAX_KEPT_CHARS // MAX_WINDOWS))
        return read[:limit]

    def _keep(self, key: tuple[str, str | None], start: int, lines: list[LogLine]) -> None:
        with self._lock:
            self._windows[key] = (start, lines)
            self._windows.move_to_end(key)
            while len(self._windows) > MAX_WINDOWS:
                self._windows.popitem(last=False)


def _capped(lines: list[LogLine], max_chars: int) -> list[LogLine]:
    """The first of ``lines`` whose texts together hold at most ``max_chars`` characters."""
    total = 0
    for index, line in enumerate(lines):
        total += len(line.text) + len(line.task)
        if total > max_chars:
            return lines[:index]
    return lines


__all__ = ["MAX_KEPT_CHARS", "MAX_WINDOWS", "WINDOW_LINES", "LogPages"]
