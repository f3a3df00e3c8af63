"""Live run feeds for Server-Sent Events: one store subscription per run, shared by every client.

A :class:`RunFeed` follows one run through the store's subscription seam
(:meth:`Store.subscribe <flowbuilder.interfaces.EventLog.subscribe>`, pushed, history first
then live) and keeps each update as a ready-to-send SSE frame. A hundred clients of one run
therefore cost one subscription (one blocked worker thread) and one JSON encoding per event,
not a hundred. Each client reads the shared frames from its own position, so a slow client
never delays another, and every client sees every event in order.

Frames: ``event: run_event`` with ``id: SEQ`` (the event's sequence number, so a browser that
reconnects sends ``Last-Event-ID`` and resumes after it), ``event: annotation`` (no id), and a
last ``event: end`` when the run has finished (or ``event: error`` when the store failed).
A feed is dropped once its run has ended and its last client left.

Log streams (:meth:`LiveFeeds.log_stream`) follow one run's log lines for one client through
:func:`flowbuilder.subscriptions.follow_logs` (pushed: a store wakes its waiters on a log-only
append too): ``event: log`` frames with ``id: NUMBER`` (the line's number, as ``/logs``
numbers it, so ``Last-Event-ID`` resumes), then ``event: end`` once the run finished and
every line was sent. A log stream holds one blocked worker thread like a run feed, and the
two share :data:`MAX_FOLLOWED_RUNS`.
"""

from __future__ import annotations

import asyncio
import json
from bisect import bisect_right
from typing import TYPE_CHECKING, AsyncIterator

from flowbuilder.errors import FlowBuilderError
from flowbuilder.events import MAX_STORABLE_DEPTH, json_fallback
from flowbuilder.subscriptions import follow_logs

if TYPE_CHECKING:
    from flowbuilder.annotations import Annotation
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import LogLine, Store

MAX_FOLLOWED_RUNS = 256
"""Runs followed at once (each holds one subscription); a stream of one more run gets 503."""
COALESCE_SECONDS = 0.02
"""After a write, a client's stream waits this long before the next one, so a run making
thousands of events a second costs each client ~50 writes a second, not one per batch (the
server's loop also runs the runs); a human watching sees no difference."""
KEEPALIVE_SECONDS = 15.0
"""An idle stream sends an SSE comment this often, so proxies keep it and a gone client is noticed."""


TOO_DEEP = "<too deep>"
SHOWN_DEPTH = MAX_STORABLE_DEPTH
"""How deeply nested a value the REST answers show (a task's output, an event's data, a
param, an annotation's payload); deeper parts are ``"<too deep>"``, core's marker."""


def _deeper_than(value: object, room: int) -> bool:
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, (list, tuple)):
        items = value  # type: ignore[assignment]
    else:
        return False
    return room <= 0 or any(_deeper_than(item, room - 1) for item in items)


def _capped(value: object, room: int) -> object:
    if isinstance(value, (dict, list, tuple)):
        if room <= 0:
            return TOO_DEEP
        if isinstance(value, dict):
            return {key: _capped(item, room - 1) for key, item in value.items()}
        return [_capped(item, room - 1) for item in value]
    return value


def shown_value(value: object) -> object:
    """``value`` itself, or, when it nests deeper than :data:`SHOWN_DEPTH`, a copy cut there.

    A task may return (and the store keep) JSON nested hundreds of levels deep, while the
    REST answers' serializer (pydantic) stops at 255 levels: ``GET /runs/{id}``, its
    ``/events`` and ``/outputs`` answered 500 for such a run, and the web UI could not show
    it at all. The SSE frames (``json.dumps``) show values whole.
    """
    return _capped(value, SHOWN_DEPTH) if _deeper_than(value, SHOWN_DEPTH) else value


def event_json(event: RunEvent) -> dict[str, object]:
    """An event as the API shows it (REST pages and SSE frames alike)."""
    return {"seq": event.seq, "kind": event.kind.value, "task": event.task, "attempt": event.attempt,
            "data": dict(event.data), "time": event.time}  # fmt: skip


def log_json(number: int, line: LogLine) -> dict[str, object]:
    """A log line as the API shows it (``/logs`` pages and SSE frames alike)."""
    return {"number": number, "task": line.task, "attempt": line.attempt, "stream": line.stream,
            "text": line.text, "time": line.time}  # fmt: skip


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_fallback)


def event_frame(event: RunEvent) -> str:
    return f"id: {event.seq}\nevent: run_event\ndata: {_dumps(event_json(event))}\n\n"


def log_frame(number: int, line: LogLine) -> str:
    return f"id: {number}\nevent: log\ndata: {_dumps(log_json(number, line))}\n\n"


def annotation_frame(annotation: Annotation) -> str:
    return f"event: annotation\ndata: {_dumps(annotation.to_dict())}\n\n"


_LAST = float("inf")
"""The place of a feed's last frame (``end`` or ``error``): after every event, so that every
client gets it, even one resuming after a number past the run's last event (with the event's
number the frame was skipped, and a browser's EventSource reconnected forever)."""


class RunFeed:
    """One run's updates as SSE frames, filled by one subscription; read by any number of clients."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.run_id = run_id
        self.frames: list[str] = []
        self.frame_seqs: list[float] = []  # per frame: its event's seq; an annotation's: the seq before it + 0.5
        self.ended = False
        self.clients = 0
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._follow(store))

    async def _follow(self, store: Store) -> None:
        last_seq = 0
        try:
            async for update in store.subscribe(self.run_id):
                for event in update.events:
                    last_seq = event.seq
                    self._add(event_frame(event), last_seq)
                for annotation in update.annotations:
                    self._add(annotation_frame(annotation), last_seq + 0.5)
                self._wake()
            self._add("event: end\ndata: {}\n\n", _LAST)
        except FlowBuilderError as error:
            self._add(f"event: error\ndata: {_dumps({'reason': str(error)})}\n\n", _LAST)
        finally:
            self.ended = True
            self._wake()

    def _add(self, frame: str, seq: float) -> None:
        self.frames.append(frame)
        self.frame_seqs.append(seq)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def frames_after(self, after_seq: int) -> AsyncIterator[str]:
        """Every frame after the event numbered ``after_seq``, live, until the run's end frame.

        Annotations that arrived after that event are sent again (at least once, like events
        to a client that reconnects without an id)."""
        position = 0
        while True:
            if position < len(self.frames) and self.frame_seqs[position] <= after_seq:
                position = bisect_right(self.frame_seqs, after_seq, lo=position)
            if position < len(self.frames):
                end = len(self.frames)
                yield "".join(self.frames[position:end])  # one write per wake-up, not one per event
                position = end
                if not self.ended:
                    await asyncio.sleep(COALESCE_SECONDS)  # let a busy run's events gather into the next write
                continue
            if self.ended:
                return
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keepalive\n\n"

    def close(self) -> None:
        self._task.cancel()


class Slot:
    """One of :data:`MAX_FOLLOWED_RUNS`, taken by a route (:meth:`LiveFeeds.reserve`) for a
    stream that has not started yet: the stream's first step gives it back as its feed or log
    stream starts counting. Checking room in the route and counting in the stream left a
    window: a burst of 600 log streams opened 281 of 256, each holding a blocking thread that
    runs need. A stream never started (its client left first) gives it back when dropped."""

    def __init__(self, feeds: LiveFeeds | None) -> None:
        self._feeds = feeds  # None: a slot that holds nothing (the run's feed exists: its stream shares it)
        if feeds is not None:
            feeds.reserved += 1

    def release(self) -> None:
        feeds, self._feeds = self._feeds, None
        if feeds is not None:
            feeds.reserved -= 1

    def __del__(self) -> None:
        self.release()


class LiveFeeds:
    """The feeds of the runs that clients follow now, by run id."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.feeds: dict[str, RunFeed] = {}
        self.log_streams = 0  # log streams open now (each follows its run on its own)
        self.reserved = 0  # slots routes took for streams not started yet (:class:`Slot`)

    def reserve(self, run_id: str | None = None) -> Slot | None:
        """A slot for a stream of ``run_id``'s events (None: of a log stream), or None when
        :data:`MAX_FOLLOWED_RUNS` are followed already. Following a run that has a feed takes
        none: the stream shares the feed (the :class:`Slot` holds nothing)."""
        if run_id is not None and run_id in self.feeds:
            return Slot(None)
        if len(self.feeds) + self.log_streams + self.reserved >= MAX_FOLLOWED_RUNS:
            return None
        return Slot(self)

    async def stream(self, run_id: str, after_seq: int, slot: Slot | None = None) -> AsyncIterator[str]:
        """The SSE frames of ``run_id`` after ``after_seq`` for one client (the run must exist;
        ``slot``: what :meth:`reserve` gave the route, given back once the feed counts)."""
        feed = self.feeds.get(run_id)
        if feed is None:
            feed = self.feeds[run_id] = RunFeed(self.store, run_id)  # the caller reserved room
        if slot is not None:
            slot.release()
        feed.clients += 1
        try:
            async for frame in feed.frames_after(after_seq):
                yield frame
        finally:
            feed.clients -= 1
            if feed.clients == 0 and self.feeds.get(run_id) is feed:
                del self.feeds[run_id]
                if not feed.ended:
                    feed.close()

    async def log_stream(self, run_id: str, task: str | None, after_line: int,
                         slot: Slot | None = None) -> AsyncIterator[str]:  # fmt: skip
        """The SSE frames of ``run_id``'s log lines (of ``task`` if given) after line ``after_line``
        for one client (the run must exist; the caller reserved room: ``slot``, given back here)."""
        lines = follow_logs(self.store, run_id, task, after_line).__aiter__()
        pending: asyncio.Future[list[tuple[int, LogLine]]] | None = None
        self.log_streams += 1
        if slot is not None:
            slot.release()
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(lines.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_SECONDS)
                if not done:
                    yield ": keepalive\n\n"
                    continue
                finished, pending = pending, None
                try:
                    batch = finished.result()
                except StopAsyncIteration:
                    break
                yield "".join(log_frame(number, line) for number, line in batch)
            yield "event: end\ndata: {}\n\n"
        except FlowBuilderError as error:
            yield f"event: error\ndata: {_dumps({'reason': str(error)})}\n\n"
        finally:
            self.log_streams -= 1
            if pending is not None:  # the client left while a turn waited: end the turn, then the follower
                pending.cancel()
                await asyncio.wait({pending})
            await lines.aclose()  # type: ignore[attr-defined]  # an async generator

    def room_for(self, run_id: str) -> bool:
        """Whether a client of ``run_id`` can be served (its feed exists, or there is room for one)."""
        return run_id in self.feeds or len(self.feeds) + self.log_streams + self.reserved < MAX_FOLLOWED_RUNS

    def room_for_logs(self) -> bool:
        """Whether one more log stream can be served (it shares :data:`MAX_FOLLOWED_RUNS` with the feeds)."""
        return len(self.feeds) + self.log_streams + self.reserved < MAX_FOLLOWED_RUNS

    def close(self) -> None:
        for feed in self.feeds.values():
            feed.close()
        self.feeds.clear()


__all__ = [
    "KEEPALIVE_SECONDS",
    "MAX_FOLLOWED_RUNS",
    "SHOWN_DEPTH",
    "LiveFeeds",
    "RunFeed",
    "Slot",
    "annotation_frame",
    "event_frame",
    "event_json",
    "log_frame",
    "log_json",
    "shown_value",
]
