"""Live anomaly scoring: an event sink that scores each task as it finishes.

The runner's thread only turns events into attempt rows (:class:`~flowbuilder_ai.history.RunAttempts`,
a few dict operations) and queues finished executions. A thread of the sink's own then, per
batch: loads the workflow's baselines (once per workflow and process, cached for
:data:`HISTORY_TTL` seconds, never per task), computes the features with Polars, scores the
whole batch with one onnxruntime call (the session created once, on the first batch), and
stores each execution above the threshold as an ``anomaly`` annotation on the run, then
calls the ``flowbuilder_anomaly_alerts`` hook.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.sink import EventSink
from flowbuilder_ai.history import RunAttempts

if TYPE_CHECKING:
    import polars as pl

    from flowbuilder.interfaces import Store
    from flowbuilder.plugins import PluginHost
    from flowbuilder_ai.scoring import AnomalyModel

HISTORY_TTL = 300.0
"""Seconds a workflow's baselines are reused before being read from the store again."""
YOUNG_HISTORY_TTL = 5.0
"""The same while some task of the workflow has fewer than :data:`YOUNG_HISTORY_RUNS`
successful runs: a new workflow's baselines grow quickly, so they are reread sooner."""
YOUNG_HISTORY_RUNS = 20
AUTHOR = "flowbuilder-ai"
_RELEVANT = frozenset({EventKind.RUN_CREATED, EventKind.RUN_STARTED, EventKind.TASK_STARTED,
                       EventKind.TASK_SUCCEEDED, EventKind.TASK_FAILED})  # fmt: skip

_baseline_cache: dict[tuple[int, str], tuple[float, Any]] = {}
_cache_lock = threading.Lock()
_models: dict[str | None, AnomalyModel] = {}


def clear_cache() -> None:
    """Forget every cached baseline (tests; after a retrain)."""
    with _cache_lock:
        _baseline_cache.clear()


def baselines_for(store: Store, workflow: str, exclude_run: str | None = None, fresh: bool = False) -> pl.DataFrame:
    """The workflow's task baselines, read through the store once per :data:`HISTORY_TTL`
    (``fresh``: read now, bypassing the cache; a rescore of one past run)."""
    from flowbuilder_ai.features import executions, task_baselines
    from flowbuilder_ai.history import load_attempts

    key = (id(store), workflow)
    now = time.monotonic()
    with _cache_lock:
        cached = _baseline_cache.get(key)
        if cached is not None and now < cached[0] and not fresh:
            return cached[1]  # type: ignore[no-any-return]
    attempts = load_attempts(store, workflow)
    if exclude_run is not None:
        import polars as pl

        attempts = attempts.filter(pl.col("run_id") != exclude_run)
    base = task_baselines(executions(attempts))
    if not fresh:
        young = base.height == 0 or int(base["runs"].min() or 0) < YOUNG_HISTORY_RUNS  # type: ignore[operator]
        with _cache_lock:
            _baseline_cache[key] = (now + (YOUNG_HISTORY_TTL if young else HISTORY_TTL), base)
    return base


def model_for(path: str | None) -> AnomalyModel:
    """One :class:`AnomalyModel` (and so one onnxruntime session) per model file and process."""
    from flowbuilder_ai.scoring import AnomalyModel

    with _cache_lock:
        if path not in _models:
            _models[path] = AnomalyModel.load(path)
        return _models[path]


def score_rows(store: Store, rows: list[dict[str, Any]], model: AnomalyModel, exclude_run: str | None,
               fresh: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """Score finished attempt rows of one workflow; the anomalous ones, each with score and words."""
    import polars as pl

    from flowbuilder_ai.features import explain, features
    from flowbuilder_ai.history import ATTEMPT_SCHEMA

    if not rows:
        return []
    # the rows are final attempts: attempt N means N attempts were needed
    frame = pl.DataFrame(rows, schema=ATTEMPT_SCHEMA).with_columns(pl.col("attempt").alias("attempts"))
    base = baselines_for(store, rows[0]["workflow"], exclude_run, fresh)
    scored = features(frame, base)
    scores = model.score(scored)
    found = []
    for row, score in zip(scored.iter_rows(named=True), scores.tolist(), strict=False):
        if score > model.threshold and row.get("median_duration") is not None:
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


class AnomalySink(EventSink):
    """Scores the tasks of one run as they finish (see the module docstring)."""

    def __init__(self, store: Store, run_id: str, host: PluginHost | None = None, model_path: str | None = None):
        self.store = store
        self.run_id = run_id
        self.host = host
        self.model_path = model_path
        self.builder = RunAttempts(store, run_id)
        self.attempts: dict[str, int] = {}
        self.found = 0
        self._queue: queue.SimpleQueue[list[dict[str, Any]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._warned = False

    def handle(self, events: Sequence[RunEvent]) -> None:
        batch: list[dict[str, Any]] = []
        for event in events:
            if event.run_id != self.run_id or event.kind not in _RELEVANT:
                continue
            row = self.builder.add(event.kind.value, event.task, event.attempt, event.data, event.time)
            if row is None:
                continue
            self.attempts[row["task"]] = row["attempt"]
            if row["status"] != "retrying":
                batch.append(row)
        if batch:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=f"anomaly-scoring-{self.run_id}", daemon=True)
                self._thread.start()
            self._queue.put(batch)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            pending = [batch]
            while True:  # score everything already waiting as one batch
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                pending.append(more)
            try:
                self._score([row for rows in pending for row in rows])
            except Exception as error:  # a sink never fails a run: say it once and go on
                if not self._warned:
                    self._warned = True
                    print(f"warning: anomaly scoring of run {self.run_id} failed: {error}", file=sys.stderr)

    def _score(self, rows: list[dict[str, Any]]) -> None:
        model = model_for(self.model_path)
        for found in score_rows(self.store, rows, model, exclude_run=self.run_id):
            stored = self.store.annotate(self.run_id, anomaly_annotation(found, model.threshold))
            self.found += 1
            send_alerts(self.host, self.run_id, stored)


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
