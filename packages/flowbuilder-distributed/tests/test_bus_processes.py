"""The Redis bus between real processes on 127.0.0.1: request/reply, redelivery after SIGKILL, dead Redis.

Every process and redis-server here is started by the test and killed by it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowbuilder.interfaces.message_bus import BusUnavailableError, MessageBusError
from flowbuilder_contracts.message_bus import Collector
from flowbuilder_contracts.redis_server import RedisServer
from flowbuilder_distributed.bus import RedisMessageBus
from flowbuilder_distributed.bus_subscription import MAX_DELIVERIES

NODE_SCRIPT = Path(__file__).with_name("bus_node.py")
WAIT = 30.0
"""Bound on every wait for another process (loaded, shared machines)."""

pytestmark = pytest.mark.timeout(180)


class NodeProcess:
    """``bus_node.py`` in a child process, started and killed by the test."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(NODE_SCRIPT), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self._read_line()
        if line.strip() != "ready":
            self.kill()
            raise AssertionError(
                f"bus node did not start: {line!r} {self.process.stderr.read() if self.process.stderr else ''}"
            )

    def _read_line(self) -> str:
        import selectors

        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(WAIT):
                return "(no output within the bound)"
        return self.process.stdout.readline()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for node in started:
        node.kill()


def recorded(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {WAIT}s")


def pending_count(bus_url: str, stream: str, group: str) -> int:
    import redis

    client = redis.Redis.from_url(bus_url.split("?")[0])
    try:
        return int(client.xpending(stream, group)["pending"])
    finally:
        client.close()


def test_two_processes_exchange_request_and_reply(bus_url: str, nodes: list[NodeProcess]) -> None:
    nodes.append(NodeProcess("responder", bus_url, "responder"))
    with RedisMessageBus.open(bus_url, "asker") as bus:
        for n in range(3):
            reply = bus.request("responder", {"n": n, "text": "grüße"}, timeout=WAIT)
            assert reply.body == {"echo": {"n": n, "text": "grüße"}, "pid": nodes[0].process.pid}
            assert reply.sender == "responder" and reply.to == "asker"


def test_a_subscriber_killed_before_acknowledging_gets_the_message_after_restart(
    bus_url: str, nodes: list[NodeProcess], tmp_path: Path
) -> None:
    """At-least-once: the message whose handler never returned is delivered again to the restarted node."""
    record = tmp_path / "received.jsonl"
    first = NodeProcess("subscriber", bus_url, "sub-1", "jobs", str(record), "hang")
    nodes.append(first)
    with RedisMessageBus.open(bus_url, "publisher") as bus:
        sent = bus.publish("jobs", {"job": 1})
        wait_until(lambda: len(recorded(record)) == 1, "the first delivery")
        first.kill()  # SIGKILL while its handler runs: never acknowledged
        assert pending_count(bus_url, bus.topic_key("jobs"), "sub-1") == 1
        later = bus.publish("jobs", {"job": 2})  # sent while the subscriber is down
        nodes.append(NodeProcess("subscriber", bus_url, "sub-1", "jobs", str(record)))
        wait_until(lambda: len(recorded(record)) >= 3, "the redelivery")
        wait_until(lambda: pending_count(bus_url, bus.topic_key("jobs"), "sub-1") == 0, "the acknowledgements")
    ids = [row["id"] for row in recorded(record)]
    assert ids == [sent.id, sent.id, later.id]
    assert recorded(record)[1]["pid"] == nodes[1].process.pid


def test_a_message_that_kills_its_handler_every_time_goes_to_the_dead_letters(
    bus_url: str, nodes: list[NodeProcess], tmp_path: Path
) -> None:
    record = tmp_path / "received.jsonl"
    with RedisMessageBus.open(bus_url, "publisher") as bus:
        nodes.append(NodeProcess("subscriber", bus_url, "fragile", "poison", str(record), "hang"))
        poison = bus.publish("poison", {"boom": True})
        for delivery in range(1, MAX_DELIVERIES):
            wait_until(lambda d=delivery: len(recorded(record)) >= d, f"delivery {delivery}")
            nodes[-1].kill()
            nodes.append(NodeProcess("subscriber", bus_url, "fragile", "poison", str(record), "hang"))
        wait_until(lambda: len(recorded(record)) >= MAX_DELIVERIES, "the last delivery")
        nodes[-1].kill()
        healthy = NodeProcess("subscriber", bus_url, "fragile", "poison", str(record))
        nodes.append(healthy)
        after = bus.publish("poison", {"fine": True})
        wait_until(lambda: recorded(record)[-1]["id"] == after.id, "the next message")
        import redis

        client = redis.Redis.from_url(bus_url.split("?")[0])
        try:
            dead = client.xrange(bus.dead_letter_key)
        finally:
            client.close()
    assert [row["id"] for row in recorded(record)].count(poison.id) == MAX_DELIVERIES
    assert len(dead) == 1 and json.loads(dead[0][1][b"m"])["id"] == poison.id
    assert dead[0][1][b"node"] == b"fragile"


def test_foreign_entries_in_an_inbox_are_skipped_and_later_mail_arrives(bus_url: str) -> None:
    import redis

    with RedisMessageBus.open(bus_url, "receiver") as receiver, RedisMessageBus.open(bus_url, "sender") as sender:
        client = redis.Redis.from_url(bus_url.split("?")[0])
        try:
            inbox = receiver.inbox_key("receiver")
            client.xadd(inbox, {"m": b"\xff\xfe not json"})
            client.xadd(inbox, {"m": json.dumps({"id": "x", "kind": "direct"})})
            client.xadd(inbox, {"other": "field"})
            envelope = {"id": "y", "sender": "s", "timestamp": 1, "kind": "request", "to": "receiver", "body": {}}
            # A timestamp too large for a float once raised out of decoding: the messages read with
            # it were never handled and, re-read at each retry, ended in the dead letters.
            client.xadd(inbox, {"m": json.dumps({**envelope, "timestamp": 10**400})})
            client.xadd(inbox, {"m": json.dumps({**envelope, "reply_to": {"not": "text"}})})
            got = Collector()
            receiver.listen(got)
            sent = sender.send("receiver", {"ok": True})
            assert got.wait_for(1)[0].id == sent.id
            wait_until(lambda: pending_count(bus_url, inbox, "receiver") == 0, "every entry acknowledged")
        finally:
            client.close()
        assert len(got.messages) == 1


def test_a_reply_inbox_outside_the_bus_is_refused(bus_url: str) -> None:
    from flowbuilder.interfaces.message_bus import Message, MessageRejectedError

    with RedisMessageBus.open(bus_url, "responder") as bus:
        forged = Message(id="f", sender="x", timestamp=time.time(), kind="request", to="responder", body={},
                         reply_to="flowbuilder:runs:some-store-key")  # fmt: skip
        with pytest.raises(MessageRejectedError, match="outside this bus"):
            bus.reply(forged, {"n": 1})


def test_streams_stay_bounded_by_maxlen(bus_url: str) -> None:
    import redis

    with RedisMessageBus.open(f"{bus_url}&maxlen=100", "chatty") as bus:
        for n in range(3000):
            bus.publish("firehose", {"n": n})
        client = redis.Redis.from_url(bus_url.split("?")[0])
        try:
            length = client.xlen(bus.topic_key("firehose"))
        finally:
            client.close()
    assert 100 <= length < 400  # MAXLEN ~ trims whole macro nodes: about 100, never 3000


def test_a_dead_redis_is_a_clear_error_within_seconds_not_a_hang(own_redis: RedisServer) -> None:
    with RedisMessageBus.open(own_redis.url, "n1") as bus:
        bus.send("n2", {"before": True})
        own_redis.stop()
        for attempt in (
            lambda: bus.send("n2", {"n": 1}),
            lambda: bus.publish("t", {"n": 1}),
            lambda: bus.request("n2", {"n": 1}, timeout=30),
            lambda: bus.subscribe("t", lambda message: None),
            lambda: bus.listen(lambda message: None),
        ):
            started = time.monotonic()
            with pytest.raises(BusUnavailableError, match=r"unreachable.*is Redis running there") as error:
                attempt()
            assert time.monotonic() - started < 10
            assert "\n" not in str(error.value)


def test_a_listener_survives_a_redis_restart(own_redis: RedisServer) -> None:
    """A subscription keeps retrying while Redis is down and reads again (its group recreated) after."""
    with RedisMessageBus.open(own_redis.url, "survivor") as bus, RedisMessageBus.open(own_redis.url, "s") as sender:
        got = Collector()
        bus.subscribe("news", got)
        sender.publish("news", {"n": 1})
        got.wait_for(1)
        own_redis.stop()
        time.sleep(1.5)
        own_redis.start()  # same port, no persistence: the stream and the group are gone
        deadline = time.monotonic() + WAIT
        while len(got.messages) < 2 and time.monotonic() < deadline:
            try:
                sender.publish("news", {"n": 2})
            except MessageBusError:
                pass
            time.sleep(0.5)
        assert {"n": 2} in got.bodies()


def run_cli(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "FLOWBUILDER_DISABLE_PLUGINS": ""}
    return subprocess.run(
        [sys.executable, "-c", "from flowbuilder.cli.main import main; main()", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def test_cli_send_to_a_dead_redis_prints_one_line_and_exits_1(own_redis: RedisServer) -> None:
    url = own_redis.url
    own_redis.stop()
    started = time.monotonic()
    done = run_cli("cluster", "send", "--bus", url, "n2", '{"n": 1}')
    assert time.monotonic() - started < 30
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: message bus at") and "Traceback" not in done.stderr


def test_cli_request_reaches_a_listening_cli_in_another_process(bus_url: str, tmp_path: Path) -> None:
    listener = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from flowbuilder.cli.main import main; main()",
            "cluster",
            "listen",
            "--bus",
            bus_url,
            "--node",
            "cli-listener",
            "--echo",
            "--count",
            "2",
            "--timeout",
            str(WAIT),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        done = run_cli("cluster", "request", "--bus", bus_url, "--timeout", str(WAIT), "cli-listener", '{"ping": "ü"}')
        assert done.returncode == 0, done.stderr
        reply = json.loads(done.stdout)
        assert reply["kind"] == "reply" and reply["body"] == {"echo": {"ping": "ü"}}
        sent = run_cli("cluster", "send", "--bus", bus_url, "cli-listener", '{"n": 2}')
        assert sent.returncode == 0, sent.stderr
        out, err = listener.communicate(timeout=WAIT)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.communicate(timeout=10)
    assert listener.returncode == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [m["kind"] for m in printed] == ["request", "direct"] and printed[1]["body"] == {"n": 2}


@pytest.mark.parametrize(
    ("arguments", "status", "says"),
    [
        (("cluster", "send", "n2", "[1, 2]"), 2, "must be a JSON object"),
        (("cluster", "send", "n2", "{not json"), 2, "is not JSON"),
        (("cluster", "send", "bad node", "{}"), 1, "not a valid name"),
        (("cluster", "send", "n2", "@/nonexistent/body.json"), 2, "cannot read"),
        (("cluster", "request", "--timeout", "nan", "n2", "{}"), 2, "is not a finite number"),
        (("cluster", "listen", "--timeout", "inf"), 2, "--timeout"),
        (("cluster", "listen", "--timeout", "1e300"), 2, "--timeout"),
        (("cluster", "send", "n2", "@/dev/zero"), 2, "is over 4,194,304 bytes"),  # read until memory ran out
    ],
)
def test_cli_refuses_bad_input_in_one_line(bus_url: str, arguments: tuple[str, ...], status: int, says: str) -> None:
    command, sub, *rest = arguments
    done = run_cli(command, sub, "--bus", bus_url, *rest)
    assert done.returncode == status and says in done.stderr
    assert "Traceback" not in done.stderr


def test_a_body_file_that_is_a_fifo_nobody_writes_to_is_refused_not_waited_on(bus_url: str, tmp_path: Path) -> None:
    """``open()`` of a FIFO waits for a writer: ``cluster send n2 @fifo`` hung."""
    os.mkfifo(tmp_path / "pipe")
    done = run_cli("cluster", "send", "--bus", bus_url, "n2", f"@{tmp_path / 'pipe'}", timeout=WAIT)
    assert done.returncode == 2 and "is not JSON" in done.stderr and "Traceback" not in done.stderr


DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    "arguments",
    [
        ("cluster", "request", "--bus", DEAD_REDIS, "--timeout", "nan", "n2", "{}"),  # was exit 70
        ("cluster", "listen", "--bus", DEAD_REDIS, "--timeout", "inf"),  # was exit 70 once listening
        ("cluster", "status", "--store", DEAD_REDIS, "--dead-after", "nan"),
        ("worker", "--store", DEAD_REDIS, "--lease", "nan"),  # was exit 70 once joined
        ("worker", "--store", DEAD_REDIS, "--drain-timeout", "nan"),
        ("worker", "--store", DEAD_REDIS, "--heartbeat", "nan"),
    ],
)
def test_a_number_of_seconds_that_is_not_finite_is_a_usage_error(arguments: tuple[str, ...]) -> None:
    """nan passes every bound of click's FloatRange: each such option refuses it before connecting."""
    done = run_cli(*arguments)
    assert done.returncode == 2 and "is not a finite number" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (("cluster", "status", "--store", DEAD_REDIS, "--prefix", "\udcff"), "--prefix"),  # was exit 70
        (("worker", "--store", DEAD_REDIS, "--prefix", "\udcff"), "--prefix"),  # was exit 70
        (("worker", "--store", DEAD_REDIS + "\udcff"), "--store"),
        (("cluster", "listen", "--bus", DEAD_REDIS + "\udcff"), "--bus"),
    ],
)
def test_argument_bytes_that_are_not_utf8_are_one_line(arguments: tuple[str, ...], option: str) -> None:
    """The raw byte 0xff (a lone surrogate in argv) is refused where it enters, before Redis encodes it."""
    done = run_cli(*arguments)
    assert done.returncode == 1 and done.stderr.startswith(f"error: {option} '"), done.stderr
    assert done.stderr.strip().endswith("': not valid UTF-8 text") and len(done.stderr.splitlines()) == 1


def test_an_oversized_foreign_entry_is_skipped_without_being_parsed(bus_url: str) -> None:
    import redis

    from flowbuilder.interfaces.message_bus import MAX_BODY_BYTES

    with RedisMessageBus.open(bus_url, "receiver") as receiver, RedisMessageBus.open(bus_url, "sender") as sender:
        client = redis.Redis.from_url(bus_url.split("?")[0])
        try:
            client.xadd(receiver.inbox_key("receiver"), {"m": b"[" * (MAX_BODY_BYTES * 2)})  # huge
            client.xadd(receiver.inbox_key("receiver"), {"m": b"[" * 100_000})  # small but deeper than Python recurses
        finally:
            client.close()
        got = Collector()
        receiver.listen(got)
        sent = sender.send("receiver", {"after": True})
        assert got.wait_for(1)[0].id == sent.id
        inbox = receiver.inbox_key("receiver")
        wait_until(lambda: pending_count(bus_url, inbox, "receiver") == 0, "both entries skipped and acknowledged")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://[::1", "cannot be read"),
        ("redis://127.0.0.1:99999/0", "cannot be read"),
        ("redis://127.0.0.1:1/0?bogus=1", "unknown option 'bogus'"),
        ("redis://127.0.0.1:1/0?maxlen=abc", "maxlen must be a whole number"),
        ("redis://127.0.0.1:1/0?namespace=a%20b", "not a valid name"),
    ],
)
def test_a_bad_bus_url_is_a_one_line_configuration_error(url: str, says: str) -> None:
    from flowbuilder.errors import FlowBuilderError

    with pytest.raises(FlowBuilderError, match=says) as error:
        RedisMessageBus.open(url, "n1")
    assert "\n" not in str(error.value)


def test_a_password_never_shows_in_an_error(own_redis: RedisServer) -> None:
    url = own_redis.url.replace("redis://", "redis://:hunter2-secret@")
    own_redis.stop()
    with RedisMessageBus.open(url, "n1") as bus, pytest.raises(BusUnavailableError) as error:
        bus.send("n2", {})
    assert "hunter2-secret" not in str(error.value) and ":***@" in str(error.value)


def test_cli_prints_a_body_with_a_lone_surrogate_escaped(bus_url: str) -> None:
    """JSON may carry ``"\\ud800"``; ``send`` printed it as UTF-8, which cannot encode it: exit 70
    after the message was sent (and ``listen`` failed in its handler on such a message)."""
    sent = run_cli("cluster", "send", "--bus", bus_url, "n-surrogate", '{"a": "\\ud800"}')
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["body"] == {"a": "\ud800"}
    heard = run_cli("cluster", "listen", "--bus", bus_url, "--node", "n-surrogate", "--count", "1", "--timeout", "30")
    assert heard.returncode == 0 and "Traceback" not in heard.stderr, heard.stderr
    assert json.loads(heard.stdout)["body"] == {"a": "\ud800"}
