"""Core's ``local://`` message bus passes the MessageBus contract, and keeps its in-process promises."""

from __future__ import annotations

import threading
import uuid

import pytest

from flowbuilder.interfaces.message_bus import Message, MessageBus, MessageBusError
from flowbuilder.local_bus import MAX_WAITING_MESSAGES, LocalMessageBus
from flowbuilder.plugins import build_plugin_host
from flowbuilder_contracts import MessageBusContract
from flowbuilder_contracts.message_bus import Collector, MakeBus


class TestLocalMessageBus(MessageBusContract):
    @pytest.fixture
    def make_bus(self) -> MakeBus:
        hub = f"local://contract-{uuid.uuid4().hex}"  # a fresh hub per test
        return lambda node_id: LocalMessageBus.open(hub, node_id)


def fresh_url() -> str:
    return f"local://test-{uuid.uuid4().hex}"


def test_the_plugin_host_opens_the_local_bus_by_default() -> None:
    bus = build_plugin_host().open_message_bus(node_id="n1")
    try:
        assert isinstance(bus, LocalMessageBus) and bus.node_id == "n1"
    finally:
        bus.close()


def test_an_unknown_bus_scheme_names_the_installed_ones_and_the_package_for_redis() -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"unknown scheme 'nats'.*local://"):
        build_plugin_host().open_message_bus("nats://127.0.0.1", node_id="n1")
    host = build_plugin_host()
    if "redis" not in host.message_bus_classes():
        with pytest.raises(ConfigurationError, match="flowbuilder-distributed"):
            host.open_message_bus("redis://127.0.0.1:1/0", node_id="n1")


def test_the_bus_url_and_node_come_from_the_bus_settings_table() -> None:
    from flowbuilder.config import Settings

    url = fresh_url()
    host = build_plugin_host(Settings(sections={"bus": {"url": url, "node": "configured"}}))
    with host.open_message_bus() as bus, LocalMessageBus.open(url, "probe") as probe:
        got = Collector()
        bus.listen(got)
        probe.send("configured", {"hello": 1})
        assert got.wait_for(1)[0].body == {"hello": 1}


def test_two_urls_are_two_separate_hubs() -> None:
    with LocalMessageBus.open(fresh_url(), "a") as first, LocalMessageBus.open(fresh_url(), "b") as second:
        got = Collector()
        second.listen(got)
        first.broadcast({"n": 1})
        first.send("b", {"n": 2})
        threading.Event().wait(0.3)
        assert got.messages == []


def test_a_node_listens_once_until_it_closes_that_subscription() -> None:
    with LocalMessageBus.open(fresh_url(), "a") as bus:
        subscription = bus.listen(lambda message: None)
        with pytest.raises(MessageBusError, match="already listens"):
            bus.listen(lambda message: None)
        subscription.close()
        bus.listen(lambda message: None).close()


def test_an_inbox_nobody_reads_keeps_only_the_newest_messages() -> None:
    url = fresh_url()
    with LocalMessageBus.open(url, "sender") as sender, LocalMessageBus.open(url, "idle") as idle:
        for n in range(MAX_WAITING_MESSAGES + 5):
            sender.send("idle", {"n": n})
        got = Collector()
        idle.listen(got)
        messages = got.wait_for(MAX_WAITING_MESSAGES)
        assert len(messages) == MAX_WAITING_MESSAGES and messages[0].body == {"n": 5}


def test_each_recipient_gets_its_own_copy_of_the_body() -> None:
    url = fresh_url()
    buses: list[MessageBus] = [LocalMessageBus.open(url, name) for name in ("s", "r1", "r2")]
    try:
        seen: list[Message] = []

        def mutate(message: Message) -> None:
            message.body["touched"] = True  # type: ignore[index]
            seen.append(message)

        first, second = Collector(mutate), Collector()
        buses[1].subscribe("t", first)
        buses[2].subscribe("t", second)
        body = {"n": 1}
        buses[0].publish("t", body)
        first.wait_for(1)
        assert second.wait_for(1)[0].body == {"n": 1} and body == {"n": 1}
    finally:
        for bus in buses:
            bus.close()


@pytest.mark.parametrize(
    "stored",
    [b"[" * 100_000, b"x" * (1024 * 1024 + 64 * 1024 + 1), b"\xff\xfe", b'{"id": "x"}', b"[]", b"not json",
     b'{"id": "x", "sender": "s", "timestamp": 1%s, "kind": "direct", "to": "n", "body": {}}' % (b"0" * 400),
     b'{"id": "x", "sender": "s", "timestamp": 1, "kind": "request", "to": "n", "body": {}, "reply_to": {}}',
     b'{"id": "x", "sender": "s", "timestamp": 1, "kind": "reply", "to": "n", "body": {}, "correlation_id": [1]}'],
    ids=["deep", "huge", "not-utf8", "missing-fields", "not-an-object", "garbage", "timestamp-overflows-a-float",
         "reply-to-not-text", "correlation-id-not-text"],
)  # fmt: skip
def test_decode_message_refuses_what_a_bus_never_wrote_with_a_value_error(stored: bytes) -> None:
    from flowbuilder.interfaces.message_bus import decode_message

    with pytest.raises(ValueError, match=r"\S"):  # with a reason to log
        decode_message(stored)


def test_a_message_iterator_holds_the_next_message_until_the_loop_body_finishes() -> None:
    """At-least-once through a for-loop: the handler (the bus's acknowledgement) returns only on the next step."""
    from flowbuilder.interfaces.message_bus import MessageIterator

    url = fresh_url()
    handled: list[str] = []

    with LocalMessageBus.open(url, "s") as sender, LocalMessageBus.open(url, "r") as receiver:
        messages = MessageIterator(idle_timeout=10)

        def recording(message: Message) -> None:
            messages(message)
            handled.append(message.id)  # what a bus acknowledges: after the handler returned

        receiver.subscribe("t", recording)
        first = sender.publish("t", {"n": 1})
        iterator = iter(messages)
        assert next(iterator).id == first.id
        threading.Event().wait(0.3)
        assert handled == []  # the loop body of the first message has not finished
        second = sender.publish("t", {"n": 2})
        assert next(iterator).id == second.id
        assert handled == [first.id]
        messages.close()
        assert list(iterator) == []
        threading.Event().wait(0.3)
        assert handled == [first.id]  # the second was never finished: not acknowledged


def test_a_message_iterator_ends_after_its_idle_timeout() -> None:
    from flowbuilder.interfaces.message_bus import MessageIterator

    with LocalMessageBus.open(fresh_url(), "r") as bus, MessageIterator(idle_timeout=0.2) as messages:
        bus.subscribe("quiet", messages)
        assert list(messages) == []
