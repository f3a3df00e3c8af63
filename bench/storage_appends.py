"""Benchmark: durable event appends per second, each store beside its raw driver.

    python bench/storage_appends.py                  # RocksDB and Redis, batches of 1 and 16 events
    python bench/storage_appends.py --events 20000   # more events per measurement
    python bench/storage_appends.py --backends rocksdb --json

* RocksDB (``sync=batch``: the WAL is fsynced by a background thread every 50 ms) —
  ``RocksDBStore.append_events`` beside rocksdict writing the same event bytes under the
  same keys with its own ``WriteBatch`` (raw mode, same write options, the same 50 ms WAL-sync thread). Also the
  same appends from a second process routed to the owner over its socket.
* Redis (the benchmark's own redis-server on a free port, AOF on with ``appendfsync
  everysec``) — ``RedisStore.append_events`` beside a raw redis-py pipeline (MULTI/EXEC)
  of the same commands: RPUSH of the same event bytes, SET of the summary, ZADD of the index.

Each figure is the median of ``--repeat`` measurements; the ratio is store time / baseline
time (the issue's aim: within 1.5x). Both sides turn the same ``RunEvent`` objects into the
same bytes inside the timed loop (any store must serialise), both with the store's
``events_bytes`` (core's ``encode_event`` record written with msgspec, about 3x faster), so the ratio is the
store's own overhead: the store additionally checks the expected sequence number, keeps the run summary and the
run index, and (Redis) runs the check in a Lua script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

from _private_redis import private_redis

from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage._event_bytes import events_bytes

AIM = 1.5


def make_batches(run_id: str, events: int, batch: int) -> list[list[RunEvent]]:
    out: list[list[RunEvent]] = []
    seq = 0
    while seq < events:
        group = []
        for _ in range(min(batch, events - seq)):
            seq += 1
            group.append(RunEvent(run_id, seq, EventKind.TASK_SUCCEEDED, task=f"task-{seq % 500}", attempt=1,
                                  data={"output": {"rows": seq}, "duration": 0.0123}, time=1_700_000_000.0 + seq))  # fmt: skip
        out.append(group)
    return out


def interleaved(store: Callable[[int], float], baseline: Callable[[int], float], repeat: int) -> tuple[float, float]:
    """Median rates (events/s) of store and baseline, measured alternately so both see the same load."""
    rates: tuple[list[float], list[float]] = ([], [])
    for index in range(repeat):
        rates[1].append(baseline(index))
        rates[0].append(store(index))
    return statistics.median(rates[0]), statistics.median(rates[1])


# -- RocksDB ---------------------------------------------------------------------------------


def rocksdb_store_rate(root: Path, events: int, batch: int, index: int) -> float:
    from flowbuilder_storage import RocksDBStore

    def measure(index: int) -> float:
        path = root / f"store-{batch}-{index}"
        run_id = "bench"
        batches = make_batches(run_id, events, batch)
        with RocksDBStore.open(f"rocksdb://{path}?sync=batch") as store:
            started = time.perf_counter()
            last = 0
            for group in batches:
                last = store.append_events(run_id, group, last)
            return time.perf_counter() - started

    return events / measure(index)


def rocksdb_raw_rate(root: Path, events: int, batch: int, index: int) -> float:
    import rocksdict

    from flowbuilder_storage import _rocks_layout as keys

    def measure(index: int) -> float:
        path = root / f"raw-{batch}-{index}"
        run_id = "bench"
        batches = make_batches(run_id, events, batch)
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        db = rocksdict.Rdict(str(path), options)
        write_options = rocksdict.WriteOptions()
        write_options.sync = False
        stop = threading.Event()

        def syncer() -> None:
            while not stop.wait(0.05):
                db.flush_wal(True)

        thread = threading.Thread(target=syncer, daemon=True)
        thread.start()
        started = time.perf_counter()
        for group in batches:
            write_batch = rocksdict.WriteBatch(raw_mode=True)
            for event, raw in zip(group, events_bytes(group), strict=True):
                write_batch.put(keys.event_key(run_id, event.seq), raw)
            db.write(write_batch, write_options)
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join()
        db.close()
        return elapsed

    return events / measure(index)


ROUTED_CLIENT = """
import sys, time
sys.path.insert(0, sys.argv[3])
from storage_appends import make_batches
from flowbuilder_storage import RocksDBStore
events, batch = int(sys.argv[2]), int(sys.argv[4])
store = RocksDBStore.open(sys.argv[1])
assert not store.is_owner
batches = make_batches("routed", events, batch)
started = time.perf_counter()
last = 0
for group in batches:
    last = store.append_events("routed", group, last)
print(time.perf_counter() - started)
store.close()
"""


def rocksdb_routed_rate(root: Path, events: int, batch: int, index: int) -> float:
    """Appends from a second process while this one owns the store."""
    from flowbuilder_storage import RocksDBStore

    def measure(index: int) -> float:
        url = f"rocksdb://{root}/routed-{batch}-{index}?sync=batch"
        with RocksDBStore.open(url):
            result = subprocess.run([sys.executable, "-c", ROUTED_CLIENT, url, str(events), str(Path(__file__).parent),
                                     str(batch)], capture_output=True, text=True, check=True)  # fmt: skip
        return float(result.stdout.strip())

    return events / measure(index)


# -- Redis -----------------------------------------------------------------------------------


def redis_store_rate(port: int, events: int, batch: int, index: int) -> float:
    from flowbuilder_storage import RedisStore

    def measure(index: int) -> float:
        run_id = f"store-{batch}-{index}"
        batches = make_batches(run_id, events, batch)
        with RedisStore.open(f"redis://127.0.0.1:{port}/0?prefix=bench:") as store:
            started = time.perf_counter()
            last = 0
            for group in batches:
                last = store.append_events(run_id, group, last)
            return time.perf_counter() - started

    return events / measure(index)


def redis_raw_rate(port: int, events: int, batch: int, index: int) -> float:
    import redis

    def measure(index: int) -> float:
        run_id = f"raw-{batch}-{index}"
        client = redis.Redis(port=port)
        summary = b'{"run_id":"x","workflow":null,"version":null,"status":"running","created_at":0.0,' \
                  b'"finished_at":null,"last_seq":1,"definition_hash":null}'  # fmt: skip
        batches = make_batches(run_id, events, batch)
        started = time.perf_counter()
        for group in batches:
            pipe = client.pipeline(transaction=True)
            pipe.rpush(f"raw:ev:{run_id}", *events_bytes(group))
            pipe.set(f"raw:sum:{run_id}", summary)
            pipe.zadd("raw:runs", {run_id: 0.0})
            pipe.execute()
        elapsed = time.perf_counter() - started
        client.close()
        return elapsed

    return events / measure(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="rocksdb,redis")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    backends = options.backends.split(",")
    rows: list[dict[str, Any]] = []
    events, repeat = options.events, options.repeat
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for batch in (int(b) for b in options.batches.split(",")):
            if "rocksdb" in backends:
                ours, raw = interleaved(partial(rocksdb_store_rate, root, events, batch),
                                        partial(rocksdb_raw_rate, root, events, batch), repeat)  # fmt: skip
                routed = statistics.median(rocksdb_routed_rate(root, events, batch, index) for index in range(repeat))
                rows.append({"backend": "rocksdb sync=batch", "batch": batch, "store": ours, "baseline": raw})
                rows.append(
                    {"backend": "rocksdb routed (2nd process)", "batch": batch, "store": routed, "baseline": raw}
                )
            if "redis" in backends:
                (root / "redis").mkdir(exist_ok=True)
                server = private_redis(root / "redis", appendonly=True, appendfsync="everysec")
                port = server.port
                try:
                    ours, raw = interleaved(partial(redis_store_rate, port, events, batch),
                                            partial(redis_raw_rate, port, events, batch), repeat)  # fmt: skip
                finally:
                    server.stop()
                rows.append({"backend": "redis", "batch": batch, "store": ours, "baseline": raw})
    for row in rows:
        row["ratio"] = row["baseline"] / row["store"]
    if options.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{options.events:,} events per measurement, median of {options.repeat}; ratio = baseline rate / store rate"
          f" (aim <= {AIM})")  # fmt: skip
    print(f"{'backend':<30} {'batch':>5} {'store ev/s':>12} {'baseline ev/s':>14} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['backend']:<30} {row['batch']:>5} {row['store']:>12,.0f} {row['baseline']:>14,.0f} {row['ratio']:>6.2f}"
        )


if __name__ == "__main__":
    main()
