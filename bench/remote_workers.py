"""Remote workers over Redis Streams: fan-out throughput and dispatch latency, beside their floors.

    .venv/bin/python bench/remote_workers.py            # 10,000-task fan-out, 1/2/4 workers, 500 round trips
    .venv/bin/python bench/remote_workers.py --quick    # 2,000 tasks, 200 round trips (about a minute)

Everything runs on 127.0.0.1 against a redis-server this script starts on a free port (never
the machine's own Redis) and stops at the end.

1. **Throughput.** A fan-out of N short ``python`` tasks (``isolation: thread``, each
   ``operator:add``) run once by the local runner (every attempt in this process: the floor)
   and once each with 1, 2 and 4 ``flowbuilder worker`` processes (``--concurrency 32``)
   through ``Engine(remote_workers=URL)``: tasks per second, and the ratio to the local run.
   The run records into ``memory://``; the acknowledgements after recording are included.
2. **Dispatch latency.** One attempt at a time through ``RedisStreamsExecutor`` to one
   worker process and back (submit to ``on_done``): P50 and P99. The floor is the same trip
   without FlowBuilder: ``XADD`` to a stream, an echo process's ``XREADGROUP`` and ``XADD``
   of a reply, ``XREAD`` of the reply.

On a 2-core machine shared with other work, workers compete with the scheduler and with
each other for the same cores: the figures measure the path's overhead, not a cluster.
No figure is a test; nothing here fails a build.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _private_redis import private_redis

CLI = [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]

ECHO = """
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
try:
    client.xgroup_create("bench:ping", "echo", id="0", mkstream=True)
except redis.ResponseError:
    pass
print("ready", flush=True)
while True:
    found = client.xreadgroup("echo", "e1", {"bench:ping": ">"}, count=1, block=1000)
    for _, entries in found or ():
        for entry_id, fields in entries:
            client.xadd("bench:pong", fields)
            client.xack("bench:ping", "echo", entry_id)
"""


def start_workers(url: str, count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    started = []
    for index in range(count):
        log = open(folder / f"worker-{index}.log", "wb")  # noqa: SIM115 - closed with the process
        started.append(subprocess.Popen([*CLI, "worker", "--store", url, "--concurrency", "32", "--lease", "30"],
                                        stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
    import redis

    from flowbuilder_distributed.registry import NodeRegistry

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 60
    while len(NodeRegistry(client).live("worker")) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"workers did not register; see {folder}")
        time.sleep(0.05)
    return started


def stop_workers(started: list[subprocess.Popen[bytes]]) -> None:
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fanout_yaml(width: int, isolation: str = "thread") -> str:
    """``width`` independent ``operator.add`` python tasks (bench/dask_executor.py uses ``process``)."""
    lines = ["name: bench_fanout", "tasks:"]
    for index in range(width):
        lines.append(f'  - {{name: t{index}, type: python, config: {{callable: "operator:add", args: [1, 2],'
                     f' isolation: {isolation}}}}}')  # fmt: skip
    return "\n".join(lines) + "\n"


def timed_run(workflow: str, remote: str | None) -> float:
    """Seconds for one run of ``workflow`` through the Python API, attempts sent to ``remote`` if given."""
    from flowrunner import Engine

    engine = Engine(store="memory://", concurrency=512, remote_workers=remote)
    try:
        started = time.perf_counter()
        result = asyncio.run(engine.run(workflow))
        elapsed = time.perf_counter() - started
        if not result.succeeded:
            raise SystemExit(f"the benchmark run failed: {result.status}")
        return elapsed
    finally:
        engine.close()


def throughput(redis_url: str, flush: Any, width: int, folder: Path) -> list[tuple[str, float, float]]:
    workflow = fanout_yaml(width)
    rows = []
    local = timed_run(workflow, None)
    rows.append(("local runner (floor)", width / local, 1.0))
    for count in (1, 2, 4):
        flush()
        started = start_workers(redis_url, count, folder)
        try:
            elapsed = timed_run(workflow, redis_url)
        finally:
            stop_workers(started)
        rows.append((f"{count} worker(s)", width / elapsed, local / elapsed))
    return rows


def executor_round_trips(redis_url: str, rounds: int) -> list[float]:
    from flowbuilder.interfaces import Attempt, ExecutionMode, TaskContext
    from flowbuilder_distributed.executor import RedisStreamsExecutor
    from flowrunner.tasktypes import PythonTask

    python = PythonTask()
    config = python.config_model.model_validate({"callable": "operator:add", "args": [1, 2], "isolation": "thread"})
    executor = RedisStreamsExecutor(redis_url)
    samples: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for number in range(rounds + 20):
            done = loop.create_future()
            context = TaskContext("bench", f"t{number}", 1)
            attempt = Attempt("bench", f"t{number}", number, 1, python, config, ExecutionMode.THREAD, context)
            started = time.perf_counter()
            executor.submit(attempt, lambda a, outcome, done=done: done.set_result(outcome))
            await asyncio.wait_for(done, 30)
            if number >= 20:  # the first ones warm connections and imports
                samples.append(time.perf_counter() - started)

    try:
        asyncio.run(main())
    finally:
        executor.close()
    return samples


def plain_round_trips(redis_url: str, rounds: int) -> list[float]:
    import redis

    echo = subprocess.Popen([sys.executable, "-c", ECHO, redis_url], stdout=subprocess.PIPE)
    try:
        assert echo.stdout is not None and echo.stdout.readline().strip() == b"ready"
        client = redis.Redis.from_url(redis_url)
        last = "0-0"
        samples = []
        for number in range(rounds + 20):
            started = time.perf_counter()
            client.xadd("bench:ping", {"n": number})
            found = client.xread({"bench:pong": last}, count=1, block=10_000)
            last = found[0][1][0][0]
            if number >= 20:
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        echo.kill()
        echo.wait()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 tasks and 200 round trips")
    parser.add_argument("--tasks", type=int, help="fan-out width (default 10,000; 2,000 with --quick)")
    parser.add_argument("--rounds", type=int, help="latency round trips (default 500; 200 with --quick)")
    arguments = parser.parse_args()
    width = arguments.tasks or (2_000 if arguments.quick else 10_000)
    rounds = arguments.rounds or (200 if arguments.quick else 500)
    with tempfile.TemporaryDirectory(prefix="fb-bench-distributed-") as scratch:
        folder = Path(scratch)
        server = private_redis(folder)
        try:
            print(f"fan-out of {width:,} short python tasks (isolation: thread), {os.cpu_count()} CPU(s)")
            for label, rate, ratio in throughput(server.url, server.flush, width, folder):
                print(f"  {label:<22} {rate:>10,.0f} tasks/s   {ratio:5.2f}x the local runner")
            server.flush()
            plain = plain_round_trips(server.url, rounds)
            server.flush()
            workers = start_workers(server.url, 1, folder)
            try:
                remote = executor_round_trips(server.url, rounds)
            finally:
                stop_workers(workers)
            print(f"dispatch latency, {rounds} sequential round trips (submit -> on_done)")
            for label, samples in (("XADD/XREADGROUP floor", plain), ("RedisStreamsExecutor", remote)):
                p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
                print(f"  {label:<22} P50 {p50 * 1e3:7.2f} ms   P99 {p99 * 1e3:7.2f} ms   mean"
                      f" {statistics.fmean(samples) * 1e3:7.2f} ms")  # fmt: skip
        finally:
            server.stop(kill=True)


if __name__ == "__main__":
    main()
