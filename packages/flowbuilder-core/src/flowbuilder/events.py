"""The run event model: a run is an append-only, numbered sequence of these.

State is the fold of the events (:func:`fold_events`); snapshots only speed the fold up.
Events are plain slotted dataclasses, not pydantic models, because the runner creates one
per state change on its hot path. Their stored form is JSON (:func:`encode_event` /
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

EVENT_FORMAT_VERSION = 1
"""Bumped when the stored form of events changes; stores record it to migrate old data."""


class EventKind(str, Enum):
    """What happened. The string values are the stored form and never change meaning."""

    RUN_CREATED = "run_created"  # data: workflow, version, definition_hash, params
    RUN_STARTED = "run_started"  # data: runner, resumed (bool), retry? (rerun, from, only, previous_status)
    TASK_STARTED = "task_started"  # task, attempt
    TASK_SUCCEEDED = "task_succeeded"  # task, attempt, data: output, duration
    TASK_FAILED = "task_failed"  # task, attempt, data: error, exit_code?, duration, final (bool)
    TASK_RETRYING = "task_retrying"  # task, attempt (the one that failed), data: delay
    TASK_SKIPPED = "task_skipped"  # task, data: reason
    TASK_CANCELLED = "task_cancelled"  # task, attempt
    TASK_ANNOTATED = "task_annotated"  # task, data: free-form (anomaly scores, advice)
    RUN_CANCEL_REQUESTED = "run_cancel_requested"  # data: reason (+ request, by, requested_at from a control request)
    RUN_PAUSED = "run_paused"  # data: request, by, requested_at, reason? — no new attempts start
    RUN_UNPAUSED = "run_unpaused"  # data: request, by, requested_at, reason? — attempts start again
    RUN_SIGNALLED = "run_signalled"  # data: request, name, payload, by, requested_at, reason?
    RUN_FINISHED = "run_finished"  # data: status (succeeded|failed|cancelled)
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
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED)


@dataclass(slots=True)
class RunEvent:
    """One state change of a run.

    ``seq`` is the event's number within its run (1-based, no gaps); ``time`` is wall-clock
    seconds since the epoch; ``data`` holds kind-specific, JSON-serialisable fields.

    Treat events as immutable once created: they are shared by the store, every sink and
    the state fold. They are not ``frozen`` dataclasses only because a frozen dataclass's
    ``__init__`` costs about three times as much, and the runner creates two per task.
    """

    run_id: str
    seq: int
    kind: EventKind
    task: str | None = None
    attempt: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)


def encode_event(event: RunEvent) -> bytes:
    """The stored form of an event: compact UTF-8 JSON without the run id (the key holds it)."""
    record: dict[str, Any] = {"s": event.seq, "k": event.kind.value, "t": event.time}
    if event.task is not None:
        record["n"] = event.task
    if event.attempt:
        record["a"] = event.attempt
    if event.data:
        record["d"] = event.data
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=json_fallback).encode()


def decode_event(run_id: str, raw: bytes | str) -> RunEvent:
    """Inverse of :func:`encode_event`."""
    record = json.loads(raw)
    return RunEvent(
        run_id=run_id,
        seq=record["s"],
        kind=EventKind(record["k"]),
        task=record.get("n"),
        attempt=record.get("a", 0),
        data=record.get("d", {}),
        time=record["t"],
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
class TaskState:
    """What the events say about one task."""

    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    output: Any = None
    error: str | None = None
    reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "attempts": self.attempts,
            "output": self.output,
            "error": self.error,
            "reason": self.reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskState:
        return cls(**{**data, "status": TaskStatus(data["status"])})


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
    machine: MachineProgress | None = None
    """A state-machine run's progress (its first ``state_entered`` starts it); None for a DAG run."""

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
            return
        if kind is EventKind.RUN_STARTED:
            self.status = RunStatus.RUNNING
            self.paused = False  # a resumed run dispatches again: resuming is an unpause
            self.finished_at = None
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
                if kind is EventKind.RUN_PAUSED:
                    self.paused = True
                elif kind is EventKind.RUN_UNPAUSED:
                    self.paused = False
            return
        task = self.tasks.get(event.task)
        if task is None:
            task = self.tasks[event.task] = TaskState()
        if kind is EventKind.TASK_STARTED:
            task.status = TaskStatus.RUNNING
            task.attempts = event.attempt
            if task.started_at is None:
                task.started_at = event.time
        elif kind is EventKind.TASK_SUCCEEDED:
            task.status = TaskStatus.SUCCEEDED
            task.output = data.get("output")
            task.error = None
            task.finished_at = event.time
        elif kind is EventKind.TASK_FAILED:
            task.status = TaskStatus.FAILED
            task.error = data.get("error")
            task.finished_at = event.time
        elif kind is EventKind.TASK_RETRYING:
            task.status = TaskStatus.RETRYING
            task.error = data.get("error", task.error)
        elif kind is EventKind.TASK_SKIPPED:
            task.status = TaskStatus.SKIPPED
            task.reason = data.get("reason")
            task.finished_at = event.time
        elif kind is EventKind.TASK_CANCELLED:
            task.status = TaskStatus.CANCELLED
            task.finished_at = event.time

    def to_dict(self) -> dict[str, Any]:
        return {
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
            **({"machine": self.machine.to_dict()} if self.machine is not None else {}),
        }

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
        machine = data.get("machine")
        state.machine = MachineProgress.from_dict(machine) if machine is not None else None
        return state


_CONTROL_KINDS = frozenset({EventKind.RUN_CANCEL_REQUESTED, EventKind.RUN_PAUSED, EventKind.RUN_UNPAUSED,
                            EventKind.RUN_SIGNALLED})  # fmt: skip


def fold_events(run_id: str, events: Iterable[RunEvent], start: RunState | None = None) -> RunState:
    """The state after ``events``, starting from a snapshot ``start`` if given."""
    state = start if start is not None else RunState(run_id=run_id)
    for event in events:
        state.apply(event)
    return state


__all__ = [
    "EVENT_FORMAT_VERSION",
    "EventKind",
    "MachineProgress",
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
