"""Rescore a past run (``flowbuilder ai score RUN_ID``): the same rows and scoring as the live sink."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder_ai.history import RunAttempts
from flowbuilder_ai.scoring import AIError

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder.plugins import PluginHost


def rescore_run(store: Store, run_id: str, model_path: str | None = None, *, annotate: bool = False,
                host: PluginHost | None = None) -> dict[str, Any]:  # fmt: skip
    """Score every finished task of ``run_id`` against its workflow's other runs.

    Returns ``{"run_id", "scored", "threshold", "scores": {task: score}, "anomalies": [{"task",
    "attempt", "score", "why"}]}`` (``scores``: every scored task's, the same the live sink gave it
    when the history is the same);
    with ``annotate`` each anomaly is also stored as an ``anomaly`` annotation (and alerted).
    """
    from flowbuilder_ai.sink import (
        anomalies as above,
    )
    from flowbuilder_ai.sink import (
        anomaly_annotation,
        baselines_for,
        featurise,
        model_for,
        send_alerts,
    )

    events = store.read_events(run_id)
    if not events:
        raise AIError(f"run {run_id!r} has no events in this store; check the run id and --store")
    builder = RunAttempts(store, run_id)
    final: dict[str, dict[str, Any]] = {}
    for event in events:
        row = builder.add(event.kind.value, event.task, event.attempt, event.data, event.time)
        if row is not None and row["status"] != "retrying":
            final[row["task"]] = row
    model = model_for(model_path)
    rows = list(final.values())
    scored = featurise(rows, baselines_for(store, rows[0]["workflow"], run_id, fresh=True), {}) if rows else []
    scores = model.score_rows(scored).tolist()
    anomalies = []
    for item in above(scored, scores, model.threshold):
        if annotate:
            stored = store.annotate(run_id, anomaly_annotation(item, model.threshold))
            send_alerts(host, run_id, stored)
        anomalies.append({"task": item["task"], "attempt": item["attempt"], "score": item["score"], "why": item["why"]})
    return {"run_id": run_id, "scored": len(final), "threshold": model.threshold,
            "scores": {row["task"]: score for row, score in zip(scored, scores, strict=True)}, "anomalies": anomalies}  # fmt: skip
