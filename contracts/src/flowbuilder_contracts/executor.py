"""The AttemptExecutor contract: what every :class:`flowbuilder.interfaces.AttemptExecutor` must do.

Subclass :class:`AttemptExecutorContract` and give it one fixture, ``executor``: a fresh
executor (the suite calls its ``close()`` at the end of each test)::

    class TestStreamsExecutor(AttemptExecutorContract):
        @pytest.fixture
        def executor(self, redis_url):
            return StreamsExecutor(redis_url, group="contract")

The attempts are of :class:`ContractWork`, a task type defined in this module (so worker
processes and remote workers that can import ``flowbuilder_contracts`` can run it): it
returns a value, raises a failure, or sleeps — with ``asyncio.sleep`` when called on a
thread that runs an event loop, with ``time.sleep`` elsewhere, so it never blocks a loop.

The rules: each submitted attempt gets exactly one outcome, reported on the submitting
thread; a TaskFailure keeps its fields; other exceptions read ``Type: text``; an awaitable
result is awaited; ``timeout`` fails the attempt with ``timed_out``; ``cancel`` ends a running
attempt as cancelled and does nothing to a finished one; ``close`` works after use.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar, Iterator

import pytest
from pydantic import BaseModel

from flowbuilder.interfaces import (
    Attempt,
    AttemptExecutor,
    AttemptOutcome,
    ExecutionMode,
    TaskContext,
    TaskFailure,
    TaskType,
)
from flowbuilder_contracts._audit import Contract, audit_implementation

EXECUTOR_CONTRACT_VERSION = 2
"""Raised when the suite's rules change, so an executor plugin can say which version it passes.

2: executors declare how a ``--workers`` URL chooses them (``url_schemes``, ``modes``,
``from_url``) and may give a run a ``recording_sink``."""

WAIT = 20.0
"""Seconds a test waits for outcomes before it calls the executor stuck."""


class WorkConfig(BaseModel):
    value: Any = None
    fail: str | None = None
    """``task_failure`` (TaskFailure with exit_code 3, status 503, not retryable) or ``exception`` (ValueError)."""
    sleep: float = 0.0
    awaitable: bool = False
    mode: ExecutionMode = ExecutionMode.ASYNC


class ContractWork(TaskType):
    """The contract's task type: returns ``value`` after ``sleep`` seconds, or fails as ``fail`` says."""

    name: ClassVar[str] = "contract_work"
    config_model: ClassVar[type[BaseModel]] = WorkConfig

    def execution_mode(self, config: BaseModel) -> ExecutionMode:
        assert isinstance(config, WorkConfig)
        return config.mode

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, WorkConfig)
        try:
            asyncio.get_running_loop()
            on_a_loop = True
        except RuntimeError:
            on_a_loop = False
        if config.awaitable or (on_a_loop and config.sleep):
            return _finish_async(config)
        if config.sleep:
            time.sleep(config.sleep)
        return _finish(config)


def _finish(config: WorkConfig) -> Any:
    if config.fail == "task_failure":
        raise TaskFailure("contract failure", exit_code=3, status=503, retryable=False)
    if config.fail == "exception":
        raise ValueError("contract exception")
    return config.value


async def _finish_async(config: WorkConfig) -> Any:
    if config.sleep:
        await asyncio.sleep(config.sleep)
    return _finish(config)


class Outcomes:
    """Collects ``on_done`` calls: which attempt, what outcome, on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[Attempt, AttemptOutcome, int]] = []
        self.changed = asyncio.Event()

    def __call__(self, attempt: Attempt, outcome: AttemptOutcome) -> None:
        self.calls.append((attempt, outcome, threading.get_ident()))
        self.changed.set()

    async def wait_for(self, count: int, within: float = WAIT) -> None:
        deadline = time.monotonic() + within
        while len(self.calls) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"only {len(self.calls)} of {count} outcomes within {within:g}s"
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def of(self, attempt: Attempt) -> list[AttemptOutcome]:
        return [outcome for done, outcome, _ in self.calls if done is attempt]


_serial = iter(range(1, 1_000_000))


def make_attempt(timeout: float | None = None, **config: Any) -> Attempt:
    """An attempt of :class:`ContractWork` with ``config`` (see :class:`WorkConfig`)."""
    work = ContractWork()
    validated = WorkConfig.model_validate(config)
    number = next(_serial)
    deadline = time.monotonic() + timeout if timeout is not None else None
    context = TaskContext("contract-run", f"work{number}", 1, {}, {}, {}, None, deadline)
    return Attempt("contract-run", f"work{number}", number, 1, work, validated, validated.mode, context, timeout)


def run_async(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, WAIT * 2))


class AttemptExecutorContract(Contract):
    """Abstract tests for an AttemptExecutor; provide ``executor``."""

    __contract__ = True

    @pytest.fixture
    def executor(self) -> AttemptExecutor:
        raise NotImplementedError("an AttemptExecutorContract subclass must define an `executor` fixture")

    @pytest.fixture
    def closing(self, executor: AttemptExecutor) -> Iterator[AttemptExecutor]:
        yield executor
        executor.close()

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_an_attempt_executor_with_a_name(self, closing: AttemptExecutor) -> None:
        assert isinstance(closing, AttemptExecutor)
        assert isinstance(type(closing).name, str) and type(closing).name

    def test_declares_how_a_workers_url_chooses_it(self, closing: AttemptExecutor) -> None:
        from flowbuilder.interfaces.sink import EventSink

        cls = type(closing)
        assert isinstance(cls.url_schemes, tuple) and all(
            isinstance(scheme, str) and scheme == scheme.lower() and scheme for scheme in cls.url_schemes
        )
        assert cls.modes and set(cls.modes) <= {mode.value for mode in ExecutionMode}
        if cls.url_schemes:
            assert cls.from_url.__func__ is not AttemptExecutor.from_url.__func__, "a URL-chosen executor builds itself"  # type: ignore[attr-defined]
        sink = closing.recording_sink("contract-run")
        assert sink is None or isinstance(sink, EventSink)

    def test_a_successful_attempt_reports_its_value_once_on_the_submitting_thread(
        self, closing: AttemptExecutor
    ) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            attempt = make_attempt(value={"rows": [1, 2, 3]})
            closing.submit(attempt, outcomes)
            await outcomes.wait_for(1)
            await asyncio.sleep(0.2)  # a second report would arrive by now
            return outcomes

        outcomes = run_async(scenario())
        assert len(outcomes.calls) == 1
        _, outcome, thread = outcomes.calls[0]
        assert outcome.kind == AttemptOutcome.SUCCEEDED and outcome.value == {"rows": [1, 2, 3]}
        assert thread == threading.get_ident()

    def test_a_task_failure_keeps_its_fields(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            closing.submit(make_attempt(fail="task_failure"), outcomes)
            await outcomes.wait_for(1)
            return outcomes

        (_, outcome, _), *_ = run_async(scenario()).calls
        assert outcome.kind == AttemptOutcome.FAILED
        failure = outcome.failure
        assert isinstance(failure, TaskFailure)
        assert (failure.exit_code, failure.status, failure.retryable, failure.timed_out) == (3, 503, False, False)
        assert outcome.message == "contract failure"

    def test_another_exception_reads_type_and_text(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            closing.submit(make_attempt(fail="exception"), outcomes)
            await outcomes.wait_for(1)
            return outcomes

        (_, outcome, _), *_ = run_async(scenario()).calls
        assert outcome.kind == AttemptOutcome.FAILED
        assert outcome.message == "ValueError: contract exception"
        failure = outcome.failure  # None, or what a process boundary rebuilds: a plain retryable failure
        if failure is not None:
            assert str(failure) == outcome.message
            assert (failure.exit_code, failure.status, failure.timed_out, failure.retryable) == (
                None,
                None,
                False,
                True,
            )

    def test_an_awaitable_result_is_awaited(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            closing.submit(make_attempt(value=7, awaitable=True), outcomes)
            await outcomes.wait_for(1)
            return outcomes

        (_, outcome, _), *_ = run_async(scenario()).calls
        assert (outcome.kind, outcome.value) == (AttemptOutcome.SUCCEEDED, 7)

    def test_a_timed_out_attempt_fails_with_timed_out(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            closing.submit(make_attempt(timeout=0.3, sleep=3.0, value="late"), outcomes)
            await outcomes.wait_for(1, within=2.5)  # well before the 3 s call would end by itself
            return outcomes

        outcomes = run_async(scenario())
        (_, outcome, thread) = outcomes.calls[0]
        assert outcome.kind == AttemptOutcome.FAILED, outcome
        assert outcome.failure is not None and outcome.failure.timed_out
        assert thread == threading.get_ident()

    def test_cancel_ends_a_running_attempt_as_cancelled(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            attempt = make_attempt(sleep=3.0, value="late")
            closing.submit(attempt, outcomes)
            await asyncio.sleep(0.2)
            closing.cancel(attempt)
            await outcomes.wait_for(1, within=2.5)
            await asyncio.sleep(0.2)
            return outcomes

        outcomes = run_async(scenario())
        assert [outcome.kind for _, outcome, _ in outcomes.calls] == [AttemptOutcome.CANCELLED]

    def test_cancel_after_the_end_changes_nothing(self, closing: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            attempt = make_attempt(value=1)
            closing.submit(attempt, outcomes)
            await outcomes.wait_for(1)
            closing.cancel(attempt)
            await asyncio.sleep(0.2)
            return outcomes

        outcomes = run_async(scenario())
        assert [(outcome.kind, outcome.value) for _, outcome, _ in outcomes.calls] == [(AttemptOutcome.SUCCEEDED, 1)]

    def test_many_attempts_each_get_exactly_one_outcome(self, closing: AttemptExecutor) -> None:
        attempts = [make_attempt(value=i, fail="exception" if i % 3 == 0 else None) for i in range(40)]

        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            for attempt in attempts:
                closing.submit(attempt, outcomes)
            await outcomes.wait_for(len(attempts))
            await asyncio.sleep(0.2)
            return outcomes

        outcomes = run_async(scenario())
        assert len(outcomes.calls) == len(attempts)
        for i, attempt in enumerate(attempts):
            (outcome,) = outcomes.of(attempt)
            if i % 3 == 0:
                assert outcome.kind == AttemptOutcome.FAILED
            else:
                assert (outcome.kind, outcome.value) == (AttemptOutcome.SUCCEEDED, i)
        assert {thread for _, _, thread in outcomes.calls} == {threading.get_ident()}

    def test_close_after_use_releases_without_error(self, executor: AttemptExecutor) -> None:
        async def scenario() -> Outcomes:
            outcomes = Outcomes()
            executor.submit(make_attempt(value="x"), outcomes)
            await outcomes.wait_for(1)
            return outcomes

        assert run_async(scenario()).calls[0][1].value == "x"
        executor.close()


__all__ = ["EXECUTOR_CONTRACT_VERSION", "AttemptExecutorContract", "ContractWork", "WorkConfig", "make_attempt"]
