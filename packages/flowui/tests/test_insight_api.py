"""The REST routes that close issue 13's UI gaps, on a real ``flowbuilder serve`` (RocksDB).

``/task-types`` (config schemas for the Designer's form), ``/runs/{id}/definition`` (the DAG
a run was started with, not the workflow's newest version), ``/workflows/{name}/stats``
(flowbuilder-storage's per-task history) and ``/audit`` (admins only, paged).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from serve_process import ServeProcess, as_role, secured_serve
from test_serve_api import GREET, slow, start, wait_event, wait_status

ONE_TASK = 'name: greet\ntasks:\n  - {name: only, type: shell, config: {command: "echo one"}}\n'


def store_version(client: httpx.Client, yaml: str, **headers: str) -> None:
    response = client.post("/api/v1/workflows/greet/versions", content=yaml,
                           headers={"content-type": "application/yaml", **headers})  # fmt: skip
    assert response.status_code == 201, response.text


def test_task_types_carry_their_config_schema(rocksdb_server: ServeProcess) -> None:
    listed = rocksdb_server.client.get("/api/v1/task-types").json()["task_types"]
    by_name = {item["name"]: item for item in listed}
    shell = by_name["shell"]
    assert shell["plugin"] and "command" in shell["config_schema"]["properties"]
    assert "command" in shell["config_schema"].get("required", [])
    assert [item["name"] for item in listed] == sorted(by_name)


def test_a_run_shows_the_dag_it_was_started_with_after_a_new_version(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    store_version(client, GREET)
    started = client.post("/api/v1/runs", json={"workflow": "greet"})
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    wait_status(client, run_id, "succeeded")
    store_version(client, ONE_TASK)
    assert [t["name"] for t in client.get("/api/v1/workflows/greet").json()["dag"]["tasks"]] == ["only"]
    own = client.get(f"/api/v1/runs/{run_id}/definition").json()
    assert own["workflow"] == "greet" and "echo done" in own["yaml"]
    assert {t["name"]: t["depends_on"] for t in own["dag"]["tasks"]} == {"hello": [], "after": ["hello"]}
    missing = client.get("/api/v1/runs/no-such-run/definition")
    assert missing.status_code == 404 and missing.json()["error"]["reason"]


def test_workflow_stats_give_per_task_percentiles_and_the_slowest_runs(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    runs = [start(client, GREET) for _ in range(3)]
    for run_id in runs:
        wait_status(client, run_id, "succeeded")
    stats = client.get("/api/v1/workflows/greet/stats").json()
    assert stats["runs"] == 3
    tasks = {row["task"]: row for row in stats["tasks"]}
    assert set(tasks) == {"hello", "after"}
    assert tasks["hello"]["executions"] == 3 and tasks["hello"]["success_rate"] == 1.0
    assert 0 <= tasks["hello"]["p50"] <= tasks["hello"]["p95"]
    assert {row["run_id"] for row in stats["slowest_runs"]} == set(runs)
    unknown = client.get("/api/v1/workflows/nothing-here/stats")
    assert unknown.status_code == 404 and "nothing-here" in unknown.json()["error"]["reason"]
    assert client.get("/api/v1/workflows/greet/stats", params={"top": 0}).status_code == 422


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[ServeProcess]:
    server = secured_serve(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_the_audit_log_pages_newest_first_for_admins_only(secured: ServeProcess) -> None:
    client = secured.client
    run_id = start_as(client, slow("long", 60))
    wait_event_as(client, run_id)
    assert client.post(f"/api/v1/runs/{run_id}/cancel", headers=as_role("operator")).status_code == 202
    assert client.get("/api/v1/audit", headers=as_role("operator")).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    deadline = time.monotonic() + 20  # the audit writer appends off the request path
    while True:
        first = client.get("/api/v1/audit", params={"limit": 1}, headers=as_role("admin")).json()
        newest = first["records"][0] if first["records"] else {}
        if newest.get("action") == "POST /api/v1/runs/{run_id}/cancel" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert newest["action"] == "POST /api/v1/runs/{run_id}/cancel" and newest["actor"] == "operator-user"
    assert newest["target"] == f"run_id={run_id}" and newest["role"] == "operator"
    assert first["next_after"] is not None and len(first["records"]) == 1
    older = client.get("/api/v1/audit", params={"after": first["next_after"]}, headers=as_role("admin")).json()
    assert older["records"][0]["action"] == "POST /api/v1/runs" and older["records"][0]["seq"] < newest["seq"]
    bad = client.get("/api/v1/audit", params={"after": "x"}, headers=as_role("admin"))
    assert bad.status_code == 422 and bad.json()["error"]["reason"]


def start_as(client: httpx.Client, yaml: str) -> str:
    response = client.post("/api/v1/runs", json={"yaml": yaml}, headers=as_role("operator"))
    assert response.status_code == 201, response.text
    return str(response.json()["run_id"])


def wait_event_as(client: httpx.Client, run_id: str) -> None:
    client.headers.update(as_role("viewer"))
    try:
        wait_event(client, run_id, "task_started")
    finally:
        del client.headers["authorization"]
