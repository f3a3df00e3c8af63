"""Training the anomaly model (flowbuilder_ai.training): the queue-wait tolerance, the ONNX graph (needs [train])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from flowbuilder_ai.features import MODEL_FEATURES
from flowbuilder_ai.scoring import AnomalyModel
from flowbuilder_ai.synthetic import HistoryShape, generate
from flowbuilder_ai.training import QUEUE_WAIT, QUEUE_WAIT_QUANTILE, featurize, fit, to_onnx, write_model

pytest.importorskip("sklearn", reason="the [train] extra (pip install flowbuilder-ai[train]) trains models")
pytest.importorskip("skl2onnx", reason="the [train] extra (pip install flowbuilder-ai[train]) trains models")

SHAPE = HistoryShape(workflows=2, tasks_per_workflow=6, runs_per_workflow=150, anomaly_rate=0.02)


@pytest.fixture(scope="module")
def history() -> pl.DataFrame:
    return featurize(generate(7, SHAPE))


def test_queue_waits_count_only_beyond_the_rarest_of_the_history(history: pl.DataFrame) -> None:
    detector = fit(history, seed=7)
    rare = float(np.quantile(history[QUEUE_WAIT].to_numpy(), QUEUE_WAIT_QUANTILE))
    assert detector.tolerance.tolist() == pytest.approx([rare if f == QUEUE_WAIT else 0.0 for f in MODEL_FEATURES])
    normal = history.filter(pl.col("label") == 0).head(200)
    usual = detector.scores(normal.with_columns(pl.lit(0.0).alias(QUEUE_WAIT)))
    noisy = detector.scores(normal.with_columns(pl.lit(rare * 0.99).alias(QUEUE_WAIT)))
    stuck = detector.scores(normal.with_columns(pl.lit(rare + 3.0).alias(QUEUE_WAIT)))
    assert np.array_equal(usual, noisy)  # the waits of all but the rarest 0.1%: no signal at all
    assert (stuck > usual).mean() > 0.9  # a wait far beyond them still raises the score


def test_the_onnx_model_scores_as_the_fitted_detector(history: pl.DataFrame, tmp_path: Path) -> None:
    detector = fit(history, seed=7)
    path = write_model(tmp_path, "m", to_onnx(detector), {"threshold": 0.0})
    model = AnomalyModel.load(path)
    scored = history.with_columns((pl.col(QUEUE_WAIT) * 3).alias(QUEUE_WAIT))  # some beyond the tolerance
    assert model.features == MODEL_FEATURES
    np.testing.assert_allclose(model.score(scored), detector.scores(scored), atol=1e-5)


def test_the_onnx_opsets_are_written_in_one_order_whatever_order_skl2onnx_gives(
    history: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skl2onnx

    detector = fit(history, seed=7)
    convert = skl2onnx.convert_sklearn
    orders: list[list[str]] = []

    def reversed_opsets(*args: Any, **kwargs: Any) -> Any:
        model = convert(*args, **kwargs)
        opsets = [(o.domain, o.version) for o in model.opset_import]
        opsets = opsets[::-1] if orders else opsets  # the second conversion lists them the other way round
        orders.append([domain for domain, _ in opsets])
        del model.opset_import[:]
        for domain, version in opsets:
            model.opset_import.add(domain=domain, version=version)
        return model

    monkeypatch.setattr(skl2onnx, "convert_sklearn", reversed_opsets)
    first, second = to_onnx(detector), to_onnx(detector)
    assert orders[0] != orders[1] and first == second
