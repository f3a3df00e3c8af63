# ruff: noqa: F811 - the pytest fixture imported from flowbuilder.testing is a parameter here
"""``follow_logs``: a run's log lines, history then live, until the run finished and all were read."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import AsyncIterator

from flowbuilder.interfaces.logs import LogLine
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.subscriptions import MAX_LOG_BATCH, follow_logs
from flowbuilder.testing import memory_store  # noqa: F401 - a pytest fixture
from flowbuilder_contracts.store import run_events


def _line(task: str, text: str) -> LogLine:
    return LogLine(task, 1, "stdout", text, 1.0)


def _collect(store: MemoryStore, **options: object) -> list[list[tuple[int, LogLine]]]:
    async def main() -> list[list[tuple[int, LogLine]]]:
        return [batch async for batch in follow_logs(store, "r1", **options)]  # type: ignore[arg-type]

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_a_finished_run_gives_its_lines_numbered_and_ends(memory_store: MemoryStore) -> None:
    memory_store.append_events("r1", run_events("r1"), 0)
    memory_store.append_logs("r1", [_line("a", "one"), _line("b", "two"), _line("a", "three")])
    batches = _collect(memory_store)
    assert [(n, line.text) for batch in batches for n, line in batch] == [(1, "one"), (2, "two"), (3, "three")]


def test_one_task_and_after_line_number_within_that_task_as_read_logs_does(memory_store: MemoryStore) -> None:
    memory_store.append_events("r1", run_events("r1"), 0)
    memory_store.append_logs("r1", [_line("a", "one"), _line("b", "two"), _line("a", "three"), _line("a", "four")])
    batches = _collect(memory_store, task="a", after_line=1)
    assert [(n, line.text) for batch in batches for n, line in batch] == [(2, "three"), (3, "four")]


def test_a_long_history_comes_in_bounded_batches_none_lost(memory_store: MemoryStore) -> None:
    memory_store.append_events("r1", run_events("r1"), 0)
    memory_store.append_logs("r1", [_line("a", str(i)) for i in range(2 * MAX_LOG_BATCH + 5)])
    batches = _collect(memory_store)
    assert [len(batch) for batch in batches] == [MAX_LOG_BATCH, MAX_LOG_BATCH, 5]
    assert [n for batch in batches for n, _ in batch] == list(range(1, 2 * MAX_LOG_BATCH + 6))


def test_a_line_written_with_no_event_arrives_while_the_run_runs_and_the_end_follows_the_finish(
    memory_store: MemoryStore,
) -> None:
    events = run_events("r1")
    memory_store.append_events("r1", events[:3], 0)  # created, started, task started: running
    memory_store.append_logs("r1", [_line("a", "before")])

    def later(lines: list[LogLine], finish: bool = False) -> None:
        time.sleep(0.2)  # let the follower park in its wait first (a line written before is read anyway)
        memory_store.append_logs("r1", lines)
        if finish:
            memory_store.append_events("r1", events[3:], 3)

    async def main() -> list[str]:
        seen: list[str] = []
        # A 60 s turn: only the memory_store's wake on the log-only append delivers "live" within the test's 30 s.
        async for batch in follow_logs(memory_store, "r1", turn_seconds=60.0):
            seen += [line.text for _, line in batch]
            if seen == ["before"]:
                threading.Thread(target=later, args=([_line("a", "live")],)).start()
            elif seen == ["before", "live"]:
                assert not memory_store.get_run("r1").status.finished  # it came while the run ran
                threading.Thread(target=later, args=([_line("a", "last")], True)).start()
        return seen

    assert asyncio.run(asyncio.wait_for(main(), timeout=30)) == ["before", "live", "last"]


def test_a_run_not_created_yet_is_waited_for(memory_store: MemoryStore) -> None:
    events = run_events("r1")

    async def main() -> list[str]:
        follower = asyncio.ensure_future(_texts(follow_logs(memory_store, "r1", turn_seconds=60.0)))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(memory_store.append_events, "r1", events[:3], 0)
        await asyncio.to_thread(memory_store.append_logs, "r1", [_line("a", "hello")])
        await asyncio.sleep(0.1)
        await asyncio.to_thread(memory_store.append_events, "r1", events[3:], 3)
        return await follower

    assert asyncio.run(asyncio.wait_for(main(), timeout=30)) == ["hello"]


async def _texts(batches: AsyncIterator[list[tuple[int, LogLine]]]) -> list[str]:
    return [line.text async for batch in batches for _, line in batch]
