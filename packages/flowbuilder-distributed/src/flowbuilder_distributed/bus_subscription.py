"""One subscription of the Redis bus: a thread reading streams through a consumer group.

The group is named after the node, and so is the consumer: every node gets each message of
a stream it reads once (fan-out across nodes), and a node that restarts finds the messages
it had read but not acknowledged in its own pending list. That is what makes delivery
at-least-once:

1. on start, the thread first re-reads this consumer's pending entries (``XREADGROUP ... 0``)
   and hands them to the handler again — messages whose handler never returned (the process
   was killed) or raised;
2. then it reads new entries (``XREADGROUP ... >``), blocking at most :data:`BLOCK_MS`
   at a time so that :meth:`StreamSubscription.close` takes effect within about a second;
3. an entry is acknowledged (``XACK``) only after its handler returned.

An entry delivered more than :data:`MAX_DELIVERIES` times (a poison message that kills its
handler's process every time) is moved to the dead-letter stream instead of delivered
again. Entries that are not bus messages (foreign or damaged data, or entries trimmed by
``MAXLEN`` while pending) are logged, acknowledged and skipped. While Redis is unreachable
the thread retries every second; a stream that vanished (Redis restarted without its data)
gets its group back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import FlowBuilderError
from flowbuilder.interfaces.message_bus import Handler, Subscription, decode_message

if TYPE_CHECKING:
    import redis

BLOCK_MS = 500
"""How long one read waits for new entries before looking at ``close`` again."""
READ_COUNT = 100
"""Entries fetched per read."""
RETRY_SECONDS = 1.0
"""The pause before reading again after Redis could not be reached."""
MAX_DELIVERIES = 5
"""Deliveries of one entry to one node before it goes to the dead-letter stream."""
CLOSE_TIMEOUT = 10.0
"""Seconds :meth:`StreamSubscription.close` waits for the thread (a read blocks at most BLOCK_MS)."""

log = logging.getLogger("flowbuilder.bus")


class StreamSubscription(Subscription):
    """Reads ``streams`` as consumer ``node`` of group ``node``, calling ``handler`` for each message.

    ``starts`` gives, per stream, where a newly created group begins: ``"0"`` (everything
    the stream holds: an inbox) or ``"$"`` (what is added from now on: topics, broadcasts).
    The groups are created before this returns, so an unreachable Redis is an error here.
    """

    def __init__(self, client: redis.Redis, node: str, starts: Mapping[str, str], handler: Handler, *,
                 dead_letters: str, dead_letter_maxlen: int, on_close: Any = None) -> None:  # fmt: skip
        self._client = client
        self._node = node
        self._starts = dict(starts)
        self._handler = handler
        self._dead_letters = dead_letters
        self._dead_letter_maxlen = dead_letter_maxlen
        self._on_close = on_close
        self._stopping = threading.Event()
        self.create_groups()
        names = ",".join(sorted(self._starts))
        self._thread = threading.Thread(target=self._run, name=f"flowbuilder-bus {node} {names}", daemon=True)
        self._thread.start()

    def create_groups(self) -> None:
        """Create this node's group on each stream (and the stream), keeping an existing group's position."""
        import redis

        for stream, start in self._starts.items():
            try:
                self._client.xgroup_create(stream, self._node, id=start, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        import redis

        pending_done = False
        while not self._stopping.is_set():
            try:
                if not pending_done:
                    self._deliver_pending()
                    pending_done = True
                self._deliver_new()
            except redis.ConnectionError as error:  # TimeoutError is a ConnectionError in redis-py
                log.warning("bus %s: Redis unreachable (%s); retrying every %gs", self._node, error, RETRY_SECONDS)
                self._stopping.wait(RETRY_SECONDS)
            except redis.ResponseError as error:
                if "NOGROUP" not in str(error):
                    log.warning("bus %s: Redis refused a read (%s); retrying", self._node, error)
                    self._stopping.wait(RETRY_SECONDS)
                    continue
                log.warning("bus %s: a stream lost its consumer group (Redis lost its data?); recreating it",
                            self._node)  # fmt: skip
                try:
                    self.create_groups()
                except redis.RedisError:
                    self._stopping.wait(RETRY_SECONDS)
            except Exception:  # a bug here must not end delivery silently: log it, read on
                log.exception("bus %s: reading failed; retrying in %gs", self._node, RETRY_SECONDS)
                self._stopping.wait(RETRY_SECONDS)

    def _deliver_pending(self) -> None:
        """Hand over again what this node read before and never acknowledged (oldest first)."""
        for stream in self._starts:
            self._dead_letter_poison(stream)
            after = "0"
            while not self._stopping.is_set():
                response = self._client.xreadgroup(self._node, self._node, {stream: after}, count=READ_COUNT)
                entries = _entries_of(response)
                if not entries:
                    break
                for _, entry_id, fields in entries:
                    self._handle(stream, entry_id, fields)
                    after = entry_id

    def _deliver_new(self) -> None:
        response = self._client.xreadgroup(
            self._node, self._node, {stream: ">" for stream in self._starts}, count=READ_COUNT, block=BLOCK_MS
        )
        for stream, entry_id, fields in _entries_of(response):
            if self._stopping.is_set():
                return  # left pending: delivered again when this node subscribes next
            self._handle(stream, entry_id, fields)

    def _handle(self, stream: str, entry_id: str, fields: Mapping[bytes, bytes] | None) -> None:
        text = (fields or {}).get(b"m")
        if text is None:  # trimmed by MAXLEN while pending, or not ours
            log.warning("bus %s: entry %s of %s holds no message; skipped", self._node, entry_id, stream)
            self._client.xack(stream, self._node, entry_id)
            return
        try:
            message = decode_message(text)
        except (ValueError, UnicodeDecodeError) as error:
            log.warning("bus %s: entry %s of %s is not a bus message (%s); skipped", self._node, entry_id, stream,
                        error)  # fmt: skip
            self._client.xack(stream, self._node, entry_id)
            return
        try:
            self._handler(message)
        except FlowBuilderError as error:  # a handler's own refusal: one line; the message stays pending
            log.warning("bus %s: %s", self._node, error)
            return
        except Exception:  # a handler's bug must not stop later messages; this one stays pending
            log.exception("bus %s: handler failed on message %s from %s; it is delivered again when %s subscribes"
                          " next", self._node, message.id, message.sender, self._node)  # fmt: skip
            return
        self._client.xack(stream, self._node, entry_id)

    def _dead_letter_poison(self, stream: str) -> None:
        """Move entries delivered :data:`MAX_DELIVERIES` times or more to the dead-letter stream."""
        after = "-"
        while True:
            rows: Any = self._client.xpending_range(stream, self._node, min=after, max="+", count=READ_COUNT,
                                               consumername=self._node)  # fmt: skip
            if not rows:
                return
            for row in rows:
                entry_id = _text(row["message_id"])
                if int(row["times_delivered"]) >= MAX_DELIVERIES:
                    self._move_to_dead_letters(stream, entry_id, int(row["times_delivered"]))
            if len(rows) < READ_COUNT:
                return
            after = "(" + _text(rows[-1]["message_id"])

    def _move_to_dead_letters(self, stream: str, entry_id: str, deliveries: int) -> None:
        found: Any = self._client.xrange(stream, min=entry_id, max=entry_id)
        text = found[0][1].get(b"m", b"") if found else b""
        pipe = self._client.pipeline(transaction=True)
        record: dict[Any, Any] = {
            "m": text,
            "stream": stream,
            "node": self._node,
            "entry": entry_id,
            "deliveries": str(deliveries),
        }
        pipe.xadd(self._dead_letters, record, maxlen=self._dead_letter_maxlen, approximate=True)
        pipe.xack(stream, self._node, entry_id)
        pipe.execute()
        log.error("bus %s: entry %s of %s was delivered %d times without being handled; moved to %s",
                  self._node, entry_id, stream, deliveries, self._dead_letters)  # fmt: skip

    # -- closing ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the thread to end (it does within :data:`BLOCK_MS`) without waiting for it."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._on_close is not None:
            self._on_close(self)

    def close(self) -> None:
        self.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join(CLOSE_TIMEOUT)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries_of(response: Any) -> Iterable[tuple[str, str, Mapping[bytes, bytes] | None]]:
    """``(stream, entry id, fields)`` for each entry of an XREADGROUP reply (RESP2, as the bus connects)."""
    if not response:
        return []
    found = []
    for stream, entries in response:
        for entry_id, fields in entries:
            found.append((_text(stream), _text(entry_id), fields))
    return found


__all__ = ["BLOCK_MS", "CLOSE_TIMEOUT", "MAX_DELIVERIES", "StreamSubscription"]
