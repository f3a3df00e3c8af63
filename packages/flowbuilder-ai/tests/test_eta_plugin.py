# ruff: noqa: F811 - the pytest fixtures imported from flowbuilder.testing are parameters here
"""The ETA/SLA sink through the plugin hook: on for a workflow with ``sla:``, absent without."""

from __future__ import annotations

from typing import Any

import pytest

from flowbuilder.plugins import PluginHost
from flowbuilder.run_service import CompiledWorkflow, RunService
from flowbuilder.stores.memory import MemoryStore
from flowbuilder.testing import compile_yaml, memory_store, plugin_host  # noqa: F401 - pytest fixtures
from flowbuilder_ai.eta import ETA_KIND, SLA_KIND, EtaSink

WORKFLOW = """
name: hooked
sla: 0.05s
tasks:
  - {name: a, type: shell, config: {command: "true"}}
  - {name: b, type: shell, depends_on: [a], config: {command: "sleep 0.1"}}
"""


@pytest.fixture
def flowbuilder_plugin_names() -> tuple[str, ...]:
    return ("core", "flowrunner", "ai")


def run(host: PluginHost, store: MemoryStore, text: str, compile_text: Any) -> tuple[str, list[Any]]:
    service = RunService(host, store)
    prepared = service.prepare(CompiledWorkflow(compile_text(text), text.encode()))
    request = service.request(prepared)
    sinks = [s for s in request.sinks if isinstance(s, EtaSink)]
    service.runner.run(request)
    return prepared.run_id, sinks


def test_a_workflow_with_an_sla_gets_the_sink(
    plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any
) -> None:
    first, _ = run(plugin_host, memory_store, WORKFLOW, compile_yaml)
    assert memory_store.read_annotations(first) == []  # no history yet: no prediction, no warning
    for _ in range(2):  # history: b takes 0.1 s, over the 0.05 s SLA
        run(plugin_host, memory_store, WORKFLOW, compile_yaml)
    run_id, sinks = run(plugin_host, memory_store, WORKFLOW, compile_yaml)
    assert len(sinks) == 1
    kinds = [a.kind for a in memory_store.read_annotations(run_id)]
    assert kinds.count(SLA_KIND) == 1 and ETA_KIND in kinds


def test_without_sla_there_is_no_sink(plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: Any) -> None:
    run_id, sinks = run(plugin_host, memory_store, WORKFLOW.replace("sla: 0.05s\n", ""), compile_yaml)
    assert sinks == []
    assert memory_store.read_annotations(run_id) == []
