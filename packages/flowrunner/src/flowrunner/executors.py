"""flowrunner's attempt executors: inline, asyncio, thread and process.

Each implements :class:`flowbuilder.interfaces.AttemptExecutor` and passes
``flowbuilder_contracts.AttemptExecutorContract``. A :class:`~flowrunner.LocalRunner` picks
one per attempt by the task type's :class:`~flowbuilder.interfaces.ExecutionMode`
(:func:`default_executors`); ``LocalRunner(executor=...)`` or ``executors={mode: ...}``
replaces them, and the scheduling rules stay the same whichever runs the attempt.

The three asyncio-based executors run an attempt as an asyncio task on the scheduler's
loop, so ``on_done`` is always called on the scheduler's thread, from the task's
done-callback. Timeouts wrap that task in ``asyncio.timeout``: a timed-out THREAD attempt is
abandoned (its thread returns to the pool when the call ends), a PROCESS attempt's worker is
killed, an ASYNC attempt is cancelled where it awaits.
"""

from __future__ import annotations

import asyncio
import inspect
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, ClassVar, Coroutine, Mapping

from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, ExecutionMode, TaskFailure

if TYPE_CHECKING:
    from flowbuilder.interfaces.executor import OnDone
    from flowrunner.runner import LocalRunner

_PLAIN_TYPES = frozenset({type(None), str, int, float, bool, dict, list})


async def _call_async(attempt: Attempt) -> Any:
    result = attempt.task_type.run(attempt.config, attempt.context)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def with_timeout(awaitable: Awaitable[Any], timeout: float) -> Any:
    """Await ``awaitable`` (a coroutine, a future) with a limit; running out becomes ``TaskFailure(timed_out=True)``."""
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except TimeoutError:
        raise TaskFailure(f"timed out after {timeout:g}s", timed_out=True) from None


class _TaskJobs(AttemptExecutor):
    """Runs each attempt as an asyncio task on the running loop; reports from its done-callback."""

    def __init__(self) -> None:
        self._jobs: dict[Attempt, asyncio.Task[Any]] = {}

    def _launch(self, attempt: Attempt, coroutine: Coroutine[Any, Any, Any], on_done: OnDone) -> None:
        timeout = attempt.timeout
        if timeout is not None:
            coroutine = with_timeout(coroutine, timeout)
        job = asyncio.get_running_loop().create_task(coroutine)
        self._jobs[attempt] = job
        job.add_done_callback(partial(self._finished, attempt, on_done))

    def _finished(self, attempt: Attempt, on_done: OnDone, job: asyncio.Task[Any]) -> None:
        self._jobs.pop(attempt, None)
        if job.cancelled():
            on_done(attempt, AttemptOutcome.cancelled())
            return
        error = job.exception()
        on_done(attempt, AttemptOutcome.succeeded(job.result()) if error is None else AttemptOutcome.failed(error))

    def cancel(self, attempt: Attempt) -> None:
        job = self._jobs.get(attempt)
        if job is not None:
            job.cancel()

    def close(self) -> None:
        """Cancel what is still running (each reports ``cancelled`` when its task ends)."""
        for job in list(self._jobs.values()):
            try:
                job.cancel()
            except RuntimeError:  # its loop is closed already: nothing of it can run again
                pass
        self._jobs.clear()


class AsyncExecutor(_TaskJobs):
    """ASYNC attempts: ``run`` is called on the loop and awaited there (I/O-bound task types)."""

    name: ClassVar[str] = "async"

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self._launch(attempt, _call_async(attempt), on_done)


class InlineExecutor(_TaskJobs):
    """INLINE attempts: ``run`` is called right inside :meth:`submit`, on the scheduler's thread.

    ``on_done`` is called before ``submit`` returns, unless ``run`` returned an awaitable,
    which is then awaited as an asyncio task (with the attempt's timeout). A synchronous call
    cannot be interrupted, so its timeout only applies to such an awaitable. A
    ``KeyboardInterrupt`` raised by the call is not an outcome: it propagates to the caller.
    Any other exception fails the attempt; a ``SystemExit`` then propagates as well (as it
    does from the async and thread executors).
    """

    name: ClassVar[str] = "inline"

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        try:
            result = attempt.task_type.run(attempt.config, attempt.context)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # a plugin's own BaseException too: an outcome, not a crash of the driver
            on_done(attempt, AttemptOutcome.failed(error))
            if isinstance(error, SystemExit):
                raise
            return
        if result is None or type(result) in _PLAIN_TYPES or not inspect.isawaitable(result):
            on_done(attempt, AttemptOutcome.succeeded(result))
            return
        self._launch(attempt, _await(result), on_done)

    def finish_awaitable(self, attempt: Attempt, awaitable: Any, on_done: OnDone) -> None:
        """Await what ``run`` returned for ``attempt`` (called by a driver that made the call itself)."""
        self._launch(attempt, _await(awaitable), on_done)


class ThreadExecutor(_TaskJobs):
    """THREAD attempts: ``run`` is called in one of the process's daemon threads (blocking code)."""

    name: ClassVar[str] = "thread"

    def __init__(self, runner: LocalRunner):
        super().__init__()
        self.runner = runner

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self._launch(attempt, self.runner.call_in_thread(attempt.task_type, attempt.config, attempt.context), on_done)


class ProcessExecutor(_TaskJobs):
    """PROCESS attempts: sent to the runner's pool of worker processes (config and context must pickle)."""

    name: ClassVar[str] = "process"

    def __init__(self, runner: LocalRunner):
        super().__init__()
        self.runner = runner

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        call = self.runner.call_in_process(attempt.task_type, attempt.config, attempt.context)
        self._launch(attempt, call, on_done)

    def close(self) -> None:
        """Cancel running attempts; the worker processes belong to the runner (``close_workers``)."""
        super().close()


def default_executors(runner: LocalRunner) -> dict[ExecutionMode, AttemptExecutor]:
    """A local runner's executor for each execution mode."""
    return {
        ExecutionMode.INLINE: InlineExecutor(),
        ExecutionMode.ASYNC: AsyncExecutor(),
        ExecutionMode.THREAD: ThreadExecutor(runner),
        ExecutionMode.PROCESS: ProcessExecutor(runner),
    }


def executors_for(runner: LocalRunner, executor: AttemptExecutor | None,
                  overrides: Mapping[ExecutionMode | str, AttemptExecutor] | None) -> dict[ExecutionMode, AttemptExecutor]:  # fmt: skip
    """The executor per mode: ``executor`` for every mode if given, else the defaults with ``overrides``."""
    if executor is not None:
        return dict.fromkeys(ExecutionMode, executor)
    chosen = default_executors(runner)
    for mode, replacement in (overrides or {}).items():
        chosen[ExecutionMode(mode)] = replacement
    return chosen
