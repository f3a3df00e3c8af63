"""``flowbuilder run``: compile a workflow, hand it to the runner plugin, show its progress.

Output: live progress (done/running/failed/skipped, elapsed, ETA) when stdout is a
terminal, redrawn at most ``LIVE_REFRESHES_PER_SECOND`` times a second whatever the event
rate; otherwise (a pipe, a CI log) only what needs attention as it happens (failures,
retries, steering from other processes) and a counters line every ``QUIET_PROGRESS_EVERY``
seconds of a long run, unless ``--progress`` asks for one plain line per task state change
(a line per task cost as much as the task itself in a big fan-out: issue 10); or with
``--json`` the event stream as JSON lines for machines. The final summary lists failed tasks with the last lines
of their logs; on a terminal, where the live line is all that was shown while the run went
on, it also lists each task's output (one line each), printed after the live display has
let go of the terminal so that nothing erases it. Ctrl-C asks the runner to cancel (running tasks are stopped, their process
groups terminated) and the command exits 130; a second Ctrl-C makes the runner kill
whatever is still shutting down, and ends the process (exit 130) if the run has not
finished a moment later. SIGTERM counts as a Ctrl-C. See :mod:`flowbuilder.cli.interrupts`.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Sequence

import click

from flowbuilder.cli.arguments import UTF8_TEXT
from flowbuilder.cli.cache_option import no_cache_option
from flowbuilder.cli.context import plugin_host
from flowbuilder.cli.progress_option import progress_option
from flowbuilder.cli.store_option import store_option
from flowbuilder.cli.terminal import echo, neutralise, one_line
from flowbuilder.cli.workers_option import workers_option
from flowbuilder.interfaces.sink import EventSink

if TYPE_CHECKING:
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import RunRequest, RunResult, Store
    from flowbuilder.run_service import PreparedRun, RunService

LOG_LINES_IN_SUMMARY = 5
FAILURES_IN_SUMMARY = 20
"""Failed tasks the summary details; the rest are counted, with the command that lists them."""
OUTPUTS_IN_SUMMARY = 20
"""Task outputs the terminal summary shows; the rest are counted, with the command that lists them."""
OUTPUT_WIDTH = 100
"""Characters of one task's output in the terminal summary (``runs show`` shows the same cut)."""
EXIT_CODES = {"succeeded": 0, "cancelled": 130}
LIVE_REFRESHES_PER_SECOND = 8
"""How often the terminal's status line is redrawn; events between redraws only move counters."""
ANNOTATION_POLL_SECONDS = 0.5
"""How often a progress display reads the run's new annotations (on an event batch, or on a timer
while no event comes), one store read each time."""
SINK_SETTLE_SECONDS = 5.0
"""After the run, how long at most the command waits for sinks still working in the background
(their ``wait(timeout)``) before the last annotations and the summary."""
QUIET_PROGRESS_EVERY = 10.0
"""Seconds between counters lines when stdout is not a terminal and ``--progress`` is not given,
so that a long run's log shows it is alive without a line per task."""


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="Set a workflow param (repeatable).")
@store_option("Where the run is recorded (e.g. rocksdb://PATH, redis://HOST:PORT/DB).")
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner executes the run.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="At most this many tasks at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's events as JSON lines (for machines).")
@progress_option
@click.option(
    "--resume", is_flag=True, help="Continue the latest unfinished run of this workflow instead of starting one."
)
@no_cache_option
@workers_option
def run(file: Path, params: tuple[str, ...], store: str | None, runner: str | None, concurrency: int | None,
        as_json: bool, progress: bool, resume: bool, no_cache: bool, workers: str | None) -> None:  # fmt: skip
    """Run a workflow. Exit 0 if it succeeded, 1 if it failed, 2 if it is invalid, 130 if cancelled."""
    from flowbuilder._workflow_form_cache import WorkflowFormCache
    from flowbuilder.params import parse_param_assignments
    from flowbuilder.run_service import RunService, compile_workflow_input, prepare_run

    host = plugin_host()
    compiled = compile_workflow_input(host, file, form_cache=WorkflowFormCache(repr(host.settings)))
    if compiled.plan.warnings:
        from flowbuilder.cli.inspect_commands import echo_warnings

        echo_warnings(compiled.plan.warnings)
    given = parse_param_assignments(params)
    prepared = prepare_run(host, compiled, given, use_cache=not no_cache) if not resume else None
    engine = host.make_runner(runner)
    with host.open_store(store) as opened:
        service = RunService(host, opened, runner=engine, concurrency=concurrency or host.settings.concurrency,
                             workers=workers)  # fmt: skip
        if prepared is None:  # continue the stored run with the definition it started with
            latest = service.latest_unfinished_run(compiled.plan.workflow.name)
            prepared = service.prepare_resume(latest, given)
            prepared.use_cache = not no_cache
        execute_and_report(service, prepared, as_json, progress=progress)


def execute_and_report(
    service: RunService, prepared: PreparedRun, as_json: bool, *, progress: bool = False
) -> NoReturn:
    """Run a prepared run with progress and interrupt handling, print its summary, exit.

    Shared by ``run`` and ``resume``, so both show the same progress and summary. Exits 0
    (succeeded), 1 (failed) or 130 (cancelled). ``progress`` asks for one line per task
    state change when stdout is not a terminal (the default there is the quiet display).
    """
    _ = service.runner  # an unknown or broken runner is refused before the display takes the terminal
    try:
        _ = service.workers  # so are unreachable workers (--workers)
    except BaseException:
        service.close()
        raise
    if as_json:
        display: _Display = _JsonDisplay(prepared.run_id)
    elif sys.stdout.isatty():
        display = _LiveDisplay(len(prepared.plan))
    elif progress:
        display = _PlainDisplay(len(prepared.plan))
    else:
        display = _QuietDisplay(len(prepared.plan))
    if not as_json:
        display.follow_annotations(service.store, prepared.run_id)
    request = service.request(prepared, sinks=[display])
    try:
        result = _run_with_interrupts(service, request, display)
        settle_sinks(request.sinks)  # plugins' background work on this run (anomaly scoring), before the store closes
    finally:
        display.show_annotations(force=True)  # what plugins added after the last batch
        display.stop()  # before the summary: the live display erases its own lines when it stops
    _summary(result, service.store, as_json, outputs=isinstance(display, _LiveDisplay), cached=display.cached)
    raise SystemExit(EXIT_CODES.get(result.status.value, 1))


def settle_sinks(sinks: Sequence[EventSink], timeout: float = SINK_SETTLE_SECONDS) -> None:
    """Give the run's sinks that finish work in the background (those offering ``wait(timeout)``,
    as the EventSink contract knows them) up to ``timeout`` seconds in all, so that what they
    annotate about the run's last tasks is stored before the command closes the store, and
    shown before the summary."""
    deadline = time.monotonic() + timeout
    for sink in sinks:
        wait = getattr(sink, "wait", None)
        if callable(wait):
            with contextlib.suppress(Exception):  # a plugin's sink: its failure must not hide the summary
                wait(max(0.0, deadline - time.monotonic()))


def _run_with_interrupts(service: RunService, request: RunRequest, display: _Display) -> RunResult:
    """Run on a fresh loop; SIGINT/SIGTERM cancel the run, a second one ends the process.
    While the run goes, the display reads the run's new annotations every
    ``ANNOTATION_POLL_SECONDS`` on the same loop, events or not (a plugin's anomaly shows while
    a long task still runs)."""
    import asyncio

    from flowbuilder.cli.interrupts import Interrupts

    async def main() -> RunResult:
        cancel = asyncio.Event()
        poller = asyncio.create_task(display.poll_annotations())
        try:
            with Interrupts(asyncio.get_running_loop(), cancel.set, display.note):
                return await service.execute(request, cancel)
        finally:
            poller.cancel()

    try:
        from flowbuilder.event_loop import run_coroutine

        return run_coroutine(main())
    except KeyboardInterrupt:  # the run was stuck in code that only an exception could stop
        display.note("run interrupted")
        raise SystemExit(130) from None
    finally:
        service.close()


def _summary(result: RunResult, store: Store, as_json: bool, *, outputs: bool = False, cached: int = 0) -> None:
    """The run's last words: status and counts, ``outputs`` of tasks if asked, then failures."""
    if as_json:
        return  # the run_finished event already told the machine
    counts: dict[str, int] = {}
    failed = []
    for name, state in result.tasks.items():  # one pass: a 100K-task run's mapping is slow to walk
        status = state.status.value
        counts[status] = counts.get(status, 0) + 1
        if status == "failed":
            failed.append((name, state))
    elapsed = result.finished_at - result.started_at
    detail = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    if cached:
        detail += f"; {cached} served from the cache"
    click.echo(f"run {result.run_id}: {result.status.value} in {elapsed:.2f}s ({detail})")
    if outputs:
        _output_summary(result)
    for name, state in failed[:FAILURES_IN_SUMMARY]:
        echo(f"  failed: {name} (attempt {state.attempts}): {state.error}", err=True)
        try:
            lines = [line for line in store.read_logs(result.run_id, name) if line.attempt == state.attempts]
            lines = lines[-LOG_LINES_IN_SUMMARY:]
        except Exception:  # a store without logs must not hide the summary
            lines = []
        for line in lines:
            echo(f"    {line.stream}: {line.text}", err=True)
    if len(failed) > FAILURES_IN_SUMMARY:
        echo(f"  ... and {len(failed) - FAILURES_IN_SUMMARY} more failed tasks:"
             f" flowbuilder runs show {result.run_id}", err=True)  # fmt: skip


def _output_summary(result: RunResult) -> None:
    """Each succeeded task's output on one line, the first OUTPUTS_IN_SUMMARY in plan order."""
    from flowbuilder.cli.terminal import one_line

    shown = [(name, state.output) for name, state in result.tasks.items()
             if state.status.value == "succeeded" and state.output is not None]  # fmt: skip
    if not shown:
        return
    click.echo("  outputs:")
    width = min(max(len(name) for name, _ in shown[:OUTPUTS_IN_SUMMARY]), 32)
    for name, output in shown[:OUTPUTS_IN_SUMMARY]:
        click.echo(f"    {one_line(name, 32):<{width}}  {one_line(output, OUTPUT_WIDTH)}")
    if len(shown) > OUTPUTS_IN_SUMMARY:
        click.echo(f"    ... and {len(shown) - OUTPUTS_IN_SUMMARY} more: flowbuilder runs show {result.run_id}")


_CONTROL_NOTES = {"run_paused": "paused (no new tasks start until `flowbuilder unpause`)",
                  "run_unpaused": "unpaused", "run_signalled": "signal {name!r} received",
                  "run_cancel_requested": "cancelling the run"}  # fmt: skip


class _Display(EventSink):
    """An event sink that shows progress; subclasses decide how."""

    def __init__(self, total: int = 0):
        self.total = total
        self.started = time.monotonic()
        self.done = self.failed = self.skipped = self.cancelled = self.cached = 0
        self.running: set[str] = set()
        self.waiting: set[str] = set()
        """Tasks waiting for a signal or a time (approvals, timers): not running, holding no slot."""
        self._notes: tuple[Store, str] | None = None
        self._notes_seen = 0
        self._notes_read = -math.inf
        self.predicted_finish: float | None = None
        """Epoch seconds from the newest ``eta`` annotation (a plugin's prediction, e.g. flowbuilder-ai)."""

    def follow_annotations(self, store: Store, run_id: str) -> None:
        """Show the annotations plugins add to this run while it runs (anomalies, SLA warnings)."""
        self._notes = (store, run_id)

    async def poll_annotations(self) -> None:
        """Read new annotations every ``ANNOTATION_POLL_SECONDS`` until cancelled (on the run's loop)."""
        import asyncio

        while self._notes is not None:
            await asyncio.sleep(ANNOTATION_POLL_SECONDS)
            self.show_annotations()

    def predicted(self, finish: float) -> None:
        """A plugin's new predicted finish (epoch seconds): the status line shows it; plain output prints it."""
        self.predicted_finish = finish

    def show_annotations(self, *, force: bool = False) -> None:
        """Print the run's new annotations (at most every ``ANNOTATION_POLL_SECONDS``: one store
        read, never one per event); an ``eta`` annotation's ``finish_at`` replaces the line's naive ETA."""
        if self._notes is None:
            return
        now = time.monotonic()
        if not force and now - self._notes_read < ANNOTATION_POLL_SECONDS:
            return
        self._notes_read = now
        store, run_id = self._notes
        try:
            notes = store.read_annotations(run_id, after=self._notes_seen)
        except Exception:  # a store without annotations (or gone): the run's display goes on
            return
        for annotation in notes:
            self._notes_seen = max(self._notes_seen, annotation.number)
            payload = annotation.payload
            if annotation.kind == "eta" and isinstance(payload, dict):
                finish = payload.get("finish_at")
                if isinstance(finish, (int, float)) and not isinstance(finish, bool) and math.isfinite(finish):
                    self.predicted(float(finish))
                continue
            message = payload.get("message") if isinstance(payload, dict) else None
            if annotation.kind == "anomaly" and isinstance(payload, dict) and isinstance(payload.get("why"), str):
                self.note(neutralise(anomaly_text(annotation.task, payload)))
            elif isinstance(message, str):  # a note meant for people: its words, not its JSON
                where = f" {annotation.task}" if annotation.task else ""
                by = f" (by {annotation.author})" if annotation.author else ""
                self.note(neutralise(one_line(f"{annotation.kind}{where}: {message}{by}", 400)))
            else:  # the watch commands' formatter, imported only for such a note (a run rarely has one)
                from flowbuilder.cli.watch_commands import annotation_line

                self.note(neutralise(annotation_line(annotation)))

    def _waiting(self, event: RunEvent) -> None:
        """A task started waiting, or refused a signal: say so, with what ends the wait."""
        from flowbuilder.cli.wait_text import describe_wait, signal_command

        task = event.task or ""
        data = event.data
        if event.kind.value == "task_signal_refused":
            self.note(one_line(f"{task}: signal {data.get('name')!r} from {data.get('by')} refused: "
                               f"{data.get('reason', '')}", 300))  # fmt: skip
            return
        self.running.discard(task)
        self.waiting.add(task)
        command = signal_command(event.run_id, data)
        self.note(one_line(f"{task} waiting {describe_wait(data, time.time())}"
                           + (f"; decide with: {command}" if command else ""), 400))  # fmt: skip

    def count(self, event: RunEvent) -> None:
        kind = event.kind.value
        task = event.task
        if task is None:
            if kind in _CONTROL_NOTES and "by" in event.data:  # steered from another process: say by whom
                data = event.data
                if kind == "run_cancel_requested":  # its reason says who asked, and why
                    self.note(one_line(f"cancelling the run: {data.get('reason', '')}", 200))
                else:
                    reason = f": {data['reason']}" if data.get("reason") else ""
                    self.note(
                        one_line(f"{_CONTROL_NOTES[kind].format(name=data.get('name'))} by {data['by']}{reason}", 200)
                    )
            return
        if kind == "task_started":
            self.running.add(task)
        elif kind == "task_waiting" or kind == "task_signal_refused":
            self._waiting(event)
        elif kind in ("task_succeeded", "task_failed", "task_cancelled", "task_retrying"):
            self.running.discard(task)
            self.waiting.discard(task)
            if kind == "task_succeeded":
                self.done += 1
                if "cached" in event.data:
                    self.cached += 1
            elif kind == "task_failed":
                self.failed += 1
            elif kind == "task_cancelled":
                self.cancelled += 1
        elif kind == "task_skipped":
            self.skipped += 1

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.count(event)
        self.show_annotations()

    def note(self, message: str) -> None:
        click.echo(message, err=True)

    def stop(self) -> None:
        """Release the terminal (the live display stops refreshing); plain output holds nothing."""

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        finished = self.done + self.failed + self.skipped + self.cancelled
        eta = ""
        if self.predicted_finish is not None and finished < self.total:
            eta = f", ETA {max(0.0, self.predicted_finish - time.time()):.0f}s (predicted)"
        elif 0 < finished < self.total:
            eta = f", ETA {elapsed / finished * (self.total - finished):.0f}s"
        waiting = f", {len(self.waiting)} waiting" if self.waiting else ""
        cached = f" ({self.cached} cached)" if self.cached else ""
        return (f"{finished}/{self.total} finished: {self.done} done{cached}, {len(self.running)} running{waiting},"
                f" {self.failed} failed, {self.skipped} skipped; {elapsed:.1f}s elapsed{eta}")  # fmt: skip


class _PlainDisplay(_Display):
    """One line per task state change (for logs and pipes)."""

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.count(event)
            if event.task is None:
                continue
            kind = event.kind.value[5:]
            if kind == "waiting" or kind == "signal_refused":
                continue  # count() printed its note
            data = event.data
            extra = ""
            if kind == "failed" or kind == "retrying":
                extra = f": {data.get('error', '')}"
            elif kind == "skipped":
                extra = f": {data.get('reason', '')}"
            elif kind == "succeeded" and "cached" in data:
                extra = f": cached, the result of run {data['cached'].get('run', '?')}"
            elif kind == "succeeded" and "duration" in data:
                extra = f" in {data['duration']:.2f}s"
            attempt = f" (attempt {event.attempt})" if event.attempt > 1 or kind == "retrying" else ""
            echo(f"{time.strftime('%H:%M:%S', time.localtime(event.time))} {event.task} {kind}{attempt}{extra}")
        self.show_annotations()

    def predicted(self, finish: float) -> None:
        if self.predicted_finish is None or abs(finish - self.predicted_finish) >= 1.0:
            self.note(f"predicted finish {time.strftime('%H:%M:%S', time.localtime(finish))}"
                      f" (in {max(0.0, finish - time.time()):.0f}s)")  # fmt: skip
        super().predicted(finish)


def anomaly_text(task: str | None, payload: dict[str, object]) -> str:
    """An ``anomaly`` annotation in words: "anomaly: fetch took 14.2 s; its median is 1.1 s (score 0.83)"."""
    score = payload.get("score")
    scored = f" (score {score:.2f})" if isinstance(score, (int, float)) and not isinstance(score, bool) else ""
    return one_line(f"anomaly: {task or 'run'} {payload.get('why')}{scored}", 400)


_ATTENTION = frozenset({"task_failed", "task_retrying"})
"""Task events the quiet display shows as they happen."""


class _QuietDisplay(_Display):
    """What needs attention, as it happens, and counters now and then (the default for logs and pipes).

    Failures and retries get the same line as in :class:`_PlainDisplay`; a started or
    succeeded task gets none, since a line per task cost about as much as running a
    no-op task (issue 10) and buries the failures in a big run's log. Every
    ``QUIET_PROGRESS_EVERY`` seconds a batch of events brings the counters line, so a
    long run shows it is alive. The summary after the run is the same as ever.
    """

    def __init__(self, total: int = 0):
        super().__init__(total)
        self._next_line = self.started + QUIET_PROGRESS_EVERY
        self._plain = _PlainDisplay(total)  # formats the lines that are shown

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.count(event)
            if event.kind.value in _ATTENTION:
                self._plain.handle((event,))
        self.show_annotations()
        if time.monotonic() >= self._next_line:
            self._next_line = time.monotonic() + QUIET_PROGRESS_EVERY
            click.echo(self.line())


class _JsonDisplay(_Display):
    """Every event as one JSON object per line on stdout."""

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def handle(self, events: Sequence[RunEvent]) -> None:
        out = sys.stdout
        for event in events:
            record = {"run_id": event.run_id, "seq": event.seq, "kind": event.kind.value, "time": event.time}
            if event.task is not None:
                record["task"] = event.task
            if event.attempt:
                record["attempt"] = event.attempt
            if event.data:
                record["data"] = event.data
            out.write(json.dumps(record, default=repr) + "\n")
        out.flush()

    def note(self, message: str) -> None:
        click.echo(json.dumps({"run_id": self.run_id, "note": message}), err=True)


class _LiveDisplay(_Display):
    """A live status line on the terminal (rich), redrawn by rich's own thread.

    The line is rendered when rich refreshes (``LIVE_REFRESHES_PER_SECOND`` times a
    second), from the counters as they are then; a batch of events only moves the
    counters, so a fan-out of thousands of tasks pays for a few redraws, not one per batch.
    Failures are printed above the line as they happen.
    """

    def __init__(self, total: int):
        super().__init__(total)
        from rich.console import Console
        from rich.live import Live
        from rich.markup import escape
        from rich.text import Text

        self._escape = escape
        self.console = Console()
        display = self

        class StatusLine:  # rich calls __rich__ at each refresh: the line as the counters are then
            def __rich__(self) -> Text:
                return Text(display.line())

        self.live = Live(StatusLine(), console=self.console, refresh_per_second=LIVE_REFRESHES_PER_SECOND,
                         transient=True)  # fmt: skip
        self.live.start()

    def handle(self, events: Sequence[RunEvent]) -> None:
        for event in events:
            self.count(event)
            if event.kind.value == "task_failed":
                error = neutralise(str(event.data.get("error", "")))  # a live display is always a terminal
                self.console.print(f"[red]✗[/red] {event.task}: {self._escape(error)}", markup=True, highlight=False)
        self.show_annotations()

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]{self._escape(message)}[/yellow]")  # annotations are anyone's text

    def stop(self) -> None:
        self.live.stop()
