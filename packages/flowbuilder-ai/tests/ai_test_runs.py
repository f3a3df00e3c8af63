"""The workflow and helpers flowbuilder-ai's tests run: a plugin host with scoring on or off,
and one run of a workflow that sleeps as long as its ``delay`` parameter says (so a test makes
one task slow on purpose).

A module of its own name, not ``conftest``: every package's tests have a conftest, and
``from conftest import ...`` gets whichever one was imported first in the process.
"""

from __future__ import annotations

from typing import Any

from flowbuilder.config import Settings
from flowbuilder.plugins import PluginHost, build_plugin_host

WORKFLOW = """
name: aitest
params:
  delay: {type: number, default: 0.05}
tasks:
  - name: fetch
    type: python
    config: {callable: "time:sleep", args: ["${{ params.delay }}"]}
  - name: steady
    type: python
    depends_on: [fetch]
    config: {callable: "time:sleep", args: [0.05]}
"""


def make_host(scoring: bool, **ai: Any) -> PluginHost:
    section = {"scoring": "true" if scoring else "false", **ai}
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "ai"), sections={"ai": section}))
    assert not host.failures, [f.format() for f in host.failures]
    return host


def run_once(host: PluginHost, store: Any, delay: float) -> str:
    """Run WORKFLOW through core's RunService with ``delay``; the run id."""
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.run_service import CompiledWorkflow, RunService

    plan = plan_workflow(load_workflow(WORKFLOW, filename="aitest.yaml"), host)
    service = RunService(host, store)
    result = service.run(service.prepare(CompiledWorkflow(plan, WORKFLOW.encode()), {"delay": delay}))
    assert result.succeeded
    from flowbuilder_ai.sink import flush

    assert flush(60)  # scoring runs after the run, on the sink's thread: wait for its annotations
    return str(result.run_id)
