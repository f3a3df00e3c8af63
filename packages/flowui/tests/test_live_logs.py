"""A task's log lines reach ``flowbuilder serve``'s readers while the task still runs.

The task prints a line and then waits on a gate file that the test opens only once it has
read the line through the API; a runner that keeps lines until the task's next event never
lets it out, and the test fails at its (generous) wait bound.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from serve_process import ServeProcess

LINE_WAIT_SECONDS = 15.0
"""A bound on the wait, far beyond the runner's flush interval: not a measure of it."""


def _gated(gate: Path) -> str:
    command = f"echo 'first line'; for i in $(seq 1200); do [ -e '{gate}' ] && exit 0; sleep 0.05; done; exit 1"
    return f"name: gated\ntasks:\n  - name: slow\n    type: shell\n    config: {{command: {json.dumps(command)}}}\n"


def test_a_running_tasks_line_is_served_before_its_task_ends(server: ServeProcess, tmp_path: Path) -> None:
    """The live event stream (SSE) shows the task started and not ended while /logs already has its line."""
    client = server.client
    gate = tmp_path / "gate"
    response = client.post("/api/v1/runs", json={"yaml": _gated(gate)})
    assert response.status_code == 201, response.text
    run_id = response.json()["run_id"]
    kinds: list[str] = []
    ended = threading.Event()

    def follow() -> None:  # the SSE stream a browser follows, read as it arrives
        with client.stream("GET", f"/api/v1/runs/{run_id}/events/stream") as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    data = json.loads(line[len("data: ") :])
                    if isinstance(data, dict) and "kind" in data:
                        kinds.append(data["kind"])
        ended.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        deadline = time.monotonic() + LINE_WAIT_SECONDS
        lines: list[dict[str, object]] = []
        while (not lines or "task_started" not in kinds) and time.monotonic() < deadline:
            lines = client.get(f"/api/v1/runs/{run_id}/logs", params={"task": "slow"}).json()["lines"]
            time.sleep(0.05)
        seen_then = list(kinds)
        task_then = client.get(f"/api/v1/runs/{run_id}").json()["tasks"]["slow"]["status"]
    finally:
        gate.touch()
    assert [line["text"] for line in lines] == ["first line"], f"no line within {LINE_WAIT_SECONDS}s"
    assert task_then == "running"
    assert "task_started" in seen_then and "task_succeeded" not in seen_then
    assert ended.wait(60), "the event stream did not end with the run"
    assert kinds[-1] == "run_finished" and "task_succeeded" in kinds
    after = client.get(f"/api/v1/runs/{run_id}/logs", params={"task": "slow"}).json()["lines"]
    assert [line["text"] for line in after] == ["first line"]  # stored once
