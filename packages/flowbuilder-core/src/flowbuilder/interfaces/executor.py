"""The AttemptExecutor interface: where a runner's attempts actually run.

A runner's scheduling rules (which task is ready, retries, deadlines, skips, cancellation)
live in its state machine; *running* one attempt is the executor's job. Keeping the two
apart is what lets a remote executor (workers reading a Redis stream, a Dask cluster) run
attempts elsewhere while the scheduler keeps exactly the same rules: the scheduler builds an
:class:`Attempt`, hands it to :meth:`AttemptExecutor.submit` and waits for the one
:class:`AttemptOutcome` the executor reports back.

This module imports nothing beyond the standard library at run time, so an executor plugin
can depend on core alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Callable, ClassVar

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.interfaces.sink import EventSink
    from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType
    from flowbuilder.model import WorkerPlacement


class Attempt:
    """One attempt of one task (or of one ``foreach`` item), ready to run.

    Built by the scheduler after it rendered the attempt's inputs; an executor treats it as
    read-only. Identity matters: :meth:`AttemptExecutor.cancel` and the ``on_done`` callback
    receive the very object that was submitted.

    Attributes:
        run_id: the run it belongs to.
        task: the task's name (``name[3]`` for item 3 of a ``foreach`` task).
        task_id: the task's dense id in the plan (the scheduler's key; executors may ignore it).
        number: the attempt number, 1-based (a resumed task continues its numbering).
        task_type: the task type that runs it (``task_type.name`` is its DSL ``type:``).
        config: the validated config (the type's ``config_model`` instance, expressions rendered).
        mode: where the task type asked to run it (:class:`ExecutionMode`).
        context: the :class:`TaskContext` passed to ``task_type.run``.
        timeout: seconds this attempt may take, or None; the executor enforces it (see
            :meth:`AttemptExecutor.submit`). ``context.deadline`` is the same limit as a
            ``time.monotonic()`` instant.
        item_index: the position of the ``foreach`` item, or None for a plain attempt.
        placement: the task's ``worker:`` (labels, group), or None: which remote workers may
            run it. Local executors ignore it.
    """

    __slots__ = ("run_id", "task", "task_id", "number", "task_type", "config", "mode", "context", "timeout",
                 "item_index", "placement")  # fmt: skip

    def __init__(self, run_id: str, task: str, task_id: int, number: int, task_type: TaskType, config: Any,
                 mode: ExecutionMode, context: TaskContext, timeout: float | None = None,
                 item_index: int | None = None, placement: WorkerPlacement | None = None):  # fmt: skip
        self.run_id = run_id
        self.task = task
        self.task_id = task_id
        self.number = number
        self.task_type = task_type
        self.config = config
        self.mode = mode
        self.context = context
        self.timeout = timeout
        self.item_index = item_index
        self.placement = placement

    def __repr__(self) -> str:
        return f"<Attempt {self.number} of {self.task!r} in run {self.run_id}>"


class AttemptOutcome:
    """How one attempt ended: exactly one per submitted attempt.

    Build it with :meth:`succeeded`, :meth:`failed` or :meth:`cancelled`. ``kind`` is one of
    ``"succeeded"``, ``"failed"``, ``"cancelled"``; ``value`` is the task's output (succeeded);
    ``failure`` the :class:`TaskFailure` the task raised (its ``exit_code``, ``status``,
    ``timed_out`` and ``retryable`` decide retries), or None for any other exception;
    ``message`` the error text recorded in ``task_failed``/``task_retrying``.
    """

    __slots__ = ("kind", "value", "failure", "message")

    SUCCEEDED: ClassVar[str] = "succeeded"
    FAILED: ClassVar[str] = "failed"
    CANCELLED: ClassVar[str] = "cancelled"

    def __init__(self, kind: str, value: Any = None, failure: TaskFailure | None = None, message: str = ""):
        self.kind = kind
        self.value = value
        self.failure = failure
        self.message = message

    @classmethod
    def succeeded(cls, value: Any) -> AttemptOutcome:
        """The attempt returned ``value``."""
        return cls(cls.SUCCEEDED, value)

    @classmethod
    def failed(cls, error: BaseException) -> AttemptOutcome:
        """The attempt raised ``error``; a :class:`TaskFailure` keeps its fields, others read ``Type: text``."""
        from flowbuilder.interfaces.tasktype import TaskFailure

        if isinstance(error, TaskFailure):
            return cls(cls.FAILED, None, error, str(error))
        return cls(cls.FAILED, None, None, f"{type(error).__name__}: {error}")

    @classmethod
    def cancelled(cls) -> AttemptOutcome:
        """The attempt was cancelled (by :meth:`AttemptExecutor.cancel`) before it finished."""
        return cls(cls.CANCELLED)

    def __repr__(self) -> str:
        return f"<AttemptOutcome {self.kind} {self.message or self.value!r}>"


OnDone = Callable[[Attempt, AttemptOutcome], None]
"""``on_done(attempt, outcome)``: how an executor reports the end of a submitted attempt."""


class AttemptExecutor(ABC):
    """Runs attempts the scheduler hands it; reports exactly one outcome for each.

    The contract (checked by ``flowbuilder_contracts.AttemptExecutorContract``):

    * :meth:`submit` is called on the scheduler's thread, inside its running asyncio event
      loop, and must not block: start the work and return.
    * ``on_done`` is called **exactly once** per submitted attempt, **on the thread that
      called submit** (an executor finishing work elsewhere posts it back, e.g. with
      ``loop.call_soon_threadsafe``). It may be called before :meth:`submit` returns (an
      inline executor does).
    * A :class:`TaskFailure` raised by the task reaches ``on_done`` as the same object, so
      ``exit_code``, ``status``, ``timed_out`` and ``retryable`` are preserved; a remote
      executor rebuilds an equal one. Any other exception fails the attempt with the message
      ``Type: text`` and ``failure`` None (or, across a process boundary, a plain retryable
      ``TaskFailure`` with that message: the retry rules treat both alike).
    * An attempt whose ``timeout`` passes fails with ``TaskFailure(timed_out=True)``.
    * :meth:`cancel` of a running attempt ends it with :meth:`AttemptOutcome.cancelled`
      (or with its real outcome if it finished first); of a finished one it does nothing.
    * The executor never retries, never decides what runs next and never writes events:
      those are the scheduler's rules, the same for every executor.

    ``name`` identifies the executor in messages and in ``flowbuilder plugins``.

    A plugin offers an executor to runs through ``flowbuilder_attempt_executors``: the class
    declares the URL schemes it serves (``url_schemes``) and the execution modes it takes
    (``modes``), and :meth:`from_url` builds it. ``flowbuilder run --workers URL`` (or
    ``workers =`` in flowbuilder.toml, ``FLOWBUILDER_WORKERS``, ``RunService(workers=...)``)
    then sends the attempts of those modes to it; the other modes stay the runner's own.
    """

    name: ClassVar[str]
    url_schemes: ClassVar[tuple[str, ...]] = ()
    """The schemes of the ``--workers`` URLs this class serves (``("redis", "rediss")``); empty:
    it is not chosen by URL (built and passed in directly)."""
    modes: ClassVar[frozenset[str]] = frozenset({"thread", "process", "async"})
    """The execution modes (:class:`ExecutionMode` values) whose attempts it takes when chosen
    by URL; INLINE attempts (trivial calls, waits) are never worth a trip and stay local."""

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> AttemptExecutor:
        """Build the executor for ``--workers URL`` (a scheme in ``url_schemes``).

        Called once per run service, on first use. Raise
        :class:`~flowbuilder.errors.ConfigurationError` with a one-line reason for a URL it
        cannot use (unreachable server, bad options). Default: refuse (not URL-chosen).
        """
        from flowbuilder.errors import ConfigurationError

        raise ConfigurationError(f"attempt executor {cls.name!r} cannot be chosen by URL ({url!r})")

    def recording_sink(self, run_id: str) -> EventSink | None:
        """A sink for the events of run ``run_id``, which uses this executor; or None.

        Called once per run by the run service that chose the executor by URL; the sink joins
        the run's sinks. Sinks receive a batch only after the store holds it, so an executor
        that must confirm an attempt only once its outcome is recorded (acknowledging a
        message) learns it here. Default: None.
        """
        return None

    @abstractmethod
    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        """Start ``attempt``; call ``on_done(attempt, outcome)`` once when it ends."""

    @abstractmethod
    def cancel(self, attempt: Attempt) -> None:
        """Stop ``attempt`` if it is still running; its ``on_done`` then reports it cancelled."""

    def close(self) -> None:
        """Release what the executor holds (pools, connections). Attempts still running may be abandoned."""


__all__ = ["Attempt", "AttemptExecutor", "AttemptOutcome", "OnDone"]
