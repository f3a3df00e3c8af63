"""The Runner interface: what executes an :class:`~flowbuilder.plan.ExecutionPlan`."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from flowbuilder.events import RunState, RunStatus, TaskState

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.fencing import Fence
    from flowbuilder.interfaces.executor import AttemptExecutor
    from flowbuilder.interfaces.sink import EventSink
    from flowbuilder.interfaces.store import Store
    from flowbuilder.interfaces.tasktype import TaskType
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.run_service import RunService
    from flowbuilder.subworkflows import ParentLink


@dataclass(slots=True)
class RunRequest:
    """One run to execute.

    ``params`` must already be checked against the workflow's params (see
    :func:`flowbuilder.params.resolve_params`). ``resume`` is the state folded from a
    stored run: tasks it records as succeeded are not run again. ``store`` receives every
    event; without one the runner keeps events in memory only.
    """

    plan: ExecutionPlan
    params: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    store: Store | None = None
    sinks: Sequence[EventSink] = ()
    concurrency: int | None = None
    resume: RunState | None = None
    definition_hash: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    """The values of the secrets the plan reads (``plan.secret_names``), resolved by the
    caller (:func:`flowbuilder.secrets.resolve_run_secrets`). The runner exposes them to
    expressions as ``secrets.NAME`` and masks them, and the values of ``secret: true``
    params, in every event, log line and result it produces; it never stores them."""
    retry: Mapping[str, Any] | None = None
    """Set (with ``resume``, the finished run's state) to retry a finished run: ``rerun``
    names the tasks that run again; every other task keeps its recorded outcome. The runner
    records the whole mapping as ``retry`` in the ``run_started`` event it appends. A runner
    that predates retries ignores it and resumes instead (runs what did not succeed)."""
    service: RunService | None = None
    """The run service that built the request (:meth:`RunService.request` sets it): a runner
    starts the child runs of ``workflow`` tasks through it, so a child takes the one path
    every run takes. Without it, a ``workflow`` task fails."""
    parent: ParentLink | None = None
    """Set for a child run: recorded as ``parent`` in its ``run_started``."""
    subworkflows: Mapping[str, Any] = field(default_factory=dict)
    """The stored definitions of the run's ``path:`` children, by task
    (:func:`flowbuilder.subworkflows.store_pins`); recorded as ``subworkflows`` in ``run_created``."""
    use_cache: bool = True
    """False (``flowbuilder run --no-cache``): tasks with ``cache:`` neither read nor write the
    result cache; they run as if it were not set. A runner that predates caching ignores it."""
    logical_time: str | None = None
    """The instant a scheduled run stands for (ISO-8601 UTC, ``2026-12-05T02:00:00Z``), None
    for a run nobody scheduled. The runner records it in every ``run_started`` event it
    appends (a resumed run gets it back from its state) and exposes it to expressions as
    ``run.logical_time``, beside ``run.id``."""
    idempotency_key: str | None = None
    """The key the run service claimed for this run (``schedule:<workflow>:<logical time>``),
    recorded in the first ``run_started`` for the audit trail; None when none was claimed."""
    executors: Mapping[str, AttemptExecutor] = field(default_factory=dict)
    """Executors that run this run's attempts of some execution modes instead of the runner's
    own, by :class:`~flowbuilder.interfaces.ExecutionMode` value (``{"thread": ..., "process":
    ...}``): the run service fills it from ``--workers``. The scheduling rules stay the
    runner's; only where an attempt runs changes. A runner that predates it ignores it."""
    compile_seconds: float | None = None
    """How long loading, validating and planning the workflow took, when the caller measured
    it (:class:`~flowbuilder.run_service.RunService` does): the runner records it in the
    run's timing (``run_finished``'s ``timing.compile``)."""
    fence: Fence | None = None
    """Set for a run driven by a leader (a scheduler of a cluster): the runner appends every
    event with :meth:`~flowbuilder.interfaces.event_log.EventLog.append_fenced_events` and this
    fence, records it as ``fence`` in the ``run_started`` it appends, and stops the run at once
    (writing nothing more) when the store refuses it with
    :class:`~flowbuilder.errors.StaleLeaderError`, raising that error. None: plain appends,
    as before (see :mod:`flowbuilder.fencing`)."""


@dataclass(slots=True)
class RunResult:
    """How a run ended, task by task."""

    run_id: str
    status: RunStatus
    tasks: Mapping[str, TaskState]
    started_at: float
    finished_at: float

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    def output(self, task: str) -> Any:
        """The output of a task (``KeyError`` if it has none recorded)."""
        return self.tasks[task].output


class Runner(ABC):
    """Executes plans; registered by ``name`` through ``flowbuilder_runners``.

    A runner is built once per process with the task types it may dispatch to and can
    execute many runs at once. It must honour the plan's order (a task starts only after
    every dependency succeeded), retries, timeouts, ``when`` and the failure policy, emit
    every state change as a :class:`~flowbuilder.events.RunEvent` to the store and the sinks
    in batches, and stop cleanly on cancellation. ``contracts/`` holds its test suite.
    """

    name: ClassVar[str]

    def __init__(self, task_types: Mapping[str, TaskType]):
        self.task_types = task_types

    @classmethod
    def from_settings(cls, task_types: Mapping[str, TaskType], settings: Settings) -> Runner:
        """Build the runner with the user's settings (``flowbuilder.toml``, ``FLOWBUILDER_*``).

        Called once per process by :meth:`flowbuilder.plugins.PluginHost.make_runner`. A
        runner with options of its own reads them from its plugin's table
        (``settings.section(...)``) and rejects a bad value with a
        :class:`~flowbuilder.errors.ConfigurationError`; the default ignores ``settings``.
        """
        return cls(task_types)

    @abstractmethod
    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        """Execute one run on the current event loop; setting ``cancel`` cancels it."""

    def run(self, request: RunRequest) -> RunResult:
        """Execute one run to its end from synchronous code."""
        from flowbuilder.event_loop import run_coroutine

        return run_coroutine(self.run_async(request))

    def warm(self) -> None:
        """Load now what this runner's first run would otherwise load on demand; idempotent.

        Called by :meth:`flowbuilder.run_service.RunService.warm` (``Engine.warm()`` in the
        Python API) for an application that wants its first run to cost what later runs
        cost. Import the modules a run needs and build what every run shares, but start
        nothing (no thread, process, event loop or connection): a warmed runner that never
        runs must cost nothing more to close. Default: nothing to load.
        """

    def close(self) -> None:
        """Release what the runner keeps between runs (worker processes, pools); idempotent.

        Called when its owner (:class:`flowbuilder.run_service.RunService`, the CLI) is done
        with it; the runner must still work afterwards, starting what it needs again on
        demand. Default: nothing to release.
        """


__all__ = [
    "RunRequest",
    "RunResult",
    "Runner",
]
