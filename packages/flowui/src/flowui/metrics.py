"""Prometheus metrics of the runs this server executes, fed by each run's event sink.

The numbers come from the events the runner hands its sinks (one :class:`MetricsSink` per
run, passed to :meth:`RunService.submit <flowbuilder.run_service.RunService.submit>`), so
there is no second event path and nothing is polled. Each registry belongs to one server
(not prometheus_client's global one), so two apps in one process never mix their counts.

* ``flowbuilder_runs_started_total`` and ``flowbuilder_runs_finished_total{status}``: runs by status;
* ``flowbuilder_runs_running``: runs in progress here;
* ``flowbuilder_task_duration_seconds{outcome}``: attempt durations (the events' ``duration``);
* ``flowbuilder_attempts_running`` and ``flowbuilder_tasks_queued`` (queue depth: tasks of
  running runs that have neither finished nor an attempt running);
* ``flowbuilder_events_total``: events recorded (``rate()`` of it is events per second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.sink import EventSink

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0)
"""Attempt durations span microsecond callables to hour-long jobs."""

_TASK_ENDS = {EventKind.TASK_SUCCEEDED: "succeeded", EventKind.TASK_FAILED: "failed"}
_TASK_DONE = {EventKind.TASK_SUCCEEDED, EventKind.TASK_SKIPPED}


class ServerMetrics:
    """The server's Prometheus registry and the instruments its run sinks update."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry: CollectorRegistry = CollectorRegistry()
        registry = self.registry
        self.runs_started = Counter("flowbuilder_runs_started", "Runs started by this server.", registry=registry)
        self.runs_finished = Counter("flowbuilder_runs_finished", "Runs finished, by status.", ["status"],
                                     registry=registry)  # fmt: skip
        self.runs_running = Gauge("flowbuilder_runs_running", "Runs in progress in this server.", registry=registry)
        self.attempts_running = Gauge("flowbuilder_attempts_running", "Task attempts in progress.", registry=registry)
        self.tasks_queued = Gauge("flowbuilder_tasks_queued", "Tasks of running runs neither finished nor running"
                                  " (queue depth).", registry=registry)  # fmt: skip
        self.task_duration = Histogram("flowbuilder_task_duration_seconds", "Task attempt durations.", ["outcome"],
                                       buckets=DURATION_BUCKETS, registry=registry)  # fmt: skip
        self.events = Counter("flowbuilder_events", "Run events recorded (rate: events/s).", registry=registry)

    def sink(self, unfinished_tasks: int) -> MetricsSink:
        """A sink for one run that has ``unfinished_tasks`` tasks left to run."""
        return MetricsSink(self, unfinished_tasks)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsSink(EventSink):
    """Updates :class:`ServerMetrics` from one run's event batches (called on the runner's loop)."""

    def __init__(self, metrics: ServerMetrics, unfinished_tasks: int) -> None:
        self.metrics = metrics
        self.queued = unfinished_tasks  # this run's share of tasks_queued
        self.running = 0  # this run's attempts in progress
        self.started = False
        self.finished = False
        metrics.tasks_queued.inc(unfinished_tasks)

    def handle(self, events: Sequence[RunEvent]) -> None:
        metrics = self.metrics
        metrics.events.inc(len(events))
        for event in events:
            kind = event.kind
            if kind is EventKind.TASK_STARTED:
                self._move(queued=-1, running=1)
            elif kind in _TASK_ENDS:
                duration = event.data.get("duration")
                if isinstance(duration, (int, float)):
                    metrics.task_duration.labels(_TASK_ENDS[kind]).observe(duration)
                final = kind is EventKind.TASK_SUCCEEDED or event.data.get("final", True)
                self._move(queued=0 if final else 1, running=-1)
            elif kind is EventKind.TASK_CANCELLED:
                self._move(queued=0, running=-1)
            elif kind is EventKind.TASK_SKIPPED:
                self._move(queued=-1, running=0)
            elif kind is EventKind.RUN_STARTED and not self.started:
                self.started = True
                metrics.runs_started.inc()
                metrics.runs_running.inc()
            elif kind is EventKind.RUN_FINISHED:
                metrics.runs_finished.labels(str(event.data.get("status", "unknown"))).inc()
                self._end()

    def _move(self, *, queued: int, running: int) -> None:
        queued = max(queued, -self.queued)
        running = max(running, -self.running)
        self.queued += queued
        self.running += running
        self.metrics.tasks_queued.inc(queued)
        self.metrics.attempts_running.inc(running)

    def _end(self) -> None:
        """Give back what this run still holds in the gauges (once)."""
        if self.finished:
            return
        self.finished = True
        self._move(queued=-self.queued, running=-self.running)
        if self.started:
            self.metrics.runs_running.dec()

    def close(self) -> None:
        self._end()  # a run whose runner raised never sent run_finished


__all__ = ["DURATION_BUCKETS", "MetricsSink", "ServerMetrics"]
