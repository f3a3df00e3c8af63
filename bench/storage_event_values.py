"""Benchmark: the RocksDB store's encoding of a fan-out's events (``event_values``), CPU per event.

    python bench/storage_event_values.py                 # 20,000 events, best of 7
    PYTHONPATH=OTHER/packages/flowbuilder-core/src:OTHER/packages/flowbuilder-storage/src \\
        python bench/storage_event_values.py             # another tree's, for an alternation

The events are what the runner appends for a fan-out of no-op ``python`` tasks: a
``task_started`` (the task type's shared ``{"type": ...}``) and a ``task_succeeded``
(``{"output": None, "duration": ...}``) per task, as :class:`~flowbuilder.events.PlainRunEvent`
where the tree has it. One call per round (the store's thread makes one per batch), process
CPU time, the best round kept. The whole append is ``bench/storage_fanout.py --cpu``.
"""

from __future__ import annotations

import argparse
import time
import timeit

from flowbuilder.events import EventKind, RunEvent

try:
    from flowbuilder.events import PlainRunEvent as HotEvent
except ImportError:  # a tree from before 6 Dec 2026, night
    HotEvent = RunEvent  # type: ignore[misc]
from flowbuilder_storage._event_bytes import event_values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    run_id = "f975f77463dc469bb4806a19f5746fba"  # a run id as the runner makes them (32 hex digits)
    shared = {"type": "python"}
    events: list[RunEvent] = []
    for task in range(options.events // 2):
        start = 1.7e9 + task
        events.append(HotEvent(run_id, 2 * task + 1, EventKind.TASK_STARTED, f"t{task}", 1, shared, start))
        data = {"output": None, "duration": 1.2e-5 * task}
        events.append(HotEvent(run_id, 2 * task + 2, EventKind.TASK_SUCCEEDED, f"t{task}", 1, data, start + 0.1))
    best = min(timeit.repeat(lambda: event_values(run_id, events, 0), number=1, repeat=options.repeat,
                             timer=time.process_time))  # fmt: skip
    print(f"event_values: {best / len(events) * 1e6:.3f} us per event ({len(events)} events, best of {options.repeat})")


if __name__ == "__main__":
    main()
