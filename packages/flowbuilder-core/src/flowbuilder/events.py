"""The run event model: a run is an append-only, numbered sequence of these.

State is the fold of the events (:func:`fold_events`); snapshots only speed the fold up.
Events are ``msgspec.Struct`` instances, not pydantic models or dataclasses, because the
runner creates two per task on its hot path (see :class:`RunEvent`). Their stored form is JSON (:func:`encode_event` /
:func:`decode_event`), the same for every store, so any store can read what any other wrote
and nothing is ever unpickled.

Sequence numbers start at 1 and have no gaps. The writer numbers its events (it knows the
last number it appended) and a store refuses a batch whose first number is not the run's
last plus one (:class:`~flowbuilder.errors.SequenceConflictError`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping

import msgspec

EVENT_FORMAT_VERSION = 1
"""Bumped when the stored form of events changes; stores record it to migrate old data."""


MAX_UNTAKEN_SIGNALS = 1000
"""Signals a run keeps for tasks that do not wait for them yet (:attr:`RunState.signals`); past
this, the oldest is forgotten (its ``run_signalled`` event stays in the history)."""


class EventKind(str, Enum):
    """What happened. The string values are the stored form and never change meaning."""

    RUN_CREATED = "run_created"  # data: workflow, version, definition_hash, params, subworkflows?
    RUN_STARTED = "run_started"  # data: runner, resumed (bool), retry? (rerun, from, only, previous_status), parent?, logical_time?, idempotency_key?, fence? (scope, token)
    TASK_STARTED = "task_started"  # task, attempt
    TASK_SUCCEEDED = "task_succeeded"  # task, attempt, data: output, duration
    TASK_FAILED = "task_failed"  # task, attempt, data: error, exit_code?, duration, final (bool)
    TASK_RETRYING = "task_retrying"  # task, attempt (the one that failed), data: delay
    TASK_SKIPPED = "task_skipped"  # task, data: reason
    TASK_CANCELLED = "task_cancelled"  # task, attempt
    ITEM_STARTED = "item_started"  # task, attempt (the item's), data: item (position), key (digest of its value)
    ITEM_SUCCEEDED = "item_succeeded"  # task, attempt, data: item, output, duration
    ITEM_FAILED = "item_failed"  # task, attempt, data: item, error, final (bool: not retried)
    ITEM_CANCELLED = "item_cancelled"  # task, attempt, data: item
    TASK_ANNOTATED = "task_annotated"  # task, data: free-form (anomaly scores, advice; child_run: a sub-workflow's run)
    RUN_CANCEL_REQUESTED = "run_cancel_requested"  # data: reason (+ request, by, requested_at from a control request)
    RUN_PAUSED = "run_paused"  # data: request, by, requested_at, reason? — no new attempts start
    RUN_UNPAUSED = "run_unpaused"  # data: request, by, requested_at, reason? — attempts start again
    RUN_SIGNALLED = "run_signalled"  # data: request, name, payload, by, requested_at, reason?
    RUN_FINISHED = "run_finished"  # data: status (succeeded|failed|cancelled), timing? (where the time went)
    # Waiting tasks (approvals, timers): what the task waits for and until when (wall clock).
    TASK_WAITING = "task_waiting"  # task, attempt, data: until?, signal?, approvers?, default?, message?, since
    TASK_SIGNAL_REFUSED = "task_signal_refused"  # task, attempt, data: signal_request, name, by, reason
    # State-machine workflows (flowbuilder.state_machines): the run's path through its states.
    STATE_ENTERED = "state_entered"  # data: state
    TRANSITION_TAKEN = "transition_taken"  # data: from, to (None: the run fails), actions, signal?, request?, payload?, outcome?, compensate
    SIGNAL_IGNORED = "signal_ignored"  # data: state, signal, request, reason


class RunStatus(str, Enum):
    """A run's status. ``interrupted`` is never recorded: readers derive it from a ``running``
    run whose owner's lease lapsed (see :mod:`flowbuilder.leases`). A paused run stays
    ``running`` (its attempts in flight go on); :attr:`RunState.paused` says it is paused."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class TaskStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    """Started, and waiting for a signal or a time (an approval, a timer); it holds no worker slot."""
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED)


PLAIN_TEXT_LIMIT = 64 * 1024
"""Longest text a :class:`PlainRunEvent`'s data may hold (see there)."""


class RunEvent(msgspec.Struct):
    """One state change of a run.

    ``seq`` is the event's number within its run (1-based, no gaps); ``time`` is wall-clock
    seconds since the epoch; ``data`` holds kind-specific, JSON-serialisable fields.

    Treat events as immutable once created: they are shared by the store, every sink and
    the state fold. (They are not ``frozen`` because the runner replaces ``data`` with its
    masked copy before it stores a batch; freezing would cost a copy per masked event.)

    A ``msgspec.Struct`` rather than a slotted dataclass: the runner creates two per task,
    and a Struct is built in C. Construction, attribute access and assignment, equality,
    repr, pickling and ``__match_args__`` are as before; what the ``dataclasses`` functions
    did, ``msgspec.structs`` does (``replace``, ``asdict``, ``fields``). Equality, repr and
    pickling are written out here so that a :class:`PlainRunEvent` behaves as the
    ``RunEvent`` with the same fields.

    Tracked by the cycle collector: ``data`` may hold any object a task returned (a Python
    task may return its own context, whose log leads back to the run's events), so a cycle
    can pass through an event. The runner's hottest events, whose data it knows to be plain,
    are :class:`PlainRunEvent` instances, which the collector does not track.
    """

    run_id: str
    seq: int
    kind: EventKind
    task: str | None = None
    attempt: int = 0
    data: Mapping[str, Any] = msgspec.field(default_factory=dict)
    time: float = msgspec.field(default_factory=time.time)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunEvent):
            return NotImplemented
        return (self.run_id, self.seq, self.kind, self.task, self.attempt, self.data, self.time) == (
            other.run_id, other.seq, other.kind, other.task, other.attempt, other.data, other.time)  # fmt: skip

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self) -> str:
        return (f"RunEvent(run_id={self.run_id!r}, seq={self.seq!r}, kind={self.kind!r}, task={self.task!r}, "
                f"attempt={self.attempt!r}, data={self.data!r}, time={self.time!r})")  # fmt: skip

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunEvent, (self.run_id, self.seq, self.kind, self.task, self.attempt, self.data, self.time))


class PlainRunEvent(RunEvent, gc=False):
    """A :class:`RunEvent` that the cycle collector does not track: equal to, shown as, and
    pickled (and so sent to another process) as the ``RunEvent`` with the same fields.

    For events whose ``data`` holds only plain values (see below) built for the event or
    shared read-only, such as the runner's ``task_started`` (the task's ``{"type": ...}``)
    and ``task_succeeded`` of a scalar output. No reference cycle can pass through such an
    event (none of its fields can lead back to it), so not tracking it loses nothing; it spares a big run's collections a walk
    over every event it keeps (100,000 tasks: 390 young and 2 full collections, about 1 µs
    per task, against 131 young and none). An event whose data may hold any other object
    must be a ``RunEvent``: a cycle through an untracked event is never collected. The same
    holds for what replaces its ``data`` (``msgspec.structs.replace`` keeps the class).

    Plain is also a promise to the stores, which write such an event without walking its
    data (the walk cost more than the write): its data holds exactly ``str`` (at most
    :data:`PLAIN_TEXT_LIMIT` characters), ``int``, finite ``float``, ``bool``, ``None``, and
    ``dict`` with ``str`` keys and ``list`` of them, a few levels deep (what JSON holds); its
    other fields are what their annotations say, its ``time`` finite. Anything else in it
    would be stored in msgspec's form rather than :func:`encode_event`'s (``NaN`` as
    ``null``, bytes as base64), so the runner makes a NaN output a ``RunEvent``.
    """


def encode_event(event: RunEvent) -> bytes:
    """The stored form of an event: compact UTF-8 JSON without the run id (the key holds it)."""
    record: dict[str, Any] = {"s": event.seq, "k": event.kind.value, "t": event.time}
    if event.task is not None:
        record["n"] = event.task
    if event.attempt:
        record["a"] = event.attempt
    if event.data:
        record["d"] = event.data
    try:
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=json_fallback)
    except (TypeError, ValueError, RecursionError):  # keys JSON has no form for, a cycle, a value too deep
        text = json.dumps(_storable(record), separators=(",", ":"), ensure_ascii=False, default=json_fallback)
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate (a Python task's output or exception text can hold one): UTF-8 has
        # no form for it. Stored as U+FFFD, as json_fallback stores bytes that are not UTF-8,
        # so the run is recorded instead of its store's append raising out of the runner.
        import re

        return re.sub("[\ud800-\udfff]", "\ufffd", text).encode()


_JSON_KEY_TYPES = (str, int, float, bool, type(None))
MAX_STORABLE_DEPTH = 100
"""How deep :func:`encode_event`'s last resort copies a value; anything deeper is stored as a marker."""


def _storable(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """A copy of ``value`` that JSON can hold, for the events ``json.dumps`` refused (rare:
    only on that path, never per event): keys JSON has no form for (a tuple, a frozenset)
    become their ``repr``, a container that holds itself becomes ``"<cycle>"``, and one
    nested deeper than :data:`MAX_STORABLE_DEPTH` ``"<too deep>"``. So a run whose task or
    ``foreach`` item returned such a value is recorded, never stopped by its own store."""
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if id(value) in seen:
            return "<cycle>"
        if depth >= MAX_STORABLE_DEPTH:
            return "<too deep>"
        inner = seen | {id(value)}
        if isinstance(value, dict):
            return {
                (key if isinstance(key, _JSON_KEY_TYPES) else repr(key)): _storable(item, depth + 1, inner)
                for key, item in value.items()
            }
        return [_storable(item, depth + 1, inner) for item in value]
    return value


def decode_event(run_id: str, raw: bytes | str) -> RunEvent:
    """Inverse of :func:`encode_event`. A ``TypeError`` for an event whose number, time or data
    has the wrong type (damage: replaying the run met it as a bare error, exit 70)."""
    record = json.loads(raw)
    seq, data, when = record["s"], record.get("d", {}), record["t"]
    if type(seq) is not int or not isinstance(data, dict) or type(when) not in (float, int):
        raise TypeError(f"event {seq!r} is not an event (its number, time or data has the wrong type)")
    return RunEvent(
        run_id=run_id,
        seq=seq,
        kind=EventKind(record["k"]),
        task=record.get("n"),
        attempt=record.get("a", 0),
        data=data,
        time=when,
    )


def json_fallback(value: Any) -> Any:
    """The ``default=`` of every JSON encoder that writes events: sets and tuples become lists,
    bytes text (invalid UTF-8 replaced), enums their value, anything else its ``repr``.

    Public so that a store writing event bytes its own way (flowbuilder-storage's batch
    encoder) stores exactly what :func:`encode_event` would, instead of failing a batch.
    """
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Enum):
        return value.value
    return repr(value)


_json_fallback = json_fallback  # the name flowbuilder-storage 0.1 imported; kept for it


@dataclass(slots=True)
class ItemState:
    """What the events say about one item of a ``foreach`` task (its ``item_*`` events).

    ``key`` is a digest of the item's value: a resumed or retried run reuses the output of
    an item that succeeded only while the item at that position is still the same value.
    """

    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    output: Any = None
    error: str | None = None
    key: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "status": self.status.value,
            "attempts": self.attempts,
            "output": self.output,
            "error": self.error,
            "key": self.key,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemState:
        return cls(**{**data, "status": TaskStatus(data["status"])})


@dataclass(slots=True)
class TaskState:
    """What the events say about one task (``items``: a ``foreach`` task's items, by position)."""

    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    output: Any = None
    error: str | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    items: dict[int, ItemState] | None = None
    """None for a task that recorded no item (every task but a ``foreach`` one)."""
    waiting: dict[str, Any] | None = None
    """The data of the task's latest ``task_waiting`` (``until``: the wall-clock instant its
    wait ends, ``signal``: the name it waits for), kept until the task ends: a resumed run
    reads it to go on waiting for the remaining time rather than starting the wait afresh."""
    lock: dict[str, Any] | None = None
    """The lock its latest attempt held (``lock:``), as its ``task_started`` recorded it:
    ``name`` and ``token`` (the fencing token), shown by ``flowbuilder runs show``."""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "status": self.status.value,
            "attempts": self.attempts,
            "output": self.output,
            "error": self.error,
            "reason": self.reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        if self.items is not None:  # JSON object keys are text: positions are kept as strings
            data["items"] = {str(position): item.to_dict() for position, item in self.items.items()}
        if self.waiting is not None:  # only then: snapshots of runs without waits keep their old shape
            data["waiting"] = self.waiting
        if self.lock is not None:  # likewise for locks
            data["lock"] = self.lock
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskState:
        items = data.get("items")
        return cls(**{**data, "status": TaskStatus(data["status"]),
                      "items": None if items is None else {int(position): ItemState.from_dict(item)
                                                           for position, item in items.items()}})  # fmt: skip

    def item(self, position: int) -> ItemState:
        """The state of the item at ``position``, created on its first event."""
        items = self.items
        if items is None:
            items = self.items = {}
        found = items.get(position)
        if found is None:
            found = items[position] = ItemState()
        return found


@dataclass(slots=True)
class MachineProgress:
    """Where a state-machine run is: the fold of its state events (``RunState.machine``).

    ``current`` is the state entered last; ``history`` every ``state_entered``,
    ``transition_taken`` and ``signal_ignored`` (their data with ``seq``, ``time`` and
    ``kind``); ``waiting_signals`` the signals received (``run_signalled``) that no
    transition has consumed yet, oldest first; ``context`` the merged mapping payloads of
    the signals that moved the run; ``completed`` the states whose entry actions ended well
    and that no compensation has undone, in entry order; ``moving`` the last transition
    while its compensations run, before its target is entered (None otherwise).
    """

    current: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    waiting_signals: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    moving: dict[str, Any] | None = None

    def apply(self, event: RunEvent) -> None:
        data = event.data
        kind = event.kind
        if kind is EventKind.RUN_SIGNALLED:
            self.waiting_signals.append({"request": data.get("request"), "name": data.get("name"),
                                         "payload": data.get("payload")})  # fmt: skip
            return
        self.history.append({"seq": event.seq, "time": event.time, "kind": kind.value, **data})
        request = data.get("request")
        if request is not None:
            self.waiting_signals = [s for s in self.waiting_signals if s["request"] != request]
        if kind is EventKind.STATE_ENTERED:
            self.current = data.get("state")
            self.moving = None
        elif kind is EventKind.TRANSITION_TAKEN:
            left = data.get("from")
            if data.get("actions") != "failed" and isinstance(left, str):
                self.completed.append(left)
            undone = set(data.get("compensate") or ())
            self.completed = [name for name in self.completed if name not in undone]
            payload = data.get("payload")
            if isinstance(payload, dict):
                self.context.update(payload)
            self.moving = dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "history": self.history, "waiting_signals": self.waiting_signals,
                "context": self.context, "completed": self.completed, "moving": self.moving}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MachineProgress:
        return cls(data.get("current"), [dict(h) for h in data.get("history", ())],
                   [dict(s) for s in data.get("waiting_signals", ())], dict(data.get("context") or {}),
                   list(data.get("completed", ())), data.get("moving"))  # fmt: skip


_MACHINE_KINDS = frozenset({EventKind.STATE_ENTERED, EventKind.TRANSITION_TAKEN, EventKind.SIGNAL_IGNORED})


@dataclass(slots=True)
class RunState:
    """The fold of a run's events up to ``seq``; serialisable as a snapshot."""

    run_id: str
    seq: int = 0
    status: RunStatus = RunStatus.PENDING
    workflow: str | None = None
    version: str | None = None
    definition_hash: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None
    finished_at: float | None = None
    tasks: dict[str, TaskState] = field(default_factory=dict)
    paused: bool = False
    """Whether a pause request is in force (no new attempts start until an unpause)."""
    control_seen: int = 0
    """The number of the last control request the run's history records (its owner applied)."""
    retries: list[dict[str, Any]] = field(default_factory=list)
    """One entry per retry of the finished run (``flowbuilder retry``), oldest first: the
    ``retry`` data of its ``run_started`` (``rerun``, ``from``, ``only``, ``previous_status``)
    and ``seq``, where its events start in the run's history."""
    signals: list[dict[str, Any]] = field(default_factory=list)
    """Signals recorded (``run_signalled`` data) that no waiting task has taken or refused yet,
    oldest first: a resumed run hands them to the tasks that wait for them."""
    parent: dict[str, Any] | None = None
    """For a child run (``type: workflow``): ``run_id``, ``task``, ``attempt``, ``depth`` of its parent."""
    subworkflows: dict[str, Any] = field(default_factory=dict)
    """The definitions its ``path:`` children were pinned to when it started, by task."""
    children: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The newest child run each ``workflow`` task started: ``run_id`` and the parent's ``attempt``."""
    cached: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Task name -> the ``cached`` data of its ``task_succeeded`` (``key``, ``run``: the run
    whose result it was served), for tasks whose latest success came from the result cache.
    Kept here rather than on :class:`TaskState`, whose snapshot form older readers build with
    ``TaskState(**data)``."""
    logical_time: str | None = None
    """The scheduled instant the run stands for (``run_started``'s ``logical_time``), None if unscheduled."""
    timing: dict[str, Any] | None = None
    """Where the run's time went (``run_finished``'s ``timing``, see docs/runner.md, "Where the
    time went"); None while the run runs, and for runs recorded before runners measured it."""
    machine: MachineProgress | None = None
    """A state-machine run's progress (its first ``state_entered`` starts it); None for a DAG run."""
    fence: dict[str, Any] | None = None
    """The fence of the leader driving the run (the newest ``run_started``'s ``fence``: ``scope``
    and ``token``, see :mod:`flowbuilder.fencing`); None for a run no leader drives."""

    def apply(self, event: RunEvent) -> None:
        """Advance the state by one event (events must arrive in sequence order)."""
        if event.seq != self.seq + 1:
            raise ValueError(f"run {self.run_id}: event {event.seq} follows {self.seq}; events must have no gaps")
        self.seq = event.seq
        kind = event.kind
        data = event.data
        if kind is EventKind.RUN_CREATED:
            self.workflow = data.get("workflow")
            self.version = data.get("version")
            self.definition_hash = data.get("definition_hash")
            self.params = dict(data.get("params", {}))
            self.created_at = event.time
            self.subworkflows = dict(data.get("subworkflows") or {})
            return
        if kind is EventKind.RUN_STARTED:
            self.status = RunStatus.RUNNING
            self.logical_time = data.get("logical_time", self.logical_time)
            fence = data.get("fence")
            self.fence = dict(fence) if isinstance(fence, Mapping) else None  # whoever continues it now
            self.timing = None  # a resume or retry measures its own part
            self.paused = False  # a resumed run dispatches again: resuming is an unpause
            self.finished_at = None
            if data.get("parent"):
                self.parent = dict(data["parent"])
            retry = data.get("retry")
            if retry is not None:
                self.retries.append({**retry, "seq": event.seq})
                # The retried tasks run again (even the succeeded ones --from chose): their
                # clock restarts with their first attempt of the retry.
                for name in retry.get("rerun", ()):
                    again = self.tasks.get(name)
                    if again is not None:
                        again.started_at = None
                return
            if data.get("resumed"):
                # The resumed run runs these again: their clock restarts, so the downtime
                # before the resume is not counted as the task's time.
                for again in self.tasks.values():
                    if again.status is not TaskStatus.SUCCEEDED:
                        again.started_at = None
            return
        if kind is EventKind.RUN_FINISHED:
            self.status = RunStatus(data["status"])
            timing = data.get("timing")
            self.timing = dict(timing) if isinstance(timing, Mapping) else None
            self.finished_at = event.time
            self.paused = False
            return
        if event.task is None:
            if kind in _MACHINE_KINDS:
                if self.machine is None:
                    self.machine = MachineProgress()
                self.machine.apply(event)
                return
            if kind is EventKind.RUN_SIGNALLED and self.machine is not None:
                self.machine.apply(event)
            if kind in _CONTROL_KINDS:
                self.control_seen = max(self.control_seen, int(data.get("request", 0)))
                if kind is EventKind.RUN_SIGNALLED:
                    self.signals.append(dict(data))
                    if len(self.signals) > MAX_UNTAKEN_SIGNALS:  # a flood of signals nobody waits for
                        del self.signals[0]
                elif kind is EventKind.RUN_PAUSED:
                    self.paused = True
                elif kind is EventKind.RUN_UNPAUSED:
                    self.paused = False
            return
        task = self.tasks.get(event.task)
        if task is None:
            task = self.tasks[event.task] = TaskState()
        if self.signals and "signal_request" in data:  # a waiting task took (or refused) that signal
            taken = data["signal_request"]
            self.signals = [signal for signal in self.signals if signal.get("request") != taken]
        if kind is EventKind.TASK_STARTED:
            task.status = TaskStatus.RUNNING
            task.attempts = event.attempt
            lock = data.get("lock")
            if isinstance(lock, dict):
                task.lock = dict(lock)
            if task.started_at is None:
                task.started_at = event.time
        elif kind is EventKind.TASK_SUCCEEDED:
            task.status = TaskStatus.SUCCEEDED
            task.output = data.get("output")
            task.error = None
            task.finished_at = event.time
            task.waiting = None
            served = data.get("cached")
            if served is not None:
                self.cached[event.task] = dict(served)
            elif self.cached:
                self.cached.pop(event.task, None)
        elif kind is EventKind.TASK_FAILED:
            task.status = TaskStatus.FAILED
            task.error = data.get("error")
            task.finished_at = event.time
            task.waiting = None
        elif kind is EventKind.TASK_WAITING:
            task.status = TaskStatus.WAITING
            refused = task.waiting.get("refused") if task.waiting is not None else None
            task.waiting = dict(data)
            if refused:  # a resumed wait still shows what it refused before
                task.waiting["refused"] = refused
        elif kind is EventKind.TASK_SIGNAL_REFUSED and task.waiting is not None:
            # Shown with the wait (the newest few): who was refused, and why.
            refused = [*task.waiting.get("refused", ()), {key: data.get(key) for key in ("by", "reason")}]
            task.waiting = {**task.waiting, "refused": refused[-_REFUSALS_KEPT:]}
        elif kind is EventKind.TASK_RETRYING:
            task.status = TaskStatus.RETRYING
            task.error = data.get("error", task.error)
        elif kind is EventKind.TASK_SKIPPED:
            task.status = TaskStatus.SKIPPED
            task.reason = data.get("reason")
            task.finished_at = event.time
            task.waiting = None
        elif kind is EventKind.TASK_CANCELLED:
            task.status = TaskStatus.CANCELLED
            task.finished_at = event.time
            task.waiting = None
        elif kind in _ITEM_KINDS:
            _apply_item(task.item(int(data.get("item", 0))), event)
        elif kind is EventKind.TASK_ANNOTATED and "child_run" in data:
            self.children[event.task] = {"run_id": data["child_run"], "attempt": event.attempt}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "run_id": self.run_id,
            "seq": self.seq,
            "status": self.status.value,
            "workflow": self.workflow,
            "version": self.version,
            "definition_hash": self.definition_hash,
            "params": self.params,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "tasks": {name: state.to_dict() for name, state in self.tasks.items()},
            "paused": self.paused,
            "control_seen": self.control_seen,
            "retries": self.retries,
            "parent": self.parent,
            "subworkflows": self.subworkflows,
            "children": self.children,
            "cached": self.cached,
            "logical_time": self.logical_time,
            "timing": self.timing,
            **({"machine": self.machine.to_dict()} if self.machine is not None else {}),
        }
        if self.signals:  # only then: snapshots of runs without signals keep their old shape
            data["signals"] = self.signals
        if self.fence is not None:  # likewise
            data["fence"] = self.fence
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunState:
        state = cls(run_id=data["run_id"])
        state.seq = data["seq"]
        state.status = RunStatus(data["status"])
        state.workflow = data.get("workflow")
        state.version = data.get("version")
        state.definition_hash = data.get("definition_hash")
        state.params = dict(data.get("params", {}))
        state.created_at = data.get("created_at")
        state.finished_at = data.get("finished_at")
        state.tasks = {name: TaskState.from_dict(task) for name, task in data.get("tasks", {}).items()}
        state.paused = bool(data.get("paused", False))
        state.control_seen = int(data.get("control_seen", 0))
        state.retries = [dict(retry) for retry in data.get("retries", ())]
        state.signals = [dict(signal) for signal in data.get("signals", ())]
        state.parent = dict(data["parent"]) if data.get("parent") else None
        state.subworkflows = dict(data.get("subworkflows") or {})
        state.children = {name: dict(link) for name, link in (data.get("children") or {}).items()}
        state.cached = {name: dict(served) for name, served in data.get("cached", {}).items()}
        state.logical_time = data.get("logical_time")
        timing = data.get("timing")
        state.timing = dict(timing) if isinstance(timing, Mapping) else None
        machine = data.get("machine")
        state.machine = MachineProgress.from_dict(machine) if machine is not None else None
        fence = data.get("fence")
        state.fence = dict(fence) if isinstance(fence, Mapping) else None
        return state


_REFUSALS_KEPT = 5
"""Refused signals a waiting task's state keeps (the events keep every one)."""

_CONTROL_KINDS = frozenset({EventKind.RUN_CANCEL_REQUESTED, EventKind.RUN_PAUSED, EventKind.RUN_UNPAUSED,
                            EventKind.RUN_SIGNALLED})  # fmt: skip


_ITEM_KINDS = frozenset({EventKind.ITEM_STARTED, EventKind.ITEM_SUCCEEDED, EventKind.ITEM_FAILED,
                         EventKind.ITEM_CANCELLED})  # fmt: skip


def _apply_item(item: ItemState, event: RunEvent) -> None:
    """Advance one ``foreach`` item's state by one of its ``item_*`` events."""
    kind = event.kind
    data = event.data
    item.attempts = event.attempt or item.attempts
    if kind is EventKind.ITEM_STARTED:
        item.status = TaskStatus.RUNNING
        item.key = data.get("key")
        item.output = item.error = item.finished_at = None
        if event.attempt <= 1 or item.started_at is None:  # a first attempt (again, on resume) restarts the clock
            item.started_at = event.time
    elif kind is EventKind.ITEM_SUCCEEDED:
        item.status = TaskStatus.SUCCEEDED
        item.output = data.get("output")
        item.error = None
        item.finished_at = event.time
    elif kind is EventKind.ITEM_FAILED:
        item.status = TaskStatus.FAILED if data.get("final", True) else TaskStatus.RETRYING
        item.error = data.get("error")
        if item.status is TaskStatus.FAILED:
            item.finished_at = event.time
    else:
        item.status = TaskStatus.CANCELLED
        item.finished_at = event.time


def fold_events(run_id: str, events: Iterable[RunEvent], start: RunState | None = None) -> RunState:
    """The state after ``events``, starting from a snapshot ``start`` if given."""
    state = start if start is not None else RunState(run_id=run_id)
    for event in events:
        state.apply(event)
    return state


__all__ = [
    "EVENT_FORMAT_VERSION",
    "MAX_STORABLE_DEPTH",
    "MAX_UNTAKEN_SIGNALS",
    "PLAIN_TEXT_LIMIT",
    "EventKind",
    "ItemState",
    "MachineProgress",
    "PlainRunEvent",
    "RunEvent",
    "RunState",
    "RunStatus",
    "TaskState",
    "TaskStatus",
    "decode_event",
    "encode_event",
    "fold_events",
    "json_fallback",
]
