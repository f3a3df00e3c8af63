"""What runs on a Dask worker for one attempt, and what comes back.

:func:`run_attempt` is the function :class:`~flowbuilder_distributed.dask_executor.DaskExecutor`
submits: Dask pickles it by reference, so a worker imports this module (the worker needs
flowbuilder-distributed, the task type's package and the user's code installed, like any
Dask worker needs the code it runs). It never raises: every ending is a plain tuple
(:data:`Finished`), because an exception would cross the boundary through Dask's own
pickling, and a :class:`~flowbuilder.interfaces.TaskFailure` (keyword-only fields) does not
survive that whole. The scheduler's side rebuilds the failure from the tuple.

This module imports only core, so importing it costs the CLI nothing and needs no Dask.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import Any

from flowbuilder.interfaces import TaskContext, TaskFailure, TaskType

Finished = tuple[str, Any, list[tuple[str, str]]]
"""``(kind, detail, log lines)``: ``("ok", the pickled value, ...)`` (pickled here, once, so an
output that cannot travel fails its attempt with that reason instead of failing inside Dask), ``("failure", (message, exit_code,
status, timed_out, retryable), ...)`` or ``("error", "Type: text", ...)``."""


def discard_log(stream: str, line: str) -> None:
    """Stands in for the attempt's log writer while the context travels to the cluster."""


def travelling_context(context: TaskContext) -> TaskContext:
    """The context as it is sent: no log writer (lines come back with the outcome) and no
    ``deadline`` (a ``time.monotonic()`` instant means nothing on another machine; the
    scheduler's side enforces the timeout)."""
    return dataclasses.replace(context, log=discard_log, deadline=None)


def run_attempt(task_type: TaskType, config: Any, context: TaskContext) -> Finished:
    """Run one attempt on a Dask worker; its log lines are kept and returned with the outcome."""
    lines: list[tuple[str, str]] = []
    context = dataclasses.replace(context, log=lambda stream, line: lines.append((stream, line)))
    try:
        result = task_type.run(config, context)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except TaskFailure as failure:
        fields = (str(failure), failure.exit_code, failure.status, failure.timed_out, failure.retryable)
        return ("failure", fields, lines)
    except BaseException as error:  # a task's SystemExit too: the worker must live on
        return ("error", f"{type(error).__name__}: {error}", lines)
    import cloudpickle  # Dask's own serializer, on every Dask worker

    try:
        return ("ok", cloudpickle.dumps(result), lines)
    except Exception as error:
        return ("error", f"the output cannot be sent back from the Dask worker: {type(error).__name__}: {error}", lines)


async def _await(awaitable: Any) -> Any:
    return await awaitable


__all__ = ["Finished", "run_attempt", "travelling_context"]
