"""Fit the anomaly model (an IsolationForest), convert it to ONNX, write it with its sidecar.

Needs the ``[train]`` extra (scikit-learn, skl2onnx), imported only here. Deterministic: the
forest's ``random_state`` is the seed, skl2onnx writes no timestamps, so the same seed, data
and library versions give the same bytes (training/train_model.py rebuilds the shipped model
this way; a test compares the hash).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from flowbuilder_ai.features import MODEL_FEATURES, executions, feature_matrix, features, task_baselines
from flowbuilder_ai.scoring import AIError

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store

MIN_EXECUTIONS = 50
"""Fewer finished task executions than this is too little history to learn "normal" from."""

TRAIN_EXTRA_HINT = "pip install flowbuilder-ai[train]"


class TrainingError(AIError):
    """Training cannot go on (one line: what is missing and what to do)."""


def _libraries() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import skl2onnx
        import sklearn.ensemble
    except ImportError as error:
        raise TrainingError(f"training needs scikit-learn and skl2onnx ({error.name} is missing): "
                            f"{TRAIN_EXTRA_HINT}") from None  # fmt: skip
    return sklearn.ensemble, skl2onnx, onnx


def featurize(attempts: pl.DataFrame, baseline_from: pl.DataFrame | None = None) -> pl.DataFrame:
    """Features of every execution in ``attempts`` against baselines from ``baseline_from`` (default: itself)."""
    execs = executions(attempts)
    base = task_baselines(executions(baseline_from) if baseline_from is not None else execs)
    return features(execs, base)


@dataclass
class Evaluation:
    precision: float
    recall: float
    flagged: int
    anomalies: int
    executions: int

    def line(self, name: str) -> str:
        return (f"{name}: precision {self.precision:.3f} recall {self.recall:.3f} "
                f"({self.flagged} flagged, {self.anomalies} injected, {self.executions} executions)")  # fmt: skip


def evaluate(flags: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]) -> Evaluation:
    flags = flags.astype(bool)
    labels = labels.astype(bool)
    hit = int((flags & labels).sum())
    precision = hit / int(flags.sum()) if flags.any() else 0.0
    recall = hit / int(labels.sum()) if labels.any() else 0.0
    return Evaluation(precision, recall, int(flags.sum()), int(labels.sum()), len(labels))


def pick_threshold(scores: np.ndarray[Any, Any], labels: np.ndarray[Any, Any]) -> float:
    """The threshold with the best F1 on labelled data (midway between neighbouring scores)."""
    order = np.sort(np.unique(scores))
    best, best_f1 = float(order[-1]), -1.0
    for low, high in itertools.pairwise(order):
        cut = float((low + high) / 2)
        e = evaluate(scores > cut, labels)
        f1 = 2 * e.precision * e.recall / (e.precision + e.recall) if e.precision + e.recall else 0.0
        if f1 > best_f1:
            best, best_f1 = cut, f1
    return best


QUEUE_WAIT = "log_queue_wait_ratio"
"""The one model input given a tolerance (:class:`Detector`)."""
QUEUE_WAIT_QUANTILE = 0.999
"""The queue wait's tolerance: this quantile of the training history's queue-wait ratios."""


@dataclass
class Detector:
    """A fitted IsolationForest and the tolerance its inputs are measured beyond.

    ``tolerance`` (one value per :data:`MODEL_FEATURES` column, float32): the model reads
    ``max(feature - tolerance, 0)``. It is 0 for every column but the queue wait, whose
    tolerance is the :data:`QUEUE_WAIT_QUANTILE` of the training history's queue-wait ratios:
    how long a task waits for a slot depends on what else the runner is doing, and that noise,
    fed to the forest as it is, outranked real anomalies (on bench/ai_eval.py's histories the
    retrained model's precision rose from 0.84 to about 0.95 at a recall of 0.98). A wait
    beyond all but the rarest of the history's still raises the score. Not the largest wait
    as the tolerance: a forest never splits on a column that is constant in its training
    data, so a wait beyond the largest would then be ignored altogether. The other inputs
    are never negative (magnitudes, counts, 0/1), so a 0 tolerance leaves them as they are.
    The ONNX model does the same first (:func:`to_onnx`): scoring computes the same features.
    """

    forest: Any
    tolerance: np.ndarray[Any, np.dtype[np.float32]]

    def inputs(self, frame: pl.DataFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
        matrix = feature_matrix(frame).to_numpy().astype(np.float32)
        return np.maximum(matrix - self.tolerance, np.float32(0.0))

    def scores(self, frame: pl.DataFrame) -> np.ndarray[Any, Any]:
        """Anomaly scores as the ONNX model gives them (higher: more anomalous)."""
        return np.asarray(-self.forest.decision_function(self.inputs(frame)))


def tolerance_of(frame: pl.DataFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Per model input: the queue wait's largest ratio in ``frame``, 0 for the others."""
    tolerance = np.zeros(len(MODEL_FEATURES), dtype=np.float32)
    waits = feature_matrix(frame).get_column(QUEUE_WAIT).to_numpy()
    if len(waits):
        tolerance[MODEL_FEATURES.index(QUEUE_WAIT)] = max(float(np.nanquantile(waits, QUEUE_WAIT_QUANTILE)), 0.0)
    return tolerance


def fit(frame: pl.DataFrame, seed: int, trees: int = 50, samples: int = 4096) -> Detector:
    """An IsolationForest fitted on the feature frame's :data:`MODEL_FEATURES` beyond their tolerance.

    ``samples`` per tree is far above scikit-learn's default 256: the failure features are
    rare (under 1% of executions), and a subsample of 256 usually holds none of them, so
    the tree cannot split on them at all (measured: recall of new failure modes 0.01 at 256).
    50 trees score as well as 200 on the threshold set (precision 0.92 / recall 0.94 against
    0.915 / 0.924) and the ONNX graph, one subgraph per tree, runs in a fifth of the time.
    """
    ensemble, _, _ = _libraries()
    detector = Detector(None, tolerance_of(frame))
    forest = ensemble.IsolationForest(
        n_estimators=trees, max_samples=min(samples, frame.height), random_state=seed, n_jobs=1
    )
    forest.fit(detector.inputs(frame))
    detector.forest = forest
    return detector


def to_onnx(detector: Detector) -> bytes:
    """The ONNX model: input ``features`` (float32, N x len(MODEL_FEATURES)), then
    ``Relu(features - tolerance)``, then the forest (outputs: label, score)."""
    _, skl2onnx, onnx = _libraries()
    from skl2onnx.common.data_types import FloatTensorType

    model = skl2onnx.convert_sklearn(
        detector.forest,
        initial_types=[("beyond_tolerance", FloatTensorType([None, len(MODEL_FEATURES)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    graph = model.graph
    helper = onnx.helper
    forest_input = graph.input[0]
    features = helper.make_tensor_value_info("features", onnx.TensorProto.FLOAT, [None, len(MODEL_FEATURES)])
    tolerance = onnx.numpy_helper.from_array(detector.tolerance.astype(np.float32), name="tolerance")
    graph.initializer.append(tolerance)
    prelude = [
        helper.make_node("Sub", ["features", "tolerance"], ["minus_tolerance"], name="minus_tolerance"),
        helper.make_node("Relu", ["minus_tolerance"], [forest_input.name], name="beyond_tolerance"),
    ]
    nodes = [*prelude, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.input.remove(forest_input)
    graph.input.insert(0, features)
    onnx.checker.check_model(model)
    model.doc_string = "flowbuilder-ai anomaly model (IsolationForest on features beyond a tolerance)"
    graph.name = "flowbuilder_ai_anomaly"  # skl2onnx names the graph with a random uuid: not reproducible
    # skl2onnx lists the opsets in set order, which follows Python's per-process string hashing:
    # sorted, the bytes no longer depend on PYTHONHASHSEED.
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    for domain, version in opsets:
        model.opset_import.add(domain=domain, version=version)
    return bytes(model.SerializeToString())


def write_model(out: Path, name: str, onnx_bytes: bytes, meta: dict[str, Any]) -> Path:
    """``out/name.onnx`` and ``out/name.json`` (meta plus features, sha256, library versions)."""
    _, skl2onnx, onnx = _libraries()
    import sklearn

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.onnx"
    path.write_bytes(onnx_bytes)
    sidecar = {
        "features": list(MODEL_FEATURES),
        **meta,
        "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "polars": pl.__version__,
            "python": platform.python_version(),
        },
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def train(execs: pl.DataFrame, seed: int) -> tuple[Detector, float, Evaluation]:
    """``flowbuilder ai train``'s procedure on executions (:func:`executions`) without labels.

    The forest is fitted on all of them (their own anomalies included: a forest can only
    split on a feature that varies, so the rare failures and retries must be in its sample).
    The threshold is chosen on a copy with labelled anomalies injected
    (:func:`flowbuilder_ai.synthetic.inject_anomalies`, 5%), best F1; returns the detector, the
    threshold and the evaluation on that copy.
    """
    from flowbuilder_ai.synthetic import inject_anomalies

    base = task_baselines(execs)
    detector = fit(features(execs, base), seed=seed)
    labelled = features(inject_anomalies(execs, rate=0.05, seed=seed + 1), base)
    scores = detector.scores(labelled)
    labels = labelled["label"].to_numpy()
    threshold = pick_threshold(scores, labels)
    return detector, threshold, evaluate(scores > threshold, labels)


def train_on_history(store: Store, workflow: str | None, out: Path, seed: int = 0) -> tuple[Path, str]:
    """Retrain on the store's history; write ``out/anomaly-<UTC time>.onnx`` + sidecar; return it and its evaluation.

    The user's history has no labels, so the evaluation injects labelled anomalies (the
    kinds of :mod:`flowbuilder_ai.synthetic`) into a copy of it, chooses the threshold on
    them and reports precision and recall there.
    """
    import time

    from flowbuilder_ai.history import load_attempts

    _libraries()  # the [train] extra first: a one-line hint before any work
    try:  # the folder next: a typo in --out is a one-line error before the training, not exit 70 after it
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainingError(f"cannot create the model folder {out}: {error.strerror or error}; choose another"
                            " --out") from None  # fmt: skip
    attempts = load_attempts(store, workflow)
    execs = executions(attempts)
    ok = execs.filter(pl.col("status") == "succeeded").height
    where = f" of workflow {workflow!r}" if workflow else ""
    if ok < MIN_EXECUTIONS:
        raise TrainingError(f"too little history{where} to train on: {ok} successful task executions, "
                            f"at least {MIN_EXECUTIONS} needed; run the workflow more first")  # fmt: skip
    detector, threshold, result = train(execs, seed)
    name = "anomaly-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    meta = {"model": "IsolationForest", "trees": 50, "training_seed": seed, "threshold": round(threshold, 6),
            "tolerance": dict(zip(MODEL_FEATURES, detector.tolerance.tolist(), strict=True)),
            "data": f"history{where}: {execs.height} executions", "trained_at": time.time(),
            "evaluation": {"precision": round(result.precision, 4), "recall": round(result.recall, 4),
                           "method": "5% labelled anomalies injected into a copy of the history"}}  # fmt: skip
    try:
        path = write_model(out, name, to_onnx(detector), meta)
    except OSError as error:  # full disk, a read-only folder
        raise TrainingError(f"cannot write the model into {out}: {error.strerror or error}") from None
    return path, result.line("evaluation on injected anomalies")
