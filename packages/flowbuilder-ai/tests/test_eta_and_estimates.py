# ruff: noqa: F811 - the pytest fixtures imported from flowbuilder.testing are parameters here
"""Duration estimates and the predicted finish, on real runs (shell tasks, the runner, a store).

The store is core's ``memory://`` (history is read through its analytics export like any
store's); the plan is compiled by core with the plugin's compile pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowbuilder.compiler import ESTIMATED_DURATIONS_KEY, compile_workflow
from flowbuilder.events import EventKind
from flowbuilder.plan import ExecutionPlan
from flowbuilder.plugins import PluginHost
from flowbuilder.run_service import CompiledWorkflow, RunService
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.testing import compile_yaml, memory_store, plugin_host  # noqa: F401 - pytest fixtures
from flowbuilder_ai.estimates import HistoryDurations
from flowbuilder_ai.eta import SLA_KIND, EtaSink, predict_finish, predict_run


@pytest.fixture
def flowbuilder_plugin_names() -> tuple[str, ...]:
    """Core's and the runner's plugins only (flowbuilder.testing's ``plugin_host`` reads this)."""
    return ("core", "flowrunner")


# start -> (quick, slow) -> end. By task count quick and slow tie; by measured time slow leads.
WORKFLOW = """
name: eta-demo
sla: 0.25s
params:
  slow: {type: number, default: 0.3}
tasks:
  - {name: start, type: shell, config: {command: "true"}}
  - {name: quick, type: shell, depends_on: [start], config: {command: "true"}}
  - {name: slow, type: shell, depends_on: [start], config: {command: "sleep ${{ params.slow }}"}}
  - {name: end, type: shell, depends_on: [quick, slow], config: {command: "true"}}
"""


def run(host: PluginHost, store: MemoryStore, plan: ExecutionPlan, params: dict[str, Any], sinks: Any = ()) -> str:
    service = RunService(host, store)
    prepared = service.prepare(CompiledWorkflow(plan, WORKFLOW.encode()), params)
    built = [sink(prepared.run_id) for sink in sinks]
    service.run(prepared, sinks=built)
    return prepared.run_id


def history(host: PluginHost, store: MemoryStore, compile_yaml: Any, runs: int = 3) -> ExecutionPlan:
    plan: ExecutionPlan = compile_yaml(WORKFLOW)
    for _ in range(runs):
        run(host, store, plan, {"slow": 0.3})
    return plan


def test_with_history_the_plan_follows_measured_durations(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    plan = history(plugin_host, memory_store, compile_yaml)
    estimates = HistoryDurations(lambda: memory_store)
    measured = compile_workflow(plan.workflow, plugin_host.task_types(), passes=[estimates])
    durations = measured.metadata[ESTIMATED_DURATIONS_KEY]
    assert set(durations) == {"start", "quick", "slow", "end"}
    assert durations["slow"] >= 0.3 > durations["quick"]
    index = measured.index
    assert measured.estimated
    assert measured.remaining_path[index["slow"]] > measured.remaining_path[index["quick"]]
    assert [measured.names[i] for i in measured.critical_path] == ["start", "slow", "end"]


def test_without_history_the_plan_is_unchanged(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    plan: ExecutionPlan = compile_yaml(WORKFLOW)
    estimates = HistoryDurations(lambda: memory_store)
    same = compile_workflow(plan.workflow, plugin_host.task_types(), passes=[estimates])
    assert same.remaining_path == plan.remaining_path and not same.estimated
    assert ESTIMATED_DURATIONS_KEY not in same.metadata


def test_a_store_that_fails_gives_no_estimates(plugin_host: PluginHost, compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WORKFLOW)

    def broken() -> MemoryStore:
        raise OSError("store is gone")

    same = compile_workflow(plan.workflow, plugin_host.task_types(), passes=[HistoryDurations(broken)])
    assert not same.estimated


def test_estimates_are_cached_per_workflow(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    plan = history(plugin_host, memory_store, compile_yaml)
    opened: list[int] = []

    def counting() -> MemoryStore:
        opened.append(1)
        return memory_store

    estimates = HistoryDurations(counting)
    for _ in range(5):
        estimates(plan)
    assert len(opened) == 1
    estimates.invalidate("eta-demo")
    estimates(plan)
    assert len(opened) == 2


def test_the_sla_warning_comes_before_the_run_ends(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    plan = history(plugin_host, memory_store, compile_yaml)
    durations = HistoryDurations(lambda: memory_store).durations("eta-demo")
    sinks: list[EtaSink] = []

    def sink(run_id: str) -> EtaSink:
        sinks.append(EtaSink(memory_store, run_id, plan, durations))
        return sinks[-1]

    run_id = run(plugin_host, memory_store, plan, {"slow": 0.6}, sinks=[sink])
    warnings = [a for a in memory_store.read_annotations(run_id) if a.kind == SLA_KIND]
    assert len(warnings) == 1
    finished = next(e for e in memory_store.read_events(run_id) if e.kind is EventKind.RUN_FINISHED)
    events = memory_store.read_events(run_id)
    slow_ended = next(e for e in events if e.kind is EventKind.TASK_SUCCEEDED and e.task == "slow")
    assert warnings[0].time < slow_ended.time < finished.time
    assert warnings[0].payload["misses_sla"] and warnings[0].payload["sla_s"] == 0.25
    assert "its SLA is 0.25s" in warnings[0].payload["message"]
    assert sinks[0].latest is not None


def test_a_run_within_its_sla_gets_no_warning(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    plan: ExecutionPlan = compile_yaml(WORKFLOW.replace("sla: 0.25s", "sla: 1h"))
    durations = {"start": 0.01, "quick": 0.01, "slow": 0.3, "end": 0.01}
    run_id = run(plugin_host, memory_store, plan, {"slow": 0.01},
                 sinks=[lambda rid: EtaSink(memory_store, rid, plan, durations)])  # fmt: skip
    kinds = [a.kind for a in memory_store.read_annotations(run_id)]
    assert SLA_KIND not in kinds and "eta" in kinds


def test_the_prediction_follows_the_remaining_critical_path(compile_yaml: Any) -> None:
    plan: ExecutionPlan = compile_yaml(WORKFLOW)
    durations = {"start": 1.0, "quick": 2.0, "slow": 10.0, "end": 1.0}
    at_start = predict_finish(plan, durations, started_at=100.0, now=100.0, finished=set(), running={})
    assert at_start.remaining == 12.0 and at_start.path == ("start", "slow", "end")
    # slow has run 4 s of its 10: 6 s left, then end.
    later = predict_finish(plan, durations, started_at=100.0, now=105.0, finished={"start", "quick"},
                           running={"slow": 101.0})  # fmt: skip
    assert later.remaining == 7.0 and later.total == 12.0 and later.finish_at == 112.0
    # slow overruns its median: never predicted to end "now", a tenth of its median is left.
    overrun = predict_finish(plan, durations, started_at=100.0, now=130.0, finished={"start", "quick"},
                             running={"slow": 101.0})  # fmt: skip
    assert overrun.remaining == 2.0
    assert overrun.misses_sla and overrun.sla == 0.25


def test_predict_run_reads_a_stored_run(plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any) -> None:
    plan = history(plugin_host, memory_store, compile_yaml, runs=1)
    (run_id,) = [r.run_id for r in memory_store.list_runs(workflow="eta-demo", limit=10).runs]
    assert predict_run(memory_store, run_id, plan, {"slow": 1.0}) is None  # finished: known, not predicted
