"""Benchmark: the runner's fan-out recorded in RocksDB, beside the same in memory and the floor.

    python bench/storage_fanout.py                          # 1,000 / 10,000 / 100,000 tasks
    python bench/storage_fanout.py --tasks 10000 --repeat 5 --cpu --json
    python bench/storage_fanout.py --tasks 10000 --repeat 5 --cpu --log-lines   # each task logs a line

The plan is the runner benchmark's (``bench/fanout.py``): a root fans out to N no-op
``python`` tasks called inline (the runner's fast path, so the figure is dominated by
scheduling and recording, not by work) and joins in a sink. The plan is compiled once; each
measurement is one ``Runner.run`` with ``RunRequest(store=...)``: ``memory://`` (nothing
durable) and ``rocksdb://`` with ``sync=batch`` and ``sync=always``. Every event of every task
(started, succeeded) is appended by the runner in batches, on the store's thread.

The floor is ``bench/fanout.py``'s: a minimal hand-written in-degree loop over the same graph
calling the same no-op, measured in the same rounds. Rounds are interleaved (each round
measures every row once) and the best of each row is kept. ``--cpu`` times with the process's
CPU time (every thread, RocksDB's own included) instead of wall time: the figure to trust on a
machine shared with other work. With ``--cpu`` each row's best round is also split by thread:
the main thread (the run's loop: scheduling, events, appends to ``memory://``) and all the
others (the store's append thread, the WAL sync, RocksDB's own), which is where RocksDB's
extra cost shows. Issue 10's goals: per task at most 5x the floor at every
size, and RocksDB (``sync=batch``) at most 1.3x memory. Needs flowrunner.

Two more floors, in the same rounds, say how far those goals sit from what any run must do:
``recording floor`` (``bench/fanout.py``'s ``recording_floor``: the same loop also recording
the runner's two events per task, nothing else) and ``rocksdict write`` (the memory run's
events put into a fresh RocksDB by rocksdict alone, see :func:`rocksdict_write`; its row is
that write alone, per task, and the last lines add it to memory's figure).

``--log-lines``: every task writes one line through ``context.log`` (the runner's log path:
the line is buffered and stored with the next flush, or by the timed log flush), and the
floor's function appends one line to a list.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

GOAL_FLOOR = 5.0
GOAL_MEMORY = 1.3


def fanout_module() -> Any:
    """The runner benchmark's module (bench/fanout.py: the plan, the no-op and the floor)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import fanout

    return fanout


def rocksdict_write(events: list[Any], path: str, clock: Callable[[], float]) -> float:
    """Seconds (by ``clock``) for rocksdict alone to write these events' stored bytes.

    The bytes are the store's own (core's ``encode_event`` per event, 64 events to a value
    joined by newlines, as ``flowbuilder-storage`` stores them), made before the clock starts:
    what is timed is only RocksDB's part, a ``WriteBatch`` per 1,024 events with a put per
    value, into a fresh database with RocksDB's default options, the write-ahead log on and no
    sync (what ``sync=batch`` does between its background syncs). No encoding, checks, run
    index or thread hand-off. Added to ``memory://``'s figure it is the floor of the RocksDB
    row: the same run if storing cost nothing but RocksDB's write of what is stored.
    """
    import rocksdict

    from flowbuilder.events import encode_event

    lines = [encode_event(event) for event in events]
    values = [b"\n".join(lines[start : start + 64]) for start in range(0, len(lines), 64)]
    database = rocksdict.Rdict(path, rocksdict.Options(raw_mode=True))
    try:
        started = clock()
        for first in range(0, len(values), 16):
            batch = rocksdict.WriteBatch(raw_mode=True)
            for index in range(first, min(first + 16, len(values))):
                batch.put(b"run/%012d" % index, values[index])
            database.write(batch)
        return clock() - started
    finally:
        database.close()
        rocksdict.Rdict.destroy(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="1000,10000,100000", help="comma-separated fan-out widths")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per width")
    parser.add_argument("--cpu", action="store_true", help="process CPU time instead of wall time")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log-lines", action="store_true", help="each task logs one line (context.log)")
    options = parser.parse_args()

    from flowbuilder.interfaces import RunRequest
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.stores.memory import MemoryStore

    fanout = fanout_module()
    clock: Callable[[], float] = time.process_time if options.cpu else time.perf_counter
    host = build_plugin_host()
    runner = host.make_runner()
    report: dict[str, Any] = {"clock": "cpu" if options.cpu else "wall", "log_lines": options.log_lines, "sizes": {}}
    if options.cpu:
        report["main_thread"] = {}  # per width and row: the main thread's CPU in the row's best round, us per task
    with tempfile.TemporaryDirectory() as temp:
        urls = {
            "memory://": lambda i: f"memory://fanout-{i}",
            "rocksdb:// sync=batch": lambda i: f"rocksdb://{temp}/batch-{i}?sync=batch",
            "rocksdb:// sync=always": lambda i: f"rocksdb://{temp}/always-{i}?sync=always",
        }
        counter = 0
        for width in [int(part) for part in options.tasks.split(",")]:
            if options.log_lines:
                plan = fanout.build_plan(width, "fanout:log_line", pass_context=True)
                floor_task = partial(list.append, [], ("stdout", "line"))  # one line kept per task
            else:
                plan = fanout.build_plan(width)
                floor_task = fanout.noop
            total = len(plan)
            best = {label: float("inf") for label in [*urls, "floor", "recording floor", "rocksdict write"]}
            best_main: dict[str, float] = {}
            for round_ in range(options.repeat + 1):  # round 0 warms up (imports, caches) and is not kept
                for label, url_of in urls.items():
                    counter += 1
                    url = url_of(counter)
                    with host.open_store(url) as store:
                        gc.collect()
                        started, main_started = clock(), time.thread_time()
                        result = runner.run(RunRequest(plan=plan, store=store))
                        main = time.thread_time() - main_started  # inside the process's interval: never above it
                        elapsed = clock() - started
                        assert result.succeeded and store.last_seq(result.run_id) >= 2 * total
                        assert not options.log_lines or len(store.read_logs(result.run_id)) == total
                        if round_ and url.startswith("memory://"):
                            gc.collect()
                            write = rocksdict_write(store.read_events(result.run_id), f"{temp}/raw-{counter}", clock)
                            best["rocksdict write"] = min(best["rocksdict write"], write)
                    if url.startswith("memory://"):
                        MemoryStore.forget(url)
                    if round_ and elapsed < best[label]:
                        best[label], best_main[label] = elapsed, main
                gc.collect()
                started = clock()
                fanout.baseline(plan.successors, plan.indegree, floor_task)
                if round_:
                    best["floor"] = min(best["floor"], clock() - started)
                if not options.log_lines:
                    gc.collect()
                    started = clock()
                    fanout.recording_floor(plan.successors, plan.indegree, floor_task)
                    if round_:
                        best["recording floor"] = min(best["recording floor"], clock() - started)
            report["sizes"][width] = {label: seconds / total * 1e6 for label, seconds in best.items()
                                      if seconds != float("inf")}  # fmt: skip
            if options.cpu:
                report["main_thread"][width] = {label: seconds / total * 1e6 for label, seconds in best_main.items()}
    if options.json:
        print(json.dumps(report, indent=1))
        return
    clock_name = "CPU" if options.cpu else "wall"
    body = "python tasks logging one line each" if options.log_lines else "no-op python tasks"
    print(f"fan-out of N {body} (+ root and sink): {clock_name} us per task, best of {options.repeat}")
    print(f"{'N':>8} {'store':<24} {'us/task':>9} {'vs floor':>9} {'vs memory':>10}")
    for width, row in report["sizes"].items():
        floor, memory = row["floor"], row["memory://"]
        for label, per_task in row.items():
            print(f"{width:>8} {label:<24} {per_task:>9.2f} {per_task / floor:>9.1f} {per_task / memory:>10.2f}")
    if options.cpu:
        print("the same rounds by thread, us per task: main (the run's loop), others (store, RocksDB)")
        print(f"{'N':>8} {'store':<24} {'main':>9} {'others':>9}")
        for width, row in report["main_thread"].items():
            for label, main in row.items():
                print(f"{width:>8} {label:<24} {main:>9.2f} {report['sizes'][width][label] - main:>9.2f}")
    print(
        f"goals (issue 10): at most {GOAL_FLOOR:.0f}x the floor; rocksdb:// sync=batch at most {GOAL_MEMORY}x memory://"
    )
    for width, row in report["sizes"].items():
        batch = row["rocksdb:// sync=batch"]
        print(f"{width:>8}: rocksdb batch {batch / row['floor']:.1f}x floor "
              f"({'met' if batch / row['floor'] <= GOAL_FLOOR else 'missed'}), "
              f"{batch / row['memory://']:.2f}x memory ({'met' if batch / row['memory://'] <= GOAL_MEMORY else 'missed'})")  # fmt: skip
        if "recording floor" in row:
            print(f"{'':>8}  what the goals leave: recording two events per task alone (recording floor) is "
                  f"{row['recording floor'] / row['floor']:.1f}x the floor (goal {GOAL_FLOOR:.0f}x); memory:// plus "
                  f"writing its events with rocksdict alone is {rocksdict_floor_ratio(row):.2f}x memory "
                  f"(goal {GOAL_MEMORY}x)")  # fmt: skip


def rocksdict_floor_ratio(row: dict[str, float]) -> float:
    """The RocksDB row's floor over memory://: memory's run plus rocksdict writing its events."""
    return (row["memory://"] + row["rocksdict write"]) / row["memory://"]


if __name__ == "__main__":
    main()
