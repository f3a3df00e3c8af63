"""``GET /runs/{id}/logs`` pages: read through a kept window, never a full store read per page,
and always the lines the store holds (the store interface has no log paging)."""

from __future__ import annotations

from typing import Any

from flowbuilder.interfaces import LogLine
from flowbuilder.stores.memory import MemoryStore
from flowui.log_pages import WINDOW_LINES, LogPages


class CountingStore:
    """A memory store's logs, counting the reads."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.reads = 0

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        self.reads += 1
        return self.store.read_logs(run_id, task, after)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def lines(first: int, count: int, task: str = "say") -> list[LogLine]:
    return [LogLine(task, 1, "stdout", str(number)) for number in range(first, first + count)]


def test_paging_forward_reads_the_store_once_per_window(store: MemoryStore) -> None:
    """Each page read every line after ``after`` from the store: paging a 200,000-line log cost 400 full reads."""
    store.append_logs("r", lines(1, 3 * WINDOW_LINES))
    counting = CountingStore(store)
    pages = LogPages(counting)  # type: ignore[arg-type]
    after, seen = 0, []
    while True:
        page = pages.page("r", None, after, 500)
        seen += [int(line.text) for line in page]
        if len(page) < 500:
            break
        after += len(page)
    assert seen == list(range(1, 3 * WINDOW_LINES + 1))
    assert counting.reads <= 3 * WINDOW_LINES // (WINDOW_LINES - 500) + 2


def test_a_page_at_the_end_of_a_window_sees_lines_appended_since(store: MemoryStore) -> None:
    store.append_logs("r", lines(1, 1200) + lines(1, 10, task="other"))
    pages = LogPages(store)
    assert [line.text for line in pages.page("r", "say", 0, 500)] == [str(n) for n in range(1, 501)]
    store.append_logs("r", lines(1201, 300))
    assert [line.text for line in pages.page("r", "say", 500, 500)] == [str(n) for n in range(501, 1001)]
    assert [line.text for line in pages.page("r", "say", 1000, 500)] == [str(n) for n in range(1001, 1501)]
    assert [line.text for line in pages.page("r", "say", 1400, 500)] == [str(n) for n in range(1401, 1501)]
    assert [line.task for line in pages.page("r", "other", 0, 500)] == ["other"] * 10
    assert pages.page("r", "say", 5000, 500) == [] and pages.page("nope", None, 0, 500) == []
