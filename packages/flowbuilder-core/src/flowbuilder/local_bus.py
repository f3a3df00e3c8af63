"""Core's message bus for one process: ``local://`` (issue 12, item 4; the DESIGN's "local event bus").

Every :class:`LocalMessageBus` opened on the same URL in one process is a node of the same
in-memory hub (``local://`` and ``local://NAME`` are different hubs), so threads and
plugins of a single-node FlowBuilder talk through the same interface a cluster uses over
Redis. Each subscription has a thread of its own that calls its handler one message at a
time, in the order the messages were sent.

What it keeps is in memory only: a message sent to a node that does not listen waits in
that node's inbox (at most :data:`MAX_WAITING_MESSAGES`, the oldest dropped beyond), a
handler that raises is logged and its message is not delivered again, and everything is
gone when the process ends. Use ``redis://`` to reach other processes.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

from flowbuilder.errors import FlowBuilderError
from flowbuilder.interfaces.message_bus import (
    DEFAULT_REQUEST_TIMEOUT,
    Handler,
    Message,
    MessageBus,
    MessageBusError,
    MessageRejectedError,
    RequestTimeoutError,
    Subscription,
    check_name,
    decode_message,
    new_message,
)

MAX_WAITING_MESSAGES = 10_000
"""Messages an inbox keeps for a node that does not listen (the oldest are dropped beyond)."""
CLOSE_TIMEOUT = 5.0
"""Seconds :meth:`Subscription.close` waits for a running handler call to return."""

log = logging.getLogger("flowbuilder.bus")
_STOP = object()


class _Delivery(Subscription):
    """A thread that calls one handler for each queued message, one at a time."""

    def __init__(self, handler: Handler, name: str, on_close: Callable[[_Delivery], None]):
        self._handler = handler
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._on_close = on_close
        self._closed = False
        self._thread = threading.Thread(target=self._deliver, name=f"flowbuilder-bus {name}", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        self._queue.put(text)

    def _deliver(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            message = decode_message(item)  # a copy per recipient: a handler may change its body freely
            try:
                self._handler(message)
            except FlowBuilderError as error:  # a handler's own refusal: one line
                log.warning("bus handler refused message %s from %s: %s", message.id, message.sender, error)
            except Exception:  # a handler's bug must not stop later messages
                log.exception("bus handler failed on message %s from %s; it is not delivered again", message.id,
                              message.sender)  # fmt: skip

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(CLOSE_TIMEOUT)


class _Hub:
    """What the nodes of one ``local://`` URL share."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listeners: dict[str, _Delivery] = {}
        self.waiting: dict[str, deque[str]] = {}
        self.topics: dict[str, dict[str, _Delivery]] = {}
        self.replies: dict[str, queue.SimpleQueue[Message]] = {}


_HUBS: dict[str, _Hub] = {}
_HUBS_LOCK = threading.Lock()


def _hub_for(url: str) -> _Hub:
    parts = urlsplit(url)
    key = f"{parts.netloc}{parts.path}".strip("/")
    with _HUBS_LOCK:
        return _HUBS.setdefault(key, _Hub())


class LocalMessageBus(MessageBus):
    """The in-process bus (``local://`` or ``local://NAME``); see the module docstring."""

    scheme: ClassVar[str] = "local"

    def __init__(self, node_id: str, hub: _Hub):
        super().__init__(node_id)
        self._hub = hub
        self._subscriptions: list[_Delivery] = []

    @classmethod
    def open(cls, url: str, node_id: str) -> LocalMessageBus:
        return cls(node_id, _hub_for(url))

    # -- sending ----------------------------------------------------------------------

    def _to_inbox(self, node: str, text: str) -> None:
        hub = self._hub
        with hub.lock:
            listener = hub.listeners.get(node)
            if listener is None:
                hub.waiting.setdefault(node, deque(maxlen=MAX_WAITING_MESSAGES)).append(text)
                return
        listener.put(text)

    def _to_topic(self, topic: str, text: str) -> None:
        with self._hub.lock:
            subscribers = list(self._hub.topics.get(topic, {}).values())
        for subscriber in subscribers:
            subscriber.put(text)

    def send(self, node: str, body: Mapping[str, Any]) -> Message:
        check_name(node, "node id")
        message, text = new_message(self.node_id, "direct", node, body)
        self._to_inbox(node, text)
        return message

    def broadcast(self, body: Mapping[str, Any]) -> Message:
        message, text = new_message(self.node_id, "broadcast", "*", body)
        with self._hub.lock:
            listeners = list(self._hub.listeners.values())
        for listener in listeners:
            listener.put(text)
        return message

    def publish(self, topic: str, body: Mapping[str, Any]) -> Message:
        check_name(topic, "topic")
        message, text = new_message(self.node_id, "topic", topic, body)
        self._to_topic(topic, text)
        return message

    # -- receiving --------------------------------------------------------------------

    def listen(self, handler: Handler) -> Subscription:
        hub = self._hub
        node = self.node_id
        with hub.lock:
            if node in hub.listeners:
                raise MessageBusError(f"node {node!r} already listens on this bus; close that subscription first")
            delivery = _Delivery(handler, f"{node} inbox", self._forget_listener)
            for text in hub.waiting.pop(node, ()):  # mail that arrived before the node listened
                delivery.put(text)
            hub.listeners[node] = delivery
        self._subscriptions.append(delivery)
        return delivery

    def _forget_listener(self, delivery: _Delivery) -> None:
        with self._hub.lock:
            if self._hub.listeners.get(self.node_id) is delivery:
                del self._hub.listeners[self.node_id]

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        check_name(topic, "topic")
        hub = self._hub
        with hub.lock:
            subscribers = hub.topics.setdefault(topic, {})
            if self.node_id in subscribers:
                raise MessageBusError(f"node {self.node_id!r} is already subscribed to topic {topic!r}")
            delivery = _Delivery(handler, f"{self.node_id} topic {topic}", partial(self._forget_topic, topic))
            subscribers[self.node_id] = delivery
        self._subscriptions.append(delivery)
        return delivery

    def _forget_topic(self, topic: str, delivery: _Delivery) -> None:
        with self._hub.lock:
            subscribers = self._hub.topics.get(topic, {})
            if subscribers.get(self.node_id) is delivery:
                del subscribers[self.node_id]

    # -- request/reply ----------------------------------------------------------------

    def request(self, to: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_REQUEST_TIMEOUT,
                topic: bool = False) -> Message:  # fmt: skip
        check_name(to, "topic" if topic else "node id")
        reply_to = f"local-reply:{uuid.uuid4().hex}"
        message, text = new_message(self.node_id, "request", to, body, reply_to=reply_to)
        replies: queue.SimpleQueue[Message] = queue.SimpleQueue()
        with self._hub.lock:
            self._hub.replies[reply_to] = replies
        try:
            if topic:
                self._to_topic(to, text)
            else:
                self._to_inbox(to, text)
            try:
                return replies.get(timeout=max(timeout, 0.0))
            except queue.Empty:
                where = f"topic {to!r}" if topic else f"node {to!r}"
                raise RequestTimeoutError(
                    f"no reply from {where} within {timeout:g}s to request {message.id};"
                    f" is a node listening{' to that topic' if topic else ''}?"
                ) from None
        finally:
            with self._hub.lock:
                self._hub.replies.pop(reply_to, None)

    def reply(self, request: Message, body: Mapping[str, Any]) -> Message:
        if request.kind != "request" or not request.reply_to:
            raise MessageRejectedError(f"message {request.id} is a {request.kind!r} message, not a request; only"
                                       " requests take a reply")  # fmt: skip
        message, text = new_message(self.node_id, "reply", request.sender, body, correlation_id=request.id)
        with self._hub.lock:
            waiting = self._hub.replies.get(request.reply_to)
        if waiting is not None:
            waiting.put(decode_message(text))
        return message

    def close(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()


__all__ = ["CLOSE_TIMEOUT", "LocalMessageBus", "MAX_WAITING_MESSAGES"]
