"""Live anomaly scoring: an event sink that scores each task as it finishes.

The runner's thread only keeps the events that matter (run and task starts and ends) and
queues them: :meth:`AnomalySink.handle` costs a few comparisons and one queue put per batch.
One thread of the sink's own, per process, does the rest. It lets what every run's sinks
queue gather for :data:`BATCH_WAIT` seconds (or :data:`BATCH_EVENTS` events), without being
woken by each one, then:

* turns the events into attempt rows (:class:`~flowbuilder_ai.history.RunAttempts`; the
  workflow's upstream tasks parsed from its stored definition once per process, by hash);
* looks up each task's baseline in a dict (:class:`~flowbuilder_ai.features.TaskBaseline`),
  read from the store with Polars once per workflow and :data:`HISTORY_TTL` seconds, never
  per task or per batch;
* computes the task's features in plain Python (:func:`~flowbuilder_ai.features.row_features`,
  the same float64 values as the Polars path :func:`~flowbuilder_ai.features.features` that
  training and the evaluation use), the upstream slowness from the run's own running state;
* scores every row of the batch, of every run, with one onnxruntime call per model (the
  session created once per process, its input buffer reused);
* stores each execution above the threshold as an ``anomaly`` annotation on its run, then
  calls the ``flowbuilder_anomaly_alerts`` hook.

``flowbuilder ai score RUN_ID`` (:mod:`flowbuilder_ai.rescore`) goes through the same
:func:`baselines_for`, :func:`featurise`, :meth:`~flowbuilder_ai.scoring.AnomalyModel.score_rows`
and :func:`anomalies`, so a past run rescored gets the scores it got live (against the same history).
"""

from __future__ import annotations

import atexit
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.sink import EventSink

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder.plugins import PluginHost
    from flowbuilder_ai.features import TaskBaseline
    from flowbuilder_ai.history import RunAttempts
    from flowbuilder_ai.scoring import AnomalyModel

HISTORY_TTL = 300.0
"""Seconds a workflow's baselines are reused before being read from the store again."""
YOUNG_HISTORY_TTL = 5.0
"""The same while some task of the workflow has fewer than :data:`YOUNG_HISTORY_RUNS`
successful runs: a new workflow's baselines grow quickly, so they are reread sooner."""
YOUNG_HISTORY_RUNS = 20
BATCH_WAIT = 0.05
"""Seconds the scoring thread lets events gather after the first before scoring them (the
most an annotation waits for its batch; a flush or a sink's ``wait`` ends the wait at once)."""
BATCH_EVENTS = 2048
"""Queued events (a task makes two or three) that end the gathering early."""
AUTHOR = "flowbuilder-ai"
_RELEVANT = frozenset({EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.TASK_STARTED,
                       EventKind.TASK_SUCCEEDED, EventKind.TASK_FAILED})  # fmt: skip

Table = dict[tuple[str, str], "TaskBaseline"]
_baseline_cache: dict[tuple[int, str], tuple[float, Table]] = {}
_cache_lock = threading.Lock()
_models: dict[str | None, AnomalyModel] = {}
_definitions: dict[str, dict[str, list[str]]] = {}
"""Each stored definition's upstream tasks (by its hash), parsed once per process, not per run."""
DEFINITIONS_KEPT = 256


def clear_cache() -> None:
    """Forget every cached baseline (tests; after a retrain)."""
    with _cache_lock:
        _baseline_cache.clear()


def baselines_for(store: Store, workflow: str, exclude_run: str | None = None, fresh: bool = False) -> Table:
    """The workflow's task baselines by (workflow, task), read through the store once per
    :data:`HISTORY_TTL` (``fresh``: read now, bypassing the cache; a rescore of one past run)."""
    key = (id(store), workflow)
    now = time.monotonic()
    if not fresh:
        with _cache_lock:
            cached = _baseline_cache.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
    import polars as pl

    from flowbuilder_ai.features import baseline_table, executions, task_baselines
    from flowbuilder_ai.history import load_attempts

    attempts = load_attempts(store, workflow)
    if exclude_run is not None:
        attempts = attempts.filter(pl.col("run_id") != exclude_run)
    base = task_baselines(executions(attempts))
    table = baseline_table(base)
    if not fresh:
        young = base.height == 0 or bool((base["runs"] < YOUNG_HISTORY_RUNS).any())
        with _cache_lock:
            _baseline_cache[key] = (now + (YOUNG_HISTORY_TTL if young else HISTORY_TTL), table)
    return table


def model_for(path: str | None) -> AnomalyModel:
    """One :class:`AnomalyModel` (and so one onnxruntime session) per model file and process."""
    from flowbuilder_ai.scoring import AnomalyModel

    with _cache_lock:
        if path not in _models:
            _models[path] = AnomalyModel.load(path)
        return _models[path]


def featurise(rows: Sequence[dict[str, Any]], table: Table, upstream: dict[str, float]) -> list[dict[str, Any]]:
    """Each final attempt row (of one run, in the order they finished) with its features;
    ``upstream`` (task -> ``log_duration_ratio``) is the run's running state, updated here."""
    from flowbuilder_ai.features import row_features

    out = []
    for row in rows:
        # the rows are final attempts: attempt N means N attempts were needed
        feats = row_features({**row, "attempts": row["attempt"]}, table.get((row["workflow"], row["task"])), upstream)
        upstream[row["task"]] = feats["log_duration_ratio"]
        out.append(feats)
    return out


def anomalies(scored: Sequence[dict[str, Any]], scores: Sequence[float], threshold: float) -> list[dict[str, Any]]:
    """The rows above ``threshold`` (with a baseline to compare with), each with its score and words."""
    from flowbuilder_ai.features import explain

    found = []
    for row, score in zip(scored, scores, strict=True):
        if score > threshold and row.get("median_duration") is not None:
            found.append({**row, "score": float(score), "why": explain(row)})
    return found


def anomaly_annotation(found: dict[str, Any], threshold: float) -> Any:
    """The annotation stored for one anomaly (kind ``anomaly``)."""
    from flowbuilder.annotations import Annotation
    from flowbuilder_ai.features import CONTEXT_FEATURES, MODEL_FEATURES

    def clean(value: Any) -> Any:
        return round(value, 4) if isinstance(value, float) else value

    payload = {
        "score": round(found["score"], 4),
        "threshold": round(threshold, 4),
        "why": found["why"],
        "features": {name: clean(found.get(name)) for name in (*MODEL_FEATURES, *CONTEXT_FEATURES)},
        "duration": clean(found.get("duration")),
        "median_duration": clean(found.get("median_duration")),
    }
    return Annotation("anomaly", payload, task=found["task"], attempt=found["attempt"], author=AUTHOR)


class _ScoringThread:
    """One thread per process scores for every run's sink, so a run's end never waits for
    scoring; at interpreter exit what is queued is still scored (up to :data:`EXIT_WAIT`)."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[AnomalySink, list[RunEvent]] | threading.Event | None] = queue.SimpleQueue()
        self.wake = threading.Event()
        """Ends the gathering wait early: a flush, a sink's ``wait``, a full batch, the exit."""
        self.queued = 0
        self.thread = threading.Thread(target=self._work, name="flowbuilder-ai-scoring", daemon=True)
        self.thread.start()
        atexit.register(self.drain)

    def put(self, sink: AnomalySink, events: list[RunEvent]) -> None:
        """On the runner's thread: queue a sink's events. No wake-up of the scoring thread while
        it gathers (each would cost the runner a hand-over of the GIL), unless the batch is full."""
        self.queue.put((sink, events))
        self.queued += len(events)  # approximate across runner threads: it only decides an early wake
        if self.queued >= BATCH_EVENTS:
            self.wake.set()

    def _gather(self, first: tuple[AnomalySink, list[RunEvent]] | threading.Event) -> tuple[list[Any], bool]:
        """``first`` and what was queued within :data:`BATCH_WAIT` after it (less if a flush, a
        sink's wait or a full batch sets ``wake``); True when the queue's end (None) came too."""
        items: list[Any] = [first]
        if not isinstance(first, threading.Event):
            self.wake.wait(BATCH_WAIT)
        self.wake.clear()
        self.queued = 0
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return items, False
            if item is None:
                return items, True
            items.append(item)

    def _work(self) -> None:
        while (first := self.queue.get()) is not None:
            items, ended = self._gather(first)
            by_sink: dict[int, tuple[AnomalySink, list[RunEvent]]] = {}
            flushed: list[threading.Event] = []
            for item in items:
                if isinstance(item, threading.Event):
                    flushed.append(item)
                else:
                    by_sink.setdefault(id(item[0]), (item[0], []))[1].extend(item[1])
            try:
                _score_batch(list(by_sink.values()))
            except Exception as error:  # never lose the thread (and with it every later run's scoring)
                for sink, _ in by_sink.values():
                    sink.warn(error)
            for sink, events in by_sink.values():
                sink.pending.release(len(events))
            for event in flushed:
                event.set()
            if ended:
                return

    def drain(self) -> None:
        self.queue.put(None)
        self.wake.set()
        self.thread.join(timeout=EXIT_WAIT)


def _score_batch(work: list[tuple[AnomalySink, list[RunEvent]]]) -> None:
    """Every sink's new rows with their features, then one onnxruntime call per model for all."""
    by_model: dict[str | None, list[tuple[AnomalySink, list[dict[str, Any]]]]] = {}
    for sink, events in work:
        scored = sink.guarded(sink.featurise, events)
        if scored:
            by_model.setdefault(sink.model_path, []).append((sink, scored))
    for path, parts in by_model.items():
        try:
            model = model_for(path)
            scores = model.score_rows([row for _, rows in parts for row in rows]).tolist()
        except Exception as error:
            for sink, _ in parts:
                sink.warn(error)
            continue
        start = 0
        for sink, rows in parts:
            sink.guarded(sink.annotate, model, rows, scores[start : start + len(rows)])
            start += len(rows)


def flush(timeout: float = 30.0) -> bool:
    """Wait until everything queued so far is scored and annotated; False on timeout."""
    done = threading.Event()
    scorer = _scoring_thread()
    scorer.queue.put(done)
    scorer.wake.set()
    return done.wait(timeout)


EXIT_WAIT = 30.0
"""Seconds the interpreter's exit waits for queued scoring."""
_scorer: _ScoringThread | None = None


def _scoring_thread() -> _ScoringThread:
    global _scorer
    with _cache_lock:
        if _scorer is None or not _scorer.thread.is_alive():
            _scorer = _ScoringThread()
        return _scorer


class _Pending:
    """Events of one sink queued but not scored yet (:meth:`AnomalySink.wait` waits for none)."""

    def __init__(self) -> None:
        self.count = 0
        self.done = threading.Condition()

    def add(self, n: int) -> None:
        with self.done:
            self.count += n

    def release(self, n: int) -> None:
        with self.done:
            self.count -= n
            self.done.notify_all()

    def wait(self, timeout: float) -> bool:
        with self.done:
            return self.done.wait_for(lambda: self.count <= 0, timeout)


class AnomalySink(EventSink):
    """Scores the tasks of one run as they finish (see the module docstring)."""

    def __init__(self, store: Store, run_id: str, host: PluginHost | None = None, model_path: str | None = None):
        self.store = store
        self.run_id = run_id
        self.host = host
        self.model_path = model_path
        self.found = 0
        self.scores: dict[str, float] = {}
        """Each scored task's score (its last execution's), anomalous or not."""
        self.pending = _Pending()
        self._builder: RunAttempts | None = None  # made on the scoring thread, with the first rows
        self._upstream: dict[str, float] = {}
        self._warned = False

    def handle(self, events: Sequence[RunEvent]) -> None:
        run_id = self.run_id
        kept = [event for event in events if event.run_id == run_id and event.kind in _RELEVANT]
        if kept:
            self.pending.add(len(kept))
            _scoring_thread().put(self, kept)

    def close(self) -> None:
        """Nothing to wait for: the scoring thread finishes this run's rows after it ended."""

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until this run's finished tasks are scored and annotated; False on timeout.
        ``flowbuilder run`` calls it after the run (bounded), so the last tasks' anomalies are
        shown before the summary; the scoring thread stops gathering and scores at once."""
        if self.pending.count > 0:
            _scoring_thread().wake.set()  # score what is queued now, without waiting for more
        return self.pending.wait(timeout)

    def featurise(self, events: list[RunEvent]) -> list[dict[str, Any]]:
        """On the scoring thread: the events' finished executions, with their features."""
        if self._builder is None:
            from flowbuilder_ai.history import RunAttempts

            with _cache_lock:
                if len(_definitions) > DEFINITIONS_KEPT:
                    _definitions.clear()
            self._builder = RunAttempts(self.store, self.run_id, _definitions)
        rows = []
        for event in events:
            row = self._builder.add(event.kind.value, event.task, event.attempt, event.data, event.time)
            if row is not None and row["status"] != "retrying":
                rows.append(row)
        if not rows:
            return []
        return featurise(rows, baselines_for(self.store, rows[0]["workflow"], self.run_id), self._upstream)

    def annotate(self, model: AnomalyModel, rows: list[dict[str, Any]], scores: list[float]) -> None:
        for row, score in zip(rows, scores, strict=True):
            self.scores[row["task"]] = score
        for item in anomalies(rows, scores, model.threshold):
            stored = self.store.annotate(self.run_id, anomaly_annotation(item, model.threshold))
            self.found += 1
            send_alerts(self.host, self.run_id, stored)

    def guarded(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except Exception as error:  # a sink never fails a run: say it once and go on
            self.warn(error)
            return None

    def warn(self, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            print(f"warning: anomaly scoring of run {self.run_id} failed: {error}", file=sys.stderr)


def send_alerts(host: PluginHost | None, run_id: str, annotation: Any) -> None:
    """Call every ``flowbuilder_anomaly_alerts`` implementation; one that raises is reported, not fatal."""
    if host is None:
        return
    caller = getattr(host.manager.hook, "flowbuilder_anomaly_alerts", None)
    if caller is None:
        return
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(**{name: {"run_id": run_id, "annotation": annotation}[name] for name in impl.argnames})
        except Exception as error:
            print(
                f"warning: plugin {impl.plugin_name!r} failed in flowbuilder_anomaly_alerts: {error}", file=sys.stderr
            )
