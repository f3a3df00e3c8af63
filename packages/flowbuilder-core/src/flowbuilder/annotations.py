"""Annotations: notes that any writer attaches to a run, beside (never inside) its events.

A run's events have one writer at a time (the runner), numbered with an expected sequence
number so two schedulers can never both advance a run. Annotations — an anomaly score, an
operator's note, an audit entry — come from anyone, at any time, live or after the run
finished. They live in a second key space of the run, numbered by the store in the order
they arrive (1, 2, ...), so adding one never moves the run's event sequence and the
runner's next append can never conflict with it.

Every store keeps them in the same encoding (:func:`encode_annotation`): compact UTF-8
JSON without the run id and number (the key or list position holds those).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import (
    UNREADABLE_RECORD,
    ConfigurationError,
    FlowBuilderError,
    StoreError,
    quoted,
    unreadable_record,
)

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder.limits import YamlLimits

MAX_ANNOTATION_BYTES = 64 * 1024
"""An annotation's stored form may be at most this big: annotations are notes, not outputs
(keep large data in a blob and put its reference in the payload)."""
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One note on a run.

    ``kind`` names what it is (``note``, ``anomaly``, ``audit``...: a letter, then up to 63
    letters, digits or ``_ . : -``); ``task`` and ``attempt`` say what it is about (None: the
    whole run); ``payload`` is any JSON value; ``author`` says who wrote it. ``number`` is
    the annotation's place in the run's annotations (1-based), given by the store: leave it
    0 when adding one.
    """

    kind: str
    payload: Any = None
    task: str | None = None
    attempt: int | None = None
    author: str = ""
    time: float = field(default_factory=time.time)
    number: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "kind": self.kind, "task": self.task, "attempt": self.attempt,
                "payload": self.payload, "author": self.author, "time": self.time}  # fmt: skip


def encode_annotation(annotation: Annotation) -> bytes:
    """The stored form; :class:`StoreError` (one line, saying what to change) for a bad annotation."""
    if not isinstance(annotation.kind, str) or not _KIND.match(annotation.kind):
        raise StoreError(f"invalid annotation kind {annotation.kind!r}: use a letter followed by up to 63 letters,"
                         " digits or _ . : -")  # fmt: skip
    if annotation.attempt is not None and (not isinstance(annotation.attempt, int) or annotation.attempt < 0):
        raise StoreError(f"invalid annotation attempt {annotation.attempt!r}: use a whole number >= 0")
    if not isinstance(annotation.time, (int, float)) or not math.isfinite(annotation.time):
        raise StoreError(f"invalid annotation time {annotation.time!r}: use seconds since the epoch")
    record: dict[str, Any] = {"k": annotation.kind, "t": annotation.time}
    if annotation.task is not None:
        record["n"] = str(annotation.task)
    if annotation.attempt is not None:
        record["a"] = annotation.attempt
    if annotation.payload is not None:
        record["p"] = annotation.payload
    if annotation.author:
        record["w"] = str(annotation.author)
    try:
        raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise StoreError(f"annotation payload is not JSON ({error}); encode binary data as base64 text") from None
    except UnicodeEncodeError:
        raise StoreError("annotation holds text that is not valid Unicode (lone surrogates); send UTF-8") from None
    if len(raw) > MAX_ANNOTATION_BYTES:
        raise StoreError(f"annotation is {len(raw)} bytes, more than the {MAX_ANNOTATION_BYTES} allowed; keep large"
                         " data in a file or blob and annotate with its reference")  # fmt: skip
    return raw


def decode_annotation(raw: bytes | str, number: int) -> Annotation:
    """Inverse of :func:`encode_annotation`, numbered by where the store found it."""
    try:
        record = json.loads(raw)
        return Annotation(kind=record["k"], payload=record.get("p"), task=record.get("n"), attempt=record.get("a"),
                          author=record.get("w", ""), time=record["t"], number=number)  # fmt: skip
    except UNREADABLE_RECORD as error:
        raise unreadable_record(f"stored annotation {number}", error) from None


def add_annotation(
    store: Store, run_id: str, annotation: Annotation, *, limits: YamlLimits | None = None
) -> Annotation:
    """Check a user's annotation against the run it is for, then add it (the stored one).

    Every way a user annotates — ``flowbuilder runs annotate``, REST and gRPC — comes
    through here, so they refuse the same things with the same line: what
    :func:`encode_annotation` refuses (:class:`StoreError`), an unknown run
    (:class:`~flowbuilder.errors.RunNotFoundError`) and a task the run does not have
    (:class:`ConfigurationError`, see :func:`check_annotated_task`). Plugins annotating runs
    they are running (anomaly scores, ETAs) call ``store.annotate`` directly.
    """
    encode_annotation(annotation)  # its own checks first: nothing is read for a bad one
    store.get_run(run_id)
    if annotation.task is not None:
        check_annotated_task(store, run_id, annotation.task, limits=limits)
    return store.annotate(run_id, annotation)


def check_annotated_task(store: Store, run_id: str, task: str, *, limits: YamlLimits | None = None) -> None:
    """:class:`ConfigurationError` in one line, listing the run's tasks, if the run has no ``task``.

    Why: an annotation about a mistyped task was stored and then shown against nothing.
    The run's tasks are those of its stored definition and those its history records (a
    sub-workflow's or state machine's); ``NAME[N]``, an item of a foreach task, counts as
    ``NAME``. When the definition cannot be read (none was stored, or it no longer loads) only
    a finished run is checked — its history then names every task it has.
    """
    recorded = store.load_state(run_id)
    names = set(recorded.tasks)
    definition = _defined_tasks(store, recorded.definition_hash, limits)
    if definition is None and not recorded.status.finished:
        return
    names |= definition or set()
    if task in names or task.partition("[")[0] in names:
        return
    listed = sorted(names)
    known = ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "") or "none"
    raise ConfigurationError(f"run {run_id} has no task {quoted(task)} (its tasks: {known})")


def _defined_tasks(store: Store, digest: str | None, limits: YamlLimits | None) -> set[str] | None:
    """The task names of the stored definition ``digest``; None when it cannot be read."""
    from flowbuilder.limits import YamlLimits
    from flowbuilder.loader import load_workflow

    if not digest:
        return None
    try:
        content = store.load_definition(digest)
        source = load_workflow(content, filename=f"<definition {digest[:12]}>", limits=limits or YamlLimits())
    except FlowBuilderError:
        return None
    return {task.name for task in source.workflow.tasks}


__all__ = [
    "Annotation",
    "MAX_ANNOTATION_BYTES",
    "add_annotation",
    "check_annotated_task",
    "decode_annotation",
    "encode_annotation",
]
