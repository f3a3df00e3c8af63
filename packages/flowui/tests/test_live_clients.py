"""100 clients follow one 1,000-task run over SSE: each sees every event, in order (issue 13's
load test at CI scale; bench/ui_live_clients.py runs the 10,000-task version and times it).

The run's first task waits for a file that the test writes once every client has received
its first frame, so all clients are following live (not reading history) whatever the load."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from serve_process import ServeProcess

CLIENTS = 100
TASKS = 1000


def fanout_yaml(width: int, gate: Path) -> str:
    """A root that waits for ``gate``, ``width - 2`` tasks after it, and a sink."""
    wait = f"while [ ! -e {gate} ]; do sleep 0.02; done"
    lines = ["name: wide", "tasks:", f'  - {{name: root, type: shell, config: {{command: "{wait}"}}}}']
    lines += [f"  - {{name: t{i}, type: python, depends_on: [root], config: {{callable: 'builtins:int'}}}}"
              for i in range(width - 2)]  # fmt: skip
    lines.append("  - name: sink\n    type: python\n    config: {callable: 'builtins:int'}\n    depends_on: [t0]")
    return "\n".join(lines) + "\n"


async def follow(url: str, run_id: str, joined: asyncio.Queue[None]) -> list[int]:
    seqs: list[int] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=300) as client,
        client.stream("GET", f"/api/v1/runs/{run_id}/events/stream") as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"seq"' in line:
                if not seqs:
                    joined.put_nowait(None)
                seqs.append(json.loads(line[6:])["seq"])
    return seqs


def test_a_hundred_live_clients_each_see_every_event_of_a_thousand_task_run(
    rocksdb_server: ServeProcess, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    client = rocksdb_server.client
    started = client.post("/api/v1/runs", json={"yaml": fanout_yaml(TASKS, gate)})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]

    async def all_clients() -> list[list[int]]:
        joined: asyncio.Queue[None] = asyncio.Queue()
        following = [asyncio.ensure_future(follow(rocksdb_server.url, run_id, joined)) for _ in range(CLIENTS)]
        for _ in range(CLIENTS):
            await joined.get()
        running = client.get(f"/api/v1/runs/{run_id}").json()
        assert running["summary"]["status"] == "running"  # every client joined before the run went on
        gate.touch()
        return list(await asyncio.gather(*following))

    seen = asyncio.run(all_clients())
    summary = client.get(f"/api/v1/runs/{run_id}").json()["summary"]
    assert summary["status"] == "succeeded"
    expected = list(range(1, summary["last_seq"] + 1))
    assert summary["last_seq"] > 2 * TASKS
    assert all(seqs == expected for seqs in seen), [len(seqs) for seqs in seen if seqs != expected][:5]
