"""Wrong methods on a real ``flowbuilder serve``: 405 with an ``Allow`` that names every method
the path takes, in the API's error shape; HEAD is refused (the OpenAPI document lists no HEAD
operation) and never takes a live-stream slot."""

from __future__ import annotations

import httpx
from serve_process import ServeProcess
from test_serve_api import GREET, start, wait_status

from flowui.live import MAX_FOLLOWED_RUNS


def refused(response: httpx.Response) -> set[str]:
    """The methods a 405 allows (asserting its shape)."""
    assert response.status_code == 405, (response.request.method, response.request.url, response.text)
    if response.request.method != "HEAD":
        error = response.json()["error"]
        assert error["status"] == 405 and response.request.method in error["reason"]
    return {method.strip() for method in response.headers["allow"].split(",")}


def test_wrong_methods_get_405_with_every_allowed_method(rocksdb_server: ServeProcess) -> None:
    """The UI's catch-all took every GET and HEAD the API routes did not: they were 404s."""
    client = rocksdb_server.client
    run_id = start(client, GREET)
    wait_status(client, run_id, "succeeded")
    assert refused(client.get(f"/api/v1/runs/{run_id}/cancel")) == {"POST"}
    assert refused(client.head("/api/v1/runs")) == {"GET", "POST"}  # two routes share the path
    assert refused(client.put("/api/v1/runs", json={})) == {"GET", "POST"}
    assert refused(client.head(f"/api/v1/runs/{run_id}/logs")) == {"GET"}
    assert refused(client.delete(f"/api/v1/runs/{run_id}/events")) == {"GET"}
    assert refused(client.head("/healthz")) == {"GET"}  # was the UI's page: 200 whatever the store said
    assert refused(client.post("/runs/some-ui-page")) == {"GET", "HEAD"}
    assert client.get("/api/v1/no-such-route").status_code == 404
    assert client.head("/").status_code == 200  # the UI answers HEAD like GET
    assert client.get(f"/api/v1/runs/{run_id}/logs").status_code == 200
    assert "Traceback" not in rocksdb_server.stderr


def test_head_on_stream_routes_holds_no_live_slot(rocksdb_server: ServeProcess) -> None:
    client = rocksdb_server.client
    run_id = start(client, GREET)
    wait_status(client, run_id, "succeeded")
    for _ in range(MAX_FOLLOWED_RUNS + 20):
        for stream in ("events", "logs"):
            assert refused(client.head(f"/api/v1/runs/{run_id}/{stream}/stream")) == {"GET"}
    for stream in ("events", "logs"):
        with client.stream("GET", f"/api/v1/runs/{run_id}/{stream}/stream") as response:
            assert response.status_code == 200
            assert "event: end" in response.read().decode()
