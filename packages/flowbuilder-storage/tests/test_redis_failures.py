"""Redis going away: retried with backoff, reported in one line when it persists; key prefixes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowbuilder.errors import SequenceConflictError, StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.store import LogLine
from flowbuilder_contracts.redis_server import RedisServer, free_port
from flowbuilder_storage import RedisStore, RunDataLostError


def test_an_unreachable_redis_is_a_one_line_error_and_a_non_zero_exit(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?connect_seconds=0.3"
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "runs", "list", "--store", url], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Redis at 127.0.0.1" in lines[0], result.stderr


def test_a_connection_lost_for_longer_than_the_budget_raises_store_error(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r", appendonly=True)
    server.start()
    store = RedisStore.open(server.url + "?retry_seconds=0.3")
    try:
        server.stop()
        with pytest.raises(StoreError, match="cannot reach Redis"):
            store.last_seq("r")
    finally:
        store.close()


def test_appends_survive_a_redis_restart_within_the_retry_budget(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r", appendonly=True)  # AOF on: the restarted server has every acknowledged write
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


def test_a_key_another_application_wrote_under_the_prefix_is_a_one_line_store_error(redis_url: str) -> None:
    """Redis's WRONGTYPE reached every command as "internal error: ResponseError" (exit 70)."""
    import redis

    with RedisStore.open(redis_url + "?prefix=shared:") as store:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)], 0)
        client = redis.Redis.from_url(redis_url)
        try:
            client.set("shared:runs", "another app's value")  # the runs index is a sorted set
            client.set("shared:ev:r", "another app's value")  # a run's events are a list
        finally:
            client.close()
        says = r"refused a command: WRONGTYPE .*a key under the store's prefix 'shared:' was not written by FlowBuilder"
        with pytest.raises(StoreError, match=says):
            store.list_runs()
        with pytest.raises(StoreError, match=says):  # the append script
            store.append_events("q", [RunEvent("q", 1, EventKind.RUN_CREATED)], 0)
        with pytest.raises(StoreError, match=says):  # a pipeline
            store.read_events("r")


def test_a_bad_redis_url_is_a_configuration_error() -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="must be a number"):
        RedisStore.open("redis://127.0.0.1:6390/zero")


@pytest.mark.parametrize("option", ["retry_seconds=nan", "retry_seconds=inf", "connect_seconds=1e400",
                                    "max_log_bytes=nan", "max_log_bytes=1e400", "retry_seconds=-1"])  # fmt: skip
def test_a_budget_or_cap_that_is_not_a_finite_number_is_refused(option: str) -> None:
    """A budget of nan or inf retried a lost server forever (a hang: the deadline comparison is
    never true); nan or inf as max_log_bytes was a bare ValueError/OverflowError."""
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=rf"{option.split('=')[0]}=.* must be a number >= 0"):
        RedisStore.open(f"redis://127.0.0.1:{free_port()}/0?{option}")


# -- a server that comes back without the run's data -------------------------------------------


def test_an_append_after_a_restart_without_persistence_says_the_server_lost_the_run(tmp_path: Path) -> None:
    """Fewer events than this store appended is data loss, not another writer: RunDataLostError."""
    server = RedisServer(tmp_path / "r", appendonly=False)
    server.start()
    store = RedisStore.open(server.url + "?retry_seconds=20")
    try:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED), RunEvent("r", 2, EventKind.RUN_STARTED)], 0)
        server.stop(kill=True)
        server.start()
        with pytest.raises(RunDataLostError, match="lost run r: this process had stored 2 events of it and the"
                                                   r" server now has 0 \(the server restarted without persistence\)"):  # fmt: skip
            store.append_events("r", [RunEvent("r", 3, EventKind.TASK_STARTED, task="t", attempt=1)], 2)
        assert store.last_seq("r") == 0
    finally:
        store.close()
        server.stop()


def test_an_append_after_a_flush_says_the_data_was_flushed(redis_server: RedisServer, redis_url: str) -> None:
    with RedisStore.open(redis_url) as store:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)], 0)
        store.append_logs("r", [LogLine("t", 1, "stdout", "kept until the flush")])
        redis_server.flush()
        store.append_logs("r", [LogLine("t", 1, "stdout", "written after the flush")])
        with pytest.raises(RunDataLostError, match=r"\(its data was flushed or the run deleted\)"):
            store.append_events("r", [RunEvent("r", 2, EventKind.RUN_STARTED)], 1)
        assert store.read_logs("r") == [], "the lost run's later fragments are not left behind"


def test_a_stale_writer_of_a_run_this_store_never_wrote_still_gets_a_sequence_conflict(redis_url: str) -> None:
    with RedisStore.open(redis_url) as writer, RedisStore.open(redis_url) as other:
        writer.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)], 0)
        with pytest.raises(SequenceConflictError) as caught:
            other.append_events("r", [RunEvent("r", 4, EventKind.RUN_STARTED)], 3)
        assert not isinstance(caught.value, RunDataLostError)


def test_a_run_whose_redis_restarts_without_persistence_stops_with_one_line(tmp_path: Path) -> None:
    """A real `flowbuilder run`; its Redis is killed and restarted empty mid-run. Its running tasks stop too."""
    server = RedisServer(tmp_path / "redis", appendonly=False)
    server.start()
    marker = tmp_path / "t05-ran"
    long_pid = tmp_path / "long.pid"
    lines = [
        "name: lossy",
        "tasks:",
        f"  - {{name: long, type: shell, config: {{command: 'echo $$ > {long_pid}; exec sleep 60'}}}}",
    ]
    for index in range(40):
        command = f"touch {marker}; sleep 0.1" if index == 5 else "echo step; sleep 0.1"
        after = f", depends_on: [t{index - 1:02d}]" if index else ""
        lines.append(f"  - {{name: t{index:02d}, type: shell{after}, config: {{command: '{command}'}}}}")
    workflow = tmp_path / "lossy.yaml"
    workflow.write_text("\n".join(lines) + "\n")
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    process = subprocess.Popen([cli, "run", str(workflow), "--store", server.url], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.poll() is None, process.communicate()[1]
        server.stop(kill=True)
        server.start()
        _, stderr = process.communicate(timeout=120)
        import redis

        left = redis.Redis(host="127.0.0.1", port=server.port).keys("*")
    finally:
        if process.poll() is None:
            process.kill()
        server.stop()
    assert process.returncode not in (0, 70), stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert "lost run" in lines[0] and "(the server restarted without persistence)" in lines[0], lines[0]
    assert "another writer" not in lines[0]
    assert set(left) <= {b"fb:format"}, f"nothing of the lost run is left behind: {left}"
    assert not process_alive(int(long_pid.read_text())), "the run's running task was stopped"


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (given up to 10 s to go; kills it if it does not)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def test_a_server_out_of_memory_refuses_with_one_line_and_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    """``maxmemory`` reached: Redis answers OOM, which used to leave the store as a raw
    ``OutOfMemoryError`` (``flowbuilder run``: internal error, exit 70). Now one line; what
    was acknowledged before is kept, and the store writes again once there is memory."""
    import redis

    server = RedisServer(tmp_path / "r")
    server.start()
    admin = redis.Redis.from_url(server.url)
    store = RedisStore.open(server.url)
    try:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
        admin.config_set("maxmemory", "1")
        with pytest.raises(StoreError, match=r"^Redis at 127.0.0.1:\d+ refused a command: .*'maxmemory'; nothing"):
            store.append_events("r", [RunEvent("r", 2, EventKind.RUN_STARTED)], 1)
        with pytest.raises(StoreError, match=r"refused a command: command not allowed when used memory"):
            store.append_logs("r", [LogLine("t", 1, "stdout", "x", 1.0)])
        assert [e.seq for e in store.read_events("r")] == [1]
        workflow = tmp_path / "w.yaml"
        workflow.write_text("name: w\ntasks:\n  - {name: a, type: shell, config: {command: 'echo a'}}\n")
        cli = str(Path(sys.executable).with_name("flowbuilder"))
        result = subprocess.run([cli, "run", str(workflow), "--store", server.url], capture_output=True, text=True,
                                cwd=tmp_path)  # fmt: skip
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert "refused a command" in lines[0] and "maxmemory" in lines[0], result.stderr
        admin.config_set("maxmemory", "0")
        assert store.append_events("r", [RunEvent("r", 2, EventKind.RUN_STARTED)], 1) == 2
    finally:
        store.close()
        admin.close()
        server.stop()


def test_a_wrong_password_or_database_is_one_line_at_once(tmp_path: Path) -> None:
    """Refusals no retry can change are reported at once (a wrong password was retried for
    ``connect_seconds`` and then called unreachable; a database the server does not have was
    a ``ResponseError``)."""
    import redis

    server = RedisServer(tmp_path / "r")
    server.start()
    admin = redis.Redis.from_url(server.url)
    admin.config_set("requirepass", "sekret")
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    base = f"127.0.0.1:{server.port}"
    try:
        for url, expected in [(f"redis://:wrong@{base}/0", "check the user and password"),
                              (f"redis://{base}/0", "check the user and password"),
                              (f"redis://:sekret@{base}/99", "use a database number the server has")]:  # fmt: skip
            started = time.monotonic()
            result = subprocess.run([cli, "runs", "list", "--store", url + "?connect_seconds=10"], capture_output=True,
                                    text=True, cwd=tmp_path)  # fmt: skip
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 1 and len(lines) == 1 and expected in lines[0], result.stderr
            assert "refused a command" in lines[0] and "cannot reach" not in lines[0]
            assert time.monotonic() - started < 8  # not retried for connect_seconds
    finally:
        server.stop()


def test_a_page_limit_past_64_bits_lists_every_run(redis_url: str) -> None:
    """`flowbuilder runs list -n 99999999999999999999` was Redis's "value is not an integer or
    out of range" (a raw ResponseError, exit 70): the store asked for twice the limit at once."""
    with RedisStore.open(redis_url) as store:
        for run in ("a", "b", "c"):
            store.append_events(run, [RunEvent(run, 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
        assert sorted(s.run_id for s in store.list_runs(limit=10**20).runs) == ["a", "b", "c"]


def test_values_that_are_not_utf8_are_one_line_naming_the_key(redis_url: str) -> None:
    """A run index member or a coordination record holding bytes that are not
    UTF-8 (damage, or another program under the prefix): bare UnicodeDecodeErrors, exit 70."""
    import redis

    with RedisStore.open(redis_url) as store:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
        store.write_record("k", "v")
        client = redis.Redis.from_url(redis_url)
        try:
            client.zadd("fb:runs", {b"\xff\xfe": 1.0})
            client.set("fb:rec:k", b"\xff")
            for read, key in [(store.list_runs, "fb:runs"), (store.export_events, "fb:runs"),
                              (lambda: store.read_record("k"), "fb:rec:k")]:  # fmt: skip
                with pytest.raises(StoreError, match=rf"^Redis key '{key}' holds b'\\xff.*, which is not UTF-8"):
                    read()
        finally:
            client.close()
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    for args in (["runs", "list"], ["gc", "--older-than", "0s"], ["stats"]):
        result = subprocess.run([cli, *args, "--store", redis_url], capture_output=True, text=True)
        assert result.returncode == 1 and result.stderr.startswith("error: Redis key 'fb:runs' holds"), result.stderr


@pytest.mark.parametrize("url", ["redis://:s3cret@127.0.0.1:6379/x", "redis://u:s3cret@127.0.0.1:6379/0?retry_seconds=nan",
                                 "redis://:s3cret@127.0.0.1:99999/0"])  # fmt: skip
def test_a_refused_store_url_shows_no_password(url: str) -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as refused:
        RedisStore.open(url)
    assert "s3cret" not in str(refused.value) and "***@127.0.0.1" in str(refused.value)
