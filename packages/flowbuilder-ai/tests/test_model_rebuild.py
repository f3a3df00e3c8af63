"""The shipped model is rebuilt bit for bit by training/train_model.py (needs the [train] extra)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder_ai.scoring import AnomalyModel, shipped_model_path

SCRIPT = Path(__file__).parents[1] / "training" / "train_model.py"


def test_shipped_model_matches_its_sidecar() -> None:
    model = AnomalyModel.load()
    assert hashlib.sha256(shipped_model_path().read_bytes()).hexdigest() == model.sidecar["sha256"]
    assert 0 < len(model.features) and model.threshold == model.sidecar["threshold"]


def test_training_script_rebuilds_the_shipped_model_bit_for_bit(tmp_path: Path) -> None:
    for name in ("sklearn", "skl2onnx"):
        try:
            __import__(name)
        except ImportError:
            pytest.skip(f"{name} is not installed: the [train] extra (pip install flowbuilder-ai[train]) rebuilds the model")
    shipped = json.loads(shipped_model_path().with_suffix(".json").read_text())
    import sklearn

    if shipped["libraries"]["scikit-learn"] != sklearn.__version__:
        pytest.skip(f"the shipped model was built with scikit-learn {shipped['libraries']['scikit-learn']}, "
                    f"this is {sklearn.__version__}: bit-for-bit needs the same versions (constraints.txt)")  # fmt: skip
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rebuilt = (tmp_path / "anomaly-v1.onnx").read_bytes()
    assert hashlib.sha256(rebuilt).hexdigest() == shipped["sha256"]
