"""Benchmark: ``flowbuilder stats`` over 1,000,000 stored task events, beside plain Python.

    python bench/stats.py                        # 1,000,000 task events in a fresh RocksDB store
    python bench/stats.py --events 200000        # quicker
    python bench/stats.py --keep /tmp/statsdb    # keep (and reuse) the generated store

The store is filled with runs of a 10-task workflow spread over 30 days: every task
attempt is a ``task_started`` and a ``task_succeeded`` (or a ``task_retrying`` / final
``task_failed``) event with a recorded duration, so ``--events`` task events make about
``events / 2`` task executions. Measured, each the median of ``--repeat``:

* ``flowbuilder stats --json`` as a whole process (startup, opening the store, Polars);
* the same report in-process (``flowbuilder_storage.stats.history_report``);
* the baseline: plain Python over the same stored bytes — ``json.loads`` of every event
  and per-task P50/P95/P99 with ``statistics.quantiles`` (the per-task figures only).

The issue's aim: ``flowbuilder stats`` under 2 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from flowbuilder.events import EventKind, RunEvent

TASKS_PER_RUN = 10
DAY = 86_400.0


def fill(url: str, task_events: int, seed: int = 3) -> int:
    """Write runs until ``task_events`` task events are stored; return the number of runs."""
    from flowbuilder_storage import RocksDBStore

    rng = random.Random(seed)
    start = time.time() - 30 * DAY
    written = 0
    runs = 0
    with RocksDBStore.open(url) as store:
        while written < task_events:
            run_id = f"run-{runs:07d}"
            created = start + runs * (30 * DAY / max(task_events / (2 * TASKS_PER_RUN), 1))
            events = [RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "etl", "version": "1"}, time=created),
                      RunEvent(run_id, 2, EventKind.RUN_STARTED, time=created)]  # fmt: skip
            clock = created
            for task in range(TASKS_PER_RUN):
                name = f"task{task}"
                attempt = 1
                while True:
                    duration = rng.lognormvariate(-2 + task * 0.2, 0.5)
                    events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_STARTED, name, attempt, time=clock))
                    clock += duration
                    roll = rng.random()
                    if roll < 0.03 and attempt < 3:
                        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_RETRYING, name, attempt,
                                               {"error": "flaky", "duration": duration}, clock))  # fmt: skip
                        attempt += 1
                        written += 2
                        continue
                    if roll < 0.035:
                        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_FAILED, name, attempt,
                                               {"error": "boom", "duration": duration, "final": True}, clock))  # fmt: skip
                    else:
                        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_SUCCEEDED, name, attempt,
                                               {"output": {"rows": attempt}, "duration": duration}, clock))  # fmt: skip
                    written += 2
                    break
            events.append(RunEvent(run_id, len(events) + 1, EventKind.RUN_FINISHED, data={"status": "succeeded"},
                                   time=clock))  # fmt: skip
            store.append_events(run_id, events, 0)
            runs += 1
    return runs


def plain_python(url: str) -> float:
    """Per-task percentiles with json and statistics only; returns seconds."""
    from flowbuilder_storage import RocksDBStore

    started = time.perf_counter()
    with RocksDBStore.open(url) as store:
        _, raw = store.export_events()
    durations: dict[str, list[float]] = defaultdict(list)
    for line in raw.split(b"\n"):
        record = json.loads(line)
        if record["k"] == "task_succeeded":
            durations[record["n"]].append(record["d"]["duration"])
    for values in durations.values():
        statistics.quantiles(values, n=100, method="inclusive")
    return time.perf_counter() - started


def in_process(url: str) -> float:
    from flowbuilder_storage import RocksDBStore
    from flowbuilder_storage.stats import history_report

    started = time.perf_counter()
    with RocksDBStore.open(url) as store:
        history_report(store)
    return time.perf_counter() - started


def whole_command(url: str) -> float:
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    started = time.perf_counter()
    subprocess.run([cli, "stats", "--json", "--store", url], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Store directory to keep and reuse.")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        directory = options.keep or Path(temp) / "store"
        url = f"rocksdb://{directory}?sync=never"
        fill_seconds = None
        if not (directory / "CURRENT").exists():
            started = time.perf_counter()
            fill(url, options.events)
            fill_seconds = time.perf_counter() - started
        figures = {
            "flowbuilder stats (process)": statistics.median(whole_command(url) for _ in range(options.repeat)),
            "history_report (in-process)": statistics.median(in_process(url) for _ in range(options.repeat)),
            "plain Python baseline": statistics.median(plain_python(url) for _ in range(options.repeat)),
        }
    if options.json:
        print(json.dumps({"task_events": options.events, "fill_seconds": fill_seconds, "seconds": figures}, indent=1))
        return
    print(f"{options.events:,} task events" + (f" (written in {fill_seconds:.1f}s)" if fill_seconds else ""))
    baseline = figures["plain Python baseline"]
    for label, seconds in figures.items():
        print(f"{label:<30} {seconds:>7.2f}s  {baseline / seconds:>5.1f}x the baseline's speed")
    print("aim: flowbuilder stats < 2 s")


if __name__ == "__main__":
    main()
