"""Fit the anomaly model (an IsolationForest), convert it to ONNX, write it with its sidecar.

Needs the ``[train]`` extra (scikit-learn, skl2onnx), imported only here. Deterministic: the
forest's ``random_state`` is the seed, skl2onnx writes no timestamps, so the same seed, data
and library versions give the same bytes (training/train_model.py rebuilds the shipped model
this way; a test compares the hash).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from flowbuilder_ai.features import MODEL_FEATURES, executions, feature_matrix, features, task_baselines

TRAIN_EXTRA_HINT = "pip install flowbuilder-ai[train]"


class TrainingError(Exception):
    """Training cannot go on (one line: what is missing and what to do)."""


def _libraries() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import sklearn.ensemble
        import skl2onnx
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
    for low, high in zip(order[:-1], order[1:]):
        cut = float((low + high) / 2)
        e = evaluate(scores > cut, labels)
        f1 = 2 * e.precision * e.recall / (e.precision + e.recall) if e.precision + e.recall else 0.0
        if f1 > best_f1:
            best, best_f1 = cut, f1
    return best


def fit(frame: pl.DataFrame, seed: int, trees: int = 200, samples: int = 256) -> Any:
    """An IsolationForest fitted on the feature frame's :data:`MODEL_FEATURES`."""
    ensemble, _, _ = _libraries()
    matrix = feature_matrix(frame).to_numpy().astype(np.float32)
    forest = ensemble.IsolationForest(n_estimators=trees, max_samples=min(samples, frame.height), random_state=seed, n_jobs=1)
    forest.fit(matrix)
    return forest


def to_onnx(forest: Any) -> bytes:
    _, skl2onnx, onnx = _libraries()
    from skl2onnx.common.data_types import FloatTensorType

    model = skl2onnx.convert_sklearn(
        forest,
        initial_types=[("features", FloatTensorType([None, len(MODEL_FEATURES)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    model.doc_string = "flowbuilder-ai anomaly model (IsolationForest)"
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
        "libraries": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                      "onnx": onnx.__version__, "numpy": np.__version__, "polars": pl.__version__,
                      "python": platform.python_version()},  # fmt: skip
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
