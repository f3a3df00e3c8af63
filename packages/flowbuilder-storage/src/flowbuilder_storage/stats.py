"""History analytics over stored run events, computed with Polars.

Import cost: this module imports Polars, so nothing the CLI loads at start imports it (the
``flowbuilder stats`` command imports it when it runs). Every function takes and returns
Polars frames; :func:`history_report` bundles them as plain dicts for JSON and the UI.

Definitions (per workflow and task):

* *execution* — one task of one run that reached an end: ``task_succeeded`` or a final
  ``task_failed``. A resumed run's task counts once, with its last outcome.
* *success rate* — succeeded executions / executions.
* *retry rate* — executions that needed more than one attempt (any ``task_retrying``) / executions.
* *durations* — the ``duration`` the runner recorded on ``task_succeeded`` (seconds);
  P50/P95/P99 use linear interpolation.
* *trend per day* — the same per calendar day (UTC) of the execution's end.
* *slowest runs* — finished runs by wall time from ``run_created`` to ``run_finished``.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import Future, ThreadPoolExecutor
from math import nan
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import polars as pl

from flowbuilder.errors import StoreError
from flowbuilder_storage._records import unreadable_record

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store

EVENT_SCHEMA: dict[str, Any] = {
    "s": pl.Int64,
    "k": pl.Utf8,
    "t": pl.Float64,
    "n": pl.Utf8,
    "a": pl.Int64,
    "d": pl.Struct({"duration": pl.Float64, "workflow": pl.Utf8, "status": pl.Utf8, "final": pl.Boolean}),
}
_TASK_END = ("task_succeeded", "task_failed")


def _run_ids(store: Store, workflow: str | None, since: float | None) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_runs(workflow=workflow, since=since, limit=1000, cursor=cursor)
        ids.extend(s.run_id for s in page.runs)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _export(store: Store, run_ids: Sequence[str] | None) -> tuple[list[str], bytes]:
    runs, raw = store.export_events(run_ids)
    return list(runs), bytes(raw)


def _chunks(store: Store, run_ids: Sequence[str] | None) -> Iterator[tuple[list[str], bytes]]:
    if run_ids is None:
        yield from store.export_event_chunks()
    else:
        yield _export(store, run_ids)


def _parse(raw: bytes, runs: Sequence[str] = ()) -> pl.DataFrame:
    if not raw:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    try:
        return pl.read_ndjson(io.BytesIO(raw), schema=EVENT_SCHEMA)
    except pl.exceptions.PolarsError:
        # Polars' reader refuses a whole piece for one value it cannot read: NaN or Infinity
        # (core stores a task's NaN output so, and a forged worker result can record one as a
        # duration), a number past 64 bits, a duration that is text. Read line by line instead.
        return _parse_leniently(raw, runs)


_INT64 = range(-(1 << 63), 1 << 63)


def _parse_leniently(raw: bytes, runs: Sequence[str]) -> pl.DataFrame:
    """What :func:`_parse` reads, taking each value for what it is: a duration that is no
    number becomes NaN (left out, and counted, by :func:`load_events`), any other field of
    ``d`` of the wrong type null. A line that is no event at all is damage, named by its run."""
    rows = []
    run = -1  # which of ``runs`` the line is of
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            seq, kind, when = record["s"], record["k"], record.get("t")
            if type(seq) is not int or seq not in _INT64 or type(kind) is not str:
                raise ValueError(f"not an event: {line[:60]!r}")
        except (ValueError, KeyError, TypeError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            found = runs[run] if 0 <= run < len(runs) else "?"
            raise unreadable_record(f"an event of run {found}", error) from None
        run += seq == 1
        data = record.get("d")
        data = data if isinstance(data, dict) else {}
        duration = data.get("duration")
        attempt = record.get("a")
        rows.append({"s": seq, "k": kind, "t": float(when) if _is_number(when) else None,
                     "n": record.get("n") if type(record.get("n")) is str else None,
                     "a": attempt if type(attempt) is int and attempt in _INT64 else None,
                     "d": {"duration": None if duration is None else float(duration) if _is_number(duration) else nan,
                           "workflow": data.get("workflow") if type(data.get("workflow")) is str else None,
                           "status": data.get("status") if type(data.get("status")) is str else None,
                           "final": data.get("final") if type(data.get("final")) is bool else None}})  # fmt: skip
    return pl.DataFrame(rows, schema=EVENT_SCHEMA)


def _is_number(value: object) -> bool:
    """A JSON number that fits a float (``True`` is no duration; an int past 1e308 is refused by float())."""
    return type(value) is float or (type(value) is int and abs(value) < 1e308)


def load_events(store: Store, workflow: str | None = None, since: float | None = None) -> pl.DataFrame:
    """Stored events as a frame: seq, kind, time, task, attempt, duration, status, final, run_id, workflow.

    With ``workflow`` or ``since`` only the runs the store lists for them are read.
    Each store hands its events over through ``Store.export_events`` (RocksDB and Redis
    give their stored bytes in bulk, run after run; the interface's default reads event by
    event) and Polars parses them with a fixed schema (while the next piece is read, where
    the store overrides ``export_event_chunks``). A run's
    events start at seq 1 and have no gaps, so each ``seq == 1`` starts the next run.
    A recorded duration or time that is not a finite number (NaN, infinity, text) is null.
    """
    return _load_events(store, workflow, since)[0]


def _load_events(store: Store, workflow: str | None, since: float | None) -> tuple[pl.DataFrame, int]:
    """:func:`load_events`, and how many recorded durations were left out (not a finite number)."""
    run_ids = None if workflow is None and since is None else _run_ids(store, workflow, since)
    runs: list[str] = []
    pending: list[tuple[int, int, Future[pl.DataFrame]]] = []
    with ThreadPoolExecutor(max_workers=1) as parser:  # Polars parses without the GIL
        for chunk_runs, raw in _chunks(store, run_ids):
            pending.append((len(runs), len(chunk_runs), parser.submit(_parse, raw, chunk_runs)))
            runs.extend(chunk_runs)
        frames = []
        for offset, count, future in pending:
            frame = future.result()
            frame = frame.with_columns(((pl.col("s") == 1).cum_sum() - 1 + offset).cast(pl.UInt32).alias("run"))
            found = int(frame["run"].max() or 0) + 1 - offset if frame.height else 0  # type: ignore[arg-type]
            if found != count:
                raise StoreError(f"the store's export holds {found} runs where it listed {count}; it may be damaged")
            frames.append(frame)
    frame = pl.concat(frames) if frames else _parse(b"").with_columns(pl.lit(None, pl.UInt32).alias("run"))
    frame = frame.unnest("d").rename({"s": "seq", "k": "kind", "t": "time", "n": "task", "a": "attempt"})
    skipped = int(frame.select(pl.col("duration").is_not_null() & ~pl.col("duration").is_finite()).sum().item())
    frame = frame.with_columns(pl.when(pl.col(name).is_finite()).then(pl.col(name)).alias(name)
                               for name in ("duration", "time"))  # fmt: skip
    created = frame.filter(pl.col("kind") == "run_created").select("run", pl.col("workflow").alias("run_workflow"))
    frame = frame.drop("workflow").join(created, on="run", how="left", maintain_order="left")
    names = pl.Series("run_id", runs, dtype=pl.Utf8).cast(pl.Categorical)
    return (
        frame.with_columns(names.gather(frame["run"]).alias("run_id")).drop("run").rename({"run_workflow": "workflow"}),
        skipped,
    )


def executions(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (run, task) that ended: workflow, run_id, task, outcome, duration, ended_at, attempts, retried."""
    ends = (
        events.filter(pl.col("kind").is_in(_TASK_END))
        .group_by("run_id", "task")  # rows keep their stored order (run, then seq) within each group
        .agg(
            pl.col("workflow").last(),
            pl.col("kind").last().alias("outcome"),
            pl.col("duration").last(),
            pl.col("time").last().alias("ended_at"),
        )
    )
    attempts = (
        events.filter(pl.col("kind").is_in(("task_started", "task_retrying")))
        .group_by("run_id", "task")
        .agg(
            (pl.col("kind") == "task_started").sum().alias("attempts"),
            (pl.col("kind") == "task_retrying").any().alias("retried"),
        )
    )
    return ends.join(attempts, on=["run_id", "task"], how="left").with_columns(
        pl.col("outcome").str.strip_prefix("task_"),
        pl.col("attempts").fill_null(1),
        pl.col("retried").fill_null(False),
    )


def _summary_columns() -> list[pl.Expr]:
    succeeded = pl.col("outcome") == "succeeded"
    ok_duration = pl.col("duration").filter(succeeded)
    return [
        pl.len().alias("executions"),
        succeeded.mean().alias("success_rate"),
        pl.col("retried").mean().alias("retry_rate"),
        ok_duration.quantile(0.50, "linear").alias("p50"),
        ok_duration.quantile(0.95, "linear").alias("p95"),
        ok_duration.quantile(0.99, "linear").alias("p99"),
        ok_duration.mean().alias("mean"),
    ]


def task_stats(execs: pl.DataFrame) -> pl.DataFrame:
    """Per workflow and task: executions, success_rate, retry_rate, p50, p95, p99, mean (seconds)."""
    return execs.group_by("workflow", "task").agg(_summary_columns()).sort("workflow", "task")


def daily_trend(execs: pl.DataFrame) -> pl.DataFrame:
    """Per workflow, task and UTC day: the same figures as :func:`task_stats` (an execution
    whose end has no recorded time is on no day)."""
    day = pl.from_epoch(pl.col("ended_at"), time_unit="s").dt.date().alias("day")
    return (
        execs.with_columns(day)
        .filter(pl.col("day").is_not_null())
        .group_by("workflow", "task", "day")
        .agg(_summary_columns())
        .sort("workflow", "task", "day")
    )


def slowest_runs(events: pl.DataFrame, top: int = 10) -> pl.DataFrame:
    """The ``top`` finished runs with the longest wall time: run_id, workflow, status, seconds, created_at."""
    created = events.filter(pl.col("kind") == "run_created").select(
        "run_id", "workflow", pl.col("time").alias("created_at")
    )
    finished = (
        events.filter(pl.col("kind") == "run_finished")
        .group_by("run_id")
        .agg(pl.col("time").last().alias("finished_at"), pl.col("status").last())
    )
    return (
        created.join(finished, on="run_id")
        .with_columns((pl.col("finished_at") - pl.col("created_at")).alias("seconds"))
        .sort("seconds", descending=True)
        .head(top)
        .select("run_id", "workflow", "status", "seconds", "created_at")
    )


def load_task_attempts(store: Store, workflow: str | None = None, since: float | None = None) -> pl.DataFrame:
    """The executions (see :func:`executions`) of the stored runs, optionally filtered."""
    return executions(load_events(store, workflow, since))


def history_report(
    store: Store, workflow: str | None = None, since: float | None = None, top: int = 10
) -> dict[str, Any]:
    """Everything ``flowbuilder stats`` shows, as JSON-ready dicts.

    ``skipped_durations`` counts the recorded durations left out of the figures because
    they are not a finite number (NaN, infinity, text: a forged worker result can record one).
    """
    events, skipped = _load_events(store, workflow, since)
    execs = executions(events)
    trend = daily_trend(execs).with_columns(pl.col("day").cast(pl.Utf8))
    return {
        "workflow": workflow,
        "runs": events.filter(pl.col("kind") == "run_created").height,
        "events": events.height,
        "tasks": task_stats(execs).to_dicts(),
        "trend": trend.to_dicts(),
        "slowest_runs": slowest_runs(events, top).to_dicts(),
        "skipped_durations": skipped,
    }
