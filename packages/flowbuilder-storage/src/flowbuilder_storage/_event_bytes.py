"""Core's stored form of events, written about 3x and read about 4x faster with msgspec.

Appending is dominated by turning events into JSON. :func:`flowbuilder.events.encode_event`
builds a dict and calls ``json.dumps``, which constructs a new encoder for every event. Here
an event whose fields and data are plain JSON values (exactly ``dict`` with ``str`` keys,
``list``, ``tuple``, ``str``, ``int``, finite ``float``, ``bool``, ``None``, nested at most
:data:`MAX_PLAIN_DEPTH` deep) is written by one reused ``msgspec.json.Encoder``: the same
record (``s``, ``k``, ``t``, ``n``, ``a``, ``d``), the same values. Anything else goes through
core's encoder unchanged, because msgspec would store it differently: it writes ``NaN`` and
infinities as ``null``, bytes as base64, dataclasses, datetimes, UUIDs and decimals in forms
of its own, where core's ``json_fallback`` stores a ``repr`` or text.

An event that core declares plain, a :class:`~flowbuilder.events.PlainRunEvent` (the runner's
``task_started`` and ``task_succeeded`` of a scalar output, whose data its type promises to be
plain JSON values), is not walked: its record is built as it is. The walk, not the record or
msgspec, was most of an append's cost on RocksDB's thread.

The bytes are JSON that any version reads back to the same event; they may differ from
``encode_event``'s only in how a number is spelled (msgspec writes ``1.2e-6`` and ``1e16``
where Python writes ``1.2e-06`` and ``1e+16``: the same float), so the stored format and
:data:`flowbuilder_storage._records.FORMAT_VERSION` are unchanged, and events written by an
earlier version (``json.dumps``) read as before. Values stay JSON: nothing is ever executed
when read.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from msgspec import Struct
from msgspec.json import Decoder, Encoder

import flowbuilder.events
from flowbuilder.events import EventKind, RunEvent, decode_event, encode_event
from flowbuilder_storage._records import UNREADABLE, unreadable_record

MAX_PLAIN_DEPTH = 32
"""Containers nested deeper than this take core's encoder (which also reports cycles)."""


class _StoredEvent(Struct, omit_defaults=True):
    """Core's stored record (``encode_event``): the same keys in the same order, ``n``, ``a``
    and ``d`` left out when empty. A Struct is built and encoded faster than a dict."""

    s: int
    k: str
    t: float
    n: str | None = None
    a: int = 0
    d: Any = None


_encoder = Encoder()
_encode = _encoder.encode
_encode_lines = _encoder.encode_lines
_decode = Decoder().decode
_KIND_VALUES: dict[Any, str] = {kind: kind.value for kind in EventKind}
_KINDS: dict[str, EventKind] = {kind.value: kind for kind in EventKind}


_PLAIN_EVENT: type | None = getattr(flowbuilder.events, "PlainRunEvent", None)
"""Core's event type whose data is promised plain; None with a core of the accepted range
that predates it (a 0.2.0 development snapshot), whose events are then all walked."""


def event_bytes(event: RunEvent) -> bytes:
    """The stored form of one event (see :func:`events_bytes`)."""
    return events_bytes((event,))[0]


MAX_PLAIN_TEXT = 64 * 1024
"""Texts longer than this go through core's encoder. msgspec crashed the process (SIGSEGV)
when the address space ran out while it encoded a batch of 1 MB outputs, where core's encoder
raises MemoryError, which the store turns into its one-line "not enough memory" error; large
values gain little from msgspec's speed anyway."""


def events_bytes(events: Iterable[RunEvent]) -> list[bytes]:
    """The stored form of each event: what ``encode_event`` gives, decoding to the same event.

    One call per batch, so the per-event work is a loop body rather than a function call.
    Raises what ``encode_event`` raises for an event it cannot store (a lone surrogate in a
    string).
    """
    encode = _encode
    record_of = _plain_record
    encoded: list[bytes] = []
    add = encoded.append
    checked: dict[str, Any] = {}
    for event in events:
        record = record_of(event, checked)
        if record is not None:
            try:
                add(encode(record))
                continue
            except Exception:  # a lone surrogate: core's encoder raises its own error below
                pass
        add(encode_event(event))
    return encoded


def _plain_record(event: RunEvent, checked: dict[str, Any]) -> _StoredEvent | None:
    """``event``'s msgspec record when its kind, time, task, numbers and data are plain JSON
    values (see :func:`events_bytes`), else None (core's encoder stores it).

    ``checked`` holds, per kind, the last data found plain: the runner gives every
    ``task_started`` of a type the same mapping, checked once per batch instead of once per
    event (the events hold their data, so an object seen in one call is the same, unchanged,
    for the whole call). One rule for :func:`events_bytes` and :func:`event_values`.

    A :class:`~flowbuilder.events.PlainRunEvent` of a known kind is taken at its word: its
    data is not walked (see the module).
    """
    if type(event) is _PLAIN_EVENT:
        kind = _KIND_VALUES.get(event.kind)
        if kind is not None:
            return _StoredEvent(event.seq, kind, event.time, event.task, event.attempt, event.data or None)
    moment = event.time
    task = event.task
    data = event.data
    kind = _KIND_VALUES.get(event.kind)
    if (
        kind is not None
        and ((type(moment) is float and moment - moment == 0.0) or type(moment) is int)  # finite
        and (task is None or type(task) is str)
        and type(event.seq) is int
        and type(event.attempt) is int
        and (not data or data is checked.get(kind) or _plain_mapping(data, 0))
    ):
        if data:
            checked[kind] = data
        return _StoredEvent(event.seq, kind, moment, task, event.attempt, data or None)
    return None


EVENTS_PER_VALUE = 64
"""Most consecutive events one stored value holds (see :func:`event_values`): a put per 64
events instead of per event, while a read of the newest events still decodes little."""


def event_values(run_id: str, events: Sequence[RunEvent], after_seq: int,
                 per_value: int = EVENTS_PER_VALUE) -> list[tuple[int, bytes]] | None:  # fmt: skip
    """The stored values of a batch, in order, each as ``(how many events it holds, value)``;
    None if the events are not run ``run_id``'s, numbered ``after_seq + 1, + 2, ...`` (checked
    here, in the one pass over the events, rather than in a pass of its own).

    Runs of consecutive plain events (see :func:`events_bytes`) share one value: their
    stored forms joined by newlines, written by one msgspec call (stored JSON never holds a
    raw newline, so a reader splits a value at ``\\n``; a value of one event is exactly
    format 1's). Any other event gets a value of its own, core's encoding. Raises what
    :func:`events_bytes` raises.
    """
    record_of = _plain_record
    stored = _StoredEvent
    kinds = _KIND_VALUES
    plain_event = _PLAIN_EVENT
    values: list[tuple[int, bytes]] = []
    group: list[_StoredEvent] = []
    group_start = 0
    checked: dict[str, Any] = {}
    seq = after_seq
    for index, event in enumerate(events):
        seq += 1
        if event.seq != seq or event.run_id != run_id:
            return None
        if type(event) is plain_event and event.kind in kinds:  # _plain_record's first case, inlined
            record: _StoredEvent | None = stored(seq, kinds[event.kind], event.time, event.task, event.attempt,
                                                 event.data or None)  # fmt: skip
        else:
            record = record_of(event, checked)
        if record is not None:
            if not group:
                group_start = index
            group.append(record)
            if len(group) == per_value:
                _add_group(values, group, events[group_start : index + 1])
                group = []
            continue
        if group:
            _add_group(values, group, events[group_start:index])
            group = []
        values.append((1, encode_event(event)))
    if group:
        _add_group(values, group, events[group_start:])
    return values


def _add_group(values: list[tuple[int, bytes]], group: list[_StoredEvent], events: Sequence[RunEvent]) -> None:
    """Append the value of ``group`` (the records of ``events``): one value, or one per event
    through :func:`events_bytes` when msgspec refuses one of them (a lone surrogate)."""
    try:
        lines = _encode_lines(group)
    except Exception:
        values.extend((1, value) for value in events_bytes(events))
        return
    values.append((len(group), lines[:-1]))  # without the last newline: values are joined by one on export


def grouped_values(encoded: Sequence[bytes], per_value: int = EVENTS_PER_VALUE) -> list[tuple[int, bytes]]:
    """:func:`event_values` for events already in their stored form (a routed client's, each
    a line with no raw newline): runs of forms shorter than :data:`MAX_PLAIN_TEXT` share values
    of up to ``per_value``; a longer one keeps a value of its own (no copy of a big event)."""
    values: list[tuple[int, bytes]] = []
    group: list[bytes] = []
    for raw in encoded:
        if len(raw) >= MAX_PLAIN_TEXT:
            if group:
                values.append((len(group), b"\n".join(group)))
                group = []
            values.append((1, raw))
            continue
        group.append(raw)
        if len(group) == per_value:
            values.append((len(group), b"\n".join(group)))
            group = []
    if group:
        values.append((len(group), b"\n".join(group)))
    return values


def split_value(value: bytes) -> list[bytes]:
    """The stored forms of the events one stored value holds (see :func:`event_values`)."""
    return value.split(b"\n") if b"\n" in value else [value]


_NUMBERS = (float, int)


def decode_events(run_id: str, stored: Iterable[bytes]) -> list[RunEvent]:
    """The events of ``run_id`` whose stored forms are ``stored``: :func:`~flowbuilder.events.decode_event`
    of each, about 4x faster (``json.loads`` spends most of its time in Python).

    msgspec reads standard JSON to the same values ``json.loads`` gives; what it refuses
    (``NaN`` and ``Infinity``, which Python's encoder writes for non-finite floats, a lone
    surrogate escape) and anything malformed is handed to core's decoder, which reads it or
    raises its own error.
    """
    decode = _decode
    kinds = _KINDS
    events: list[RunEvent] = []
    add = events.append
    for raw in stored:
        try:
            record = decode(raw)
            seq, data, when = record["s"], record.get("d", {}), record["t"]
            if type(seq) is not int or type(data) is not dict or type(when) not in _NUMBERS:
                raise TypeError  # core's decoder refuses it (replaying the run would fail on it)
            add(RunEvent(run_id, seq, kinds[record["k"]], record.get("n"), record.get("a", 0), data, when))
        except Exception:
            try:
                add(decode_event(run_id, raw))
            except UNREADABLE as error:  # an event kind of a newer release, or damaged bytes
                raise unreadable_record(f"an event of run {run_id}", error) from None
    return events


def _plain_mapping(mapping: Any, depth: int) -> bool:
    """Whether msgspec writes ``mapping`` exactly as core's encoder would (see the module)."""
    if type(mapping) is not dict:
        return False
    for key in mapping:
        if type(key) is not str:
            return False
    return _plain_sequence(mapping.values(), depth)


def _plain_sequence(items: Any, depth: int) -> bool:
    """Whether each of ``items`` (a list's, or a mapping's values) is plain: see :func:`_plain_mapping`."""
    for value in items:
        kind = type(value)
        if kind is str:
            if len(value) > MAX_PLAIN_TEXT:
                return False
            continue
        if kind is int or kind is bool or value is None:
            continue
        if kind is float:
            if value - value != 0.0:  # NaN or an infinity
                return False
        elif kind is dict:
            if depth >= MAX_PLAIN_DEPTH or not _plain_mapping(value, depth + 1):
                return False
        elif kind is list or kind is tuple:
            if depth >= MAX_PLAIN_DEPTH or not _plain_sequence(value, depth + 1):
                return False
        else:
            return False
    return True
