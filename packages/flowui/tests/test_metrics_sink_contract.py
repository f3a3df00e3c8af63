"""flowbuilder serve's metrics sink (the one /metrics reads) passes the EventSink contract."""

from __future__ import annotations

import pytest

from flowbuilder_contracts import EventSinkContract
from flowbuilder_contracts.event_sink import SinkFor
from flowui.metrics import ServerMetrics


class TestMetricsSink(EventSinkContract):
    @pytest.fixture
    def sink_for(self) -> SinkFor:
        metrics = ServerMetrics()
        return lambda store, run_id: metrics.sink(4)
