"""The scheduler and backfill: start runs of scheduled workflows at their logical times.

:class:`Scheduler` is what ``flowbuilder scheduler`` runs (and what a Python program may
run on its own event loop). Every start goes through the one run service
(:class:`~flowbuilder.run_service.RunService`), which claims the idempotency key
``schedule:<workflow>:<logical time>`` in the store before the run's first event: so of any
number of schedulers and backfills over one store, exactly one starts each logical time.

The same process handles run-finished triggers (``on: {run_finished: ...}``, see
:mod:`flowbuilder.triggers`): a finished run of the upstream workflow starts one run, with
the idempotency key ``trigger:<workflow>:<upstream run id>``.

One scheduler per store is *active*: it holds leadership from a
:class:`~flowbuilder.interfaces.ConsensusEngine` (core's ``store`` engine: a lease in the
store). The others stand by and say so in their log. The active one records, per
workflow, the newest logical time it handled (``scheduler:handled:<workflow>``, a store
record), so a scheduler that starts after downtime knows which times were missed and
applies the workflow's ``catchup`` policy (see :func:`flowbuilder.schedules.plan_catchup`).

The active scheduler fences every run it drives (:mod:`flowbuilder.fencing`): on taking
leadership it raises the store's fence for its scope to its engine's token, and every event
of its runs is appended with that fence, so a leader that was deposed (paused, cut off) and
comes back cannot write another event: its run stops, and so does the scheduler (exit 1,
one line). The new leader takes over the runs of a leader that stopped: every running run
of its scope whose owner lease lapsed is resumed through the run service, with the new
fence (:meth:`Scheduler._take_over_orphans`). The scheduler's runs keep their owner leases
for two thirds of the leadership lease (``--lease-seconds``, :func:`run_lease_for`), so that
takeover follows within a second of leading (docs/distributed.md, "Failure model").

Runs execute in the scheduler's process, concurrently, at most ``max_runs`` at once; when
the bound is reached the next start waits for a slot. Stopping the scheduler (SIGINT,
SIGTERM, :meth:`Scheduler.stop`) cancels the runs still going (``flowbuilder retry RUN_ID``
reruns what they did not finish, with the same logical time).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from flowbuilder.errors import ConfigurationError, DuplicateRunError, FlowBuilderError, StaleLeaderError
from flowbuilder.events import RunStatus
from flowbuilder.node_presence import DEFAULT_HEARTBEAT_SECONDS, NodePresence
from flowbuilder.schedules import (
    UTC,
    format_logical_time,
    idempotency_key,
    next_time,
    parse_instant,
    plan_catchup,
    times_in_range,
)

if TYPE_CHECKING:
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces import ConsensusEngine, RunResult
    from flowbuilder.interfaces.node_announcer import NodeAnnouncer
    from flowbuilder.interfaces.trigger_source import TriggerEvent
    from flowbuilder.model import RunFinishedTrigger, Schedule, SourceTrigger
    from flowbuilder.plugins import PluginHost
    from flowbuilder.run_service import CompiledWorkflow, PreparedRun, RunService
    from flowbuilder.trigger_sources import SourceWatcher
    from flowbuilder.triggers import RunFinishedWatcher

DEFAULT_MAX_RUNS = 8
"""Runs a scheduler executes at once unless ``--max-runs`` says otherwise."""
FIRST_EVENT_SECONDS = 30.0
"""How long a start waits for the run's first stored event before it moves on anyway."""
IDLE_CHECK_SECONDS = 0.5
"""The longest the scheduler sleeps between looks at the clock and at its leadership."""
TAKEOVER_SCAN_SECONDS = 0.5
"""How often the leader looks for runs of its scope whose owner stopped (to resume them)."""
CLOCK_AHEAD_TOLERANCE_SECONDS = 60.0
"""How far the recorded newest handled time may be ahead of this scheduler's clock (the skew
between hosts) before it is taken as a clock that ran ahead and scheduling counts from now."""

TAKEOVER_LEASE_SHARE = 2 / 3
"""The share of the leadership lease (``--lease-seconds``) that the scheduler's runs keep their
owner leases for: a standby leads no sooner than two thirds of the leadership lease after the
leader's death (it renews every third), so by then the dead leader's runs read interrupted."""

Log = Callable[[str], None]


def run_lease_for(lease_seconds: float) -> float:
    """The owner-lease TTL of a scheduler's runs for a leadership lease of ``lease_seconds``."""
    return lease_seconds * TAKEOVER_LEASE_SHARE


def handled_record_key(workflow: str) -> str:
    """The store record that holds the newest logical time handled for ``workflow``."""
    return f"scheduler:handled:{workflow}"


def new_node_id() -> str:
    """``host:pid:random``: this process's name in the consensus engine."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class ScheduledWorkflow:
    """A workflow with a ``schedule:``, an ``on:`` trigger or both, compiled once (every run
    starts from the same plan)."""

    name: str
    schedule: Schedule | None
    compiled: CompiledWorkflow
    source: str
    trigger: RunFinishedTrigger | None = None
    trigger_source: SourceTrigger | None = None
    """``on.source``: a plugin's trigger source, watched while the scheduler leads (issue 11.2)."""


def load_scheduled_workflows(host: PluginHost, paths: Sequence[Path]) -> list[ScheduledWorkflow]:
    """The scheduled workflows of ``paths``: files, or folders whose ``*.yaml``/``*.yml`` are read.

    The whole set is checked before anything runs: an invalid file raises its
    :class:`~flowbuilder.errors.WorkflowError` (``FILE:LINE:COL``), a file given by name
    without a ``schedule:`` or with a param that has no default (a scheduled run gets no
    ``--param``), two files with one workflow name, or a folder with no scheduled workflow
    raise :class:`~flowbuilder.errors.ConfigurationError`. In a folder, files without a
    ``schedule:`` are left out.
    """
    from flowbuilder.params import resolve_params
    from flowbuilder.run_service import compile_workflow_input
    from flowbuilder.triggers import trigger_params

    found: list[ScheduledWorkflow] = []
    names: dict[str, str] = {}
    for given in paths:
        if given.is_dir():
            files = sorted([*given.glob("*.yaml"), *given.glob("*.yml")])
            explicit = False
        elif given.is_file():
            files, explicit = [given], True
        else:
            raise ConfigurationError(f"no workflow file or folder {str(given)!r}")
        chosen = 0
        for path in files:
            compiled = compile_workflow_input(host, path)
            workflow = compiled.plan.workflow
            trigger = workflow.on.run_finished if workflow.on is not None else None
            source = workflow.on.source if workflow.on is not None else None
            if workflow.schedule is None and trigger is None and source is None:
                if explicit and workflow.on is not None:  # only a webhook: nothing for a scheduler to watch
                    raise ConfigurationError(f"{path}: workflow {workflow.name!r} has only a webhook trigger; a"
                                             " delivery starts it: flowbuilder trigger FILE --data JSON")  # fmt: skip
                if explicit:
                    raise ConfigurationError(f"{path}: workflow {workflow.name!r} has no `schedule:` (nor `on:`); add"
                                             " one, e.g. schedule: {cron: '0 2 * * *'}")  # fmt: skip
                continue
            try:
                resolve_params(workflow, {})
            except FlowBuilderError as error:
                if workflow.schedule is not None:
                    raise ConfigurationError(f"{path}: a scheduled run gets no --param, so every param needs a"
                                             f" default ({error})") from None  # fmt: skip
                try:  # a triggered run gets the payload's params only
                    resolve_params(workflow, trigger_params(workflow.params, "run-id", "workflow", "succeeded"))
                except FlowBuilderError as payload_error:
                    if source is None:  # a source's payload is only known per event: checked then, like any params
                        raise ConfigurationError(f"{path}: a triggered run gets only the params upstream_run_id,"
                                                 " upstream_workflow and upstream_status (text); every other param"
                                                 f" needs a default ({payload_error})") from None  # fmt: skip
            if workflow.name in names:
                raise ConfigurationError(f"{path}: workflow {workflow.name!r} is also scheduled by {names[workflow.name]};"
                                         " a workflow name is scheduled once")  # fmt: skip
            names[workflow.name] = str(path)
            found.append(ScheduledWorkflow(workflow.name, workflow.schedule, compiled, str(path), trigger, source))
            chosen += 1
        if not explicit and chosen == 0:
            raise ConfigurationError(f"the folder {str(given)!r} holds no workflow with a `schedule:` or `on:`")
    if not found:
        raise ConfigurationError("no scheduled workflow given; pass workflow files or folders")
    return found


@dataclass(slots=True)
class StartOutcome:
    """What became of one logical time (or trigger): a run started here, or the run that already had it."""

    workflow: str
    logical_time: str | None
    run_id: str
    started: bool
    status: str | None = None
    upstream_run_id: str | None = None
    """For a triggered run: the finished run that started it."""
    event_id: str | None = None
    """For a run started by a trigger source: the event's id."""
    """The run's final status, once known (``succeeded``, ``failed``, ``cancelled``)."""


@dataclass(slots=True)
class _Slots:
    """The runs this process executes, bounded by ``limit``."""

    limit: int
    running: dict[str, asyncio.Task[RunResult]] = field(default_factory=dict)
    freed: asyncio.Event = field(default_factory=asyncio.Event)
    fence: Fence | None = None
    """The fence of this node's leadership: every run submitted through these slots carries it
    (None: unfenced, as for a backfill)."""
    refused: StaleLeaderError | None = None
    """Set when the store refused a run's fenced append: the scheduler decides whether it was deposed."""

    closed: bool = False
    """Set when the scheduler stops: a start waiting for room gives up (:class:`_Stopping`)."""

    async def wait_for_room(self) -> None:
        while len(self.running) >= self.limit and not self.closed:
            self.freed.clear()
            await self.freed.wait()
        if self.closed:
            raise _Stopping

    def close(self) -> None:
        """Submit nothing more, and wake the starts waiting for room (they raise :class:`_Stopping`)."""
        self.closed = True
        self.freed.set()


class _Stopping(Exception):
    """A start gave up because the scheduler is stopping (never escapes :class:`Scheduler`)."""


async def start_logical_time(service: RunService, workflow: ScheduledWorkflow, logical_time: datetime,
                             slots: _Slots, log: Log) -> StartOutcome:  # fmt: skip
    """Start the run of one logical time through the run service, once a slot is free.

    A logical time that already has a run (claimed by this or any process) is not started
    again: the outcome names the run that has it.
    """
    shown = format_logical_time(logical_time)
    prepared = service.prepare(workflow.compiled, logical_time=shown,
                               idempotency_key=idempotency_key(workflow.name, logical_time))  # fmt: skip
    outcome = StartOutcome(workflow.name, shown, prepared.run_id, started=True)
    return await _submit(service, prepared, outcome, f"{workflow.name} at {shown}", slots, log)


async def start_triggered(service: RunService, workflow: ScheduledWorkflow, upstream_run_id: str,
                          upstream_status: str, slots: _Slots, log: Log) -> StartOutcome:  # fmt: skip
    """Start the run that ``upstream_run_id`` finishing triggers (once: its key is claimed)."""
    from flowbuilder.triggers import trigger_key, trigger_params

    assert workflow.trigger is not None
    params = trigger_params(workflow.compiled.plan.workflow.params, upstream_run_id, workflow.trigger.workflow,
                            upstream_status)  # fmt: skip
    prepared = service.prepare(workflow.compiled, params, idempotency_key=trigger_key(workflow.name, upstream_run_id))
    outcome = StartOutcome(workflow.name, None, prepared.run_id, started=True, upstream_run_id=upstream_run_id)
    return await _submit(service, prepared, outcome, f"{workflow.name} after {upstream_run_id}", slots, log)


async def start_from_event(service: RunService, workflow: ScheduledWorkflow, event: TriggerEvent, slots: _Slots,
                           log: Log) -> StartOutcome | None:  # fmt: skip
    """Start the run of one trigger-source event (once: its key is claimed), or log why not.

    Returns None for an event refused before any claim: a bad id, a payload that is not a
    JSON object or too big, or params the workflow refuses (the log line says which).
    """
    from flowbuilder.trigger_sources import event_key, event_problem

    assert workflow.trigger_source is not None
    problem = event_problem(event.id, event.payload)
    if problem is None:
        try:
            prepared = service.prepare(workflow.compiled, dict(event.payload),
                                       idempotency_key=event_key(workflow.name, workflow.trigger_source.type, event.id))  # fmt: skip
        except FlowBuilderError as error:
            problem = f"its payload is refused: {error}"
    if problem is not None:
        log(f"{workflow.name}: event {str(event.id)[:80]!r} of trigger source {workflow.trigger_source.type} starts nothing:"
            f" {problem}")  # fmt: skip
        return None
    outcome = StartOutcome(workflow.name, None, prepared.run_id, started=True, event_id=event.id)
    return await _submit(service, prepared, outcome, f"{workflow.name} for event {event.id}", slots, log)


async def _submit(service: RunService, prepared: PreparedRun, outcome: StartOutcome, shown: str, slots: _Slots,
                  log: Log) -> StartOutcome:  # fmt: skip
    """Submit ``prepared`` once a slot is free; ``outcome`` says what became of it."""
    await slots.wait_for_room()
    if prepared.fence is None:
        prepared.fence = slots.fence
    try:
        handle = await service.submit(prepared)
    except DuplicateRunError as duplicate:
        outcome.run_id, outcome.started = duplicate.existing_run_id, False
        return outcome
    except StaleLeaderError as refused:  # deposed before the claim: the scheduler decides what now
        slots.refused = refused
        raise
    # The key is claimed; the run counts as started once its first event is stored (sinks see
    # events after the store has them). Until then a killed process would leave the key
    # claimed with no run, so the caller records nothing as handled before this returns.
    first_events = handle.events()
    try:
        await asyncio.wait_for(anext(first_events), timeout=FIRST_EVENT_SECONDS)
    except (TimeoutError, StopAsyncIteration):
        pass  # the run ended at once, or its store is slow: its result says what happened
    finally:
        if isinstance(first_events, AsyncGenerator):  # stop following: the handle keeps no queue for us
            await first_events.aclose()
    task = asyncio.ensure_future(handle.result())
    slots.running[handle.run_id] = task

    def finished(done: asyncio.Task[RunResult]) -> None:
        slots.running.pop(handle.run_id, None)
        slots.freed.set()
        if done.cancelled():
            outcome.status = "cancelled"
        elif done.exception() is not None:
            outcome.status = "error"
            error = done.exception()
            if isinstance(error, StaleLeaderError):
                slots.refused = error
            log(f"run {handle.run_id} of {shown} stopped: {error}")
        else:
            outcome.status = done.result().status.value
            log(f"run {handle.run_id} of {shown} {outcome.status}")

    task.add_done_callback(finished)
    return outcome


class Scheduler:
    """Starts the runs of ``workflows`` at their logical times while ``engine`` says this node leads.

    Args:
        service: the run service of the shared store (every run starts through it).
        workflows: from :func:`load_scheduled_workflows`.
        engine: a consensus engine, not started yet (:meth:`run` starts and stops it).
        max_runs: runs executed at once by this process.
        run_lease_seconds: the longest owner lease its runs keep (:func:`flowbuilder.leases.cap_lease_ttl`,
            while :meth:`run` runs): how soon a new leader can take over the runs of one that died
            (the CLI passes :func:`run_lease_for` of ``--lease-seconds``). None: the configured TTL.
        log: where progress lines go (the CLI: stderr).
        clock: wall-clock seconds (tests may pass their own).
        announcer: where this scheduler announces itself (``scheduler --registry``): it joins
            as ``standby``, heartbeats every ``heartbeat_seconds`` with its role from
            ``engine`` (``leader`` / ``standby``) and leaves when :meth:`run` returns
            (:class:`~flowbuilder.node_presence.NodePresence`). None: it announces nowhere.
        address: the address it announces (its Raft ``--node``), ``""`` for none.
    """

    def __init__(self, service: RunService, workflows: Sequence[ScheduledWorkflow], engine: ConsensusEngine, *,
                 max_runs: int = DEFAULT_MAX_RUNS, log: Log = print, clock: Callable[[], float] = time.time,
                 run_lease_seconds: float | None = None, announcer: NodeAnnouncer | None = None,
                 heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS, address: str = ""):  # fmt: skip
        self.service = service
        self.announcer = announcer
        self.heartbeat_seconds = heartbeat_seconds
        self.address = address
        self._presence: NodePresence | None = None
        self.run_lease_seconds = run_lease_seconds
        self.store = service.store
        self.workflows = list(workflows)
        self.engine = engine
        self.log = log
        self.clock = clock
        self.max_runs = max_runs
        self.outcomes: list[StartOutcome] = []
        self._stop = asyncio.Event()
        self._leader_since: datetime | None = None
        self._watchers: list[RunFinishedWatcher | SourceWatcher] = []
        self._not_taken: set[str] = set()
        """Interrupted runs the takeover scan leaves alone (not a leader's, or refused to resume)."""
        self._taken_over_scan_at = 0.0
        self._slots: _Slots | None = None

    def stop(self) -> None:
        """Ask :meth:`run` to end (thread-unsafe: call it on the scheduler's loop).

        A start waiting for a free slot (``max_runs`` reached) gives up at once rather than
        when a run ends, which kept a SIGTERM unanswered for as long as the longest run.
        """
        self._stop.set()
        if self._slots is not None:
            self._slots.close()

    async def run(self, *, once: bool = False) -> list[StartOutcome]:
        """Schedule until :meth:`stop` (or, with ``once``, one round as leader, waiting for its runs).

        Returns what was started or found already started. Runs still going when it stops
        are cancelled and awaited.
        """
        slots = self._slots = _Slots(self.max_runs)
        if self.announcer is not None:
            from flowbuilder.interfaces.node_announcer import NodeAnnouncement

            announcement = NodeAnnouncement(self.engine.node_id, "scheduler", "standby", address=self.address)
            self._presence = NodePresence(self.announcer, announcement, self._role, interval=self.heartbeat_seconds,
                                          log=self.log)  # fmt: skip
            await self._presence.start()
        if self.run_lease_seconds is not None:
            from flowbuilder.leases import cap_lease_ttl

            cap_lease_ttl(self.run_lease_seconds)
        try:
            return await self._run(slots, once)
        finally:
            if self.run_lease_seconds is not None:
                cap_lease_ttl(None)
            if self._presence is not None:
                await self._presence.stop()
                self._presence = None

    def _role(self) -> str:
        """``leader`` or ``standby``, as the consensus engine says now (what the registry shows)."""
        return "leader" if self.engine.is_leader() else "standby"

    def _role_moved(self) -> None:
        if self._presence is not None:
            self._presence.role_changed()

    async def _run(self, slots: _Slots, once: bool) -> list[StartOutcome]:
        self.engine.start()
        names = ", ".join(w.name for w in self.workflows)
        self.log(f"scheduler {self.engine.node_id} ({type(self.engine).name} consensus) for {names}")
        waiting_said: str | None = "none"
        try:
            while not self._stop.is_set():
                leading = await asyncio.to_thread(self.engine.wait_for_leadership, IDLE_CHECK_SECONDS)
                await self._check_deposed(slots, leading)
                if not leading:
                    if self._leader_since is not None:
                        self.log("lost leadership: standing by")
                        self._leader_since = None
                        self._role_moved()
                        for watcher in self._watchers:  # a standby watches nothing (issue 11.2)
                            await watcher.close()
                        self._watchers = []
                    leader = self.engine.leader()
                    if waiting_said != leader:
                        self.log(f"standby: waiting for leadership (active scheduler: {leader or 'unknown'})")
                        waiting_said = leader
                    continue
                if self._leader_since is None:
                    if not await self._raise_fence(slots):
                        continue
                    self._leader_since = datetime.fromtimestamp(self.clock(), UTC)
                    waiting_said = "none"
                    self.log(f"leading since {format_logical_time(self._leader_since)}")
                    self._role_moved()
                    self._watchers = self._make_watchers(slots)
                try:
                    await self._take_over_orphans(slots)
                    await self._round(slots)
                except _Stopping:
                    break
                for watcher in self._watchers:
                    await watcher.round()
                if once:
                    break
                await self._sleep_until_due()
        finally:
            if slots.running and not once:
                self.log(f"stopping: cancelling {len(slots.running)} run(s) still going")
                for run_id in list(slots.running):
                    self.service.cancel(run_id, "the scheduler stopped")
            for watcher in self._watchers:
                await watcher.close()
            if slots.running:
                await asyncio.gather(*slots.running.values(), return_exceptions=True)
            self.engine.stop()
        return self.outcomes

    # -- fencing and takeover (issue 12.3) -------------------------------------------------

    async def _raise_fence(self, slots: _Slots) -> bool:
        """On taking leadership: raise the store's fence to this leadership's token (False: not leading after all).

        Done before anything is started or resumed, so that the previous leader's next fenced
        append is refused whichever run it is for. A store that already holds a higher token
        means a newer leader exists: this node was deposed before it began, and stops
        (StaleLeaderError), as it would at its first append. An engine that gives no token
        while it leads leaves the runs unfenced, with a warning.
        """
        from flowbuilder.fencing import Fence, scheduler_scope

        token = self.engine.fencing_token()
        if token is None:
            if self.engine.is_leader():  # leads, but cannot fence: runs as before fencing existed
                self.log(f"warning: the {type(self.engine).name} consensus engine gives no fencing token; runs are"
                         " not fenced")  # fmt: skip
                slots.fence = None
                return True
            return False
        fence = Fence(scheduler_scope(type(self.engine).name), token)
        await asyncio.to_thread(self.store.raise_fence, fence)
        slots.fence = fence
        self._taken_over_scan_at = 0.0
        return True

    async def _check_deposed(self, slots: _Slots, leading: bool) -> None:
        """Raise StaleLeaderError when this node was deposed: the store refused one of its runs'
        appends (or holds a newer fence) and this node's current leadership does not cover it.

        A refusal by this node's own newer leadership (its lease lapsed and was taken again
        with a new epoch) is not a deposition: the refused run is resumed by the takeover scan.
        """
        refused, slots.refused = slots.refused, None
        fence = slots.fence
        if refused is None and (leading or fence is None):
            return
        current = self.engine.fencing_token() if leading else None
        if refused is not None and current is not None and current >= refused.highest:
            self.log(f"a run was fenced out by this node's newer leadership (token {current}); it is taken over again")
            return
        if refused is None:
            assert fence is not None
            highest = await asyncio.to_thread(self.store.read_fence, fence.scope)
            if highest is None or highest <= fence.token:
                return  # no one else has led since: our runs may go on (their appends say so)
            refused = StaleLeaderError(fence.scope, fence.token, highest)
        raise refused

    async def _take_over_orphans(self, slots: _Slots) -> None:
        """Resume, fenced with this leadership's token, the runs of this scope whose owner stopped.

        A run qualifies when its newest ``run_started`` carries a fence of this scheduler's
        scope, it is not a child run (its parent resumes it), and its owner lease lapsed (it reads ``interrupted``, see :mod:`flowbuilder.leases`):
        its leader died or was deposed. It is resumed through the run service (the one way a
        run is continued): finished tasks are kept, the rest run again. Looked for every
        :data:`TAKEOVER_SCAN_SECONDS` while leading.
        """
        fence = slots.fence
        now = time.monotonic()
        if fence is None or now < self._taken_over_scan_at:
            return
        self._taken_over_scan_at = now + TAKEOVER_SCAN_SECONDS
        orphans = await asyncio.to_thread(self._orphaned_runs, fence.scope, set(slots.running))
        for run_id, workflow in orphans:
            if self._stop.is_set() or not self.engine.is_leader():
                return
            try:
                prepared = await asyncio.to_thread(self.service.prepare_resume, run_id, fence=fence)
            except FlowBuilderError as error:
                self.log(f"run {run_id} of {workflow}: its leader stopped, but it cannot be taken over: {error}")
                self._not_taken.add(run_id)
                continue
            outcome = StartOutcome(workflow, prepared.logical_time, run_id, started=True)
            outcome = await _submit(self.service, prepared, outcome, f"{workflow} (taken over)", slots, self.log)
            self.outcomes.append(outcome)
            self.log(f"{workflow}: took over run {run_id} from a leader that stopped")

    def _orphaned_runs(self, scope: str, running_here: set[str]) -> list[tuple[str, str]]:
        """``(run id, workflow)`` of the interrupted runs last driven by a leader of ``scope`` (blocking)."""
        from flowbuilder.errors import StoreError
        from flowbuilder.fencing import Fence
        from flowbuilder.leases import list_runs_live

        found: list[tuple[str, str]] = []
        cursor: str | None = None
        while True:
            page = list_runs_live(self.store, status=RunStatus.INTERRUPTED, limit=100, cursor=cursor)
            for summary in page.runs:
                run_id = summary.run_id
                if run_id in running_here or run_id in self._not_taken:
                    continue
                try:
                    state = self.store.load_state(run_id)
                except StoreError:
                    continue
                fence = Fence.from_data(state.fence)
                if fence is None or fence.scope != scope or state.parent is not None:
                    # Not a leader's run: never ours to continue. A child run is its parent's to
                    # resume (the parent's resume continues the child it recorded).
                    self._not_taken.add(run_id)
                    continue
                found.append((run_id, state.workflow or summary.workflow or "?"))
            cursor = page.next_cursor
            if cursor is None:
                return found

    def _make_watchers(self, slots: _Slots) -> list[RunFinishedWatcher | SourceWatcher]:
        """One watcher per triggered workflow, firing through the run service while this node leads."""
        from flowbuilder.triggers import RunFinishedWatcher

        assert self._leader_since is not None
        watchers: list[RunFinishedWatcher | SourceWatcher] = self._make_source_watchers(slots)
        for workflow in self.workflows:
            if workflow.trigger is None:
                continue

            async def fire(upstream_run_id: str, status: RunStatus, workflow: ScheduledWorkflow = workflow) -> None:
                if self._stop.is_set() or not self.engine.is_leader():
                    return
                try:
                    outcome = await start_triggered(self.service, workflow, upstream_run_id, status.value, slots,
                                                    self.log)  # fmt: skip
                except _Stopping:  # the next leader (or start) triggers it: its key is not claimed
                    return
                except FlowBuilderError as error:
                    self.log(f"{workflow.name}: run {upstream_run_id} finished ({status.value}) but its run cannot"
                             f" start: {error}")  # fmt: skip
                    return
                self.outcomes.append(outcome)
                if outcome.started:
                    self.log(f"{workflow.name}: started run {outcome.run_id}, triggered by run {upstream_run_id}"
                             f" ({status.value})")  # fmt: skip
                else:
                    self.log(f"{workflow.name}: run {upstream_run_id} already triggered run {outcome.run_id}")

            watchers.append(RunFinishedWatcher(workflow.name, workflow.trigger, self.store, fire,
                                               self._leader_since.timestamp()))  # fmt: skip
        return watchers

    def _make_source_watchers(self, slots: _Slots) -> list[RunFinishedWatcher | SourceWatcher]:
        """One watcher per workflow with ``on.source``: its events start runs while this node leads."""
        from flowbuilder.trigger_sources import SourceWatcher

        watchers: list[RunFinishedWatcher | SourceWatcher] = []
        classes = self.service.host.trigger_source_classes() if any(w.trigger_source for w in self.workflows) else {}
        for workflow in self.workflows:
            if workflow.trigger_source is None:
                continue
            source_class = classes.get(workflow.trigger_source.type)  # checked when a file is loaded
            try:
                if source_class is None:
                    raise FlowBuilderError(f"unknown trigger source {workflow.trigger_source.type!r}")
                config = source_class.config_model.model_validate(workflow.trigger_source.config)
            except Exception as error:  # a workflow built in Python skips the loader's check
                self.log(f"{workflow.name}: trigger source not watched: {error}")
                continue

            async def handle(event: TriggerEvent, workflow: ScheduledWorkflow = workflow) -> None:
                if self._stop.is_set() or not self.engine.is_leader():
                    return
                try:
                    outcome = await start_from_event(self.service, workflow, event, slots, self.log)
                except _Stopping:  # the source reports it again to the next leader: its key is not claimed
                    return
                except FlowBuilderError as error:
                    self.log(f"{workflow.name}: event {event.id!r} cannot start a run: {error}")
                    return
                if outcome is None:
                    return
                self.outcomes.append(outcome)
                if outcome.started:
                    self.log(f"{workflow.name}: started run {outcome.run_id} for event {event.id}")
                else:
                    self.log(f"{workflow.name}: event {event.id} already started run {outcome.run_id}")

            watcher = SourceWatcher(workflow.name, source_class(), config, handle, self.log)
            watcher.start()
            watchers.append(watcher)
        return watchers

    async def _round(self, slots: _Slots) -> None:
        """One look at every workflow: start what is due, record what was handled."""
        assert self._leader_since is not None
        now = datetime.fromtimestamp(self.clock(), UTC)
        for workflow in self.workflows:
            if workflow.schedule is None:
                continue
            key = handled_record_key(workflow.name)
            recorded = self.store.read_record(key)
            handled = parse_instant(recorded) if recorded else None
            if handled is not None and (handled - now).total_seconds() > CLOCK_AHEAD_TOLERANCE_SECONDS:
                # A clock that ran ahead (a former leader's, or this host's before it was set
                # right) recorded a time not come yet: nothing would start, silently, until
                # then. Count from now; a time that did run keeps its run (its key is claimed).
                self.log(f"{workflow.name}: the newest handled time {recorded} is ahead of this clock"
                         f" ({format_logical_time(now)}); scheduling from now (a logical time that already ran"
                         " is not started again)")  # fmt: skip
                handled = now
                self.store.write_record(key, format_logical_time(now))
            plan = plan_catchup(workflow.schedule, handled, now, self._leader_since)
            if plan.skipped or plan.more_skipped:
                count = f"{plan.skipped}{'+' if plan.more_skipped else ''}"
                self.log(
                    f"{workflow.name}: skipped {count} missed logical time(s) (catchup: {workflow.schedule.catchup})"
                )
            for logical_time in plan.run:
                if self._stop.is_set() or not self.engine.is_leader():
                    return  # the new leader sees these times as due (or missed) itself
                outcome = await start_logical_time(self.service, workflow, logical_time, slots, self.log)
                self.outcomes.append(outcome)
                if outcome.started:
                    self.log(f"{workflow.name}: started run {outcome.run_id} for {outcome.logical_time}")
                else:
                    self.log(
                        f"{workflow.name}: {outcome.logical_time} already has run {outcome.run_id}; not started again"
                    )
            if plan.handled_up_to is not None and (handled is None or plan.handled_up_to > handled):
                self.store.write_record(key, format_logical_time(plan.handled_up_to))
            elif handled is None:
                # First sight of this workflow: remember that nothing before now is owed.
                self.store.write_record(key, format_logical_time(now))

    async def _sleep_until_due(self) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        delay = IDLE_CHECK_SECONDS
        scheduled = [w.schedule for w in self.workflows if w.schedule is not None]
        if scheduled:
            soonest = min(next_time(schedule, now) for schedule in scheduled)
            delay = min(max((soonest - now).total_seconds(), 0.0), IDLE_CHECK_SECONDS)
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        except TimeoutError:
            pass


@dataclass(slots=True)
class BackfillReport:
    """What a backfill did: runs it started (with their final status) and times it skipped."""

    started: list[StartOutcome] = field(default_factory=list)
    skipped: list[StartOutcome] = field(default_factory=list)
    stopped: bool = False
    """Stopped before its end (SIGINT/SIGTERM): later times were not started, running runs cancelled."""

    @property
    def failed(self) -> list[StartOutcome]:
        return [outcome for outcome in self.started if outcome.status != "succeeded"]


async def backfill(service: RunService, workflow: ScheduledWorkflow, start: datetime, end: datetime, *,
                   parallel: int = 1, log: Log = print, stop: asyncio.Event | None = None) -> BackfillReport:  # fmt: skip
    """Start a run for every logical time of ``workflow`` in ``[start, end]``, ``parallel`` at once.

    Each run claims the same idempotency key a scheduler would, so a logical time that
    already has a run (scheduled, or from an earlier backfill) is skipped and reported, never
    run twice. Waits until every started run has finished; cancelled (Ctrl-C: ``asyncio.run``
    cancels the task), it cancels the runs still going first. Raises ``ConfigurationError``
    for an empty or reversed range or one of more than
    :data:`~flowbuilder.limits.MAX_BACKFILL_RUNS` times.

    ``stop`` (the CLI sets it on SIGINT/SIGTERM): once set, no further time is started and
    the runs still going are cancelled (``flowbuilder retry`` reruns what they did not
    finish), instead of waiting for them however long they take; the report says
    ``stopped``.
    """
    from flowbuilder.limits import MAX_BACKFILL_RUNS

    if workflow.schedule is None:
        raise ConfigurationError(f"{workflow.source}: workflow {workflow.name!r} has no `schedule:`; backfill starts"
                                 " the logical times of a schedule")  # fmt: skip
    try:
        times = times_in_range(workflow.schedule, start, end, MAX_BACKFILL_RUNS)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if not times:
        raise ConfigurationError(f"{workflow.name} has no logical time from {format_logical_time(start)} to"
                                 f" {format_logical_time(end)}")  # fmt: skip
    slots = _Slots(parallel)
    report = BackfillReport()

    def cancel_running(why: str, reason: str) -> None:
        if slots.running:
            log(f"{why}: cancelling {len(slots.running)} run(s) still going (`flowbuilder retry RUN_ID` reruns what"
                " one did not finish; a new backfill skips the times already run)")  # fmt: skip
        for run_id in list(slots.running):
            with contextlib.suppress(FlowBuilderError):  # it finished meanwhile
                service.cancel(run_id, reason)

    async def cancel_on_stop(stop: asyncio.Event) -> None:
        await stop.wait()
        report.stopped = True
        slots.close()
        cancel_running("stopping", "the backfill was stopped")

    stopper = asyncio.ensure_future(cancel_on_stop(stop)) if stop is not None else None
    try:
        for logical_time in times:
            try:
                outcome = await start_logical_time(service, workflow, logical_time, slots, log)
            except _Stopping:
                break
            if outcome.started:
                report.started.append(outcome)
                log(f"{workflow.name}: started run {outcome.run_id} for {outcome.logical_time}")
            else:
                report.skipped.append(outcome)
                log(f"{workflow.name}: {outcome.logical_time} already has run {outcome.run_id}; skipped")
    except asyncio.CancelledError:  # the caller cancelled this task (without ``stop``): stop, as a scheduler does
        cancel_running("interrupted", "the backfill was interrupted")
        raise
    finally:
        if slots.running:
            await asyncio.gather(*slots.running.values(), return_exceptions=True)
        if stopper is not None:
            stopper.cancel()
    return report


__all__ = [
    "BackfillReport",
    "DEFAULT_MAX_RUNS",
    "ScheduledWorkflow",
    "Scheduler",
    "StartOutcome",
    "backfill",
    "handled_record_key",
    "load_scheduled_workflows",
    "new_node_id",
    "run_lease_for",
    "start_from_event",
    "start_logical_time",
    "start_triggered",
]
