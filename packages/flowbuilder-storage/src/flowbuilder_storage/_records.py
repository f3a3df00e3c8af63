"""The stored byte forms shared by every backend of this package.

Everything is UTF-8 JSON (compact, ``ensure_ascii=False``): events use core's
:func:`flowbuilder.events.encode_event`; summaries, snapshots and log lines are the
``to_dict`` forms below. JSON cannot execute anything when read, so a store never
unpickles, whatever bytes an attacker or a bug put into it.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from flowbuilder.errors import StoreError
from flowbuilder.events import RunEvent, RunState
from flowbuilder.interfaces.store import LogLine, RunSummary

FORMAT_VERSION = 1
"""Version of the key layouts and encodings of this package; stored in every Redis store
(a ``rocksdb://`` store holds :data:`ROCKSDB_FORMAT_VERSION`)."""

ROCKSDB_FORMAT_VERSION = 2
"""Version of a ``rocksdb://`` store's layout. Format 2: an event key may hold several
consecutive events, their stored forms joined by newlines, keyed by the last one's number
(one put per 64 events instead of one per event). A format-1 value (one event, no newline)
reads the same way, so format-1 stores read unchanged; the first write of a value of several
events marks the store 2 in the same atomic batch, so an older version refuses it rather than
misread it."""

MAX_LOG_LINE_CHARS = 64 * 1024
"""A longer log line is cut to this many characters and marked ``[truncated]``."""


def format_number(raw: bytes) -> int | None:
    """The number a stored format marker holds, None if it is no marker of ours.

    Only a whole number >= 1 under ``"format"`` counts: garbage under the marker's key (a
    float too big for an int, nesting deeper than the JSON reader goes, ``-1``, ``"2"``,
    ``1.5``) is a damaged or foreign store, reported as such, not a crash or a guess.
    """
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    version = meta.get("format") if isinstance(meta, dict) else None
    if type(version) is not int or version < 1:
        return None
    return version


def dump_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def load_json(raw: bytes | str) -> Any:
    return json.loads(raw)


def encode_summary(summary: RunSummary) -> bytes:
    return dump_json(summary.to_dict())


UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, RecursionError)
"""What reading a stored record raises when it is not what this release wrote: a value a newer
release added (a run status or event kind), or bytes that are damaged."""


def unreadable_record(what: str, error: BaseException) -> StoreError:
    """The one-line error for a stored record this release cannot read (was exit 70). Core's
    ``flowbuilder.errors.unreadable_record`` does the same for its decoders; this package keeps
    its own so that it runs on a core of its accepted range that predates that one."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return StoreError(f"{what} cannot be read ({type(error).__name__}: {reason}): it was written by a newer"
                      " flowbuilder-storage, or the store is damaged; upgrade flowbuilder-storage, or restore the"
                      " store from a backup")  # fmt: skip


def decode_summary(raw: bytes, run_id: str | None = None) -> RunSummary:
    try:
        return RunSummary.from_dict(load_json(raw))
    except UNREADABLE as error:
        raise unreadable_record(f"the stored summary of run {run_id}" if run_id else "a stored run summary",
                                error) from None  # fmt: skip


def decode_snapshot(raw: bytes, run_id: str) -> RunState:
    try:
        return RunState.from_dict(load_json(raw))
    except UNREADABLE as error:
        raise unreadable_record(f"the stored snapshot of run {run_id}", error) from None


def encode_log_line(line: LogLine) -> bytes:
    text = line.text
    if len(text) > MAX_LOG_LINE_CHARS:
        text = text[:MAX_LOG_LINE_CHARS] + " [truncated]"
    return dump_json({"n": line.task, "a": line.attempt, "s": line.stream, "x": text, "t": line.time})


def decode_log_line(raw: bytes) -> LogLine:
    try:
        record = load_json(raw)
        return LogLine(task=record["n"], attempt=record["a"], stream=record["s"], text=record["x"], time=record["t"])
    except UNREADABLE as error:
        raise unreadable_record("a stored log line", error) from None


def check_batch(run_id: str, events: Sequence[RunEvent], expected_seq: int) -> None:
    """Refuse a batch that is not numbered ``expected_seq + 1, + 2, ...`` or holds another run's events."""
    for offset, event in enumerate(events, start=1):
        if event.seq != expected_seq + offset or event.run_id != run_id:
            raise StoreError(
                f"run {run_id}: event {event.seq} of run {event.run_id} out of sequence (expected {expected_seq + offset})"
            )


def split_blob_ref(ref: str) -> tuple[str, str]:
    """``RUN_ID/NAME`` -> (run id, name); StoreError for anything else."""
    run_id, sep, name = ref.partition("/")
    if not sep or not run_id or not name:
        raise StoreError(f"invalid blob reference {ref!r}; pass what put_blob returned")
    return run_id, name


def check_run_id(run_id: str) -> None:
    """Run ids become key parts: they must be non-empty and free of NUL and ``/``."""
    if not run_id or "\x00" in run_id or "/" in run_id:
        raise StoreError(f"invalid run id {run_id!r}: use a non-empty id without '/' or NUL characters")
