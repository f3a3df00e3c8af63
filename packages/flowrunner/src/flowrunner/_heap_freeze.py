"""Keeping Python's cyclic collector off the heap that existed before a run, while runs run.

A run keeps two event objects per task (the stores and sinks hold them), so a large run
makes the collector's oldest generation grow by a quarter and triggers a full collection:
it walks every object in the process, the compiled plan's models above all (about six per
task). On a 100,000-task fan-out that walk was 2 to 3 µs of the run's 5 to 6 µs per task
(bench/storage_fanout.py; with the collector off the same run took 2.4 µs per task). The
objects that existed before the run were there before it and are none of its garbage, so
while any run of this process is running they are moved out of the collector's sight with
:func:`gc.freeze`, and given back with :func:`gc.unfreeze` when the last run ends. The run's
own objects are collected as usual.

The one thing that changes: a reference cycle among the objects that existed when the first
of the running runs began, if it becomes garbage meanwhile, is freed after the runs end
instead of during them. Runs of fewer than :data:`FREEZE_FROM_TASKS` tasks freeze nothing
(their events rarely grow the oldest generation by a quarter: a 10,000-task fan-out measured
the same frozen or not), so a server's many small runs, and one that waits days for an
approval, leave the collector as it is. Nothing is frozen when the collector is disabled or when the process
had frozen objects itself (a pre-forking server's ``gc.freeze()``): those are left alone. A
``gc.freeze()`` by other code while a run runs is thawed with the run's (there is no telling
the two apart: the frozen count also drops as frozen objects are freed).
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["heap_frozen"]

FREEZE_FROM_TASKS = 10_000
"""The smallest plan whose runs freeze the heap."""

_lock = threading.Lock()
_running = 0
"""Runs inside :func:`heap_frozen` now, in every thread of the process."""
_froze = False
"""Whether this module froze the heap (and so thaws it when the last run ends)."""


@contextmanager
def heap_frozen(tasks: int) -> Iterator[None]:
    """Freeze the existing heap for a run of ``tasks`` tasks (the first of overlapping runs
    freezes, the last thaws); below :data:`FREEZE_FROM_TASKS` the block changes nothing."""
    if tasks < FREEZE_FROM_TASKS:
        yield
        return
    global _running, _froze
    with _lock:
        _running += 1
        if _running == 1 and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.freeze()
            _froze = True
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _froze:
                _froze = False
                gc.unfreeze()
