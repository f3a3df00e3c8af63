"""The TaskType interface: what a plugin implements to add a ``type:`` to the DSL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Awaitable, Callable, ClassVar, Iterable, Mapping

from pydantic import BaseModel

from flowbuilder.errors import FlowBuilderError

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.model import Task, Workflow


class ExecutionMode(str, Enum):
    """Where a runner executes an attempt.

    INLINE: called directly on the scheduler's thread (the fast path for trivial callables; it
    must not block). ASYNC: awaited on the runner's event loop (I/O-bound: processes, HTTP).
    THREAD: ``run`` is called in a thread the runner provides (blocking library code); the
    runner lets as many run at once as its concurrency limits allow. PROCESS: sent to a
    worker process (CPU-bound Python); config and context must pickle.
    """

    INLINE = "inline"
    ASYNC = "async"
    THREAD = "thread"
    PROCESS = "process"


LogWriter = Callable[[str, str], None]
"""``log(stream, line)``: append one line of ``stdout``/``stderr`` to the task's log."""


def _discard_log(stream: str, line: str) -> None:
    """The log writer of a context built without one."""


@dataclass(slots=True)
class TaskContext:
    """What an attempt may know about its run. Built by the runner, read by the task type.

    ``inputs`` maps each direct dependency's name to its output; ``env`` is the merged
    environment of the workflow and the task (not the runner's own environment);
    ``deadline`` is a ``time.monotonic()`` instant after which the attempt is cancelled.
    """

    run_id: str
    task: str
    attempt: int = 1
    inputs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    item: Any = None
    deadline: float | None = None
    log: LogWriter = _discard_log


class TaskFailure(FlowBuilderError):
    """An attempt failed in a way the task type understands.

    The fields feed ``retry.retry_on``: ``exit_code`` matches ``exit:N``, ``status`` matches
    ``status:N``/``status:5xx``, ``timed_out`` matches ``timeout``. ``retryable=False``
    stops retries whatever the policy says (e.g. an invalid callable path).
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        status: int | None = None,
        timed_out: bool = False,
        retryable: bool = True,
        output: Any = None,
    ):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = status
        self.timed_out = timed_out
        self.retryable = retryable
        self.output = output


@dataclass(frozen=True, slots=True)
class TaskWarning:
    """Something in a task that is valid but probably wrong or unsafe (see :meth:`TaskType.lint`).

    ``path`` leads from the task to the value concerned (``("config", "command")``), so the
    warning is shown at that value's line and column.
    """

    path: tuple[str | int, ...]
    message: str
    hint: str | None = None


class TaskType(ABC):
    """A kind of task, registered by name through ``flowbuilder_task_types``.

    One instance per process serves every task of its type, so it keeps no per-task state.
    ``config_model`` validates a task's ``config`` when the workflow is loaded (errors are
    reported at the file's line and column); the validated model instance is what
    :meth:`run` receives, with ``${{ }}`` expressions already rendered.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = ""
    default_concurrency: ClassVar[int | None] = None
    """How many attempts of this type a runner lets run at once unless configured otherwise
    (``[flowrunner.type_limits]``); None or 0: no cap of its own beyond the run's concurrency."""

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskType:
        """The instance the plugin host uses, built once per host from its settings.

        Override to read a table of ``flowbuilder.toml`` (``settings.section(name)``); raise
        :class:`~flowbuilder.errors.ConfigurationError` for a bad one. Default: ``cls()``.
        """
        return cls()

    def warm(self) -> None:
        """Build now what this type's first task would build or import on demand; idempotent.

        Called by :meth:`flowbuilder.run_service.RunService.warm` (``Engine.warm()``), never
        by commands that only validate. Must start nothing (no thread, process or
        connection). Default: build ``config_model``, whose pydantic validator a model with
        ``defer_build`` only builds at its first use. Override to also import the helpers
        that :meth:`lint` or :meth:`run` load lazily, and call ``super().warm()``.
        """
        self.config_model.model_rebuild()

    def lint(self, task: Task, workflow: Workflow) -> Iterable[TaskWarning]:
        """Warnings about a task that validated, shown by ``flowbuilder validate`` and ``run``.

        Called once per compiled workflow for each task of this type (only when a type
        overrides it), after every error check passed. ``task.config`` is the raw config,
        expressions unrendered. Never called on the per-task hot path. Default: none.
        """
        return ()

    def render_config(self, raw: Mapping[str, Any], scope: Mapping[str, Any]) -> Any:
        """The task's raw ``config`` with its ``${{ }}`` expressions rendered, before validation.

        Called by the runner once per attempt, only for tasks whose config holds expressions;
        the result is validated with ``config_model``. Override to render some fields
        differently (a shell command quotes what it substitutes). Default:
        :func:`flowbuilder.expressions.render` of the whole config.
        """
        from flowbuilder.expressions import render

        return render(raw, scope)

    def execution_mode(self, config: BaseModel) -> ExecutionMode:
        """Where this attempt runs; override when the config decides (``isolation: process``).

        The answer must depend on ``config`` alone: a runner asks once per run for each task,
        and once for a stretch of consecutive tasks that share one config object.
        """
        return self.mode

    def context_free_call(self, config: BaseModel) -> Callable[[], Any] | None:
        """A zero-argument call that does exactly what :meth:`run` does for ``config``, when
        that needs nothing of the attempt's context; None (the default) when it does.

        The fast path for plain ``INLINE`` tasks: a runner that gets a call invokes it for
        each inline attempt instead of ``run``, without building a :class:`TaskContext` (its
        inputs mapping and log writer), so its return value is the attempt's output and a
        :class:`TaskFailure` it raises fails the attempt as from ``run``. For an ``ASYNC``
        config the same holds of what the call returns once awaited: the runner calls it on
        its loop and awaits the awaitable it returns as it would ``run``'s (flowrunner does,
        with its own async executor), so the call must only make the awaitable (an ``async
        def`` function's coroutine), not do the work. Asked once per run
        before the first attempt (once for a stretch of tasks sharing a config object), so,
        like :meth:`execution_mode`, the answer must depend on ``config`` alone; and only for
        tasks whose config has no ``${{ }}`` expression (a rendered config goes to ``run``).
        The built-in ``python`` type offers one for a function that does not take ``context``.
        """
        return None

    def estimate_duration(self, config: BaseModel) -> float | None:
        """Seconds this task is expected to take, if the type can tell (for the critical path)."""
        return None

    def why_not_stoppable(self, config: BaseModel) -> str | None:
        """Why a timeout could not stop an attempt with this config, or None when it can.

        Called once per task, when a workflow is compiled, for tasks with their own
        ``timeout`` or ``deadline``. A type whose attempts run code that cannot be interrupted (a function
        on a thread of the runner's own process) says so here, and the workflow is refused
        with that reason at the timeout's line, instead of a timeout that does not stop
        anything. The default, None, promises that cancelling the attempt ends its work.
        """
        return None

    @abstractmethod
    def run(self, config: BaseModel, context: TaskContext) -> Any | Awaitable[Any]:
        """Execute one attempt and return its output (JSON-serialisable or tabular).

        May be a coroutine function for ASYNC types. Raise :class:`TaskFailure` for failures
        the type understands; any other exception fails the attempt with its message.
        Cancellation (``asyncio.CancelledError``) must release everything the attempt holds:
        a shell task kills its whole process group.
        """


__all__ = [
    "ExecutionMode",
    "LogWriter",
    "TaskContext",
    "TaskFailure",
    "TaskType",
    "TaskWarning",
]
