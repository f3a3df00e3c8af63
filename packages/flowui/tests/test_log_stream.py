# ruff: noqa: F811 - the pytest fixture imported from flowbuilder.testing is a parameter here
"""``GET /api/v1/runs/{id}/logs/stream``: a task's log lines over SSE while it runs, through a real
``flowbuilder serve`` (RocksDB and Redis), resumable with Last-Event-ID, ending with the run.

The live test's task prints a line and then waits on a gate file that the test opens only once
the line has arrived over the stream: a stream that sends lines later than that (at the task's
end, or only after polling) never lets it out, and the test fails at its generous wait bound.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import httpx
from serve_process import ServeProcess, sse_events

from flowbuilder.interfaces.logs import LogLine
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.testing import memory_store  # noqa: F401 - a pytest fixture
from flowbuilder_contracts.store import run_events
from flowui.live import MAX_FOLLOWED_RUNS, LiveFeeds

LINE_WAIT_SECONDS = 20.0
"""A bound on the wait, far beyond the runner's 0.25 s flush: not a measure of it."""


def _gated(gate: Path) -> str:
    command = (
        f"echo 'first line'; for i in $(seq 1200); do [ -e '{gate}' ] && break; sleep 0.05; done; echo 'second line'"
    )
    return f"name: gated\ntasks:\n  - name: slow\n    type: shell\n    config: {{command: {json.dumps(command)}}}\n"


THREE = "name: three\ntasks:\n  - name: say\n    type: shell\n    config: {command: 'echo a; echo b; echo c'}\n"


def _start(client: httpx.Client, yaml: str) -> str:
    response = client.post("/api/v1/runs", json={"yaml": yaml})
    assert response.status_code == 201, response.text
    return str(response.json()["run_id"])


def test_a_line_arrives_over_the_stream_while_its_task_runs(server: ServeProcess, tmp_path: Path) -> None:
    client = server.client
    gate = tmp_path / "gate"
    run_id = _start(client, _gated(gate))
    frames: list[dict[str, str]] = []
    status_when_first_line: list[str] = []
    done = threading.Event()

    def follow() -> None:  # reads frames as they arrive, like the browser's reader
        current: dict[str, str] = {}
        with client.stream("GET", f"/api/v1/runs/{run_id}/logs/stream", params={"task": "slow"}) as response:
            for line in response.iter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    field, _, value = line.partition(": ")
                    current[field] = value
                    continue
                if current:
                    frames.append(current)
                    if current.get("event") == "log" and not gate.exists():
                        task = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["slow"]["status"]
                        status_when_first_line.append(task)
                        gate.touch()  # only now may the task go on
                    current = {}
        done.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        assert done.wait(LINE_WAIT_SECONDS + 30), "the log stream did not end with the run"
    finally:
        gate.touch()
    assert status_when_first_line == ["running"], "the first line did not arrive while its task ran"
    logs = [frame for frame in frames if frame.get("event") == "log"]
    assert [json.loads(frame["data"])["text"] for frame in logs] == ["first line", "second line"]
    assert [frame["id"] for frame in logs] == ["1", "2"]
    assert frames[-1]["event"] == "end"
    page = client.get(f"/api/v1/runs/{run_id}/logs", params={"task": "slow"}).json()["lines"]
    assert [json.loads(frame["data"]) for frame in logs] == page  # the same JSON as /logs
    assert client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["slow"]["status"] == "succeeded"


def test_a_reconnecting_client_resumes_after_its_last_event_id(server: ServeProcess) -> None:
    client = server.client
    run_id = _start(client, THREE)
    everything = sse_events(client, f"/api/v1/runs/{run_id}/logs/stream")  # follows the run to its end
    assert [json.loads(f["data"])["text"] for f in everything if f.get("event") == "log"] == ["a", "b", "c"]
    resumed = sse_events(client, f"/api/v1/runs/{run_id}/logs/stream", {"Last-Event-ID": "1"})
    assert [(f["id"], json.loads(f["data"])["text"]) for f in resumed if f.get("event") == "log"] == [
        ("2", "b"),
        ("3", "c"),
    ]
    assert resumed[-1]["event"] == "end"
    after = sse_events(client, f"/api/v1/runs/{run_id}/logs/stream?after=3")
    assert [f["event"] for f in after] == ["end"]


def test_an_unknown_run_is_404_and_a_bad_last_event_id_400_before_the_stream(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    missing = client.get("/api/v1/runs/no-such-run/logs/stream")
    assert missing.status_code == 404 and "no-such-run" in missing.json()["error"]["reason"]
    run_id = _start(client, THREE)
    bad = client.get(f"/api/v1/runs/{run_id}/logs/stream", headers={"Last-Event-ID": "x1"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["error"]["reason"]


def test_log_streams_share_the_followed_runs_limit_and_give_their_place_back(memory_store: MemoryStore) -> None:
    events = run_events("r1")
    memory_store.append_events("r1", events[:3], 0)  # running
    memory_store.append_logs("r1", [LogLine("only", 1, "stdout", "hi", 1.0)])
    feeds = LiveFeeds(memory_store)

    async def main() -> None:
        stream = feeds.log_stream("r1", None, 0)
        first = await stream.__anext__()
        assert '"text":"hi"' in first and first.startswith("id: 1\nevent: log\n")
        assert feeds.log_streams == 1
        feeds.log_streams += MAX_FOLLOWED_RUNS - 1  # as if the others were open
        assert not feeds.room_for_logs() and not feeds.room_for("another-run")
        feeds.log_streams -= MAX_FOLLOWED_RUNS - 1
        following = asyncio.ensure_future(stream.__anext__())  # parks in the store's wait
        await asyncio.sleep(0.1)
        following.cancel()  # the client left mid-wait
        await asyncio.wait({following})
        await stream.aclose()
        assert feeds.log_streams == 0 and feeds.room_for_logs()

    asyncio.run(asyncio.wait_for(main(), timeout=30))
