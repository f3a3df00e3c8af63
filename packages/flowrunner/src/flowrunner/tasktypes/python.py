"""``python``: call ``package.module:function`` with ``args``/``kwargs``.

Where the call runs depends on ``isolation``:

* ``inline`` (default): a plain function is called right on the scheduler's thread — the
  fast path, no thread or process hop, so it must be quick and must not block; a coroutine
  function is awaited on the runner's event loop.
* ``thread``: called in one of the runner's daemon threads (``ExecutionMode.THREAD``, for
  blocking I/O in library code); as many run at once as the run's concurrency allows.
* ``process``: sent to the runner's worker processes (CPU-bound work; arguments and result
  must pickle); a timeout or cancellation kills the worker running it.

Nothing can stop a function running on a thread of the runner's process, so a task's own
``timeout`` or ``deadline`` on an ``inline`` plain function or on any ``thread`` call is
refused when the workflow is validated, with the reason (see
:meth:`PythonTask.why_not_stoppable`). ``defaults.timeout`` is not refused: an inline plain
function is not timed at all, and a timed-out or cancelled ``thread`` call is abandoned —
the attempt ends, the daemon thread runs on until the function returns, and it never keeps
the process from exiting.

The return value is the output. Raise :class:`flowbuilder.interfaces.TaskFailure` to fail
with a classified reason; any other exception fails the attempt with its message.

Example::

    - name: score
      type: python
      config: {callable: "mypkg.scoring:score", kwargs: {rows: "${{ tasks.load.output }}"}}
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache, partial
from importlib import import_module
from typing import Any, Callable, ClassVar, Literal

from pydantic import Field, field_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowrunner.tasktypes._common import ConfigModel

_CALLABLE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


class PythonConfig(ConfigModel):
    """Config of a ``python`` task."""

    callable: str = Field(description="'package.module:function' (a dotted attribute path after the colon works too).")
    args: list[Any] = Field(default_factory=list, description="Positional arguments (expressions allowed).")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments (expressions allowed).")
    isolation: Literal["inline", "thread", "process"] = Field("inline", description="Where the call runs.")
    pass_context: bool = Field(False, description="Also pass the TaskContext as the keyword argument `context`.")

    @field_validator("callable")
    @classmethod
    def _shape(cls, path: str) -> str:
        if not _CALLABLE.match(path):
            raise ValueError(f"{path!r} is not 'package.module:function'")
        return path


@lru_cache(maxsize=1024)
def resolve_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:function``; a non-retryable TaskFailure saying why if it cannot."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = import_module(module_name)
    except ImportError as error:
        raise TaskFailure(f"cannot import {module_name!r} for callable {path!r}: {error}", retryable=False) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise TaskFailure(
                f"{module_name!r} has no attribute {attribute!r} (callable {path!r})", retryable=False
            ) from None
    if not callable(target):
        raise TaskFailure(f"{path!r} is not callable", retryable=False)
    return target  # type: ignore[no-any-return]


@lru_cache(maxsize=4096)
def _mode_of(path: str, isolation: str) -> ExecutionMode:
    """Where calls of ``path`` run (cached: it is asked once per attempt on the hot path)."""
    if isolation == "process":
        return ExecutionMode.PROCESS
    if isolation == "thread":
        return ExecutionMode.THREAD
    try:
        function = resolve_callable(path)
    except TaskFailure:
        return ExecutionMode.INLINE  # run() raises the same failure on the fast path
    return ExecutionMode.ASYNC if inspect.iscoroutinefunction(function) else ExecutionMode.INLINE


class PythonTask(TaskType):
    """Calls a Python function; inline ones take the scheduler's fast path."""

    name: ClassVar[str] = "python"
    config_model: ClassVar[type[PythonConfig]] = PythonConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE
    summary: ClassVar[str] = "call package.module:function (inline, in a thread, or in a worker process)"

    def execution_mode(self, config: PythonConfig) -> ExecutionMode:  # type: ignore[override]
        return _mode_of(config.callable, config.isolation)

    def why_not_stoppable(self, config: PythonConfig) -> str | None:  # type: ignore[override]
        if config.isolation == "thread":
            return (
                "a function on a thread (isolation: thread) cannot be killed;"
                " use isolation: process, whose worker process a timeout kills"
            )
        if config.isolation == "inline" and _mode_of(config.callable, "inline") is ExecutionMode.INLINE:
            try:
                resolve_callable(config.callable)
            except TaskFailure:
                return None  # the run fails with the import error anyway
            return (
                "a plain function called inline runs on the runner's scheduler thread, which nothing can"
                " interrupt; use isolation: process, whose worker process a timeout kills, or an async def function"
            )
        return None

    def context_free_call(self, config: PythonConfig) -> Callable[[], Any] | None:  # type: ignore[override]
        """The call :meth:`run` makes for ``config`` when it needs nothing of the attempt's context.

        The scheduler asks once per run for each plain task (a static config) and then calls
        it for each inline attempt, without building a :class:`TaskContext` the function never
        sees (:meth:`TaskType.context_free_call`). None
        when the function takes ``context``, when the callable does not resolve (:meth:`run`
        raises the failure, as before) or when a subclass has its own :meth:`run`.
        """
        if config.pass_context or type(self).run is not PythonTask.run:
            return None
        try:
            function = resolve_callable(config.callable)
        except TaskFailure:
            return None
        args, kwargs = config.args, config.kwargs
        if not args and not kwargs:
            return function
        return partial(_call, function, args, kwargs)

    def run(self, config: PythonConfig, context: TaskContext) -> Any:  # type: ignore[override]
        function = resolve_callable(config.callable)
        kwargs = config.kwargs
        if config.pass_context:
            kwargs = {**kwargs, "context": context}
        return function(*config.args, **kwargs)  # `thread`: the runner already put this call in a thread


def _call(function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """``function(*args, **kwargs)`` at call time, as :meth:`PythonTask.run` does: a list or dict
    the function changed is passed as it is now, exactly as on the path with a context."""
    return function(*args, **kwargs)
