"""One attempt of a ``workflow`` task: a child run, started or resumed through the run service.

Where the child runs: in the parent's process, on the parent's event loop, as a run of its
own (its own :class:`~flowrunner._scheduler.RunExecution`, state machine, concurrency limit,
lease and control watch) on the same runner and store. Waiting for it is one coroutine of
the parent: it holds no thread, no worker process and no executor, only the place the
attempt takes in the parent's ``concurrency`` (as an ``http`` task waiting on a server
does); the child's tasks count against the child's own limit and share the runner's worker
processes, so a parent never waits for a slot its own child needs.

The attempt:

1. checks the nesting depth (:data:`~flowbuilder.subworkflows.MAX_SUBWORKFLOW_DEPTH`);
2. on the first attempt after a resume, looks for the child the cut-short attempt started
   (the parent's ``task_annotated`` ``child_run`` link): an unfinished child is resumed
   through :meth:`RunService.prepare_resume`, a finished one gives its outcome, and a child
   that never wrote anything is started under the recorded id;
3. otherwise prepares a new child (:meth:`RunService.prepare_child`: definition, params),
   records the link in the parent's history and waits until it is stored, then starts the
   child (:meth:`RunService.submit`), so a crash never leaves a child the parent cannot find;
4. waits for the child: its success is this attempt's output, its failure this attempt's
   failure (naming the child's failed tasks); cancelling the attempt (the parent cancelled,
   a timeout) cancels the child and waits for it to end.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from flowbuilder.errors import FlowBuilderError, RunNotFoundError
from flowbuilder.events import RunStatus, TaskStatus
from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, TaskFailure

if TYPE_CHECKING:
    from flowbuilder.events import RunState, TaskState
    from flowbuilder.interfaces.executor import OnDone
    from flowbuilder.run_service import RunHandle, RunService
    from flowbuilder.subworkflows import SubworkflowConfig
    from flowrunner._scheduler import RunExecution

_MAX_NAMED_FAILURES = 3


class ChildRunAttempt(AttemptExecutor):
    """Runs one attempt of a ``workflow`` task as a child run (use for one :meth:`submit`)."""

    name: ClassVar[str] = "workflow"

    def __init__(self, run: RunExecution, config: SubworkflowConfig):
        self.run = run
        self.config = config
        self.job: asyncio.Task[Any] | None = None

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        from flowrunner.executors import with_timeout

        coroutine = self._child(attempt)
        if attempt.timeout is not None:
            coroutine = with_timeout(coroutine, attempt.timeout)
        self.job = job = asyncio.get_running_loop().create_task(coroutine)

        def finished(done: asyncio.Task[Any]) -> None:
            if done.cancelled():
                on_done(attempt, AttemptOutcome.cancelled())
                return
            error = done.exception()
            on_done(attempt, AttemptOutcome.succeeded(done.result()) if error is None else AttemptOutcome.failed(error))

        job.add_done_callback(finished)

    def cancel(self, attempt: Attempt) -> None:
        if self.job is not None:
            self.job.cancel()

    # -- the child --------------------------------------------------------------------------

    async def _child(self, attempt: Attempt) -> Any:
        from flowbuilder.subworkflows import MAX_SUBWORKFLOW_DEPTH, ParentLink

        run = self.run
        service = run.request.service
        if service is None:
            raise TaskFailure("a workflow task needs a run started by the run service (RunService)", retryable=False)
        depth = run.depth + 1
        if depth > MAX_SUBWORKFLOW_DEPTH:
            raise TaskFailure(f"sub-workflows nest deeper than {MAX_SUBWORKFLOW_DEPTH} levels (run {run.run_id} is at"
                              f" level {run.depth}; flowbuilder.subworkflows.MAX_SUBWORKFLOW_DEPTH)", retryable=False)  # fmt: skip
        link = ParentLink(run.run_id, attempt.task, attempt.number, depth)
        handle: RunHandle | None = None
        cut_short = run.cut_short_child(attempt.task_id, attempt.number)
        if cut_short is not None:
            finished = await self._finished_child(service, attempt, cut_short)
            if finished is not None:
                return _outcome(cut_short, finished.status, finished.tasks)  # its outcome is this attempt's
            handle = await self._resume(service, attempt, cut_short)
        child_id = cut_short or uuid.uuid4().hex
        if handle is None:
            try:
                prepared = service.prepare_child(self.config, link, run.request.subworkflows.get(attempt.task),
                                                 self.config.params, run_id=child_id)  # fmt: skip
                prepared.use_cache = run.request.use_cache  # `--no-cache` reaches the child's tasks too
                prepared.logical_time = run.request.logical_time  # a scheduled parent's children share its time
                prepared.fence = run.request.fence  # a leader's parent run: its children are fenced with it
            except FlowBuilderError as error:
                raise TaskFailure(f"sub-workflow: {_first_line(error)}", retryable=False) from None
            await run.record_child(attempt.task, attempt.number, child_id)
            handle = await service.submit(prepared)
        try:
            result = await handle.result()
        except asyncio.CancelledError:
            handle.cancel()
            await asyncio.shield(handle.result())  # the child ends (cancelled) before this attempt does
            raise
        return _outcome(child_id, result.status, result.tasks)

    async def _finished_child(self, service: RunService, attempt: Attempt, child_id: str) -> RunState | None:
        """The state of the cut-short attempt's child if it finished (None: resume or start it)."""
        try:
            summary = service.run_status(child_id)
        except RunNotFoundError:
            return None  # the link was stored, the child never was: it starts under that id
        if not summary.status.finished:
            return None
        await self.run.record_child(attempt.task, attempt.number, child_id)
        return service.store.load_state(child_id)

    async def _resume(self, service: RunService, attempt: Attempt, child_id: str) -> RunHandle | None:
        """Resume an unfinished child; None when it has no event yet (start it afresh)."""
        try:
            prepared = service.prepare_resume(child_id)
        except RunNotFoundError:
            return None
        except FlowBuilderError as error:
            raise TaskFailure(f"child run {child_id}: {_first_line(error)}", retryable=False) from None
        prepared.fence = self.run.request.fence
        await self.run.record_child(attempt.task, attempt.number, child_id)
        return await service.submit(prepared)


def _outcome(child_id: str, status: RunStatus, tasks: Mapping[str, TaskState]) -> Any:
    """A finished child's result as the attempt's output, or the attempt's failure."""
    if status is RunStatus.SUCCEEDED:
        outputs = {name: task.output for name, task in tasks.items() if task.status is TaskStatus.SUCCEEDED}
        return {"run_id": child_id, "outputs": outputs}
    if status is RunStatus.CANCELLED:
        raise TaskFailure(f"child run {child_id} was cancelled", retryable=False)
    failed = [(name, task.error) for name, task in tasks.items() if task.status is TaskStatus.FAILED]
    shown = "; ".join(f"{name}: {_first_line(error or 'failed')}" for name, error in failed[:_MAX_NAMED_FAILURES])
    more = f" (and {len(failed) - _MAX_NAMED_FAILURES} more)" if len(failed) > _MAX_NAMED_FAILURES else ""
    raise TaskFailure(f"child run {child_id} {status.value}: {shown or 'no task failed'}{more}")


def _first_line(error: object) -> str:
    text = str(error).strip()
    lines = text.splitlines()
    return lines[0] + (f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else "") if lines else text
