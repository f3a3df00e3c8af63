"""Benchmark: the fixed cost of one run through the Python API, memory:// beside RocksDB.

    python bench/run_fixed_cost.py                  # 200 runs of each row
    python bench/run_fixed_cost.py --runs 500 --json
    python bench/run_fixed_cost.py --back-to-back   # no fresh RocksDB store between the one store's runs

The plan is ``bench/fanout.py``'s with no middle tasks: a root and a sink, two no-op
``python`` tasks called inline, so what a run costs is nearly all fixed: the run's loop, its
first lease, its control hub, its store thread and the appends of its seven events. Rows:

* ``memory://``, a fresh store per run;
* ``rocksdb:// sync=batch``, a fresh store per run (what ``storage_fanout.py`` does, and a
  service that opens a store per run): the run finds no thread of its store running;
* ``rocksdb:// sync=batch``, one store for every run (an ``Engine`` kept open).

Each run is timed with the process's CPU time (every thread: the store's, the control hub's,
RocksDB's), the main thread's CPU time and wall time; medians. ``--back-to-back`` leaves out
the fresh RocksDB store row, so the one store's runs follow each other within a millisecond
or two (a service running small workflows one after another), not after a store's opening
and closing. Opening and closing a store is not timed,
and neither is the write-ahead log's background sync 50 ms later (about 0.3 ms of CPU, once
per 50 ms however many runs). Rows are interleaved, run by run. The floor is
``asyncio.run`` of a coroutine that returns at once (a run's own event loop, which every
run pays), measured in the same rounds. Issue 10 has no goal for this figure; it is the
part of the per-task RocksDB ratio at 1,000 tasks that does not depend on the tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


async def _nothing() -> None:
    """The floor's coroutine."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each row (after 10 untimed)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--back-to-back", action="store_true", help="leave out the fresh RocksDB store row")
    options = parser.parse_args()

    from flowbuilder.interfaces import RunRequest
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.stores.memory import MemoryStore

    sys.path.insert(0, str(Path(__file__).parent))
    import fanout

    host = build_plugin_host()
    runner = host.make_runner()
    plan = fanout.build_plan(0)
    rows = ["memory://, fresh store", "rocksdb:// batch, fresh store", "rocksdb:// batch, one store", "floor"]
    process: dict[str, list[float]] = {row: [] for row in rows}
    main_thread: dict[str, list[float]] = {row: [] for row in rows}
    wall: dict[str, list[float]] = {row: [] for row in rows}

    def timed(row: str, call: Callable[[], Any], keep: bool) -> None:
        gc.collect()
        thread_before, process_before = time.thread_time(), time.process_time()
        wall_before = time.perf_counter()
        call()
        wall_after = time.perf_counter()
        process_after, thread_after = time.process_time(), time.thread_time()
        if keep:
            process[row].append(process_after - process_before)
            main_thread[row].append(thread_after - thread_before)
            wall[row].append(wall_after - wall_before)

    def run_on(store: Any) -> None:
        result = runner.run(RunRequest(plan=plan, store=store))
        assert result.succeeded

    with tempfile.TemporaryDirectory() as temp:
        shared = host.open_store(f"rocksdb://{temp}/shared?sync=batch")
        try:
            for index in range(options.runs + 10):
                keep = index >= 10
                url = f"memory://fixed-cost-{index}"
                with host.open_store(url) as store:
                    timed(rows[0], lambda: run_on(store), keep)
                MemoryStore.forget(url)
                if not options.back_to_back:
                    with host.open_store(f"rocksdb://{temp}/fresh-{index}?sync=batch") as store:
                        timed(rows[1], lambda: run_on(store), keep)
                timed(rows[2], lambda: run_on(shared), keep)
                timed(rows[3], lambda: asyncio.run(_nothing()), keep)
        finally:
            shared.close()
    report = {
        row: {"process_cpu_ms": statistics.median(process[row]) * 1e3,
              "main_thread_cpu_ms": statistics.median(main_thread[row]) * 1e3,
              "wall_ms": statistics.median(wall[row]) * 1e3}
        for row in rows if process[row]
    }  # fmt: skip
    if options.json:
        print(json.dumps({"runs": options.runs, "rows": report}, indent=1))
        return
    floor = report["floor"]["process_cpu_ms"]
    memory = report[rows[0]]["process_cpu_ms"]
    memory_wall = report[rows[0]]["wall_ms"]
    print(f"one run of root -> sink (2 inline no-op python tasks), median of {options.runs}, CPU ms and wall ms")
    print(
        f"{'row':<32} {'process':>9} {'main thread':>12} {'vs floor':>9} {'vs memory':>10} {'wall':>8} {'wall vs memory':>15}"
    )
    for row, figures in report.items():
        cpu = figures["process_cpu_ms"]
        print(f"{row:<32} {cpu:>9.3f} {figures['main_thread_cpu_ms']:>12.3f} {cpu / floor:>9.1f} {cpu / memory:>10.2f}"
              f" {figures['wall_ms']:>8.3f} {figures['wall_ms'] / memory_wall:>15.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
