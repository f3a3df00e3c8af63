"""Where one run's orchestration time went: counters the scheduler keeps, one summary at the end.

No peer tells its users whether a slow run was slow because of the engine, a pool or the
tasks themselves. A run keeps a :class:`RunTiming` beside its state machine and records its
:meth:`RunTiming.summary` once, as the ``timing`` field of ``run_finished``, never one event
per task. The cost stays inside the per-task budget because the counters reuse the clock
readings the scheduler already takes per transition (the start instant of ``task_started``,
the end instant of ``task_succeeded``) and read the clock only once or twice per scheduling
step (a :meth:`~flowrunner.scheduling.RunStateMachine.pump` call), never per task.

Queue wait (ready but not started) is exact in total: the sum of start instants minus the
sum of ready instants. Its causes come from the state between scheduling steps: while the
run sits idle with tasks queued, each queued task waits because of the run's concurrency,
its pool, its type's limit, a higher priority ahead of it, a pause, the store's backlog or
the run stopping;
the time from when a task could start until the scheduler starts it is ``dispatch``.

The recorded form (``run_finished.data["timing"]``, all seconds) is documented in
docs/runner.md, "Where the time went"; a run recorded before it existed has none, and
``flowbuilder runs show --timing`` says so.
"""

from __future__ import annotations

from typing import Any

TIMING_VERSION = 1
"""The ``v`` of the recorded summary: bumped when a field changes meaning."""

CONCURRENCY, POOL, TYPE_LIMIT, PRIORITY, PAUSED, STORE_BACKLOG, STOPPING, DISPATCH = range(8)
"""Why a ready task is not started (indexes of :attr:`RunTiming.waited`); ``stopping``: the run
stopped or was cancelled and the task never started."""
CAUSES = ("concurrency", "pool", "type_limit", "priority", "paused", "store_backlog", "stopping", "dispatch")
"""The recorded names of the causes, in index order."""

NOTHING_WAITS: tuple[tuple[int, int], ...] = ()


class RunTiming:
    """The counters of one run (seconds, on the machine's clock unless said otherwise).

    Attributes:
        base: the wall instant the counters start from (sums of instants are kept relative
            to it, so 100,000 of them keep microsecond precision).
        started_sum / ready_sum: sums of the start and ready instants of queued tasks.
        waited: task-seconds of queue wait per cause, from the classified intervals; the
            summary scales them to the exact total.
        waiting: what waits since :attr:`last`, as ``(cause, count)`` pairs.
        last: the instant :attr:`waiting` was classified.
        pumping: seconds inside scheduling steps (dispatch, inline task bodies and the
            stores' and sinks' time inside a step).
        inline_bodies: seconds of attempts run inline, inside scheduling steps.
        bodies: seconds of the other attempts (sum of their durations, off the scheduler's steps).
        attempts: attempts started.
        compile_seconds: load + validate + plan, when the caller measured it.
    """

    __slots__ = ("attempts", "base", "bodies", "compile_seconds", "inline_bodies", "last", "pumping", "ready_sum",
                 "started_sum", "waited", "waiting")  # fmt: skip

    def __init__(self, base: float) -> None:
        self.base = base
        self.started_sum = 0.0
        self.ready_sum = 0.0
        self.waited = [0.0] * len(CAUSES)
        self.waiting: tuple[tuple[int, int], ...] = NOTHING_WAITS
        self.last = base
        self.pumping = 0.0
        self.inline_bodies = 0.0
        self.bodies = 0.0
        self.attempts = 0
        self.compile_seconds: float | None = None

    def tally(self, now: float) -> None:
        """Charge the time since :attr:`last` to what was waiting, then restart the interval at ``now``."""
        elapsed = now - self.last
        if elapsed > 0.0:
            waited = self.waited
            for cause, count in self.waiting:
                waited[cause] += count * elapsed
        self.last = now

    def summary(self, finished: float, store_writes: float, sinks: float, loop_io: float) -> dict[str, Any]:
        """The recorded form: run totals, scheduler-thread parts and task-seconds.

        ``finished`` is the wall instant of ``run_finished``; ``store_writes`` and ``sinks`` the
        seconds the run's event writer spent appending and delivering; ``loop_io`` the part of
        both spent on the scheduler's thread inside scheduling steps (taken out of dispatch).
        """
        total = max(0.0, finished - self.base)
        queue_total = max(0.0, self.started_sum - self.ready_sum)
        known = sum(self.waited)
        # The causes' intervals give the shares; the exact sum gives the whole (they differ by
        # the few microseconds between a start and the end of its scheduling step).
        scale = queue_total / known if known > 0 else 0.0
        by_cause = {name: self.waited[index] * scale for index, name in enumerate(CAUSES)}
        if known <= 0:
            by_cause["dispatch"] = queue_total
        return {
            "v": TIMING_VERSION,
            "total": total,
            "compile": self.compile_seconds,
            "dispatch": max(0.0, self.pumping - self.inline_bodies - loop_io),
            "store_writes": store_writes,
            "sinks": sinks,
            "inline_bodies": self.inline_bodies,
            "task_bodies": self.bodies + self.inline_bodies,
            "attempts": self.attempts,
            "queue_wait": {"total": queue_total, **by_cause},
        }
