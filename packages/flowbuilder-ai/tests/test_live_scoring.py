"""The scoring sink on real runs (RunService, the python task type), memory and RocksDB stores."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ai_test_runs import make_host, run_once

from flowbuilder_ai import sink as sink_module


def _anomalies(store: Any, run_id: str) -> list[Any]:
    return [a for a in store.read_annotations(run_id) if a.kind == "anomaly"]


@pytest.fixture(params=["memory", "rocksdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        from flowbuilder.stores.memory import MemoryStore

        url = f"memory://ai-{uuid.uuid4().hex}"
        opened = MemoryStore.open(url)
        yield opened
        opened.close()
        MemoryStore.forget(url)
    else:
        pytest.importorskip("flowbuilder_storage")
        from flowbuilder_storage.rocksdb_store import RocksDBStore

        with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as opened:
            yield opened


def test_a_slow_task_is_annotated_and_normal_ones_are_not(scoring_host: Any, store: Any) -> None:
    history = [run_once(scoring_host, store, 0.05) for _ in range(25)]
    sink_module.clear_cache()  # the baselines of the first runs were young: read the full history
    normal = [run_once(scoring_host, store, 0.05) for _ in range(3)]
    slow = run_once(scoring_host, store, 1.0)
    assert history
    for run_id in normal:
        assert _anomalies(store, run_id) == []
    found = _anomalies(store, slow)
    assert [a.task for a in found] == ["fetch"], found  # not `steady`: it only waited for fetch
    payload = found[0].payload
    assert payload["score"] > payload["threshold"]
    assert "its median is" in payload["why"] and payload["why"].startswith("took 1.0 s")
    assert found[0].author == "flowbuilder-ai"


def test_alerts_hook_receives_each_anomaly(store: Any) -> None:
    from flowbuilder import hookimpl

    received: list[tuple[str, Any]] = []

    class Pager:
        @hookimpl
        def flowbuilder_anomaly_alerts(self, run_id: str, annotation: Any) -> None:
            received.append((run_id, annotation))

    host = make_host(True)
    host.register(Pager(), name="pager")
    for _ in range(22):
        run_once(host, store, 0.05)
    sink_module.clear_cache()
    slow = run_once(host, store, 1.0)
    assert [(run_id, a.task, a.number > 0) for run_id, a in received] == [(slow, "fetch", True)]


def test_scoring_off_adds_no_sink(store: Any) -> None:
    host = make_host(False)
    assert not [s for s in host.event_sinks("r1", store) if type(s).__name__ == "AnomalySink"]
    on = make_host(True)
    assert [type(s).__name__ for s in on.event_sinks("r1", store)].count("AnomalySink") == 1


def test_live_scores_equal_the_rescore_of_the_same_run(store: Any) -> None:
    """Every task's live score is, bit for bit, what `flowbuilder ai score RUN_ID` gives the run."""
    from ai_test_runs import WORKFLOW

    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.run_service import CompiledWorkflow, RunService
    from flowbuilder_ai.rescore import rescore_run
    from flowbuilder_ai.sink import AnomalySink

    host = make_host(False)
    for _ in range(22):
        run_once(host, store, 0.02)
    plan = plan_workflow(load_workflow(WORKFLOW, filename="aitest.yaml"), host)
    checked = 0
    for delay in (0.02, 0.6):
        sink_module.clear_cache()  # the live sink reads the history during the run, as a new process would
        service = RunService(host, store)
        prepared = service.prepare(CompiledWorkflow(plan, WORKFLOW.encode()), {"delay": delay})
        sink = AnomalySink(store, prepared.run_id)
        assert service.run(prepared, sinks=[sink]).succeeded
        assert sink.wait(60)
        again = rescore_run(store, prepared.run_id)
        assert set(sink.scores) == {"fetch", "steady"}
        assert again["scores"] == sink.scores, (again["scores"], sink.scores)
        live = {a.task: a.payload["score"] for a in _anomalies(store, prepared.run_id)}
        assert live == {a["task"]: round(a["score"], 4) for a in again["anomalies"]}
        checked += len(live)
    assert checked == 1  # the slow run's fetch, and only it
