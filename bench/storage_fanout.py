"""Benchmark: the runner's 10,000-task fan-out recorded in RocksDB, beside the same in memory.

    python bench/storage_fanout.py                 # 10,000 tasks, median of 3 runs per store
    python bench/storage_fanout.py --tasks 2000 --repeat 5 --json

The plan is the runner benchmark's (``bench/fanout.py``): a root fans out to N no-op
``python`` tasks called inline (the runner's fast path, so the figure is dominated by
scheduling and recording, not by work) and joins in a sink. The plan is compiled once; each measurement is one ``Runner.run`` with
``RunRequest(store=...)``: ``memory://`` (the baseline: nothing durable) and
``rocksdb://`` with ``sync=batch`` and ``sync=always``. Every event of every task (started,
succeeded) is appended by the runner in batches. The issue's aim: RocksDB (batch) at least
half the in-memory throughput. Needs flowrunner.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def fanout_plan(tasks: int):  # type: ignore[no-untyped-def]
    """The runner benchmark's plan (bench/fanout.py: 1 -> N no-op python tasks -> 1)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fanout import build_plan

    return build_plan(tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    from flowbuilder.interfaces import RunRequest
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.stores.memory import MemoryStore

    host = build_plugin_host()
    plan = fanout_plan(options.tasks)
    runner = host.make_runner()
    total = len(plan)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as temp:
        stores = {
            "memory://": lambda i: f"memory://fanout-{i}",
            "rocksdb:// sync=batch": lambda i: f"rocksdb://{temp}/batch-{i}?sync=batch",
            "rocksdb:// sync=always": lambda i: f"rocksdb://{temp}/always-{i}?sync=always",
        }
        for label, url_of in stores.items():
            rates = []
            for index in range(options.repeat):
                url = url_of(index)
                with host.open_store(url) as store:
                    started = time.perf_counter()
                    result = runner.run(RunRequest(plan=plan, store=store))
                    elapsed = time.perf_counter() - started
                    assert result.succeeded and store.last_seq(result.run_id) >= 2 * total
                if url.startswith("memory://"):
                    MemoryStore.forget(url)
                rates.append(total / elapsed)
            results[label] = statistics.median(rates)
    baseline = results["memory://"]
    if options.json:
        print(json.dumps({"tasks": total, "tasks_per_second": results,
                          "ratio_to_memory": {k: v / baseline for k, v in results.items()}}, indent=1))  # fmt: skip
        return
    print(f"fan-out of {options.tasks:,} no-op python tasks (+ root and sink), median of {options.repeat} runs")
    print(f"{'store':<24} {'tasks/s':>10} {'vs memory':>10}")
    for label, rate in results.items():
        print(f"{label:<24} {rate:>10,.0f} {rate / baseline:>10.2f}")
    print("aim: rocksdb:// sync=batch >= 0.50 of memory://")


if __name__ == "__main__":
    main()
