"""Benchmark: what fencing costs — fenced runs and appends beside unfenced ones and the floor.

    python bench/fencing.py                       # 10,000-task fan-out (memory, RocksDB), appends (memory, RocksDB, Redis)
    python bench/fencing.py --tasks 2000 --repeat 3 --no-redis --json

A run driven by a scheduler of a cluster carries a fence (``RunRequest.fence``): every batch
it appends goes through ``append_fenced_events``, which checks (and raises) the scope's
highest token atomically with the batch. Every other run is unfenced and must pay nothing
for it. Two tables:

* **runs**: ``bench/fanout.py``'s fan-out (a root, N inline no-op ``python`` tasks, a sink),
  one ``Runner.run`` per measurement, unfenced and fenced, on ``memory://`` and
  ``rocksdb://`` (``sync=batch``), CPU time of the whole process (every thread), best of
  ``--repeat`` interleaved rounds, per task; the floor is ``bench/fanout.py``'s hand-written
  in-degree loop in the same rounds. Compare the unfenced row with ``bench/storage_fanout.py``
  on a checkout before fencing for the before/after figure (docs/distributed.md lists it).
* **appends**: batches of 16 events appended to one run, ``append_events`` beside
  ``append_fenced_events`` (events/s, median of ``--repeat``), per store: memory, RocksDB in
  its owner process, and Redis (the benchmark's own redis-server on a free port, no
  persistence; ``--no-redis`` skips it); the floor is a Python list extended with the same
  batches.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from _private_redis import optional_redis

BATCH = 16


def fanout_module() -> Any:
    sys.path.insert(0, str(Path(__file__).parent))
    import fanout

    return fanout


def run_rows(tasks: int, repeat: int, temp: str) -> dict[str, float]:
    """CPU microseconds per task of each run row, best of ``repeat`` interleaved rounds."""
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.stores.memory import MemoryStore

    fanout = fanout_module()
    host = build_plugin_host()
    runner = host.make_runner()
    plan = fanout.build_plan(tasks)
    total = len(plan)
    rows = {
        "memory:// unfenced": ("memory", None),
        "memory:// fenced": ("memory", Fence("bench/noop", 1)),
        "rocksdb:// unfenced": ("rocksdb", None),
        "rocksdb:// fenced": ("rocksdb", Fence("bench/noop", 1)),
    }
    best = {label: float("inf") for label in [*rows, "floor (in-degree loop)"]}
    counter = 0
    for round_ in range(repeat + 1):  # round 0 warms up and is not kept
        for label, (kind, fence) in rows.items():
            counter += 1
            url = f"memory://fencing-{counter}" if kind == "memory" else f"rocksdb://{temp}/run-{counter}?sync=batch"
            with host.open_store(url) as store:
                gc.collect()
                started = time.process_time()
                result = runner.run(RunRequest(plan=plan, store=store, fence=fence))
                elapsed = time.process_time() - started
                assert result.succeeded and store.last_seq(result.run_id) >= 2 * total
            if kind == "memory":
                MemoryStore.forget(url)
            if round_:
                best[label] = min(best[label], elapsed)
        gc.collect()
        started = time.process_time()
        fanout.baseline(plan.successors, plan.indegree, fanout.noop)
        if round_:
            best["floor (in-degree loop)"] = min(best["floor (in-degree loop)"], time.process_time() - started)
    return {label: seconds / total * 1e6 for label, seconds in best.items()}


def batches_of(run_id: str, events: int) -> list[list[Any]]:
    from flowbuilder.events import EventKind, RunEvent

    out: list[list[Any]] = []
    for start in range(0, events, BATCH):
        out.append([RunEvent(run_id, seq, EventKind.TASK_SUCCEEDED, task=f"t{seq % 500}", attempt=1,
                             data={"output": seq}, time=1_700_000_000.0 + seq)
                    for seq in range(start + 1, min(start + BATCH, events) + 1)])  # fmt: skip
    return out


def append_rate(open_store: Callable[[int], Any], events: int, fenced: bool, index: int) -> float:
    from flowbuilder.fencing import Fence

    store = open_store(index)
    run_id = f"bench-{index}-{fenced}"
    batches = batches_of(run_id, events)
    fence = Fence("bench/noop", 1)
    try:
        started = time.perf_counter()
        last = 0
        if fenced:
            for group in batches:
                last = store.append_fenced_events(run_id, group, last, fence)
        else:
            for group in batches:
                last = store.append_events(run_id, group, last)
        return events / (time.perf_counter() - started)
    finally:
        store.close()


def floor_rate(events: int) -> float:
    batches = batches_of("floor", events)
    kept: list[Any] = []
    started = time.perf_counter()
    for group in batches:
        kept.extend(group)
    return events / (time.perf_counter() - started)


def append_rows(events: int, repeat: int, temp: str, redis: bool) -> dict[str, dict[str, float]]:
    from flowbuilder.stores.memory import MemoryStore

    openers: dict[str, Callable[[int], Any]] = {
        "memory://": lambda i: MemoryStore(f"memory://append-{i}-{time.monotonic_ns()}"),
        "rocksdb:// sync=batch": lambda i: _rocksdb(f"rocksdb://{temp}/appends-{i}-{time.monotonic_ns()}?sync=batch"),
    }
    server = optional_redis(Path(temp)) if redis else None
    if server is not None:
        openers["redis://"] = lambda i: _redis(server.url)
    report: dict[str, dict[str, float]] = {}
    try:
        for label, opener in openers.items():
            plain: list[float] = []
            fenced: list[float] = []
            for index in range(repeat):
                plain.append(append_rate(opener, events, False, index))
                fenced.append(append_rate(opener, events, True, index))
            report[label] = {"unfenced": statistics.median(plain), "fenced": statistics.median(fenced)}
        report["floor (list.extend)"] = {"unfenced": statistics.median(floor_rate(events) for _ in range(repeat))}
    finally:
        if server is not None:
            server.stop()
    return report


def _rocksdb(url: str) -> Any:
    from flowbuilder_storage import RocksDBStore

    return RocksDBStore.open(url)


def _redis(url: str) -> Any:
    from flowbuilder_storage import RedisStore

    return RedisStore.open(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10000, help="fan-out width of the run rows")
    parser.add_argument("--events", type=int, default=20000, help="events per append measurement")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis append rows")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        runs = run_rows(options.tasks, options.repeat, temp)
        appends = append_rows(options.events, options.repeat, temp, not options.no_redis)
    if options.json:
        print(json.dumps({"runs_us_per_task": runs, "appends_per_second": appends}, indent=1))
        return
    floor = runs["floor (in-degree loop)"]
    print(f"fan-out of {options.tasks} no-op python tasks: CPU us per task, best of {options.repeat}")
    print(f"{'row':<26} {'us/task':>9} {'vs floor':>9} {'fenced/unfenced':>16}")
    for label, per_task in runs.items():
        ratio = ""
        if label.endswith(" fenced"):
            ratio = f"{per_task / runs[label.replace(' fenced', ' unfenced')]:.3f}"
        print(f"{label:<26} {per_task:>9.2f} {per_task / floor:>9.1f} {ratio:>16}")
    print(f"\nappends of {options.events} events in batches of {BATCH}: events/s, median of {options.repeat}")
    print(f"{'store':<26} {'unfenced':>12} {'fenced':>12} {'fenced/unfenced':>16}")
    for label, row in appends.items():
        fenced = row.get("fenced")
        shown = f"{fenced:>12,.0f} {fenced / row['unfenced']:>16.3f}" if fenced is not None else ""
        print(f"{label:<26} {row['unfenced']:>12,.0f} {shown}")


if __name__ == "__main__":
    main()
