"""The MessageBus contract: what every :class:`flowbuilder.interfaces.message_bus.MessageBus` must do.

Subclass :class:`MessageBusContract` and give it one fixture:

* ``make_bus``: a callable ``make_bus(node_id) -> MessageBus`` that opens the bus under
  test as that node. Every call within one test must reach the same fresh, empty medium
  (one in-memory hub, or one Redis key namespace of the test's own), so that the buses it
  returns are nodes of one cluster. The suite closes every bus it opens.

The rules checked (version 1): point-to-point delivery to the named node only; an inbox
keeps mail sent before its node listens; broadcast reaches every listening node; a topic
reaches every subscriber and nobody else; request/reply round trips (to a node and to a
topic) and a request nobody answers raises ``RequestTimeoutError`` within its bound;
unicode arrives unchanged; non-JSON bodies (bytes, NaN, sets, non-string keys) and bodies
over ``MAX_BODY_BYTES`` are refused with ``MessageRejectedError`` while one just under
arrives; invalid node ids and topics are refused; messages of one sender arrive in order;
a handler that raises does not stop later messages; a ``MessageIterator`` yields messages in
order; ``close`` stops delivery promptly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowbuilder.interfaces.message_bus import (
    MAX_BODY_BYTES,
    Message,
    MessageBus,
    MessageIterator,
    MessageRejectedError,
    RequestTimeoutError,
)
from flowbuilder_contracts._audit import Contract, audit_implementation

MESSAGE_BUS_CONTRACT_VERSION = 1
"""Raised when the suite's rules change, so a bus plugin can say which version it passes."""
DELIVERY_TIMEOUT = 20.0
"""Seconds a message may take to arrive (generous: shared, loaded machines)."""
QUIET_PERIOD = 0.5
"""Seconds the suite waits to be sure a message that must not arrive does not."""
TIMEOUT_SLACK = 3.0
"""Seconds past its timeout a request may take to raise ``RequestTimeoutError``."""

MakeBus = Callable[[str], MessageBus]


class Collector:
    """A handler that records messages and lets a test wait for them."""

    def __init__(self, on_message: Callable[[Message], None] | None = None) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._on_message = on_message

    def __call__(self, message: Message) -> None:
        if self._on_message is not None:
            self._on_message(message)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = DELIVERY_TIMEOUT) -> list[Message]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
        assert arrived, f"{len(self.messages)} of {count} message(s) arrived within {timeout}s"
        return list(self.messages)

    def bodies(self) -> list[dict[str, Any]]:
        return [dict(message.body) for message in self.messages]


class MessageBusContract(Contract):
    """Abstract tests for a MessageBus; provide ``make_bus``."""

    __contract__ = True

    @pytest.fixture
    def make_bus(self) -> MakeBus:
        raise NotImplementedError("a MessageBusContract subclass must define a `make_bus` fixture")

    @pytest.fixture
    def node(self, make_bus: MakeBus) -> Iterator[MakeBus]:
        """``make_bus``, closing every bus it opened when the test ends."""
        opened: list[MessageBus] = []

        def open_node(node_id: str) -> MessageBus:
            bus = make_bus(node_id)
            opened.append(bus)
            return bus

        yield open_node
        for bus in opened:
            bus.close()

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_message_bus_named_by_a_url_scheme(self, node: MakeBus) -> None:
        bus = node("alpha")
        assert isinstance(bus, MessageBus)
        assert isinstance(type(bus).scheme, str) and type(bus).scheme.isidentifier()
        assert bus.node_id == "alpha"

    def test_send_reaches_the_named_node_and_no_other(self, node: MakeBus) -> None:
        sender, receiver, bystander = node("sender"), node("receiver"), node("bystander")
        got, overheard = Collector(), Collector()
        receiver.listen(got)
        bystander.listen(overheard)
        sent = sender.send("receiver", {"task": "process_data", "n": 1})
        (message,) = got.wait_for(1)
        time.sleep(QUIET_PERIOD)
        assert overheard.messages == []
        assert len(got.messages) == 1
        assert message.id == sent.id and message.body == {"task": "process_data", "n": 1}
        assert message.sender == "sender" and message.kind == "direct" and message.to == "receiver"
        assert abs(message.timestamp - time.time()) < 60

    def test_an_inbox_keeps_mail_sent_before_its_node_listens(self, node: MakeBus) -> None:
        sender, late = node("sender"), node("late")
        sent = [sender.send("late", {"n": n}).id for n in range(3)]
        got = Collector()
        late.listen(got)
        assert [message.id for message in got.wait_for(3)] == sent

    def test_each_message_gets_its_own_id(self, node: MakeBus) -> None:
        sender = node("sender")
        ids = {sender.send("nobody-listens", {"n": n}).id for n in range(20)}
        assert len(ids) == 20 and all(isinstance(i, str) and i for i in ids)

    def test_broadcast_reaches_every_listening_node(self, node: MakeBus) -> None:
        collectors = {name: Collector() for name in ("n1", "n2", "n3")}
        for name, collector in collectors.items():
            node(name).listen(collector)
        sent = node("announcer").broadcast({"event": "leader-changed"})
        for collector in collectors.values():
            (message,) = collector.wait_for(1)
            assert message.id == sent.id and message.kind == "broadcast" and message.sender == "announcer"

    def test_a_topic_reaches_every_subscriber_and_no_other_topic(self, node: MakeBus) -> None:
        first, second, other = Collector(), Collector(), Collector()
        node("s1").subscribe("deployments", first)
        node("s2").subscribe("deployments", second)
        node("s3").subscribe("metrics", other)
        sent = node("publisher").publish("deployments", {"service": "api", "version": "1.2"})
        for collector in (first, second):
            (message,) = collector.wait_for(1)
            assert message.id == sent.id and message.kind == "topic" and message.to == "deployments"
            assert message.body == {"service": "api", "version": "1.2"}
        time.sleep(QUIET_PERIOD)
        assert other.messages == []

    def test_a_node_listens_and_subscribes_on_separate_subscriptions(self, node: MakeBus) -> None:
        bus = node("both")
        inbox, topic = Collector(), Collector()
        bus.listen(inbox)
        bus.subscribe("alerts", topic)
        node("other").publish("alerts", {"level": "high"})
        node("other2").send("both", {"direct": True})
        assert topic.wait_for(1)[0].body == {"level": "high"}
        assert inbox.wait_for(1)[0].body == {"direct": True}
        time.sleep(QUIET_PERIOD)
        assert len(inbox.messages) == 1 and len(topic.messages) == 1

    def test_request_to_a_node_returns_its_reply(self, node: MakeBus) -> None:
        responder = node("responder")

        def answer(message: Message) -> None:
            if message.kind == "request":
                responder.reply(message, {"status": "ok", "echo": message.body})

        responder.listen(answer)
        requester = node("requester")
        reply = requester.request("responder", {"action": "get_status"}, timeout=DELIVERY_TIMEOUT)
        assert reply.kind == "reply" and reply.sender == "responder"
        assert reply.body == {"status": "ok", "echo": {"action": "get_status"}}
        assert reply.correlation_id is not None and reply.correlation_id != reply.id

    def test_each_concurrent_request_gets_its_own_reply(self, node: MakeBus) -> None:
        responder = node("responder")

        def answer(message: Message) -> None:
            if message.kind == "request":
                responder.reply(message, {"n": message.body["n"]})

        responder.listen(answer)
        requester = node("requester")
        results: dict[int, Any] = {}

        def ask(n: int) -> None:
            results[n] = requester.request("responder", {"n": n}, timeout=DELIVERY_TIMEOUT).body["n"]

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DELIVERY_TIMEOUT + TIMEOUT_SLACK)
        assert results == {n: n for n in range(5)}

    def test_request_to_a_topic_returns_the_first_reply(self, node: MakeBus) -> None:
        def quote_from(bus: MessageBus) -> Callable[[Message], None]:
            def quote(message: Message) -> None:
                bus.reply(message, {"price": 10, "from": bus.node_id})

            return quote

        for name in ("quoter-1", "quoter-2"):
            bus = node(name)
            bus.subscribe("prices", quote_from(bus))
        reply = node("buyer").request("prices", {"item": "x"}, timeout=DELIVERY_TIMEOUT, topic=True)
        assert reply.body["price"] == 10 and reply.sender in ("quoter-1", "quoter-2")

    def test_a_request_nobody_answers_raises_within_its_bound(self, node: MakeBus) -> None:
        node("silent").listen(lambda message: None)
        requester = node("requester")
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="silent"):
            requester.request("silent", {"q": 1}, timeout=0.5)
        assert time.monotonic() - started < 0.5 + TIMEOUT_SLACK

    def test_only_a_request_can_be_replied_to(self, node: MakeBus) -> None:
        sender, receiver = node("sender"), node("receiver")
        got = Collector()
        receiver.listen(got)
        sender.send("receiver", {"n": 1})
        (message,) = got.wait_for(1)
        with pytest.raises(MessageRejectedError, match="not a request"):
            receiver.reply(message, {"n": 2})

    def test_unicode_bodies_arrive_unchanged(self, node: MakeBus) -> None:
        body = {
            "text": "naïve café — 数据 🚀 \u0000 \u200b \\ \" ' \n\t",
            "lone_surrogate": "\ud800",
            "nested": {"ключ": ["значение", 1, 2.5, None, True, False, {"": ""}]},
            "big_int": 2**62,
        }
        receiver = node("receiver")
        got = Collector()
        receiver.listen(got)
        node("sender").send("receiver", body)
        assert got.wait_for(1)[0].body == body

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"data": b"\x00\xff binary"}, id="bytes"),
            pytest.param({"value": float("nan")}, id="nan"),
            pytest.param({"value": float("inf")}, id="infinity"),
            pytest.param({"tags": {"a", "b"}}, id="set"),
            pytest.param({1: "integer key"}, id="non-string-key"),
            pytest.param(["not", "a", "dict"], id="list"),
            pytest.param(b"raw bytes", id="raw-bytes"),
            pytest.param(None, id="none"),
        ],
    )
    def test_a_body_json_cannot_hold_is_refused_and_nothing_is_sent(self, node: MakeBus, body: Any) -> None:
        receiver = node("receiver")
        got = Collector()
        receiver.listen(got)
        sender = node("sender")
        attempts: list[Callable[[], object]] = [
            lambda: sender.send("receiver", body),
            lambda: sender.broadcast(body),
            lambda: sender.publish("topic", body),
        ]
        for attempt in attempts:
            with pytest.raises(MessageRejectedError) as refused:
                attempt()
            assert "\n" not in str(refused.value) and len(str(refused.value)) < 400
        time.sleep(QUIET_PERIOD)
        assert got.messages == []

    def test_a_body_over_the_bound_is_refused_and_one_just_under_arrives(self, node: MakeBus) -> None:
        receiver = node("receiver")
        got = Collector()
        receiver.listen(got)
        sender = node("sender")
        overhead = len('{"blob":""}')
        with pytest.raises(MessageRejectedError, match=str(MAX_BODY_BYTES)):
            sender.send("receiver", {"blob": "x" * (MAX_BODY_BYTES - overhead + 1)})
        fits = {"blob": "y" * (MAX_BODY_BYTES - overhead)}
        sender.send("receiver", fits)
        (message,) = got.wait_for(1)
        assert message.body == fits

    @pytest.mark.parametrize("name", ["", " ", "has space", "new\nline", "x" * 201, "-leading-dash", "a/b", 7])
    def test_invalid_node_ids_and_topics_are_refused(self, node: MakeBus, name: Any) -> None:
        bus = node("valid-node_1.a:b@c")
        with pytest.raises(MessageRejectedError, match="not a valid name"):
            bus.send(name, {})
        with pytest.raises(MessageRejectedError, match="not a valid name"):
            bus.publish(name, {})
        with pytest.raises(MessageRejectedError, match="not a valid name"):
            bus.subscribe(name, lambda message: None)
        with pytest.raises(MessageRejectedError, match="not a valid name"):
            bus.request(name, {}, timeout=0.1)

    def test_messages_of_one_sender_arrive_in_the_order_sent(self, node: MakeBus) -> None:
        direct, topic = Collector(), Collector()
        node("receiver").listen(direct)
        node("subscriber").subscribe("ordered", topic)
        sender = node("sender")
        for n in range(200):
            sender.send("receiver", {"n": n})
            sender.publish("ordered", {"n": n})
        direct.wait_for(200)
        topic.wait_for(200)
        assert [m.body["n"] for m in direct.messages] == list(range(200))
        assert [m.body["n"] for m in topic.messages] == list(range(200))

    def test_a_handler_that_raises_does_not_stop_later_messages(self, node: MakeBus) -> None:
        def fail_on_first(message: Message) -> None:
            if message.body.get("n") == 0:
                raise RuntimeError("handler bug (deliberate, in a contract test)")

        got = Collector(on_message=fail_on_first)
        node("receiver").listen(got)
        sender = node("sender")
        sender.send("receiver", {"n": 0})
        sender.send("receiver", {"n": 1})
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while 1 not in [m.body.get("n") for m in got.messages] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {"n": 1} in got.bodies()

    def test_a_message_iterator_yields_each_message_in_order_after_the_previous_was_handled(
        self, node: MakeBus
    ) -> None:
        subscriber, sender = node("subscriber"), node("sender")
        seen: list[int] = []
        with MessageIterator(idle_timeout=DELIVERY_TIMEOUT) as messages:
            subscriber.subscribe("work", messages)
            for n in range(5):
                sender.publish("work", {"n": n})
            for message in messages:
                seen.append(message.body["n"])
                if len(seen) == 5:
                    break
        assert seen == [0, 1, 2, 3, 4]

    def test_close_stops_delivery_promptly(self, node: MakeBus) -> None:
        receiver = node("receiver")
        got = Collector()
        subscription = receiver.subscribe("news", got)
        sender = node("sender")
        sender.publish("news", {"n": 1})
        got.wait_for(1)
        started = time.monotonic()
        subscription.close()
        subscription.close()  # idempotent
        assert time.monotonic() - started < 10.0
        sender.publish("news", {"n": 2})
        time.sleep(QUIET_PERIOD)
        assert got.bodies() == [{"n": 1}]
        receiver.close()
        receiver.close()  # idempotent


__all__ = ["DELIVERY_TIMEOUT", "MESSAGE_BUS_CONTRACT_VERSION", "MessageBusContract", "QUIET_PERIOD"]
