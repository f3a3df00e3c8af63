"""Live clients on a big run: does following a run over SSE slow it down? (issue 13's load test)

Starts a real ``flowbuilder serve`` on a RocksDB store in a temp folder, then runs the same
workflow twice through ``POST /api/v1/runs``: a root task that waits for a gate file, then
TASKS in-process tasks (``builtins:int``). Once with no client, once with CLIENTS clients
that all follow ``/events/stream`` before the gate opens; each client's events are checked
(every one, in order). Prints each run's time (from opening the gate to ``finished_at``),
their ratio (issue 13 wants <= 1.5), and a plain-Python floor measured in the same process:
calling the tasks' callable TASKS times and JSON-encoding 2*TASKS small dicts once. The
clients run in this process on the same machine, so they compete with the server for CPU.

Run: ``python bench/ui_live_clients.py [TASKS] [CLIENTS]`` (default 10000 and 100).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def workflow(tasks: int, gate: Path) -> str:
    wait = f"while [ ! -e {gate} ]; do sleep 0.02; done"
    lines = ["name: wide", "tasks:", f'  - {{name: root, type: shell, config: {{command: "{wait}"}}}}']
    lines += [f"  - {{name: t{i}, type: python, depends_on: [root], config: {{callable: 'builtins:int'}}}}"
              for i in range(tasks - 1)]  # fmt: skip
    return "\n".join(lines) + "\n"


async def follow(url: str, run_id: str, joined: asyncio.Queue[None]) -> list[int]:
    seqs: list[int] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=600) as client,
        client.stream("GET", f"/api/v1/runs/{run_id}/events/stream") as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith('data: {"seq"'):
                if not seqs:
                    joined.put_nowait(None)
                seqs.append(json.loads(line[6:])["seq"])
    return seqs


def run_once(url: str, folder: Path, tasks: int, clients: int) -> float:
    gate = folder / f"gate-{clients}"
    client = httpx.Client(base_url=url, timeout=600)
    run_id = client.post("/api/v1/runs", json={"yaml": workflow(tasks, gate)}).json()["run_id"]

    async def everyone() -> tuple[float, list[list[int]]]:
        joined: asyncio.Queue[None] = asyncio.Queue()
        following = [asyncio.ensure_future(follow(url, run_id, joined)) for _ in range(clients)]
        for _ in range(clients):
            await joined.get()
        opened = time.time()
        gate.touch()
        return opened, list(await asyncio.gather(*following))

    opened, seen = asyncio.run(everyone())
    while (summary := client.get(f"/api/v1/runs/{run_id}").json()["summary"])["finished_at"] is None:
        time.sleep(0.05)
    expected = list(range(1, summary["last_seq"] + 1))
    if clients:
        complete = sum(seqs == expected for seqs in seen)
        print(f"  {complete}/{clients} clients saw all {len(expected)} events in order")
    return float(summary["finished_at"] - opened)


def floor(tasks: int) -> float:
    task = int  # the tasks' callable
    started = time.perf_counter()
    for _ in range(tasks):
        task()
    for i in range(2 * tasks):
        json.dumps({"seq": i, "kind": "task_succeeded", "task": f"t{i}", "data": {"output": 0}})
    return time.perf_counter() - started


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as folder:
        err = Path(folder) / "serve.err"
        with err.open("wb") as stderr:
            server = subprocess.Popen([str(Path(sys.executable).with_name("flowbuilder")), "serve", "--port", "0",
                                       "--store", f"rocksdb://{folder}/store"], stderr=stderr)  # fmt: skip
        try:
            while not (found := re.search(r"listening on (\S+) ", err.read_text())):
                if server.poll() is not None:
                    raise SystemExit(err.read_text())
                time.sleep(0.05)
            url = found.group(1)
            print(f"{tasks} tasks, {clients} live clients, RocksDB, one server process")
            alone = run_once(url, Path(folder), tasks, 0)
            print(f"  run with no client:      {alone:7.2f} s")
            followed = run_once(url, Path(folder), tasks, clients)
            print(f"  run with {clients} clients:    {followed:7.2f} s   ratio {followed / alone:.2f}x")
            print(f"  plain-Python floor:      {floor(tasks):7.3f} s   (int() x{tasks} + json.dumps x{2 * tasks})")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
