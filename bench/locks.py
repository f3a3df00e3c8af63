"""Benchmark: what ``lock:`` costs a task — locked runs beside unlocked ones and the floor.

    python bench/locks.py                        # 500 locked tasks, memory and RocksDB
    python bench/locks.py --tasks 200 --repeat 3 --json

A run of N independent inline ``python`` no-op tasks (concurrency 4), every task with
``lock: {name: bench-<i>}`` (its own lock: nothing waits, so the figure is the lock's own
cost: one lease taken, one released, the token put into the attempt's environment), beside the
same run without ``lock:``. Wall microseconds per task, best of ``--repeat`` interleaved
rounds, per store (``memory://``, ``rocksdb://``). The floor is a Python dict used as a lease
table (take: check and set with an expiry and an epoch; release: delete) for the same N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path


def workflow(tasks: int, locked: bool) -> str:
    lines = ["name: locks-bench", "concurrency: 4", "tasks:"]
    for index in range(tasks):
        lock = f", lock: bench-{index}" if locked else ""
        lines.append(f"  - {{name: t{index}, type: python{lock}, config: {{callable: 'operator:add', args: [1, 2]}}}}")
    return "\n".join(lines) + "\n"


def run_once(store: str, text: str) -> float:
    from flowrunner import Engine

    engine = Engine(store=store)
    try:

        async def main() -> float:
            started = time.perf_counter()
            result = await engine.run(text)
            elapsed = time.perf_counter() - started
            assert result.status.value == "succeeded", result.status
            return elapsed

        return asyncio.run(main())
    finally:
        engine.close()


def floor(tasks: int) -> float:
    leases: dict[str, tuple[str, float]] = {}
    epochs: dict[str, int] = {}
    started = time.perf_counter()
    for index in range(tasks):
        name = f"bench-{index}"
        now = time.time()
        held = leases.get(name)
        if held is None or held[1] <= now:
            epochs[name] = epochs.get(name, 0) + 1
            leases[name] = ("owner", now + 30.0)
        del leases[name]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-locks-") as temp:
        stores = {"memory": lambda: f"memory://bench-{uuid.uuid4().hex}",
                  "rocksdb": lambda: f"rocksdb://{Path(temp) / uuid.uuid4().hex}"}  # fmt: skip
        texts = {False: workflow(args.tasks, False), True: workflow(args.tasks, True)}
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for store, url in stores.items():
                for locked, text in texts.items():
                    key = f"{store} {'locked' if locked else 'unlocked'}"
                    per_task = run_once(url(), text) / args.tasks * 1e6
                    best[key] = min(best.get(key, per_task), per_task)
            per_task = floor(args.tasks) / args.tasks * 1e6
            best["floor (dict lease table)"] = min(best.get("floor (dict lease table)", per_task), per_task)
    if args.json:
        print(json.dumps({"tasks": args.tasks, "us_per_task": best}))
        return
    print(f"lock: cost per task, {args.tasks} independent inline tasks, best of {args.repeat} (wall µs per task)")
    for key, value in best.items():
        print(f"  {key:<28} {value:10.2f}")
    for store in stores:
        extra = best[f"{store} locked"] - best[f"{store} unlocked"]
        print(f"  {store}: the lock adds {extra:.2f} µs per task")


if __name__ == "__main__":
    main()
