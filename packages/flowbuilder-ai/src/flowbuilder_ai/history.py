"""Task attempt history of stored runs, one row per attempt, as a Polars frame.

Reads through the store's analytics export (``Store.export_events``: RocksDB and Redis hand
over their stored bytes in bulk; other stores fall back to the interface's event-by-event
default), the same path as ``flowbuilder stats`` (:mod:`flowbuilder_storage.stats`). That
module's frame keeps only durations and outcomes; anomaly features also need the error,
exit code, output size, queue wait and upstream tasks, so the events are decoded here with
those fields. Upstream tasks come from the run's stored definition (``depends_on``), read
once per distinct definition.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import polars as pl

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store

ATTEMPT_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "workflow": pl.Utf8,
    "task": pl.Utf8,
    "attempt": pl.Int64,
    "status": pl.Utf8,  # succeeded | failed | retrying
    "error_class": pl.Utf8,  # "" when it succeeded
    "started_at": pl.Float64,
    "finished_at": pl.Float64,
    "duration": pl.Float64,
    "queue_wait": pl.Float64,
    "output_size": pl.Int64,
    "exit_code": pl.Int64,
    "upstream": pl.List(pl.Utf8),
}
"""The columns of :func:`load_attempts`; ``duration``, ``queue_wait`` in seconds, ``output_size`` in bytes."""


def empty_attempts() -> pl.DataFrame:
    """A frame with the columns of :func:`load_attempts` and no rows."""
    return pl.DataFrame(schema=ATTEMPT_SCHEMA)


def error_class(message: Any) -> str:
    """A stable class for an error message: its first word before ``:`` (``TimeoutError``, ``exit``...).

    Messages carry values (paths, numbers) that differ run to run; the class is what a new
    failure mode changes.
    """
    if not message:
        return ""
    text = str(message).strip().splitlines()[0] if str(message).strip() else ""
    head = text.split(":", 1)[0].split("(", 1)[0].strip()
    word = head.split(" ", 1)[0] if head else ""
    return "".join(ch for ch in word if ch.isalnum() or ch in "_.")[:64] or "error"


def _upstream_of(store: Store, digest: str | None, cache: dict[str, dict[str, list[str]]]) -> dict[str, list[str]]:
    if not digest:
        return {}
    if digest not in cache:
        upstream: dict[str, list[str]] = {}
        try:
            import yaml

            document = yaml.safe_load(store.load_definition(digest))
            tasks = document.get("tasks", []) if isinstance(document, dict) else []
            for task in tasks if isinstance(tasks, list) else []:
                if isinstance(task, dict) and isinstance(task.get("name"), str):
                    needs = task.get("depends_on") or []
                    upstream[task["name"]] = [needs] if isinstance(needs, str) else [str(n) for n in needs]
        except Exception:  # a definition that is gone or unreadable: no upstream, not no history
            upstream = {}
        cache[digest] = upstream
    return cache[digest]


def _output_size(data: dict[str, Any]) -> int:
    output = data.get("output")
    if output is None:
        return 0
    try:
        return len(json.dumps(output, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace"))
    except (TypeError, ValueError):
        return len(str(output))


class RunAttempts:
    """Builds attempt rows from one run's events as they come (stored or live, the same way).

    Feed events in sequence order to :meth:`add`; it returns the rows of the attempts that
    event finished (zero or one). Queue wait is the time from when the task could start (its
    upstream tasks ended, or the run started) to its first attempt's start.
    """

    def __init__(self, store: Store | None, run_id: str, definitions: dict[str, dict[str, list[str]]] | None = None):
        self.store = store
        self.run_id = run_id
        self.workflow = ""
        self.upstream: dict[str, list[str]] = {}
        self._definitions = definitions if definitions is not None else {}
        self._run_started: float | None = None
        self._started: dict[tuple[str, int], float] = {}
        self._ended: dict[str, float] = {}
        self._ready: dict[str, float | None] = {}

    def add(self, kind: str, task: str | None, attempt: int | None, data: Any, when: float) -> dict[str, Any] | None:
        data = data if isinstance(data, dict) else {}
        if kind == "run_created":
            self.workflow = str(data.get("workflow") or "")
            if self.store is not None:
                self.upstream = _upstream_of(self.store, data.get("definition_hash"), self._definitions)
        elif kind == "run_started" and self._run_started is None:
            self._run_started = when
        elif kind == "task_started" and task is not None:
            number = int(attempt or 1)
            self._started[(task, number)] = when
            if number == 1:
                needs = self.upstream.get(task, [])
                self._ready[task] = max((self._ended[n] for n in needs if n in self._ended), default=self._run_started)
        elif kind in ("task_succeeded", "task_failed") and task is not None:
            return self._finished(kind == "task_succeeded", task, int(attempt or 1), data, when)
        return None

    def _finished(self, ok: bool, task: str, attempt: int, data: dict[str, Any], when: float) -> dict[str, Any]:
        status = "succeeded" if ok else ("failed" if data.get("final", True) else "retrying")
        begin = self._started.get((task, attempt))
        duration = data.get("duration")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or not 0 <= duration < math.inf:
            # NaN, infinite or negative (a damaged record): the event times tell it instead; a
            # NaN once reached the advisor's timeout arithmetic and stopped `advise` (exit 70).
            duration = when - begin if begin is not None else None
        exit_code = data.get("exit_code")
        ready = self._ready.get(task)
        first = self._started.get((task, 1))
        if status != "retrying":
            self._ended[task] = when
        return {
            "run_id": self.run_id, "workflow": self.workflow, "task": task, "attempt": attempt, "status": status,
            "error_class": "" if ok else error_class(data.get("error")),
            "started_at": begin, "finished_at": when,
            "duration": float(duration) if duration is not None else None,
            "queue_wait": max(0.0, first - ready) if first is not None and ready is not None else 0.0,
            "output_size": _output_size(data) if ok else 0,
            "exit_code": exit_code if _is_int64(exit_code) else None,
            "upstream": list(self.upstream.get(task, [])),
        }  # fmt: skip


def _is_int64(value: Any) -> bool:
    """Whether ``value`` fits the frame's Int64 exit code column. A task (or a remote worker's
    result) may record any integer; one beyond 64 bits made Polars refuse the whole history."""
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _run_rows(
    store: Store, run_id: str, events: Iterable[dict[str, Any]], defs: dict[str, dict[str, list[str]]]
) -> list[dict[str, Any]]:
    builder = RunAttempts(store, run_id, defs)
    rows = []
    for event in events:
        attempt = event.get("a")
        row = builder.add(str(event.get("k")), event.get("n"), attempt if isinstance(attempt, int) else None,
                          event.get("d"), float(event.get("t") or 0.0))  # fmt: skip
        if row is not None:
            rows.append(row)
    return rows


def _split_runs(raw: bytes) -> Iterable[list[dict[str, Any]]]:
    """The export's NDJSON, run after run: each ``"s":1`` starts the next run."""
    current: list[dict[str, Any]] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("s") == 1 and current:
            yield current
            current = []
        current.append(event)
    if current:
        yield current


def _run_ids(store: Store, workflow: str | None) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_runs(workflow=workflow, limit=1000, cursor=cursor)
        ids.extend(s.run_id for s in page.runs)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


ExportedRun = tuple[str, list[dict[str, Any]]]
"""One run of the analytics export: its id and its events as stored (``s``, ``k``, ``n``, ``a``, ``d``, ``t``)."""


def export_runs(store: Store, workflow: str | None = None, run_ids: Sequence[str] | None = None) -> list[ExportedRun]:
    """The stored events of the runs of ``workflow`` (or ``run_ids``, or all), one export read.

    Readers that derive more than one frame from the same history (the advisor's attempts and
    task results) decode it once and hand the runs to each builder.
    """
    if run_ids is None and workflow is not None:
        run_ids = _run_ids(store, workflow)
    if run_ids is not None and not run_ids:
        return []
    runs, raw = store.export_events(list(run_ids) if run_ids is not None else None)
    return [(str(run_id), events) for run_id, events in zip(runs, _split_runs(bytes(raw)), strict=False)]


def attempts_of(store: Store, runs: Iterable[ExportedRun], workflow: str | None = None) -> pl.DataFrame:
    """The attempt rows of exported ``runs`` (columns :data:`ATTEMPT_SCHEMA`), of ``workflow`` only if given."""
    rows: list[dict[str, Any]] = []
    defs: dict[str, dict[str, list[str]]] = {}
    for run_id, events in runs:
        rows.extend(_run_rows(store, run_id, events, defs))
    if not rows:
        return empty_attempts()
    frame = pl.DataFrame(rows, schema=ATTEMPT_SCHEMA)
    return frame.filter(pl.col("workflow") == workflow) if workflow is not None else frame


def load_attempts(store: Store, workflow: str | None = None, run_ids: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per finished task attempt of the stored runs (of ``workflow``, or ``run_ids``, or all).

    Columns: :data:`ATTEMPT_SCHEMA`. A run's attempts come in the order they finished.
    """
    return attempts_of(store, export_runs(store, workflow, run_ids), workflow)
