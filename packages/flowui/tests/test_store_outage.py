"""A dead Redis under a running server: /healthz says 503 with the reason, the API answers
503 in its error shape (never a 500 or a hang), and the server still stops with exit 0."""

from __future__ import annotations

from pathlib import Path

from serve_process import ServeProcess

from flowbuilder_contracts.redis_server import RedisServer


def test_a_dead_store_is_503_with_a_reason(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    server = ServeProcess(f"{redis.url}?retry_seconds=2", tmp_path)  # the store gives up after 2 s, not 30
    try:
        assert server.client.get("/healthz").status_code == 200
        redis.stop(kill=True)
        health = server.client.get("/healthz")
        assert health.status_code == 503 and "store" in health.json()["reason"]
        listed = server.client.get("/api/v1/runs")
        assert listed.status_code == 503, listed.text
        assert listed.json()["error"]["reason"]
        assert "cannot reach Redis" in listed.json()["error"]["reason"]
        assert server.terminate() == 0
        assert "Traceback" not in server.stderr
    finally:
        server.stop()
        redis.stop(kill=True)
