"""Subscriptions across processes and when the store breaks underneath them."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowbuilder.annotations import Annotation
from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_contracts.store import run_events
from flowbuilder_storage import RedisStore, RocksDBStore

WORKER = str(Path(__file__).with_name("store_worker.py"))


def _owner(url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, WORKER, "hold", url, "300"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


async def _first_batches(store: Any, run_id: str, after: int, count: int) -> list[Any]:
    batches = []
    async for update in store.subscribe(run_id, after):
        batches.append(update)
        if len(batches) == count:
            break
    return batches


def test_a_routed_subscriber_is_pushed_what_another_process_appends(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    owner = _owner(url)
    try:
        store = RocksDBStore.open(url)
        assert not store.is_owner
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        writer = subprocess.run([sys.executable, WORKER, "append", url, "r1", "3"], capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert writer.stdout.strip() == "done", writer.stderr
        batches = asyncio.run(asyncio.wait_for(_first_batches(store, "r1", 2, 1), timeout=30))
        assert [e.seq for e in batches[0].events] == [3, 4, 5]
        store.close()
    finally:
        owner.kill()
        owner.wait()


def test_a_subscription_survives_its_owner_being_killed(tmp_path: Path) -> None:
    """The subscriber fails over (here: becomes the owner) and keeps delivering; it never hangs."""
    url = f"rocksdb://{tmp_path}/db"
    owner = _owner(url)
    store = RocksDBStore.open(url)
    try:
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)

        async def main() -> list[int]:
            subscription = store.subscribe("r1", 2)
            pending = asyncio.ensure_future(subscription.__anext__())
            await asyncio.sleep(0.2)  # the long poll is now parked in the owner
            owner.kill()
            await asyncio.to_thread(owner.wait)
            await asyncio.to_thread(store.append_events, "r1", events[2:], 2)
            seqs = [e.seq for e in (await pending).events]
            seqs += [e.seq async for update in subscription for e in update.events]
            return seqs

        assert asyncio.run(asyncio.wait_for(main(), timeout=60)) == [3, 4, 5]
        assert store.is_owner
    finally:
        store.close()
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_annotations_from_another_process_wake_a_routed_subscriber(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    owner = _owner(url)
    try:
        store = RocksDBStore.open(url)
        store.append_events("r1", run_events("r1", status=None), 0)
        code = ("import sys; from flowbuilder_storage import RocksDBStore; from flowbuilder.annotations import Annotation;"
                f" s = RocksDBStore.open({url!r}); print(s.annotate('r1', Annotation('anomaly', 0.5)).number); s.close()")  # fmt: skip
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert other.stdout.strip() == "1", other.stderr
        batches = asyncio.run(asyncio.wait_for(_first_batches(store, "r1", 4, 1), timeout=30))
        assert [(a.number, a.kind) for a in batches[0].annotations] == [(1, "anomaly")]
        assert store.last_seq("r1") == 4  # the annotation moved no event sequence
        store.close()
    finally:
        owner.kill()
        owner.wait()


def test_a_redis_subscription_is_pushed_by_another_client(redis_url: str) -> None:
    subscriber = RedisStore.open(redis_url)
    writer = RedisStore.open(redis_url)
    events = run_events("r1")
    writer.append_events("r1", events[:2], 0)

    async def main() -> list[int]:
        subscription = subscriber.subscribe("r1", 2)
        pending = asyncio.ensure_future(subscription.__anext__())
        await asyncio.sleep(0.1)
        await asyncio.to_thread(writer.append_events, "r1", events[2:], 2)
        return [e.seq for e in (await pending).events]

    try:
        assert asyncio.run(asyncio.wait_for(main(), timeout=30)) == [3, 4, 5]
    finally:
        subscriber.close()
        writer.close()


def test_a_redis_subscription_to_a_dead_server_ends_with_one_line(redis_url: str) -> None:
    """A subscriber whose Redis is gone past its retry budget gets the store's one-line error, not a hang."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StoreError) as caught:
        RedisStore.open(f"redis://127.0.0.1:{port}/0?connect_seconds=0.2")
    assert "cannot reach Redis" in str(caught.value) and "\n" not in str(caught.value)

    store = RedisStore.open(redis_url + "?retry_seconds=0.5")  # redis_url: emptied first, whatever ran before
    store.append_events("gone", [RunEvent("gone", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
    store._client.connection_pool.connection_kwargs["port"] = port  # the server "dies" for this client
    store._client.connection_pool.disconnect()

    async def main() -> None:
        async for _ in store.subscribe("gone", 1):
            pass

    with pytest.raises(StoreError) as ended:
        asyncio.run(asyncio.wait_for(main(), timeout=30))
    assert "cannot reach Redis" in str(ended.value) and "\n" not in str(ended.value)
    store.close()


def test_runs_watch_in_another_process_prints_a_run_another_process_writes(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    owner = _owner(url)
    try:
        store = RocksDBStore.open(url)
        events = run_events("r1")
        store.append_events("r1", events[:2], 0)
        watcher = subprocess.Popen([sys.executable, "-c", "from flowbuilder.cli.main import main; main()", "runs",
                                    "watch", "r1", "--json", "--store", url], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
        store.annotate("r1", Annotation("note", "hi", author="test"))
        store.append_events("r1", events[2:], 2)
        out, err = watcher.communicate(timeout=60)
        store.close()
        assert watcher.returncode == 0, err
        assert out.count('"event"') == 5 and out.count('"annotation"') == 1
    finally:
        owner.kill()
        owner.wait()
