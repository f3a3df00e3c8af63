"""Subscription latency: from ``append_events`` returning to ``Store.subscribe`` delivering the event.

Each appended event carries the writer's ``time.monotonic()`` (one clock for every process
of the machine); the subscriber subtracts it from its own clock on delivery. Printed as
P50 / P99 in microseconds, beside a plain-Python floor measured in the same run:

* same process — ``memory://`` and an owned ``rocksdb://`` store, the writer a thread; the
  floor is a ``queue.Queue`` hand-off from a thread to an asyncio task (``to_thread(get)``),
  the same hop a subscription makes;
* across processes — a ``rocksdb://`` store owned by the writer process, the subscriber
  routed through the owner's socket (and ``redis://`` with ``--redis URL``); the floor is
  a pipe write from a child process to this one.

With ``--logs`` the writer appends log lines instead (log-only writes, no event; the line's
text is the stamp) and the subscriber follows them with
:func:`flowbuilder.subscriptions.follow_logs`: what the UI's ``/logs/stream`` adds to the
runner's flush.

Run: ``python bench/subscribe_latency.py [EVENTS] [--logs] [--redis redis://127.0.0.1:PORT/0]``
(default 500 events; the writer paces them 2 ms apart so each is delivered alone).
"""

from __future__ import annotations

import asyncio
import os
import queue
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

PACE = 0.002
LOGS = False
"""--logs: log-only writes followed by follow_logs instead of events followed by subscribe."""


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6
    return f"P50 {p50:8.1f} µs   P99 {p99:8.1f} µs"


def _event(run_id: str, seq: int):  # type: ignore[no-untyped-def]
    from flowbuilder.events import EventKind, RunEvent

    if seq == 1:
        return RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "bench"})
    return RunEvent(run_id, seq, EventKind.TASK_ANNOTATED, task="t", data={"t": time.monotonic()})


def write_events(store, run_id: str, count: int) -> None:  # type: ignore[no-untyped-def]
    from flowbuilder.events import EventKind, RunEvent
    from flowbuilder.interfaces.logs import LogLine

    if LOGS:
        for _ in range(count):
            time.sleep(PACE)
            store.append_logs(run_id, [LogLine("t", 1, "stdout", repr(time.monotonic()))])
        store.append_events(run_id, [RunEvent(run_id, 2, EventKind.RUN_FINISHED, data={"status": "succeeded"})], 1)
        return
    for seq in range(2, count + 2):
        time.sleep(PACE)
        store.append_events(run_id, [_event(run_id, seq)], seq - 1)
    store.append_events(run_id, [RunEvent(run_id, count + 2, EventKind.RUN_FINISHED, data={"status": "succeeded"})],
                        count + 1)  # fmt: skip


async def collect(store, run_id: str) -> list[float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    if LOGS:
        from flowbuilder.subscriptions import follow_logs

        async for batch in follow_logs(store, run_id):
            now = time.monotonic()
            latencies.extend(now - float(line.text) for _, line in batch)
        return latencies
    async for update in store.subscribe(run_id, 1):
        now = time.monotonic()
        latencies.extend(now - e.data["t"] for e in update.events if "t" in e.data)
    return latencies


def same_process(url: str, count: int) -> list[float]:
    from flowbuilder.plugins import build_plugin_host

    store = build_plugin_host().open_store(url)
    store.append_events("bench", [_event("bench", 1)], 0)
    writer = threading.Thread(target=write_events, args=(store, "bench", count))

    async def main() -> list[float]:
        subscription = collect(store, "bench")
        writer.start()
        return await subscription

    latencies = asyncio.run(main())
    writer.join()
    store.close()
    return latencies


def queue_floor(count: int) -> list[float]:
    handoff: queue.Queue[float] = queue.Queue()

    def produce() -> None:
        for _ in range(count):
            time.sleep(PACE)
            handoff.put(time.monotonic())

    async def main() -> list[float]:
        producer = threading.Thread(target=produce)
        producer.start()
        got = []
        for _ in range(count):
            stamp = await asyncio.to_thread(handoff.get)
            got.append(time.monotonic() - stamp)
        producer.join()
        return got

    return asyncio.run(main())


def across_processes(url: str, count: int) -> list[float]:
    from flowbuilder.plugins import build_plugin_host

    child = subprocess.Popen([sys.executable, __file__, "--writer", url, str(count), *(["--logs"] if LOGS else [])],
                             stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "ready"
    store = build_plugin_host().open_store(url)

    async def main() -> list[float]:
        subscription = collect(store, "bench")
        child.stdin.write("go\n")  # type: ignore[union-attr]
        child.stdin.flush()  # type: ignore[union-attr]
        return await subscription

    latencies = asyncio.run(main())
    child.stdin.close()
    child.wait()
    store.close()
    return latencies


def writer_process(url: str, count: int) -> None:
    from flowbuilder.plugins import build_plugin_host

    store = build_plugin_host().open_store(url)  # first to open a rocksdb:// store: its owner
    store.append_events("bench", [_event("bench", 1)], 0)
    print("ready", flush=True)
    sys.stdin.readline()
    write_events(store, "bench", count)
    sys.stdin.readline()  # keep owning the store until the subscriber is done
    store.close()


def pipe_floor(count: int) -> list[float]:
    code = ("import os,sys,time,struct\nfor _ in range(int(sys.argv[1])):\n time.sleep(float(sys.argv[2]))\n"
            " os.write(1, struct.pack('d', time.monotonic()))\n")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code, str(count), repr(PACE)], stdout=subprocess.PIPE)
    got = []
    assert child.stdout is not None
    fd = child.stdout.fileno()
    for _ in range(count):
        raw = b""
        while len(raw) < 8:
            raw += os.read(fd, 8 - len(raw))
        got.append(time.monotonic() - struct.unpack("d", raw)[0])
    child.wait()
    return got


def main(argv: list[str]) -> None:
    global LOGS
    if "--logs" in argv:
        LOGS = True
        argv.remove("--logs")
    if argv[:1] == ["--writer"]:
        writer_process(argv[1], int(argv[2]))
        return
    redis_url = None
    if "--redis" in argv:
        at = argv.index("--redis")
        redis_url = argv[at + 1]
        del argv[at : at + 2]
    count = int(argv[0]) if argv else 500
    with tempfile.TemporaryDirectory() as folder:
        what = "log-only append -> follow_logs, {} lines" if LOGS else "append -> delivery, {} events"
        print(f"subscription latency, {what.format(count)} paced {PACE * 1000:g} ms apart")
        print(f"  same process   floor: queue.Queue thread -> asyncio  {_percentiles(queue_floor(count))}")
        print(f"  same process   memory://                            {_percentiles(same_process('memory://bench', count))}")  # fmt: skip
        print(f"  same process   rocksdb:// (owner)                   {_percentiles(same_process(f'rocksdb://{folder}/own', count))}")  # fmt: skip
        print(f"  across procs   floor: pipe from a child process     {_percentiles(pipe_floor(count))}")
        print(f"  across procs   rocksdb:// (routed via the owner)    {_percentiles(across_processes(f'rocksdb://{folder}/routed', count))}")  # fmt: skip
        if redis_url:
            print(f"  across procs   redis:// (pub/sub)                   {_percentiles(across_processes(redis_url, count))}")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
