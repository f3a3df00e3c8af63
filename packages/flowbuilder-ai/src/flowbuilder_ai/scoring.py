"""The anomaly model: an ONNX IsolationForest and its JSON sidecar, scored with onnxruntime.

The sidecar (``<model>.json``) says which feature columns the model reads and in what
order, the score threshold above which an execution is an anomaly, how it was trained
(seed, library versions) and the model file's sha256, checked on load so a damaged or
swapped file is refused instead of scoring nonsense. The onnxruntime session is created
once per :class:`AnomalyModel` (the first time it scores), never per task.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl

from flowbuilder_ai.features import MODEL_FEATURES, feature_matrix

SHIPPED_MODEL = "anomaly-v1.onnx"


class AIError(Exception):
    """A one-line, actionable error of flowbuilder-ai (the CLI prints it and exits 1)."""


class ModelError(AIError):
    """The model or its sidecar is missing or damaged (one line, saying what to do)."""


def shipped_model_path() -> Path:
    """The model inside the package (``flowbuilder_ai/models/anomaly-v1.onnx``)."""
    return Path(str(resources.files("flowbuilder_ai") / "models" / SHIPPED_MODEL))


def sidecar_path(model: Path) -> Path:
    return model.with_suffix(".json")


@dataclass
class AnomalyModel:
    """A model file and its sidecar; :meth:`score` runs it (session made on first use)."""

    path: Path
    features: tuple[str, ...]
    threshold: float
    sidecar: dict[str, Any]
    _session: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _names: tuple[str, str] = field(default=("", ""), repr=False)
    _buffer: np.ndarray[Any, np.dtype[np.float32]] = field(
        default_factory=lambda: np.empty((0, len(MODEL_FEATURES)), dtype=np.float32), repr=False
    )

    @classmethod
    def load(cls, path: Path | str | None = None) -> AnomalyModel:
        """The model at ``path`` (default: the shipped one), its hash checked against its sidecar."""
        model = Path(path) if path is not None else shipped_model_path()
        side = sidecar_path(model)
        try:
            raw = model.read_bytes()
            meta = json.loads(side.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ModelError(f"anomaly model file {error.filename} is missing: reinstall flowbuilder-ai or run "
                             "`flowbuilder ai train`") from None  # fmt: skip
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot read the anomaly model {model} ({error}); run `flowbuilder ai train`") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("features"), list):
            raise ModelError(f"{side} is not an anomaly model sidecar (no feature list); run `flowbuilder ai train`")
        digest = hashlib.sha256(raw).hexdigest()
        if meta.get("sha256") != digest:
            raise ModelError(f"{model} does not match its sidecar's sha256; reinstall it or run `flowbuilder ai train`")
        threshold = meta.get("threshold")
        if not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ModelError(f"{side} has no finite threshold; run `flowbuilder ai train`")
        return cls(model, tuple(str(f) for f in meta["features"]), float(threshold), meta)

    def _run(self) -> Any:
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # batches are small: threads cost more than they give
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            self._names = (session.get_inputs()[0].name, session.get_outputs()[1].name)
            self._session = session
        return self._session

    def score(self, frame: pl.DataFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Anomaly scores (higher: more anomalous; above :attr:`threshold`: an anomaly), one per row."""
        if frame.height == 0:
            return np.zeros(0, dtype=np.float32)
        matrix = feature_matrix(frame.select(self.features)).to_numpy().astype(np.float32, copy=False)
        return self.score_matrix(np.ascontiguousarray(matrix))

    def score_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """:meth:`score` for rows of :func:`~flowbuilder_ai.features.row_features` (the live path):
        the same float32 matrix, built in an input buffer reused from call to call."""
        if not rows:
            return np.zeros(0, dtype=np.float32)
        if set(self.features) != set(MODEL_FEATURES):  # the frame path refuses it too (feature_matrix)
            raise ModelError(f"{self.path} reads features {list(self.features)}, not these: run `flowbuilder ai train`")
        with self._lock:  # the buffer is the model's: one caller at a time
            if self._buffer.shape[0] < len(rows):
                self._buffer = np.empty((max(len(rows), 2 * self._buffer.shape[0], 64), len(MODEL_FEATURES)),
                                        dtype=np.float32)  # fmt: skip
            matrix = self._buffer[: len(rows)]
            matrix[:] = [[row[name] for name in MODEL_FEATURES] for row in rows]
            return self.score_matrix(matrix)

    def score_matrix(self, matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Scores of a float32 matrix whose columns are :data:`MODEL_FEATURES` (NaN and infinities
        are clipped in place, as training saw them)."""
        np.nan_to_num(matrix, copy=False, nan=0.0, posinf=50.0, neginf=-50.0)
        try:
            session = self._run()
            (scores,) = session.run([self._names[1]], {self._names[0]: matrix})
        except (ImportError, ModelError):
            raise
        except Exception as error:  # onnxruntime's errors derive from Exception only (InvalidProtobuf, Fail...)
            # The sha256 check passes for a file that is not a model the sidecar was written
            # for (bytes and sidecar replaced together, an ONNX this onnxruntime cannot load).
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            raise ModelError(f"onnxruntime cannot use the anomaly model {self.path} ({reason}); run `flowbuilder ai"
                             " train`") from None  # fmt: skip
        return -np.asarray(scores, dtype=np.float32).reshape(-1)  # the forest's decision function is low for anomalies
