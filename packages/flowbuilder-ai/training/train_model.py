"""Rebuild the shipped anomaly model, bit for bit: src/flowbuilder_ai/models/anomaly-v1.onnx.

    pip install -e 'packages/flowbuilder-ai[train]'   # scikit-learn, skl2onnx (versions: constraints.txt)
    python packages/flowbuilder-ai/training/train_model.py [--out DIR]

Data: synthetic history only (flowbuilder_ai.synthetic, seeded): TRAIN_SEED generates the
training history (2% injected anomalies, as unlabelled contamination: the forest never sees a
label), THRESHOLD_SEED a separate labelled history on which the score threshold is chosen
(best F1). See README.md beside this file.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# One Polars thread: some of its parallel steps (group-bys feeding floating-point results) can
# order their work by thread timing, and under load that changed the model's bytes.
os.environ["POLARS_MAX_THREADS"] = "1"

from flowbuilder_ai.features import MODEL_FEATURES
from flowbuilder_ai.scoring import SHIPPED_MODEL, shipped_model_path
from flowbuilder_ai.synthetic import HistoryShape, generate
from flowbuilder_ai.training import evaluate, featurize, fit, pick_threshold, to_onnx, write_model

TRAIN_SEED = 20261206
THRESHOLD_SEED = 20261207
SHAPE = HistoryShape(workflows=6, tasks_per_workflow=8, runs_per_workflow=400, anomaly_rate=0.02)


def build(out: Path) -> Path:
    train = featurize(generate(TRAIN_SEED, SHAPE))
    detector = fit(train, seed=TRAIN_SEED)
    onnx_bytes = to_onnx(detector)
    labelled = featurize(generate(THRESHOLD_SEED, SHAPE))
    scores = detector.scores(labelled)
    labels = labelled["label"].to_numpy()
    threshold = pick_threshold(scores, labels)
    result = evaluate(scores > threshold, labels)
    meta = {"model": "IsolationForest", "trees": 50, "max_samples": 4096, "training_seed": TRAIN_SEED,
            "threshold_seed": THRESHOLD_SEED, "threshold": round(threshold, 6),
            "tolerance": dict(zip(MODEL_FEATURES, detector.tolerance.tolist(), strict=True)),
            "data": f"flowbuilder_ai.synthetic {SHAPE}",
            "evaluation": {"precision": round(result.precision, 4), "recall": round(result.recall, 4)}}  # fmt: skip
    path = write_model(out, Path(SHIPPED_MODEL).stem, onnx_bytes, meta)
    print(result.line("threshold set"))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=shipped_model_path().parent)
    print(f"wrote {build(parser.parse_args().out)}")


if __name__ == "__main__":
    main()
