"""Benchmark: request/reply round trip through the message bus, P50 and P99, beside its floors.

    python bench/bus_roundtrip.py            # 2,000 round trips per figure
    python bench/bus_roundtrip.py --quick    # 300
    python bench/bus_roundtrip.py --json

Rows (all measured in the same run, interleaved in rounds so each sees the same load):

* ``redis:// request/reply`` — ``RedisMessageBus.request`` to a node listening in another
  process (which answers with ``reply``), on the benchmark's own redis-server (127.0.0.1,
  no persistence).
* floor: ``raw streams request/reply`` — the same protocol written by hand with redis-py (XADD
  the request, a raw responder process XREADs it and XADDs the answer, XREAD BLOCK on the
  reply key, DEL): what any Streams request/reply must pay.
* floor: ``raw redis PING`` — one network round trip to the same server.
* ``local:// request/reply`` — the in-process bus (a responder thread), beside a floor of two
  ``queue.Queue`` hand-offs between two threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _private_redis import private_redis

RAW_REQUESTS = "bench:raw:requests"


def bus_responder(url: str) -> None:
    from flowbuilder_distributed.bus import RedisMessageBus

    bus = RedisMessageBus.open(url, "responder")
    bus.listen(lambda message: None if message.kind != "request" else bus.reply(message, {"n": message.body["n"]}))
    print("ready", flush=True)
    threading.Event().wait()


def raw_responder(port: int) -> None:
    import redis

    client = redis.Redis(port=port)
    last = "$"
    print("ready", flush=True)
    while True:
        for _, entries in client.xread({RAW_REQUESTS: last}, block=0) or ():
            for entry_id, fields in entries:
                last = entry_id
                client.xadd(fields[b"reply_to"], {"m": fields[b"m"]}, maxlen=16)


def spawn(*arguments: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, __file__, *arguments], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


# -- the measured loops ---------------------------------------------------------------------


def timed(rounds: int, one: Callable[[int], object]) -> list[float]:
    samples = []
    for n in range(rounds):
        started = time.perf_counter()
        one(n)
        samples.append(time.perf_counter() - started)
    return samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def local_pair() -> tuple[Callable[[int], object], Callable[[], None]]:
    from flowbuilder.local_bus import LocalMessageBus

    url = f"local://bench-{os.getpid()}"
    responder = LocalMessageBus.open(url, "responder")
    responder.listen(lambda m: None if m.kind != "request" else responder.reply(m, {"n": m.body["n"]}))
    asker = LocalMessageBus.open(url, "asker")

    def close() -> None:
        asker.close()
        responder.close()

    return (lambda n: asker.request("responder", {"n": n}, timeout=10)), close


def queue_pair() -> tuple[Callable[[int], None], Callable[[], None]]:
    import queue

    requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
    replies: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def serve() -> None:
        while (item := requests.get()) is not None:
            replies.put({"n": item["n"]})

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def one(n: int) -> None:
        requests.put({"n": n})
        replies.get(timeout=10)

    return one, lambda: requests.put(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 round trips per figure instead of 2,000")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    total = options.rounds or (300 if options.quick else 2000)
    import redis

    from flowbuilder_distributed.bus import RedisMessageBus

    with tempfile.TemporaryDirectory(prefix="bench-bus-") as directory:
        server = private_redis(Path(directory))
        port = server.port
        url = f"redis://127.0.0.1:{port}/0?namespace=bench"
        children = [spawn("--bus-responder", url), spawn("--raw-responder", str(port))]
        client = redis.Redis(port=port)
        bus = RedisMessageBus.open(url, "asker")
        local_one, local_close = local_pair()
        queue_one, queue_close = queue_pair()

        def raw_request(n: int) -> None:
            reply_key = f"bench:raw:reply:{n}-{time.monotonic_ns()}"
            client.xadd(RAW_REQUESTS, {"m": json.dumps({"n": n}), "reply_to": reply_key}, maxlen=10_000)
            client.xread({reply_key: "0"}, count=1, block=10_000)
            client.delete(reply_key)

        loops: dict[str, Callable[[int], object]] = {
            "redis:// request/reply": lambda n: bus.request("responder", {"n": n}, timeout=10),
            "raw streams request/reply (floor)": raw_request,
            "raw redis PING (floor)": lambda n: client.ping(),
            "local:// request/reply": local_one,
            "2 queue.Queue hand-offs (floor)": queue_one,
        }
        try:
            for loop in loops.values():  # warm up connections, imports, caches
                timed(50, loop)
            samples: dict[str, list[float]] = {name: [] for name in loops}
            chunk = max(total // 10, 1)
            while len(samples["raw redis PING (floor)"]) < total:
                for name, loop in loops.items():
                    samples[name].extend(timed(chunk, loop))
        finally:
            bus.close()
            client.close()
            local_close()
            queue_close()
            for child in children:
                child.kill()
                child.wait(10)
            server.stop(kill=True)

    rows = []
    for name, values in samples.items():
        p50, p99 = percentiles(values)
        rows.append({"figure": name, "p50_us": round(p50 * 1e6, 1), "p99_us": round(p99 * 1e6, 1), "n": len(values)})
    by_name = {row["figure"]: row for row in rows}
    ratios = {
        "redis:// / raw streams (P50)": by_name["redis:// request/reply"]["p50_us"]
        / by_name["raw streams request/reply (floor)"]["p50_us"],
        "redis:// / PING (P50)": by_name["redis:// request/reply"]["p50_us"]
        / by_name["raw redis PING (floor)"]["p50_us"],
        "local:// / queues (P50)": by_name["local:// request/reply"]["p50_us"]
        / by_name["2 queue.Queue hand-offs (floor)"]["p50_us"],
    }
    if options.json:
        print(json.dumps({"rows": rows, "ratios": {k: round(v, 2) for k, v in ratios.items()}}, indent=2))
        return
    print(f"request/reply round trip, {total} per figure (interleaved), microseconds")
    print(f"{'figure':<36} {'P50':>10} {'P99':>10}")
    for row in rows:
        print(f"{row['figure']:<36} {row['p50_us']:>10.1f} {row['p99_us']:>10.1f}")
    for name, value in ratios.items():
        print(f"{name:<36} {value:>10.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--bus-responder":
        bus_responder(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--raw-responder":
        raw_responder(int(sys.argv[2]))
    else:
        main()
