"""An OpenTelemetry event sink: one trace per run, one span per task attempt.

Off by default and free when off: the plugin's ``flowbuilder_event_sinks`` hook returns
nothing (and this module is never imported) unless the ``[otel]`` settings table names an
exporter. Configure it in ``flowbuilder.toml``::

    [otel]
    exporter = "console"          # or "otlp" (needs `pip install flowrunner[otel]`)
    endpoint = "http://127.0.0.1:4318/v1/traces"   # otlp only; default: the OTLP default
    service_name = "flowbuilder"

or with environment variables: ``FLOWBUILDER_OTEL__EXPORTER=console``.

Spans: ``run <workflow>`` is the root of the run's trace (attributes ``flowbuilder.run_id``,
``flowbuilder.workflow``, ``flowbuilder.status``); each attempt is a child ``task <name>``
span from its ``task_started`` to its outcome, with ``flowbuilder.task``,
``flowbuilder.task_type``, ``flowbuilder.attempt``, ``flowbuilder.status`` and, when known,
``flowbuilder.exit_code`` / ``flowbuilder.http_status`` / ``flowbuilder.error``. Span times
are the events' own times, so they are exact even though the sink sees events in batches.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence

from flowbuilder.errors import ConfigurationError, NotInstalledError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import EventSink

_PROVIDERS: dict[tuple[str, str, str], Any] = {}
_PROVIDERS_LOCK = threading.Lock()

_OUTCOMES = {
    EventKind.TASK_SUCCEEDED: "succeeded",
    EventKind.TASK_FAILED: "failed",
    EventKind.TASK_RETRYING: "retrying",
    EventKind.TASK_CANCELLED: "cancelled",
}


def _nanos(seconds: float) -> int:
    return int(seconds * 1e9)


def _provider(exporter: str, endpoint: str, service: str) -> Any:
    """One tracer provider per exporter configuration per process (runs share it)."""
    if exporter not in ("console", "otlp"):
        raise ConfigurationError(f"[otel] exporter {exporter!r} is unknown; use 'console' or 'otlp'")
    key = (exporter, endpoint, service)
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is not None:
            return provider
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
        except ImportError:
            raise NotInstalledError("the [otel] sink needs opentelemetry-sdk: `pip install flowrunner[otel]`") from None
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if exporter == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        else:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError:
                raise NotInstalledError("[otel] exporter = 'otlp' needs `pip install flowrunner[otel]`") from None
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint or None)))
        _PROVIDERS[key] = provider
        return provider


class OtelSink(EventSink):
    """Turns one run's events into spans. Pass ``provider`` to use your own TracerProvider."""

    def __init__(self, run_id: str, provider: Any):
        self.run_id = run_id
        self.provider = provider
        self.tracer = provider.get_tracer("flowrunner")
        self.root: Any = None
        self.root_context: Any = None
        self.open: dict[tuple[str, int], Any] = {}

    @classmethod
    def from_settings(cls, section: Mapping[str, Any], run_id: str) -> OtelSink:
        exporter = str(section.get("exporter", "")).lower()
        provider = _provider(
            exporter, str(section.get("endpoint", "")), str(section.get("service_name", "flowbuilder"))
        )
        return cls(run_id, provider)

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            kind = event.kind
            if kind is EventKind.RUN_CREATED or (kind is EventKind.RUN_STARTED and self.root is None):
                self._start_root(event)
            elif kind is EventKind.TASK_STARTED:
                self._start_attempt(event)
            elif kind in _OUTCOMES:
                self._end_attempt(event, _OUTCOMES[kind])
            elif kind is EventKind.RUN_FINISHED:
                self._end_root(event)

    def _start_root(self, event: RunEvent) -> None:
        from opentelemetry import trace

        workflow = event.data.get("workflow", "")
        self.root = self.tracer.start_span(f"run {workflow}".strip(), start_time=_nanos(event.time), attributes={
            "flowbuilder.run_id": event.run_id, "flowbuilder.workflow": str(workflow)})  # fmt: skip
        self.root_context = trace.set_span_in_context(self.root)

    def _start_attempt(self, event: RunEvent) -> None:
        if self.root is None:
            self._start_root(event)
        attributes = {"flowbuilder.task": event.task or "", "flowbuilder.attempt": event.attempt,
                      "flowbuilder.run_id": event.run_id}  # fmt: skip
        task_type = event.data.get("type")
        if task_type:
            attributes["flowbuilder.task_type"] = task_type
        span = self.tracer.start_span(f"task {event.task}", context=self.root_context,
                                      start_time=_nanos(event.time), attributes=attributes)  # fmt: skip
        self.open[(event.task or "", event.attempt)] = span

    def _end_attempt(self, event: RunEvent, status: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self.open.pop((event.task or "", event.attempt), None)
        if span is None:
            return
        span.set_attribute("flowbuilder.status", status)
        data = event.data
        if data.get("exit_code") is not None:
            span.set_attribute("flowbuilder.exit_code", int(data["exit_code"]))
        if data.get("status") is not None:
            span.set_attribute("flowbuilder.http_status", int(data["status"]))
        if status in ("failed", "retrying") and data.get("error"):
            span.set_attribute("flowbuilder.error", str(data["error"])[:1000])
            span.set_status(Status(StatusCode.ERROR, str(data["error"])[:200]))
        span.end(end_time=_nanos(event.time))

    def _end_root(self, event: RunEvent) -> None:
        from opentelemetry.trace import Status, StatusCode

        for span in self.open.values():
            span.set_attribute("flowbuilder.status", "unfinished")
            span.end(end_time=_nanos(event.time))
        self.open.clear()
        if self.root is not None:
            status = str(event.data.get("status", ""))
            self.root.set_attribute("flowbuilder.status", status)
            if status == "failed":
                self.root.set_status(Status(StatusCode.ERROR, "run failed"))
            self.root.end(end_time=_nanos(event.time))
            self.root = None

    def close(self) -> None:
        for span in self.open.values():
            span.end()
        self.open.clear()
        if self.root is not None:
            self.root.end()
            self.root = None
        self.provider.force_flush()
