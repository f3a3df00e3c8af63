"""The ready queue: which ready task starts next, within the run's pools.

One binary heap per pool (just one when the workflow has no pools: the fast path). An
entry is :func:`priority_key` of the task:
``(-(priority - retries * RETRY_PENALTY - ageing), -remaining_path, fifo, task_id)``: higher
priority first, then the task with the longest path still ahead of it (the critical path),
then first come; the task id ends the entry. Ageing grows at the same rate for every waiting task, so "a task gains a
point per AGEING_SECONDS it waits" is the same order as "whole seconds since the run began
count against later arrivals": the key is computed once at push and never re-sorted.

Pools: a task of a full pool waits in its pool's heap while other pools' tasks start; the
queue counts what each pool has running (:meth:`ReadyQueue.pop` takes a slot,
:meth:`ReadyQueue.release` gives it back).

A run without pools and with one priority (the usual case) keeps a second structure beside its
heap: the *batch*, the tasks of one :meth:`ReadyQueue.push_many` sorted once by their entries,
largest first, so the next is taken off its end in constant time. A fan-out makes thousands
of tasks ready at once; popping each from a heap costs a dozen tuple comparisons at 10,000
tasks, sorting them costs about one each (they arrive nearly in order). A pop takes the
smaller of the heap's top and the batch's end: entries are unique (``fifo``), so the order is
exactly one heap's. Only an empty batch takes a new one, and only when its tasks have the
same number of failed attempts (as a fan-out's fresh tasks have); other pushes go to the heap.

The batch holds no entries, only positions in the pushed list of task ids: its tasks share
the entry's first part (same priority, retries and ageing), the ``fifo`` part is the order of
the push, so the entry of a position is rebuilt when a pop compares it with the heap's top
(:meth:`ReadyQueue._batch_entry`). A 100,000-task fan-out then makes no 100,000 tuples for
the collector to walk.
"""

from __future__ import annotations

import heapq
from typing import Callable, Mapping, Sequence

AGEING_SECONDS = 1.0
"""A waiting task gains one priority point per this many seconds (so nothing starves)."""
RETRY_PENALTY = 1.0
"""Priority points a task loses per failed attempt (retries yield to fresh work)."""

Entry = tuple[float, float, int, int]
"""A heap entry: the priority key, whose last part is the task id."""


def priority_key(task_id: int, priority: float, retries: int, waited_seconds: float, remaining_path: float,
                 order: int) -> Entry:  # fmt: skip
    """The heap entry of a ready task (smaller starts first): the one definition of the order.

    ``order`` is unique per push (first come, first served at equal keys), so the task id
    at the end never decides anything; it is there so the heap entry is the key itself.
    """
    return (
        float(int(waited_seconds / AGEING_SECONDS)) + retries * RETRY_PENALTY - priority,
        -remaining_path,
        order,
        task_id,
    )


class ReadyQueue:
    """Ready task ids ordered by :func:`priority_key`, each pool limited to its size.

    Args:
        priorities: each task's priority (its own, else the workflow default, else 0).
        remaining_path: each task's longest remaining path (``ExecutionPlan.remaining_path``).
        monotonic: the clock ageing is measured on (``time.monotonic`` or a test's hand clock).
        pool_of: each task's pool name or None, or None when the run has no pools at all.
        pool_limits: pool name -> attempts it may run at once.
    """

    __slots__ = ("priorities", "remaining_path", "monotonic", "started", "order", "pool_of", "pool_limits",
                 "pool_used", "heaps", "heap", "batch", "batch_ids", "batch_first", "batch_rank", "batches", "pop",
                 "by_priority")  # fmt: skip

    def __init__(self, priorities: Sequence[float], remaining_path: Sequence[float], monotonic: Callable[[], float],
                 pool_of: Sequence[str | None] | None = None, pool_limits: Mapping[str, int] | None = None):  # fmt: skip
        self.priorities = priorities
        self.remaining_path = remaining_path
        self.monotonic = monotonic
        self.started = monotonic()
        self.order = 0
        """The ``fifo`` part of the next entry (one per push)."""
        self.pool_of = pool_of if pool_limits else None
        self.pool_limits: dict[str, int] = dict(pool_limits or {})
        self.pool_used: dict[str, int] = {name: 0 for name in self.pool_limits}
        self.heap: list[Entry] = []
        """The heap of tasks in no pool (the only heap without pools); never replaced, only emptied in place."""
        self.heaps: dict[str | None, list[Entry]] = {None: self.heap}
        for name in self.pool_limits:
            self.heaps[name] = []
        self.by_priority: dict[float, int] | None = (
            {} if priorities and priorities.count(priorities[0]) != len(priorities) else None
        )
        """How many waiting tasks have each priority, kept only when priorities differ: the run's
        timing (:mod:`flowrunner.scheduling.timing`) charges the wait of those behind a higher
        priority to ``priority``. None (the usual case) costs nothing per task."""
        self.batch: list[int] = []
        """Positions in :attr:`batch_ids` of one :meth:`push_many`'s tasks, their entries largest
        first (the module's docstring); always empty in a run with pools or several priorities.
        The state machine's dispatch loop takes the batch's end itself while :attr:`heap` is
        empty, as :meth:`pop` would (a call per task less); otherwise it calls :meth:`pop`."""
        self.batch_ids: Sequence[int] = ()
        """The task ids of the batch's push, in the order they were pushed."""
        self.batch_first = 0
        """The ``fifo`` part of the entry of ``batch_ids[0]`` (position p has ``batch_first + p``)."""
        self.batch_rank = 0.0
        """The first part of every batch entry (they share priority, retries and ageing)."""
        self.batches = self.pool_of is None and self.by_priority is None
        """Whether :meth:`push_many` may fill :attr:`batch` (no pools, one priority)."""
        if self.pool_of is not None:
            self.pop: Callable[[], int | None] = self._pop_pooled
        else:
            self.pop = self._pop_single if self.by_priority is None else self._pop_single_counted
        """The next task to start (taking a slot of its pool), or None when none may start now."""

    def push(self, task_id: int, retries: int) -> None:
        """Make ``task_id`` ready; ``retries`` is how many attempts of it failed already."""
        order = self.order
        self.order = order + 1
        entry = priority_key(task_id, self.priorities[task_id], retries, self.monotonic() - self.started,
                             self.remaining_path[task_id], order)  # fmt: skip
        if self.by_priority is not None:
            self._count(task_id, 1)
        if self.pool_of is None:
            heapq.heappush(self.heap, entry)
        else:
            heapq.heappush(self.heaps[self.pool_of[task_id]], entry)

    def push_many(self, task_ids: Sequence[int], retries: Sequence[int]) -> None:
        """:meth:`push` each of ``task_ids`` (``retries`` is indexed by task id), reading the clock once."""
        waited = self.monotonic() - self.started
        priorities = self.priorities
        remaining = self.remaining_path
        first = order = self.order
        self.order = first + len(task_ids)
        push = heapq.heappush
        if self.by_priority is not None:
            for task_id in task_ids:
                self._count(task_id, 1)
        if self.pool_of is None:
            # priority_key() written out, its ageing computed once: the same entries, one call fewer per task.
            ageing = float(int(waited / AGEING_SECONDS))
            if self.batches and not self.batch and task_ids:
                failed = list(map(retries.__getitem__, task_ids))
                if failed.count(failed[0]) == len(failed):
                    self._take_batch(task_ids, ageing + failed[0] * RETRY_PENALTY - priorities[task_ids[0]], first)
                    return
            heap = self.heap
            for task_id in task_ids:
                push(heap, (ageing + retries[task_id] * RETRY_PENALTY - priorities[task_id], -remaining[task_id],
                            order, task_id))  # fmt: skip
                order += 1
            return
        heaps = self.heaps
        pool_of = self.pool_of
        for task_id in task_ids:
            push(heaps[pool_of[task_id]], priority_key(task_id, priorities[task_id], retries[task_id], waited,
                                                       remaining[task_id], order))  # fmt: skip
            order += 1

    def _take_batch(self, task_ids: Sequence[int], rank: float, first: int) -> None:
        """Make ``task_ids`` (pushed with ``fifo`` parts ``first``, ``first + 1``, ...) the batch.

        Their entries differ only in ``-remaining_path`` and ``fifo``: largest first is the
        remaining path ascending, then the later push first.
        """
        count = len(task_ids)
        ids = list(task_ids)
        paths = list(map(self.remaining_path.__getitem__, ids))
        positions = list(range(count - 1, -1, -1))  # the later push first among equal paths
        if paths.count(paths[0]) != count:  # a fan-out's tasks share one path: no sort
            positions.sort(key=paths.__getitem__)  # stable: equal paths keep the later push first
        self.batch = positions
        self.batch_ids = ids
        self.batch_first = first
        self.batch_rank = rank

    def _batch_entry(self, position: int) -> Entry:
        """The heap entry of the batch's task at ``position`` (what push would have made)."""
        task_id = self.batch_ids[position]
        return (self.batch_rank, -self.remaining_path[task_id], self.batch_first + position, task_id)

    def retire(self) -> None:
        """The run has ended: :attr:`pop` gives no task from now on.

        ``pop`` is one of the queue's own bound methods, chosen once for the run's shape, so
        the queue referred to itself, a cycle only the cyclic collector would free
        (:meth:`RunStateMachine.detach_driver <flowrunner.scheduling.state.RunStateMachine.detach_driver>`).
        """
        self.pop = _nothing_ready

    def _pop_single(self) -> int | None:
        heap = self.heap
        batch = self.batch
        if batch:
            if heap and heap[0] < self._batch_entry(batch[-1]):
                return heapq.heappop(heap)[3]
            return self.batch_ids[batch.pop()]
        return heapq.heappop(heap)[3] if heap else None

    def _pop_single_counted(self) -> int | None:
        heap = self.heap
        if not heap:
            return None
        task_id = heapq.heappop(heap)[3]
        self._count(task_id, -1)
        return task_id

    def _count(self, task_id: int, change: int) -> None:
        counts = self.by_priority
        assert counts is not None
        priority = self.priorities[task_id]
        counts[priority] = counts.get(priority, 0) + change

    def behind_higher_priority(self) -> int:
        """How many waiting tasks have a lower priority than the highest one waiting (0 when all are equal)."""
        counts = self.by_priority
        if not counts:
            return 0
        waiting = [(priority, count) for priority, count in counts.items() if count > 0]
        if not waiting:
            return 0
        return sum(count for _, count in waiting) - max(waiting)[1]

    def _pop_pooled(self) -> int | None:
        best: list[Entry] | None = None
        best_pool: str | None = None
        used = self.pool_used
        limits = self.pool_limits
        for pool, heap in self.heaps.items():
            if not heap or (pool is not None and used[pool] >= limits[pool]):
                continue
            if best is None or heap[0] < best[0]:
                best, best_pool = heap, pool
        if best is None:
            return None
        if best_pool is not None:
            used[best_pool] += 1
        task_id = heapq.heappop(best)[3]
        if self.by_priority is not None:
            self._count(task_id, -1)
        return task_id

    def release(self, task_id: int) -> None:
        """An attempt of ``task_id`` (popped earlier) ended: its pool has a free slot again."""
        if self.pool_of is not None:
            pool = self.pool_of[task_id]
            if pool is not None:
                self.pool_used[pool] -= 1

    def hold(self, task_id: int) -> None:
        """Take a slot of ``task_id``'s pool again (the inverse of :meth:`release`, for a task
        that gave its slot back while it waited and now ends like an attempt)."""
        if self.pool_of is not None:
            pool = self.pool_of[task_id]
            if pool is not None:
                self.pool_used[pool] += 1

    def drain(self) -> list[int]:
        """Empty the queue and return the waiting task ids (a stopping run settles them itself).

        Their pools are untouched: a waiting task holds no slot until it is popped.
        """
        drained = [entry[3] for heap in self.heaps.values() for entry in heap]
        drained += map(self.batch_ids.__getitem__, self.batch)
        for heap in self.heaps.values():
            heap.clear()  # in place: ``self.heap`` is one of them
        self.batch = []
        if self.by_priority is not None:
            self.by_priority.clear()
        return drained

    def __bool__(self) -> bool:
        """Whether any task is waiting (whether or not its pool has room)."""
        if self.pool_of is None:
            return bool(self.heap) or bool(self.batch)
        return any(self.heaps.values())

    def __len__(self) -> int:
        return sum(len(heap) for heap in self.heaps.values()) + len(self.batch)

    def unpooled(self) -> int:
        """How many waiting tasks are in no pool (all of them in a run without pools)."""
        return len(self.heap) + len(self.batch)


def _nothing_ready() -> int | None:
    """:attr:`ReadyQueue.pop` of a retired queue."""
    return None
