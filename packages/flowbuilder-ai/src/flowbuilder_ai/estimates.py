"""Measured task durations for the compiler, so critical-path-first scheduling uses real times.

A compile pass (core's ``flowbuilder_compile_passes`` hook) returns
``{"estimated_durations": {task: median seconds}}``; core re-costs the plan with them
(:data:`flowbuilder.compiler.ESTIMATED_DURATIONS_KEY`). The history is read once per workflow
and kept for ``ttl`` seconds, so a compile costs a dict lookup once warm; nothing here runs per
task of a run. Polars is imported only when history is actually read.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import polars as pl

    from flowbuilder.interfaces import Store
    from flowbuilder.plan import ExecutionPlan

MIN_SAMPLES = 3
"""Successful attempts a task needs before its median is trusted (fewer: the type's own estimate)."""


def median_durations(attempts: pl.DataFrame, min_samples: int = MIN_SAMPLES) -> dict[str, float]:
    """Median seconds of each task's successful attempts, for tasks with ``min_samples`` of them."""
    import polars as pl

    if attempts.is_empty():
        return {}
    frame = (
        attempts.filter((pl.col("status") == "succeeded") & pl.col("duration").is_not_null() & (pl.col("duration") > 0))
        .group_by("task")
        .agg(pl.col("duration").median().alias("median"), pl.len().alias("samples"))
        .filter(pl.col("samples") >= min_samples)
    )
    return {str(task): float(median) for task, median in frame.select("task", "median").iter_rows()}


class HistoryDurations:
    """The compile pass: measured medians of the compiled workflow's tasks, cached per workflow.

    ``open_store`` returns the store to read (None: there is none, so no estimates); with
    ``close`` the store is closed after each read. Any error reading history means "no
    estimates" — a compile never fails because of history.
    """

    def __init__(
        self,
        open_store: Callable[[], Store | None],
        *,
        ttl: float = 300.0,
        close: bool = False,
        min_samples: int = MIN_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_store = open_store
        self._ttl = ttl
        self._close = close
        self._min_samples = min_samples
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, float]]] = {}
        self._lock = threading.Lock()

    def durations(self, workflow: str) -> dict[str, float]:
        """The medians of ``workflow``'s tasks (cached for ``ttl`` seconds)."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(workflow)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
        measured: dict[str, float] = {}
        try:
            store = self._open_store()
            if store is not None:
                from flowbuilder_ai.history import load_attempts

                try:
                    # Fewer runs than samples needed: no medians, and no Polars import on this path.
                    if len(store.list_runs(workflow=workflow, limit=self._min_samples).runs) >= self._min_samples:
                        measured = median_durations(load_attempts(store, workflow), self._min_samples)
                finally:
                    if self._close:  # a store opened only for this read (RocksDB allows one opener)
                        store.close()
        except Exception:
            measured = {}
        with self._lock:
            self._cache[workflow] = (now, measured)
        return measured

    def invalidate(self, workflow: str | None = None) -> None:
        """Forget the cached medians (of one workflow, or all), e.g. after a run finished."""
        with self._lock:
            if workflow is None:
                self._cache.clear()
            else:
                self._cache.pop(workflow, None)

    def __call__(self, plan: ExecutionPlan) -> Mapping[str, Any] | None:
        from flowbuilder.compiler import ESTIMATED_DURATIONS_KEY

        measured = self.durations(plan.workflow.name)
        known = {name: seconds for name, seconds in measured.items() if name in plan.index}
        return {ESTIMATED_DURATIONS_KEY: known} if known else None


__all__ = ["MIN_SAMPLES", "HistoryDurations", "median_durations"]
