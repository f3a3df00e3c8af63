"""The cluster event bus over Redis Streams: ``redis://HOST:PORT/DB`` (issue 12, item 4).

Keys (``NS`` is the URL's ``namespace``, default ``flowbuilder``):

* ``NS:bus:inbox:NODE`` — a node's inbox: :meth:`~RedisMessageBus.send` and requests to
  the node land here. The node's consumer group starts at the stream's beginning, so mail
  sent before the node first listens is kept for it.
* ``NS:bus:broadcast`` — one stream every listening node reads through a group of its own.
* ``NS:bus:topic:TOPIC`` — one stream per topic; each subscribed node reads it through a
  group of its own (fan-out), created at the end of the stream on its first subscription.
* ``NS:bus:reply:ID`` — the reply inbox of one request: the requester blocks on it until a
  reply or its timeout, then deletes it; a late reply expires after :data:`REPLY_TTL_SECONDS`.
* ``NS:bus:dead`` — entries a node could not handle in :data:`MAX_DELIVERIES` deliveries.

Every ``XADD`` trims its stream to about ``maxlen`` entries (``MAXLEN ~``; the URL's
``maxlen``, default :data:`DEFAULT_MAXLEN`), so nothing grows forever; the price is that a
node that falls further behind than that loses the oldest messages. Delivery is
at-least-once, acknowledged after the handler returns (see
:mod:`flowbuilder_distributed.bus_subscription`). Node ids must be unique among live
nodes: two processes with one id share one consumer and split its messages.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.message_bus import (
    DEFAULT_REQUEST_TIMEOUT,
    BusUnavailableError,
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
from flowbuilder_distributed.bus_subscription import MAX_DELIVERIES, StreamSubscription

if TYPE_CHECKING:
    import redis

DEFAULT_NAMESPACE = "flowbuilder"
URL_OPTIONS = frozenset({"namespace", "maxlen"})
"""The query options a bus URL may carry (anything else is refused, not passed to redis-py)."""
DEFAULT_MAXLEN = 10_000
"""Entries each stream keeps (about): ``?maxlen=N`` in the URL changes it."""
REPLY_TTL_SECONDS = 60
"""How long a reply nobody collected stays in Redis."""
CONNECT_TIMEOUT = 3.0
"""Seconds to connect before an unreachable Redis is reported (never a hang)."""
SOCKET_TIMEOUT = 10.0
"""Seconds one command may take (blocking reads block for less)."""
REPLY_POLL_MS = 1000
"""The longest single blocking read while a request waits (the socket timeout must exceed it)."""


class RedisMessageBus(MessageBus):
    """The bus of the nodes sharing one Redis database and namespace; see the module docstring."""

    scheme: ClassVar[str] = "redis"

    def __init__(self, node_id: str, client: redis.Redis, *, namespace: str = DEFAULT_NAMESPACE,
                 maxlen: int = DEFAULT_MAXLEN, shown_url: str = "redis://") -> None:  # fmt: skip
        super().__init__(node_id)
        self._client = client
        self._prefix = f"{namespace}:bus"
        self._maxlen = maxlen
        self._shown_url = shown_url
        self._lock = threading.Lock()
        self._subscriptions: list[StreamSubscription] = []
        self._listening: StreamSubscription | None = None
        self._topics: dict[str, StreamSubscription] = {}

    @classmethod
    def open(cls, url: str, node_id: str) -> RedisMessageBus:
        """``redis://[:PASSWORD@]HOST:PORT/DB[?namespace=NS&maxlen=N]`` as node ``node_id`` (connects lazily)."""
        import redis

        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as error:
            raise ConfigurationError(f"bus URL {_shown(url)!r} cannot be read: {error}") from None
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - URL_OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"bus URL {_shown(url)!r}: unknown option {unknown[0]!r} (known: {', '.join(sorted(URL_OPTIONS))})"
            )
        namespace = options.pop("namespace", DEFAULT_NAMESPACE)
        check_name(namespace, "bus namespace")
        maxlen_text = options.pop("maxlen", str(DEFAULT_MAXLEN))
        if not maxlen_text.isdigit() or int(maxlen_text) < 10:
            raise ConfigurationError(f"bus URL {_shown(url)!r}: maxlen must be a whole number of at least 10")
        connection_url = urlunsplit(parts._replace(query=urlencode(options)))
        try:
            client = redis.Redis.from_url(connection_url, socket_connect_timeout=CONNECT_TIMEOUT,
                                          socket_timeout=SOCKET_TIMEOUT)  # fmt: skip
        except (ValueError, TypeError) as error:
            raise ConfigurationError(f"bus URL {_shown(url)!r}: {error}") from None
        return cls(node_id, client, namespace=namespace, maxlen=int(maxlen_text), shown_url=_shown(url))

    # -- keys -------------------------------------------------------------------------

    def inbox_key(self, node: str) -> str:
        return f"{self._prefix}:inbox:{node}"

    def topic_key(self, topic: str) -> str:
        return f"{self._prefix}:topic:{topic}"

    @property
    def broadcast_key(self) -> str:
        return f"{self._prefix}:broadcast"

    @property
    def dead_letter_key(self) -> str:
        return f"{self._prefix}:dead"

    def _reply_key(self, request_id: str) -> str:
        return f"{self._prefix}:reply:{request_id}"

    # -- sending ----------------------------------------------------------------------

    def _add(self, stream: str, text: str) -> None:
        with self._errors_named(f"send to {stream}"):
            self._client.xadd(stream, {"m": text}, maxlen=self._maxlen, approximate=True)

    def send(self, node: str, body: Mapping[str, Any]) -> Message:
        check_name(node, "node id")
        message, text = new_message(self.node_id, "direct", node, body)
        self._add(self.inbox_key(node), text)
        return message

    def broadcast(self, body: Mapping[str, Any]) -> Message:
        message, text = new_message(self.node_id, "broadcast", "*", body)
        self._add(self.broadcast_key, text)
        return message

    def publish(self, topic: str, body: Mapping[str, Any]) -> Message:
        check_name(topic, "topic")
        message, text = new_message(self.node_id, "topic", topic, body)
        self._add(self.topic_key(topic), text)
        return message

    # -- receiving --------------------------------------------------------------------

    def _subscribe(self, starts: Mapping[str, str], handler: Handler) -> StreamSubscription:
        with self._errors_named("subscribe"):
            subscription = StreamSubscription(
                self._client, self.node_id, starts, handler, dead_letters=self.dead_letter_key,
                dead_letter_maxlen=self._maxlen, on_close=self._forget,
            )  # fmt: skip
        self._subscriptions.append(subscription)
        return subscription

    def listen(self, handler: Handler) -> Subscription:
        with self._lock:
            if self._listening is not None:
                raise MessageBusError(
                    f"node {self.node_id!r} already listens on this bus; close that subscription first"
                )
            starts = {self.inbox_key(self.node_id): "0", self.broadcast_key: "$"}
            self._listening = self._subscribe(starts, handler)
            return self._listening

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        check_name(topic, "topic")
        with self._lock:
            if topic in self._topics:
                raise MessageBusError(f"node {self.node_id!r} is already subscribed to topic {topic!r}")
            self._topics[topic] = self._subscribe({self.topic_key(topic): "$"}, handler)
            return self._topics[topic]

    def _forget(self, subscription: StreamSubscription) -> None:
        with self._lock:
            if self._listening is subscription:
                self._listening = None
            for topic, held in list(self._topics.items()):
                if held is subscription:
                    del self._topics[topic]

    # -- request/reply ----------------------------------------------------------------

    def request(self, to: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_REQUEST_TIMEOUT,
                topic: bool = False) -> Message:  # fmt: skip
        check_name(to, "topic" if topic else "node id")
        reply_key = self._reply_key(uuid.uuid4().hex)
        message, text = new_message(self.node_id, "request", to, body, reply_to=reply_key)
        self._add(self.topic_key(to) if topic else self.inbox_key(to), text)
        deadline = time.monotonic() + max(timeout, 0.0)
        try:
            with self._errors_named(f"wait for the reply to request {message.id}"):
                while True:
                    remaining_ms = int((deadline - time.monotonic()) * 1000)
                    if remaining_ms <= 0:
                        break
                    response: Any = self._client.xread(
                        {reply_key: "0"}, count=1, block=min(remaining_ms, REPLY_POLL_MS)
                    )
                    for _, entries in response or ():
                        for _, fields in entries:
                            try:
                                reply = decode_message(fields[b"m"])
                            except (KeyError, ValueError, UnicodeDecodeError):
                                continue  # not a reply of ours; keep waiting
                            if reply.correlation_id == message.id:
                                return reply
        finally:
            self._delete_quietly(reply_key)
        where = f"topic {to!r}" if topic else f"node {to!r}"
        raise RequestTimeoutError(
            f"no reply from {where} within {timeout:g}s to request {message.id};"
            f" is a node listening{' to that topic' if topic else ''} on {self._shown_url}?"
        )

    def reply(self, request: Message, body: Mapping[str, Any]) -> Message:
        if request.kind != "request" or not request.reply_to:
            raise MessageRejectedError(f"message {request.id} is a {request.kind!r} message, not a request; only"
                                       " requests take a reply")  # fmt: skip
        if not request.reply_to.startswith(f"{self._prefix}:reply:"):  # never write to a key a sender chose
            raise MessageRejectedError(f"request {request.id} names a reply inbox outside this bus; not answered")
        message, text = new_message(self.node_id, "reply", request.sender, body, correlation_id=request.id)
        with self._errors_named(f"reply to request {request.id}"):
            pipe = self._client.pipeline(transaction=False)
            pipe.xadd(request.reply_to, {"m": text}, maxlen=16, approximate=False)
            pipe.expire(request.reply_to, REPLY_TTL_SECONDS)
            pipe.execute()
        return message

    def _delete_quietly(self, key: str) -> None:
        import redis

        try:
            self._client.delete(key)
        except redis.RedisError:
            pass  # it expires on its own once a reply set its TTL

    # -- errors and closing -----------------------------------------------------------

    def _errors_named(self, doing: str) -> _RedisErrors:
        return _RedisErrors(doing, self._shown_url)

    def close(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:  # all at once: each read ends within BLOCK_MS
            subscription.stop()
        for subscription in subscriptions:
            subscription.close()
        self._client.close()


class _RedisErrors:
    """Turns redis-py's errors into the bus's one-line errors."""

    def __init__(self, doing: str, shown_url: str) -> None:
        self._doing = doing
        self._shown_url = shown_url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        import redis

        if error is None or not isinstance(error, redis.RedisError):
            return
        reason = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, redis.ConnectionError):  # redis.TimeoutError is one too
            raise BusUnavailableError(
                f"message bus at {self._shown_url} unreachable ({reason}) while trying to {self._doing};"
                " is Redis running there?"
            ) from None
        raise MessageBusError(f"message bus at {self._shown_url} refused to {self._doing}: {reason}") from None


def _shown(url: str) -> str:
    """``url`` without its password, for messages (also a URL that cannot be read: its error
    message once showed the password)."""
    from flowbuilder.errors import shown_url

    return shown_url(url)


__all__ = ["DEFAULT_MAXLEN", "DEFAULT_NAMESPACE", "MAX_DELIVERIES", "REPLY_TTL_SECONDS", "RedisMessageBus"]
