"""The REST API of a real ``flowbuilder serve`` process, on RocksDB and on Redis, driven with httpx."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from serve_process import ServeProcess, sse_events

GREET = """\
name: greet
params:
  who: {type: string, default: world}
  times: {type: integer, default: 1}
tasks:
  - name: hello
    type: shell
    config: {command: "echo hello ${{ params.who }}"}
  - name: after
    type: shell
    depends_on: [hello]
    config: {command: "echo done"}
"""


def slow(name: str, seconds: float) -> str:
    return f"""\
name: {name}
tasks:
  - name: first
    type: shell
    config: {{command: "sleep {seconds}"}}
  - name: second
    type: shell
    depends_on: [first]
    config: {{command: "echo second"}}
"""


def start(client: httpx.Client, yaml: str, **params: Any) -> str:
    response = client.post("/api/v1/runs", json={"yaml": yaml, "params": params})
    assert response.status_code == 201, response.text
    return str(response.json()["run_id"])


def wait_status(client: httpx.Client, run_id: str, wanted: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shown = client.get(f"/api/v1/runs/{run_id}").json()
        if shown["summary"]["status"] == wanted:
            return dict(shown)
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)


def event_kinds(client: httpx.Client, run_id: str) -> list[str]:
    return [event["kind"] for event in client.get(f"/api/v1/runs/{run_id}/events").json()["events"]]


def wait_event(client: httpx.Client, run_id: str, kind: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while kind not in event_kinds(client, run_id):
        assert time.monotonic() < deadline, event_kinds(client, run_id)
        time.sleep(0.1)


def test_a_run_started_with_params_succeeds_and_the_stream_shows_every_event_in_order(server: ServeProcess) -> None:
    client = server.client
    run_id = start(client, GREET, who="bob")
    frames = sse_events(client, f"/api/v1/runs/{run_id}/events/stream")
    events = [json.loads(frame["data"]) for frame in frames if frame.get("event") == "run_event"]
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert [frame["id"] for frame in frames if "id" in frame] == [str(e["seq"]) for e in events]
    assert events[-1]["kind"] == "run_finished" and events[-1]["data"]["status"] == "succeeded"
    assert frames[-1]["event"] == "end"
    shown = wait_status(client, run_id, "succeeded")
    assert shown["params"] == {"who": "bob", "times": 1}
    assert shown["tasks"]["hello"]["status"] == "succeeded"
    assert client.get(f"/api/v1/runs/{run_id}/outputs").json()["outputs"]["hello"] == "hello bob"
    logs = client.get(f"/api/v1/runs/{run_id}/logs", params={"task": "hello"}).json()["lines"]
    assert [line["text"] for line in logs] == ["hello bob"]
    listed = client.get("/api/v1/runs", params={"workflow": "greet", "status": "succeeded"}).json()
    assert [run["run_id"] for run in listed["runs"]] == [run_id]
    page = client.get(f"/api/v1/runs/{run_id}/events", params={"after": 2, "limit": 2}).json()
    assert [event["seq"] for event in page["events"]] == [3, 4] and page["next_after"] == 4


def test_a_reconnecting_client_resumes_after_its_last_event_id(server: ServeProcess) -> None:
    run_id = start(server.client, GREET)
    wait_status(server.client, run_id, "succeeded")
    frames = sse_events(server.client, f"/api/v1/runs/{run_id}/events/stream", {"Last-Event-ID": "3"})
    assert next(int(frame["id"]) for frame in frames if "id" in frame) == 4


def test_listing_pages_with_the_cursor(server: ServeProcess) -> None:
    ids = {start(server.client, GREET) for _ in range(3)}
    first = server.client.get("/api/v1/runs", params={"limit": 2}).json()
    second = server.client.get("/api/v1/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert {run["run_id"] for run in first["runs"] + second["runs"]} == ids and second["next_cursor"] is None


def test_cancel_pause_unpause_and_signal_reach_the_run(server: ServeProcess) -> None:
    client = server.client
    long_run = start(client, slow("long", 60))
    wait_event(client, long_run, "task_started")
    assert client.post(f"/api/v1/runs/{long_run}/cancel", json={"reason": "test"}).status_code == 202
    wait_status(client, long_run, "cancelled")

    paused = start(client, slow("pausable", 2))
    wait_event(client, paused, "task_started")
    assert client.post(f"/api/v1/runs/{paused}/pause").status_code == 202
    wait_event(client, paused, "run_paused")
    assert client.post(f"/api/v1/runs/{paused}/signal", json={"name": "go", "payload": {"n": 1}}).status_code == 202
    wait_event(client, paused, "run_signalled")
    time.sleep(2.5)  # `first` has finished; paused, `second` must not start
    assert client.get(f"/api/v1/runs/{paused}").json()["tasks"].get("second", {}).get("status") in (None, "pending")
    assert client.post(f"/api/v1/runs/{paused}/unpause").status_code == 202
    wait_status(client, paused, "succeeded")


def test_a_failed_run_is_retried_from_its_failed_task(server: ServeProcess, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    yaml = f"""\
name: flaky
tasks:
  - name: check
    type: shell
    config: {{command: "test -f {marker}"}}
"""
    run_id = start(server.client, yaml)
    wait_status(server.client, run_id, "failed")
    marker.write_text("now it exists")
    assert server.client.post(f"/api/v1/runs/{run_id}/retry").status_code == 201
    shown = wait_status(server.client, run_id, "succeeded")
    assert shown["tasks"]["check"]["attempts"] >= 1


def test_workflows_are_validated_with_located_errors_stored_versioned_and_started_by_name(server: ServeProcess) -> None:
    client = server.client
    broken = (
        "name: broken\ntasks:\n  - name: a\n    type: shell\n    depends_on: [missing]\n    config: {command: echo}\n"
    )
    checked = client.post("/api/v1/workflows/validate", content=broken, headers={"content-type": "application/yaml"})
    assert checked.status_code == 200
    body = checked.json()
    assert body["valid"] is False and body["errors"][0]["line"] == 5 and "missing" in body["errors"][0]["message"]
    assert client.post("/api/v1/workflows/validate", content=GREET).json() == {"valid": True, "workflow": "greet",
                                                                               "errors": []}  # fmt: skip
    stored = client.post("/api/v1/workflows/greet/versions", content=GREET)
    assert stored.status_code == 201 and stored.json()["versions"][0]["number"] == 1
    again = client.post("/api/v1/workflows/greet/versions", content=GREET.replace("echo done", "echo done2"))
    assert again.json()["versions"][0]["number"] == 2
    assert [v["number"] for v in client.get("/api/v1/workflows/greet/versions").json()["versions"]] == [1, 2]
    shown = client.get("/api/v1/workflows/greet").json()
    assert shown["version"]["number"] == 2 and "echo done2" in shown["yaml"]
    assert {t["name"]: t["depends_on"] for t in shown["dag"]["tasks"]} == {"hello": [], "after": ["hello"]}
    assert "greet" in [w["name"] for w in client.get("/api/v1/workflows").json()["workflows"]]
    started = client.post("/api/v1/runs", json={"workflow": "greet", "params": {"who": "ann"}})
    assert started.status_code == 201
    outputs = wait_status(client, started.json()["run_id"], "succeeded")["tasks"]["after"]["output"]
    assert outputs == "done2"


def test_bad_input_gets_a_json_reason_never_a_5xx(server: ServeProcess) -> None:
    client = server.client

    def error_of(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"]["status"] == status and body["error"]["reason"]
        return str(body["error"]["reason"])

    assert "no run" in error_of(client.get("/api/v1/runs/no-such-run"), 404)
    error_of(client.get("/api/v1/runs/no-such-run/events/stream"), 404)
    assert "cursor" in error_of(client.get("/api/v1/runs", params={"cursor": "!!"}), 400)
    assert "integer" in error_of(client.post("/api/v1/runs", json={"yaml": GREET, "params": {"times": "x"}}), 422)
    assert "unknown param" in error_of(client.post("/api/v1/runs", json={"yaml": GREET, "params": {"nope": 1}}), 422)
    error_of(client.post("/api/v1/runs", json={"yaml": GREET, "surprise": 1}), 422)
    error_of(client.post("/api/v1/runs", json={}), 400)
    error_of(client.post("/api/v1/workflows/validate", content=b"name: \xff\xfe"), 400)
    error_of(client.post("/api/v1/workflows/validate", content=b"x" * (3 * 1024 * 1024)), 413)
    for depth in (100, 100_000):  # past the API's limit; past Python's recursion limit
        deep = b'{"params": ' + b"[" * depth + b"]" * depth + b"}"
        assert "nested" in error_of(client.post("/api/v1/runs", content=deep,
                                                headers={"content-type": "application/json"}), 400)  # fmt: skip
    error_of(client.post("/api/v1/runs", content=b"{not json", headers={"content-type": "application/json"}), 422)
    error_of(client.get("/api/v1/runs", params={"limit": 10**9}), 422)
    finished = start(client, GREET)
    wait_status(client, finished, "succeeded")
    assert "finished" in error_of(client.post(f"/api/v1/runs/{finished}/pause"), 409)
    error_of(client.post(f"/api/v1/runs/{finished}/annotations", json={"kind": "audit"}), 400)


def test_annotations_anomalies_plugins_and_stats(server: ServeProcess) -> None:
    client = server.client
    run_id = start(client, GREET)
    wait_status(client, run_id, "succeeded")
    added = client.post(f"/api/v1/runs/{run_id}/annotations", json={"kind": "anomaly", "payload": {"score": 0.9},
                                                                      "task": "hello"})  # fmt: skip
    assert added.status_code == 201
    client.post(f"/api/v1/runs/{run_id}/annotations", json={"kind": "note", "payload": "looked at it"})
    unknown = client.post(f"/api/v1/runs/{run_id}/annotations", json={"kind": "note", "task": "helo"})
    assert unknown.status_code == 400, unknown.text  # was stored, about no task of the run
    assert unknown.json()["error"]["reason"] == f"run {run_id} has no task 'helo' (its tasks: after, hello)"
    kinds = [a["kind"] for a in client.get(f"/api/v1/runs/{run_id}/annotations").json()["annotations"]]
    assert kinds == ["anomaly", "note"]
    assert [a["payload"] for a in client.get(f"/api/v1/runs/{run_id}/anomalies").json()["annotations"]] == [
        {"score": 0.9}
    ]
    plugins = {p["name"]: p for p in client.get("/api/v1/plugins").json()["plugins"]}
    assert "rocksdb://" in plugins["storage"]["provides"]["store_schemes"] and "ui" in plugins
    assert any("shell" in plugin["provides"].get("task_types", []) for plugin in plugins.values())
    stats = client.get("/api/v1/stats", params={"workflow": "greet"}).json()
    assert stats["by_status"] == {"succeeded": 1} and stats["success_rate"] == 1.0


def test_health_metrics_and_a_clean_exit_on_sigterm(server: ServeProcess) -> None:
    client = server.client
    assert client.get("/healthz").json()["status"] == "ok"
    done = start(client, GREET)
    wait_status(client, done, "succeeded")
    running = start(client, slow("long", 60))
    wait_event(client, running, "task_started")
    text = client.get("/metrics").text
    assert 'flowbuilder_runs_finished_total{status="succeeded"} 1.0' in text
    assert "flowbuilder_runs_running 1.0" in text and "flowbuilder_attempts_running 1.0" in text
    assert 'flowbuilder_task_duration_seconds_count{outcome="succeeded"} 2.0' in text
    assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.1")
    assert server.terminate() == 0
    assert "cancelled 1 run" in server.stderr
    assert "Traceback" not in server.stderr
    from flowbuilder import build_plugin_host

    with build_plugin_host().open_store(server.store_url) as store:  # the server let go of it
        assert store.get_run(running).status.value == "cancelled"
        assert store.get_run(done).status.value == "succeeded"


def test_a_posted_workflow_cannot_make_the_server_read_its_own_files(server: ServeProcess) -> None:
    posted = "name: sneaky\ntasks:\n  - name: child\n    type: workflow\n    config: {path: /etc/hostname}\n"
    checked = server.client.post("/api/v1/workflows/validate", content=posted).json()
    assert checked["valid"] is False
    assert [(e["line"], e["column"]) for e in checked["errors"]] == [(5, 20)]
    assert "cannot name a sub-workflow file" in checked["errors"][0]["message"]
    started = server.client.post("/api/v1/runs", json={"yaml": posted})
    assert started.status_code == 422 and "cannot name a sub-workflow file" in started.json()["error"]["reason"]


def test_a_secret_param_is_never_returned(server: ServeProcess) -> None:
    yaml = """\
name: secretive
params:
  token: {type: string, secret: true}
tasks:
  - name: use
    type: shell
    config: {command: "echo token is ${{ params.token }}"}
"""
    planted = "s3cr3t-Value-42"
    run_id = start(server.client, yaml, token=planted)
    wait_status(server.client, run_id, "succeeded")
    stream = sse_events(server.client, f"/api/v1/runs/{run_id}/events/stream")
    bodies = [
        server.client.get(f"/api/v1/runs/{run_id}{suffix}").text for suffix in ("", "/events", "/logs", "/outputs")
    ]
    assert bodies[0] and all(planted not in body for body in [*bodies, json.dumps(stream)])
    assert "***" in bodies[0] and "***" in bodies[2]


def test_a_run_whose_output_nests_hundreds_deep_is_shown_cut_never_a_500(server: ServeProcess) -> None:
    """A task may print JSON nested deeper than the answers' serializer goes (255 levels); the
    run, its events and outputs are still shown (the web UI loads all three), cut with core's
    marker past 100 levels, and the live stream shows the output whole."""
    yaml = """\
name: deep
tasks:
  - name: nest
    type: shell
    config: {command: "python3 -c \\"print('[' * 400 + '1' + ']' * 400)\\""}
"""
    run_id = start(server.client, yaml)
    wait_status(server.client, run_id, "succeeded")

    def depth(value: Any) -> int:
        levels = 0
        while isinstance(value, list):
            value, levels = value[0], levels + 1
        assert value in (1, "<too deep>")
        return levels

    output = server.client.get(f"/api/v1/runs/{run_id}/outputs").json()["outputs"]["nest"]
    assert depth(output) == 100
    shown = server.client.get(f"/api/v1/runs/{run_id}").json()
    assert depth(shown["tasks"]["nest"]["output"]) == 99  # the task's record is the first of the 100 levels
    events = server.client.get(f"/api/v1/runs/{run_id}/events").json()["events"]
    succeeded = next(event for event in events if event["kind"] == "task_succeeded")
    assert depth(succeeded["data"]["output"]) < 100
    streamed = [json.loads(e["data"]) for e in sse_events(server.client, f"/api/v1/runs/{run_id}/events/stream")]
    whole = next(e for e in streamed if e.get("kind") == "task_succeeded")["data"]["output"]
    assert depth(whole) == 400
