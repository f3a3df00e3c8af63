"""100 clients follow one 1,000-task run over SSE: each sees every event, in order (issue 13's
load test at CI scale; bench/ui_live_clients.py runs the 10,000-task version and times it)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from serve_process import ServeProcess

CLIENTS = 100
TASKS = 1000


def fanout_yaml(width: int, hold_seconds: float) -> str:
    """A root that holds the run open (so clients join live), ``width`` tasks after it, a sink."""
    lines = ["name: wide", "tasks:", f"  - {{name: root, type: shell, config: {{command: 'sleep {hold_seconds}'}}}}"]
    lines += [f"  - {{name: t{i}, type: python, depends_on: [root], config: {{callable: 'builtins:int'}}}}"
              for i in range(width - 2)]  # fmt: skip
    lines.append("  - name: sink\n    type: python\n    config: {callable: 'builtins:int'}\n    depends_on: [t0]")
    return "\n".join(lines) + "\n"


async def follow(url: str, run_id: str, joined: list[float]) -> list[int]:
    seqs: list[int] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=120) as client,
        client.stream("GET", f"/api/v1/runs/{run_id}/events/stream") as response,
    ):
        assert response.status_code == 200
        joined.append(time.time())
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"seq"' in line:
                seqs.append(json.loads(line[6:])["seq"])
    return seqs


def test_a_hundred_live_clients_each_see_every_event_of_a_thousand_task_run(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    started = client.post("/api/v1/runs", json={"yaml": fanout_yaml(TASKS, 4)})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]

    joined: list[float] = []

    async def all_clients() -> list[list[int]]:
        return list(await asyncio.gather(*(follow(rocksdb_server.url, run_id, joined) for _ in range(CLIENTS))))

    seen = asyncio.run(all_clients())
    assert len(joined) == CLIENTS
    summary = client.get(f"/api/v1/runs/{run_id}").json()["summary"]
    assert summary["status"] == "succeeded"
    expected = list(range(1, summary["last_seq"] + 1))
    assert summary["last_seq"] > 2 * TASKS
    assert all(seqs == expected for seqs in seen), [len(seqs) for seqs in seen if seqs != expected][:5]
    assert max(joined) < summary["finished_at"]  # every client joined while the run was going: it followed it live
