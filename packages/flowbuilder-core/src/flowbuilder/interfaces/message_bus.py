"""The MessageBus interface: messages between the nodes of a cluster (issue 12, item 4).

Nodes (schedulers, workers, plugins) talk four ways through one bus:

* point to point: :meth:`MessageBus.send` puts a message in one node's inbox, which that
  node reads with :meth:`MessageBus.listen`;
* broadcast: :meth:`MessageBus.broadcast` reaches every node that listens;
* topics: :meth:`MessageBus.publish` reaches every node subscribed to the topic
  (:meth:`MessageBus.subscribe`), and no other;
* request/reply: :meth:`MessageBus.request` sends a request to a node (or a topic) and
  waits for the first :meth:`MessageBus.reply`, or raises :class:`RequestTimeoutError`.

A message is a :class:`Message`: a JSON-able ``body`` (a dict) with an ``id``, a
``sender`` and a ``timestamp``. Delivery is **at-least-once**: a handler may see the same
message twice (after a crash, a lost acknowledgement, a restart), so a handler that must act
once dedupes by ``message.id``. A bus is chosen by URL scheme (``local://``,
``redis://HOST:PORT/DB``) and registered through the ``flowbuilder_message_buses`` hook.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flowbuilder.errors import FlowBuilderError

MAX_BODY_BYTES = 1024 * 1024
"""The largest body a bus carries: 1 MiB of JSON. A larger one is refused before sending."""
MAX_ENVELOPE_BYTES = 64 * 1024
"""Room for a message's fields beside its body; anything larger read from a bus is not a message."""
NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,199}"
"""What a node id or a topic may look like (it becomes part of a key in the bus's medium)."""
DEFAULT_REQUEST_TIMEOUT = 5.0
"""Seconds :meth:`MessageBus.request` waits for a reply unless told otherwise."""

MESSAGE_KINDS = ("direct", "broadcast", "topic", "request", "reply")
"""How a message was sent: ``send``, ``broadcast``, ``publish``, ``request``, ``reply``."""

_NAME = re.compile(NAME_PATTERN)


class MessageBusError(FlowBuilderError):
    """A bus operation failed; the message says what to do."""


class MessageRejectedError(MessageBusError):
    """A message, node id or topic was refused before anything was sent (nothing was sent)."""


class RequestTimeoutError(MessageBusError):
    """No reply to a request arrived within its timeout."""


class BusUnavailableError(MessageBusError):
    """The bus's medium (a Redis server) cannot be reached."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message as a handler receives it.

    ``id`` names the message for good (a redelivery carries the same id: dedupe by it);
    ``sender`` is the node id that sent it; ``timestamp`` its sending time (Unix seconds);
    ``kind`` one of :data:`MESSAGE_KINDS`; ``to`` the node or topic it was sent to (``*``
    for a broadcast); ``body`` the JSON object sent. A request carries ``reply_to`` (where
    :meth:`MessageBus.reply` sends its answer); a reply carries ``correlation_id``, the id
    of the request it answers.
    """

    id: str
    sender: str
    timestamp: float
    kind: str
    to: str
    body: Mapping[str, Any]
    reply_to: str | None = None
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The message as a JSON-able dict (what a bus stores or sends)."""
        document: dict[str, Any] = {
            "id": self.id,
            "sender": self.sender,
            "timestamp": self.timestamp,
            "kind": self.kind,
            "to": self.to,
            "body": dict(self.body),
        }
        if self.reply_to is not None:
            document["reply_to"] = self.reply_to
        if self.correlation_id is not None:
            document["correlation_id"] = self.correlation_id
        return document


def check_name(value: object, what: str) -> str:
    """``value`` when it is a valid node id or topic, else :class:`MessageRejectedError` naming ``what``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = repr(value)[:80]
        raise MessageRejectedError(
            f"{what} {shown} is not a valid name: use 1-200 letters, digits and _.:@- (starting with a letter,"
            " digit or _)"
        )
    return value


def encode_body(body: object) -> str:
    """The JSON text of a message body, or :class:`MessageRejectedError` saying why it cannot be sent.

    A body is a dict with string keys whose values JSON holds (no bytes, sets, NaN or
    infinities); its JSON may be at most :data:`MAX_BODY_BYTES`. Binary data travels
    encoded (base64) by the sender's choice, never guessed at here.
    """
    if not isinstance(body, Mapping):
        raise MessageRejectedError(f"a message body must be a JSON object (a dict), not {type(body).__name__}")
    try:
        text = json.dumps(body, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise MessageRejectedError(
            f"the message body is not JSON ({error}); send text, numbers, lists and dicts (encode bytes as base64)"
        ) from None
    except RecursionError:
        raise MessageRejectedError("the message body is nested too deeply to be JSON") from None
    bad_key = _non_string_key(body)
    if bad_key is not None:
        raise MessageRejectedError(
            f"the message body has the key {bad_key!r} ({type(bad_key).__name__}); JSON object keys are text"
        )
    if len(text) > MAX_BODY_BYTES:  # ensure_ascii: one character is one byte
        raise MessageRejectedError(
            f"the message body is {len(text)} bytes of JSON, over the bus's bound of {MAX_BODY_BYTES} bytes;"
            " send a reference (a blob key, a path) instead of the data"
        )
    return text


def _non_string_key(body: Mapping[str, Any]) -> object | None:
    """The first dict key that is not text (JSON would silently turn ``1`` into ``"1"``), else None."""
    pending: list[Any] = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    found: object = key
                    return found
                if isinstance(item, (Mapping, list, tuple)):
                    pending.append(item)
        elif isinstance(value, (list, tuple)):
            pending.extend(item for item in value if isinstance(item, (Mapping, list, tuple)))
    return None


def new_message(sender: str, kind: str, to: str, body: Mapping[str, Any], *, reply_to: str | None = None,
                correlation_id: str | None = None) -> tuple[Message, str]:  # fmt: skip
    """A fresh message (new id, now) and the JSON text of its whole document, checked and bounded."""
    body_text = encode_body(body)
    message = Message(
        id=uuid.uuid4().hex,
        sender=sender,
        timestamp=time.time(),
        kind=kind,
        to=to,
        body=json.loads(body_text),  # a copy: later changes to the caller's dict do not travel
        reply_to=reply_to,
        correlation_id=correlation_id,
    )
    return message, json.dumps(message.to_dict(), allow_nan=False, separators=(",", ":"))


def decode_message(text: str | bytes) -> Message:
    """A message from the JSON a bus stored; ``ValueError`` when it is not one (foreign or damaged
    data, or more than a body's bound plus :data:`MAX_ENVELOPE_BYTES`: never parsed)."""
    if len(text) > MAX_BODY_BYTES + MAX_ENVELOPE_BYTES:
        raise ValueError(f"{len(text)} bytes, larger than any message a bus sends")
    try:
        document = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    try:
        message = Message(
            id=str(document["id"]),
            sender=str(document["sender"]),
            timestamp=float(document["timestamp"]),
            kind=str(document["kind"]),
            to=str(document["to"]),
            body=document["body"],
            reply_to=document.get("reply_to"),
            correlation_id=document.get("correlation_id"),
        )
    except (KeyError, TypeError, OverflowError) as error:  # OverflowError: a timestamp of 400 digits
        raise ValueError(f"missing or wrong field: {error}") from None
    if message.kind not in MESSAGE_KINDS or not isinstance(message.body, dict) or not math.isfinite(message.timestamp):
        raise ValueError("not a bus message")
    if not all(isinstance(value, (str, type(None))) for value in (message.reply_to, message.correlation_id)):
        raise ValueError("reply_to or correlation_id is not text")  # a reply would fail on it in the handler
    return message


Handler = Callable[[Message], None]
"""What a subscription calls for each message, on a thread of the bus, one message at a time."""


class Subscription(ABC):
    """A running :meth:`MessageBus.listen` or :meth:`MessageBus.subscribe`; :meth:`close` ends it."""

    @abstractmethod
    def close(self) -> None:
        """Stop delivering (idempotent). Returns once no handler call of it runs any more, at
        most a few seconds later; called from inside its own handler, it returns at once."""


class MessageIterator:
    """A handler that hands messages to a ``for`` loop instead, without weakening at-least-once.

    ::

        with MessageIterator(idle_timeout=30) as messages:
            bus.subscribe("jobs", messages)
            for message in messages:  # ends after 30 s without a message, or on close()
                process(message)

    The subscription's thread waits inside the handler until the loop asks for the *next*
    message, so a message counts as handled (and is acknowledged) only once the loop body
    that received it has finished. A message whose loop body never finished (the process
    died, the loop broke out) is delivered again when the node subscribes next (on a
    durable bus). Works with any :class:`MessageBus`; one loop per iterator. Close it (or
    leave its ``with`` block) before closing the bus: until then the subscription's thread
    waits for the loop.
    """

    def __init__(self, idle_timeout: float | None = None) -> None:
        import threading

        self._idle_timeout = idle_timeout
        self._changed = threading.Condition()
        self._offered: Message | None = None
        self._taken: Message | None = None
        self._finished: set[str] = set()
        self._closed = False

    def __call__(self, message: Message) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._offered is None or self._closed)
            if self._closed:
                raise MessageBusError(f"the message iterator was closed; message {message.id} is left for later")
            self._offered = message
            self._changed.notify_all()
            self._changed.wait_for(lambda: message.id in self._finished or self._closed)
            if message.id not in self._finished:
                raise MessageBusError(f"the message iterator was closed before message {message.id} was handled")
            self._finished.discard(message.id)

    def __iter__(self) -> MessageIterator:
        return self

    def __next__(self) -> Message:
        with self._changed:
            if self._closed:  # what was taken stays unfinished: delivered again later
                raise StopIteration
            if self._taken is not None:  # the loop body of the previous message has finished
                self._finished.add(self._taken.id)
                self._taken = None
                self._changed.notify_all()
            if not self._changed.wait_for(lambda: self._offered is not None or self._closed, self._idle_timeout):
                raise StopIteration
            if self._closed or self._offered is None:
                raise StopIteration
            self._taken, self._offered = self._offered, None
            self._changed.notify_all()
            return self._taken

    def close(self) -> None:
        """End the loop; a message offered or taken but not finished stays unacknowledged."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def __enter__(self) -> MessageIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MessageBus(ABC):
    """Messages between named nodes: point to point, broadcast, topics, request/reply.

    Registered by URL ``scheme`` through ``flowbuilder_message_buses`` and opened with
    :meth:`open` (``PluginHost.open_message_bus`` chooses by ``[bus] url`` in
    ``flowbuilder.toml``, ``FLOWBUILDER_BUS__URL``, or a command's ``--bus``). One instance
    is one node: every message it sends carries its :attr:`node_id` as ``sender``.

    Contract (``flowbuilder_contracts.message_bus.MessageBusContract``, version 1):

    * **At-least-once.** A message reaches each of its recipients at least once, as long as
      the recipient listens (or is subscribed) when it is sent and the bus's bound on
      waiting messages is not exceeded. A handler may see a message twice; ``message.id``
      is the same each time. A handler that returns has handled the message (the bus may
      acknowledge it then); one that raises is logged, and a durable bus delivers that
      message again when the node subscribes next. Other messages keep flowing.
    * **Order.** Messages one sender sends to one node, or publishes to one topic, reach
      each recipient in the order they were sent; a subscription calls its handler one
      message at a time. (A redelivered message comes before newer ones.)
    * **Inbox.** A node's inbox keeps messages sent before the node first listens.
      Broadcasts and topic messages reach only nodes listening or subscribed when sent (a
      durable bus also keeps them for a subscriber that was subscribed before and restarts).
    * **Bounds.** A body is a JSON object of at most :data:`MAX_BODY_BYTES`; anything else
      is refused with :class:`MessageRejectedError` before anything is sent. Node ids and
      topics match :data:`NAME_PATTERN`.
    * **Failures.** An unreachable medium raises :class:`BusUnavailableError` within a few
      seconds, never hangs. :meth:`request` raises :class:`RequestTimeoutError` once its
      timeout has passed without a reply.
    """

    scheme: ClassVar[str]
    """The URL scheme that chooses this bus (``local``, ``redis``)."""

    def __init__(self, node_id: str):
        self.node_id = check_name(node_id, "node id")

    @classmethod
    @abstractmethod
    def open(cls, url: str, node_id: str) -> MessageBus:
        """The bus at ``url`` as node ``node_id``.

        Opening is cheap and may not connect yet; an unreachable medium shows on first use
        as :class:`BusUnavailableError`.
        """

    @abstractmethod
    def send(self, node: str, body: Mapping[str, Any]) -> Message:
        """Put a message in ``node``'s inbox; returns the message sent (its id, timestamp)."""

    @abstractmethod
    def broadcast(self, body: Mapping[str, Any]) -> Message:
        """Send a message to every node that listens (this one too, if it listens)."""

    @abstractmethod
    def publish(self, topic: str, body: Mapping[str, Any]) -> Message:
        """Send a message to every node subscribed to ``topic``."""

    @abstractmethod
    def listen(self, handler: Handler) -> Subscription:
        """Call ``handler`` for each message of this node's inbox (sent, requested) and each broadcast.

        One listening subscription per bus instance; a second is refused with
        :class:`MessageBusError` until the first is closed.
        """

    @abstractmethod
    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Call ``handler`` for each message published to ``topic`` (one subscription per topic per instance)."""

    @abstractmethod
    def request(self, to: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_REQUEST_TIMEOUT,
                topic: bool = False) -> Message:  # fmt: skip
        """Send a request to node ``to`` (or, with ``topic=True``, publish it to topic ``to``)
        and return the first reply (its ``correlation_id`` is the request's id).

        Raises :class:`RequestTimeoutError` when no reply comes within ``timeout`` seconds;
        replies arriving later are dropped. The responder's handler answers with :meth:`reply`.
        """

    @abstractmethod
    def reply(self, request: Message, body: Mapping[str, Any]) -> Message:
        """Answer ``request`` (a message of kind ``request``); a request nobody waits for any more is
        answered into the void. Anything but a request is refused with :class:`MessageRejectedError`."""

    @abstractmethod
    def close(self) -> None:
        """Close every subscription of this instance and release connections (idempotent)."""

    def __enter__(self) -> MessageBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = [
    "BusUnavailableError",
    "DEFAULT_REQUEST_TIMEOUT",
    "Handler",
    "MAX_BODY_BYTES",
    "MAX_ENVELOPE_BYTES",
    "MESSAGE_KINDS",
    "Message",
    "MessageBus",
    "MessageBusError",
    "MessageIterator",
    "MessageRejectedError",
    "NAME_PATTERN",
    "RequestTimeoutError",
    "Subscription",
    "check_name",
    "decode_message",
    "encode_body",
    "new_message",
]
