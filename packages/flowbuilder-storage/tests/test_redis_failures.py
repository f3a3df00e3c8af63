"""Redis going away: retried with backoff, reported in one line when it persists; key prefixes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from redis_server import RedisServer, free_port

from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RedisStore


def test_an_unreachable_redis_is_a_one_line_error_and_a_non_zero_exit(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?connect_seconds=0.3"
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "runs", "list", "--store", url], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Redis at 127.0.0.1" in lines[0], result.stderr


def test_a_connection_lost_for_longer_than_the_budget_raises_store_error(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r")
    server.start()
    store = RedisStore.open(server.url + "?retry_seconds=0.3")
    try:
        server.stop()
        with pytest.raises(StoreError, match="cannot reach Redis"):
            store.last_seq("r")
    finally:
        store.close()


def test_appends_survive_a_redis_restart_within_the_retry_budget(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r")  # AOF on: the restarted server has every acknowledged write
    server.start()
    store = RedisStore.open(server.url + "?retry_seconds=20")
    try:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
        server.stop(kill=True)
        restart = threading.Timer(0.5, server.start)
        restart.start()
        started = time.monotonic()
        assert store.append_events("r", [RunEvent("r", 2, EventKind.RUN_STARTED)], 1) == 2
        restart.join()
        assert time.monotonic() - started >= 0.4  # it really waited for the server
        assert [e.seq for e in store.read_events("r")] == [1, 2]
    finally:
        store.close()
        server.stop()


def test_the_key_prefix_separates_stores_on_one_database(redis_url: str) -> None:
    with RedisStore.open(redis_url + "?prefix=team-a:") as a, RedisStore.open(redis_url + "?prefix=team-b:") as b:
        a.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)], 0)
        assert b.last_seq("r") == 0
        import redis

        keys = redis.Redis.from_url(redis_url).keys("*")
        assert keys and all(k.startswith((b"team-a:", b"team-b:")) for k in keys)


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="must be a number"):
        RedisStore.open("redis://127.0.0.1:6390/zero")
