"""flowbuilder-ai's two event sinks pass the EventSink contract (flowbuilder_contracts.event_sink)."""

from __future__ import annotations

from typing import Any

import pytest

from flowbuilder import Store
from flowbuilder.plugins import PluginHost
from flowbuilder.testing import compile_yaml, plugin_host  # noqa: F401 - pytest fixtures
from flowbuilder_ai.eta import EtaSink
from flowbuilder_ai.sink import AnomalySink
from flowbuilder_contracts import EventSinkContract
from flowbuilder_contracts.event_sink import SinkFor

# The contract's run: a chain t0 -> t1 -> t2 -> t3 (t1 retried once), with an SLA so the ETA
# sink predicts and may warn.
CHAIN = """
name: contract
sla: 1s
tasks:
  - {name: t0, type: shell, config: {command: "true"}}
  - {name: t1, type: shell, depends_on: [t0], config: {command: "true"}}
  - {name: t2, type: shell, depends_on: [t1], config: {command: "true"}}
  - {name: t3, type: shell, depends_on: [t2], config: {command: "true"}}
"""


@pytest.fixture
def flowbuilder_plugin_names() -> tuple[str, ...]:
    """Core's and the runner's plugins only (flowbuilder.testing's ``plugin_host`` reads this)."""
    return ("core", "flowrunner")


class TestAnomalySink(EventSinkContract):
    @pytest.fixture
    def sink_for(self) -> SinkFor:
        return lambda store, run_id: AnomalySink(store, run_id)


class TestEtaSink(EventSinkContract):
    @pytest.fixture
    def sink_for(self, plugin_host: PluginHost, compile_yaml: Any) -> SinkFor:  # noqa: F811 - fixtures
        plan = compile_yaml(CHAIN)
        durations = {"t0": 0.5, "t1": 1.5, "t2": 2.5, "t3": 3.5}

        def make(store: Store, run_id: str) -> EtaSink:
            return EtaSink(store, run_id, plan, durations)

        return make
