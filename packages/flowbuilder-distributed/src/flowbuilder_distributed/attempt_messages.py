"""The messages of remote execution, as JSON: an attempt sent to workers, its result sent back,
and the log lines a running attempt sends ahead of its result.

Both are versioned (``v``) and checked field by field when read: a stream can hold anything
anyone wrote to it, so :func:`read_attempt` and :func:`read_result` turn garbage into
:class:`BadMessage` (with the reason, and as much of the message as could be read) instead of
an exception deep in a worker. Both carry only JSON: a config or input that JSON cannot
carry fails its attempt with a clear message at submit time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

FORMAT_VERSION = 1
MAX_MESSAGE_BYTES = 64 << 20
"""A message larger than this is refused by the reader (a worker must not parse 1 GB of junk)."""
MAX_LOG_LINES = 2000
"""Log lines a worker sends back with a result; later lines are replaced by one marker."""
MAX_LOG_LINE_CHARS = 16384
LIVE_LOG_SECONDS = 0.25
"""The longest a worker holds an attempt's log line before sending it ahead of the result
(for an executor that asked for live lines, :attr:`AttemptMessage.live_logs`)."""


class BadMessage(ValueError):
    """A message that cannot be used; ``attempt_id`` and ``results`` are set when they were readable."""

    def __init__(self, reason: str, attempt_id: str | None = None, results: str | None = None):
        super().__init__(reason)
        self.attempt_id = attempt_id
        self.results = results


@dataclass(slots=True)
class AttemptMessage:
    """One attempt as a worker receives it."""

    attempt_id: str
    results: str
    run_id: str
    task: str
    number: int
    task_type: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    item: Any = None
    timeout: float | None = None
    labels: tuple[str, ...] = ()
    group: str = "default"
    live_logs: bool = False
    """The executor reads :class:`LogMessage` entries: send lines while the attempt runs. A
    worker that predates this ignores it and sends every line with the result; an executor
    that predates it never sets it, so it never meets a message it cannot read."""

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "attempt_id": self.attempt_id,
                "results": self.results,
                "run_id": self.run_id,
                "task": self.task,
                "number": self.number,
                "type": self.task_type,
                "config": self.config,
                "inputs": self.inputs,
                "params": self.params,
                "env": self.env,
                "item": self.item,
                "timeout": self.timeout,
                "placement": {"labels": list(self.labels), "group": self.group},
                "live_logs": self.live_logs,
            },
            separators=(",", ":"),
            allow_nan=False,
        ).encode()


@dataclass(slots=True)
class ResultMessage:
    """How one attempt ended, as a worker reports it.

    ``kind`` is ``succeeded``, ``failed`` or ``cancelled``; ``failure`` holds a TaskFailure's
    fields (``exit_code``, ``status``, ``timed_out``, ``retryable``) or is None; ``stream`` and
    ``message_id`` name the attempt's message, which the executor acknowledges.
    """

    attempt_id: str
    kind: str
    stream: str
    message_id: str
    worker: str
    value: Any = None
    message: str = ""
    failure: Mapping[str, Any] | None = None
    logs: list[tuple[str, str]] = field(default_factory=list)

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "attempt_id": self.attempt_id,
                "kind": self.kind,
                "stream": self.stream,
                "id": self.message_id,
                "worker": self.worker,
                "value": self.value,
                "message": self.message,
                "failure": self.failure,
                "logs": self.logs,
            },
            separators=(",", ":"),
            allow_nan=False,
        ).encode()


def _load(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, (bytes, str)):
        raise BadMessage("the message has no payload")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise BadMessage(f"the message is {len(raw)} bytes, over the {MAX_MESSAGE_BYTES} limit")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadMessage(f"the message is not JSON ({str(error)[:80]})") from None
    if not isinstance(data, dict):
        raise BadMessage("the message is not a JSON object")
    if data.get("v") != FORMAT_VERSION:
        raise BadMessage(f"unknown message format {str(data.get('v'))[:20]!r} (this worker reads {FORMAT_VERSION})")
    return data


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadMessage(f"field {key!r} is missing or not text")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise BadMessage(f"field {key!r} is not an object")
    return value


def _seconds(value: Any) -> float | None:
    """``value`` as finite, non-negative seconds, else None (NaN, text, an integer of 400 digits:
    ``math.isfinite`` raised OverflowError on it, which ended the worker that read it)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if 0 <= seconds < math.inf else None


def read_attempt(raw: Any) -> AttemptMessage:
    """The attempt in a stream entry's payload; :class:`BadMessage` if it is not one."""
    data = _load(raw)
    attempt_id = data.get("attempt_id") if isinstance(data.get("attempt_id"), str) else None
    results = data.get("results") if isinstance(data.get("results"), str) else None
    try:
        number = data.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise BadMessage("field 'number' is not a positive integer")
        timeout = data.get("timeout")
        if timeout is not None and _seconds(timeout) is None:
            raise BadMessage("field 'timeout' is not a number of seconds")
        placement = _mapping(data, "placement")
        labels = placement.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise BadMessage("field 'placement.labels' is not a list of names")
        env = _mapping(data, "env")
        if not all(isinstance(value, str) for value in env.values()):
            raise BadMessage("field 'env' holds a value that is not text")
        return AttemptMessage(
            attempt_id=_text(data, "attempt_id"),
            results=_text(data, "results"),
            run_id=_text(data, "run_id"),
            task=_text(data, "task"),
            number=number,
            task_type=_text(data, "type"),
            config=_mapping(data, "config"),
            inputs=_mapping(data, "inputs"),
            params=_mapping(data, "params"),
            env=env,
            item=data.get("item"),
            timeout=_seconds(timeout) if timeout is not None else None,
            labels=tuple(labels),
            group=str(placement.get("group") or "default"),
            live_logs=data.get("live_logs") is True,
        )
    except BadMessage as error:
        raise BadMessage(str(error), attempt_id, results) from None


_KINDS = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(slots=True)
class LogMessage:
    """Log lines of a running attempt, sent ahead of its result (field ``logs`` of a results-stream
    entry; a result is field ``result``). The result then carries only the lines written after."""

    attempt_id: str
    logs: list[tuple[str, str]]

    def encode(self) -> bytes:
        return json.dumps({"v": FORMAT_VERSION, "attempt_id": self.attempt_id, "logs": self.logs},
                          separators=(",", ":")).encode()  # fmt: skip


def _log_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    logs = data.get("logs") or []
    if not isinstance(logs, list) or not all(
        isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry) for entry in logs
    ):
        raise BadMessage("field 'logs' is not a list of [stream, line] pairs")
    return [(stream, line) for stream, line in logs]


def read_log_message(raw: Any) -> LogMessage:
    """The lines in a results-stream entry's ``logs`` payload; :class:`BadMessage` if it is not that."""
    data = _load(raw)
    return LogMessage(attempt_id=_text(data, "attempt_id"), logs=_log_lines(data))


def read_result(raw: Any) -> ResultMessage:
    """The result in a results-stream entry's payload; :class:`BadMessage` if it is not one."""
    data = _load(raw)
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:  # a list or an object: unhashable, TypeError
        raise BadMessage(f"field 'kind' is {str(kind)[:20]!r}, not one of {sorted(_KINDS)}")
    failure = data.get("failure")
    if failure is not None and not isinstance(failure, dict):
        raise BadMessage("field 'failure' is not an object")
    logs = _log_lines(data)
    message = data.get("message") or ""
    return ResultMessage(
        attempt_id=_text(data, "attempt_id"),
        kind=kind,
        stream=_text(data, "stream"),
        message_id=_text(data, "id"),
        worker=str(data.get("worker") or "?"),
        value=data.get("value"),
        message=message if isinstance(message, str) else str(message),
        failure=failure,
        logs=logs,
    )


def failure_fields(error: BaseException) -> dict[str, Any]:
    """A TaskFailure's fields for :attr:`ResultMessage.failure` (a plain retryable failure otherwise)."""
    return {
        "exit_code": getattr(error, "exit_code", None),
        "status": getattr(error, "status", None),
        "timed_out": bool(getattr(error, "timed_out", False)),
        "retryable": bool(getattr(error, "retryable", True)),
    }


__all__ = [
    "FORMAT_VERSION",
    "AttemptMessage",
    "LIVE_LOG_SECONDS",
    "BadMessage",
    "LogMessage",
    "ResultMessage",
    "failure_fields",
    "read_attempt",
    "read_log_message",
    "read_result",
]
