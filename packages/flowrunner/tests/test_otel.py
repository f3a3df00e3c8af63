"""The OpenTelemetry sink: one trace per run, one span per attempt; nothing when not configured."""

from __future__ import annotations

import sys

import pytest
from flowrunner_helpers import run_text

from flowbuilder.config import Settings
from flowrunner import plugin


def test_the_sink_is_off_and_not_even_imported_without_otel_settings() -> None:
    sys.modules.pop("flowrunner.otel", None)
    assert plugin.flowbuilder_event_sinks(settings=Settings(), run_id="r") == []
    assert "flowrunner.otel" not in sys.modules


def test_a_run_becomes_one_trace_with_a_span_per_attempt() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from flowrunner.otel import OtelSink

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = OtelSink("traced", provider)
    run_text(
        """
name: traced
on_failure: continue
tasks:
  - {name: ok, type: shell, config: {command: "echo hi"}}
  - {name: flaky, type: shell, retry: {attempts: 2, backoff: 0.01, jitter: 0}, config: {command: "exit 3"}}
""",
        sinks=[sink],
        run_id="traced",
    )
    spans = exporter.get_finished_spans()
    root = next(s for s in spans if s.name == "run traced")
    attempts = [s for s in spans if s.name.startswith("task ")]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert all(s.parent.span_id == root.context.span_id for s in attempts)
    flaky = sorted(
        (s for s in attempts if s.attributes["flowbuilder.task"] == "flaky"),
        key=lambda s: s.attributes["flowbuilder.attempt"],
    )
    assert [s.attributes["flowbuilder.status"] for s in flaky] == ["retrying", "failed"]
    assert (
        flaky[-1].attributes["flowbuilder.exit_code"] == 3 and flaky[-1].attributes["flowbuilder.task_type"] == "shell"
    )
    assert root.attributes["flowbuilder.status"] == "failed"


def test_an_unknown_exporter_is_a_configuration_error() -> None:
    from flowbuilder.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="console"):
        plugin.flowbuilder_event_sinks(settings=Settings(sections={"otel": {"exporter": "zipkin2000"}}), run_id="r")
