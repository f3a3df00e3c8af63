"""The Runner contract: what every :class:`flowbuilder.interfaces.Runner` must do.

Subclass :class:`RunnerContract` and give it one fixture, ``make_runner``: a callable
taking a mapping ``task type name -> TaskType instance`` and returning a Runner built
with exactly those types::

    import pytest
    from flowbuilder_contracts import RunnerContract

    class TestMyRunner(RunnerContract):
        @pytest.fixture
        def make_runner(self):
            return lambda task_types: MyRunner(task_types=task_types)

The contract compiles small workflows (YAML strings, through core's loader and compiler)
that use its own task types (:mod:`flowbuilder_contracts.runner_tasks`: ``contract_value``,
``contract_fail``, ``contract_sleep``, ``contract_record``, ``contract_context``) and runs
them with ``run_async`` against a fresh ``memory://`` store.

The semantics every runner implements (each is a test below)
--------------------------------------------------------------

Order and data
    A task starts only after every one of its dependencies succeeded. Its config is rendered
    (``${{ }}``) just before each attempt with ``params`` (the RunRequest's params),
    ``env`` (workflow env overlaid with the task's env), ``tasks.<name>.output`` of the tasks
    it depends on, and ``item`` inside ``foreach``; the rendered config is validated with the
    type's ``config_model`` when the plan kept it raw. ``TaskContext.inputs`` maps each
    *direct* dependency's name to its output; ``TaskContext.env`` is the merged env, its
    expressions rendered (the workflow's ``env`` with ``params`` even for a task that has no
    expression of its own).

Retries and timeouts
    ``retry.attempts`` is the total number of attempts. Each attempt emits ``task_started``
    with ``attempt`` = 1, 2, ...; a failed attempt that will be retried emits
    ``task_retrying`` (attempt = the failed one), the last failure emits ``task_failed``.
    ``retry.retry_on`` limits which failures are retried (``error``, ``timeout``,
    ``exit:N``, ``status:N``/``status:5xx`` against TaskFailure's fields); a TaskFailure with
    ``retryable=False`` is never retried. ``timeout`` limits each attempt: a timed-out
    attempt is cancelled and counts as a failure with ``timed_out`` (matched by
    ``timeout``). Any other exception from a task type fails the attempt with its message.

Conditions and skips
    A task whose ``when`` is false (:func:`flowbuilder.expressions.is_truthy`) is skipped
    (``task_skipped``, a non-empty ``reason``) and never started. Every task that depends on
    a skipped or failed task is skipped too, with a ``reason`` that names that dependency.

Failure policy
    The task's ``on_failure`` (else ``defaults.on_failure``, else the workflow's, default
    ``stop``) decides what a task's final failure does. ``stop``: no task starts after it;
    tasks that had not started are recorded ``task_skipped``; tasks already running may
    finish or be cancelled. ``continue``: branches that do not depend on the failed task
    still run. Either way the run ends ``failed`` when any task failed.

Trigger rules (``run_if``)
    A task's ``run_if`` says which ends of its (direct) dependencies let it start.
    ``all_succeeded`` (the default) is the rule above. The other rules wait until every
    dependency *ended* (succeeded, failed, skipped or cancelled), the task is never skipped
    merely because a dependency failed or was skipped, and then: ``all_done`` and ``always``
    start it; ``any_failed`` starts it when at least one dependency failed or was skipped
    because of a failure further up, and otherwise skips it (``reason`` ``run_if
    any_failed: no dependency failed``). Its ``when`` is then checked as usual, and sees
    the dependencies' ``tasks.<name>.status``. Once started it is an ordinary task: its
    dependents follow the usual rules. After an ``on_failure: stop`` failure, tasks that
    will never start are recorded ``task_skipped`` at once, and every run_if task still
    starts when its dependencies have ended (nothing else starts). After a cancel only
    ``always`` tasks start (each when its dependencies have ended). A cleanup that succeeds
    never changes the run's status: a run where a task failed ends ``failed``; a
    cancelled run ``cancelled``.

Fan-out
    ``foreach`` runs the task once per item (``item`` in expressions and in
    ``TaskContext.item``); the task's output is the list of the items' outputs in item
    order; an empty list gives ``[]`` and the task succeeds. Each item is retried by the
    task's retry policy on its own; the task itself is never retried as a whole.
    ``matrix`` makes the items: the cartesian product of its named lists, each item a
    mapping of every name to one value, the first list varying slowest and the last
    fastest; a product past ``flowbuilder.model.MAX_MATRIX_ITEMS`` fails the task.
    ``on_item_failure: fail_fast`` (the default): the first item that fails for good
    cancels the others, starts no more, and fails the task with an error naming that item
    (position and value). ``continue``: every item runs; once all ended the task fails if
    any failed, its error saying how many and naming them in position order, and (as any
    failed task) records no output.

Cancellation
    Setting the ``cancel`` event passed to ``run_async`` cancels running attempts
    (``task_cancelled``), starts nothing more, and ends the run ``cancelled``.

Events
    When ``run_async`` returns, every event is in ``RunRequest.store`` (if given): numbered
    1..N with no gaps, starting ``run_created`` then ``run_started`` and ending with
    ``run_finished`` whose ``status`` is the result's. Folding them
    (:func:`flowbuilder.events.fold_events`) gives the same status and output for every
    task as :class:`~flowbuilder.interfaces.RunResult`, which lists every task of the plan
    in a finished state. Without ``run_id`` the runner makes a unique one. Each of
    ``RunRequest.sinks`` gets the events in order; a sink that raises is called no more and
    never fails the run (the other sinks still get every event).

Resume
    With ``resume`` (a :class:`~flowbuilder.events.RunState` folded from the store) the
    runner continues that run in the same store under the same ``run_id``: it appends after
    the stored events (no second ``run_created``; ``run_started`` with ``resumed: true``),
    does not run tasks the state records as succeeded and hands their recorded outputs to
    dependents, and runs again any task that had started but not finished (at-least-once),
    as its next attempt number: the attempt a crash cut short counts as one.

Independence
    One runner instance executes several runs at once without their tasks, outputs or
    events mixing.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Callable, Iterator, Mapping, Sequence

import pytest

from flowbuilder.events import EventKind, RunEvent, RunStatus, TaskStatus, fold_events
from flowbuilder.interfaces.runner import Runner, RunRequest, RunResult
from flowbuilder.interfaces.sink import EventSink
from flowbuilder.interfaces.tasktype import TaskType
from flowbuilder.plan import ExecutionPlan
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_contracts._audit import Contract, audit_implementation
from flowbuilder_contracts.runner_tasks import contract_task_types, forget_recording, recording

RUN_TIMEOUT = 60.0
"""Seconds any contract run may take before the test fails (a hang guard, not a benchmark)."""

MakeRunner = Callable[[Mapping[str, TaskType]], Runner]


def with_log(text: str, log: str) -> str:
    """``text`` with ``__LOG__`` replaced by a recording's name (YAML braces stay readable)."""
    return text.replace("__LOG__", log)


def compile_yaml(text: str, task_types: Mapping[str, TaskType] | None = None) -> ExecutionPlan:
    """Load and compile a workflow from YAML text with the given (default: contract) task types."""
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.loader import load_workflow

    source = load_workflow(text, filename="<contract>")
    return compile_workflow(source.workflow, task_types or contract_task_types(), locator=source.locator)


def resolved_params(plan: ExecutionPlan, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    from flowbuilder.params import resolve_params

    return resolve_params(plan.workflow, given or {})


def assert_well_formed(events: list[RunEvent], result: RunResult, plan: ExecutionPlan) -> None:
    """The event-stream rules of the contract, checked against a finished run."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "events must be numbered 1..N"
    assert all(e.run_id == result.run_id for e in events)
    assert events[0].kind is EventKind.RUN_CREATED
    assert events[1].kind is EventKind.RUN_STARTED
    assert sum(e.kind is EventKind.RUN_CREATED for e in events) == 1
    assert events[-1].kind is EventKind.RUN_FINISHED
    assert events[-1].data["status"] == result.status.value
    assert set(result.tasks) == set(plan.names)
    assert all(state.status.finished for state in result.tasks.values()), result.tasks
    folded = fold_events(result.run_id, events)
    assert folded.status is result.status
    for name, state in result.tasks.items():
        assert folded.tasks[name].status is state.status, name
        assert folded.tasks[name].output == state.output, name


class _RaisingSink(EventSink):
    """A sink whose every ``handle`` raises; counts how often it was called."""

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, events: Sequence[RunEvent]) -> None:
        self.calls += 1
        raise RuntimeError("this sink is broken")


class _CollectingSink(EventSink):
    """A sink that keeps every event it is handed."""

    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    def handle(self, events: Sequence[RunEvent]) -> None:
        self.events.extend(events)


async def _gather(runner: Runner, *requests: RunRequest) -> list[RunResult]:
    """Run several requests at once on one runner."""
    return list(await asyncio.gather(*(runner.run_async(request) for request in requests)))


class RunnerContract(Contract):
    """Abstract tests for a Runner; provide ``make_runner``."""

    __contract__ = True

    @pytest.fixture
    def make_runner(self) -> MakeRunner:
        raise NotImplementedError("a RunnerContract subclass must define a `make_runner` fixture")

    @pytest.fixture
    def runner(self, make_runner: MakeRunner) -> Runner:
        return make_runner(contract_task_types())

    @pytest.fixture
    def contract_store(self) -> Iterator[MemoryStore]:
        url = f"memory://contract-runner-{uuid.uuid4().hex}"
        store = MemoryStore.open(url)
        yield store
        store.close()
        MemoryStore.forget(url)

    @pytest.fixture
    def log(self) -> Iterator[str]:
        name = f"log-{uuid.uuid4().hex}"
        yield name
        forget_recording(name)

    def execute(
        self, runner: Runner, store: MemoryStore, text: str, params: Mapping[str, Any] | None = None, **request: Any
    ) -> tuple[RunResult, list[RunEvent], ExecutionPlan]:
        """Compile ``text``, run it to the end and return the result, stored events and plan."""
        plan = compile_yaml(text)
        run_request = RunRequest(plan=plan, params=resolved_params(plan, params), store=store, **request)
        result = asyncio.run(asyncio.wait_for(runner.run_async(run_request), RUN_TIMEOUT))
        events = store.read_events(result.run_id)
        assert_well_formed(events, result, plan)
        return result, events, plan

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_from_settings_with_default_settings_builds_a_working_runner_of_the_same_class(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """``PluginHost.make_runner`` builds every runner through ``from_settings``."""
        from flowbuilder.config import Settings

        built = type(runner).from_settings(contract_task_types(), Settings())
        assert type(built) is type(runner)
        result, _, _ = self.execute(
            built, contract_store, "name: s\ntasks:\n  - {name: a, type: contract_value, config: {value: 7}}\n"
        )
        assert result.output("a") == 7

    # -- order and data -------------------------------------------------------------------

    def test_a_single_task_runs_and_its_output_is_the_result(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: one
tasks:
  - {name: a, type: contract_value, config: {value: {answer: 42}}}
""",
        )
        assert result.status is RunStatus.SUCCEEDED and result.succeeded
        assert result.tasks["a"].status is TaskStatus.SUCCEEDED
        assert result.output("a") == {"answer": 42}

    def test_every_task_starts_only_after_all_its_dependencies_succeeded(
        self, runner: Runner, contract_store: MemoryStore, log: str
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            with_log(
                """
name: diamond
tasks:
  - {name: a, type: contract_record, config: {log: __LOG__, sleep: 0.02}}
  - {name: b, type: contract_record, depends_on: [a], config: {log: __LOG__, sleep: 0.05}}
  - {name: c, type: contract_record, depends_on: [a], config: {log: __LOG__}}
  - {name: d, type: contract_record, depends_on: [b, c], config: {log: __LOG__}}
  - {name: e, type: contract_record, depends_on: [d], config: {log: __LOG__}}
""",
                log,
            ),
        )
        assert result.succeeded
        order = [(event, task) for event, task, _ in recording(log)]
        position = {entry: index for index, entry in enumerate(order)}
        for task, needs in {"b": "a", "c": "a", "d": "bc", "e": "d"}.items():
            for dependency in needs:
                assert position[("end", dependency)] < position[("start", task)], order
        assert len(order) == 10

    def test_outputs_reach_dependents_through_expressions(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: flow
tasks:
  - {name: a, type: contract_value, config: {value: {rows: [1, 2, 3]}}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: "${{ tasks.a.output.rows | length }}", mode: async}}
  - {name: c, type: contract_value, depends_on: [b], config: {value: "got ${{ tasks.b.output }} rows"}}
""",
        )
        assert result.output("b") == 3
        assert result.output("c") == "got 3 rows"

    def test_the_context_carries_inputs_of_direct_dependencies_params_and_merged_env(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: context
params:
  who: {type: string, default: world}
env: {SHARED: workflow, ONLY_WF: "1"}
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: 2}}
  - name: c
    type: contract_context
    depends_on: [b]
    env: {SHARED: task}
""",
            params={"who": "contract"},
        )
        seen = result.output("c")
        assert seen["inputs"] == {"b": 2}
        assert seen["params"] == {"who": "contract"}
        assert seen["env"]["SHARED"] == "task" and seen["env"]["ONLY_WF"] == "1"
        assert seen["attempt"] == 1 and seen["task"] == "c"

    def test_workflow_env_expressions_are_rendered_for_tasks_without_expressions(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """The workflow's env is rendered with params even for a task that has no expression itself."""
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: env
params:
  who: {type: string, default: world}
env: {WHO: "hello ${{ params.who }}", SHARED: workflow}
tasks:
  - {name: plain, type: contract_context}
  - {name: own, type: contract_context, env: {SHARED: "task of ${{ params.who }}"}}
""",
            params={"who": "contract"},
        )
        assert result.output("plain")["env"] == {"WHO": "hello contract", "SHARED": "workflow"}
        assert result.output("own")["env"] == {"WHO": "hello contract", "SHARED": "task of contract"}

    def test_params_reach_expressions(self, runner: Runner, contract_store: MemoryStore) -> None:
        text = """
name: params
params:
  n: {type: integer, default: 2}
tasks:
  - {name: a, type: contract_value, config: {value: "${{ params.n * 10 }}"}}
"""
        assert self.execute(runner, contract_store, text)[0].output("a") == 20
        assert self.execute(runner, contract_store, text, params={"n": "5"})[0].output("a") == 50

    def test_a_run_without_a_run_id_gets_a_unique_one(self, runner: Runner, contract_store: MemoryStore) -> None:
        text = "name: ids\ntasks:\n  - {name: a, type: contract_value}\n"
        first = self.execute(runner, contract_store, text)[0]
        second = self.execute(runner, contract_store, text)[0]
        assert first.run_id and second.run_id and first.run_id != second.run_id

    def test_a_given_run_id_is_used(self, runner: Runner, contract_store: MemoryStore) -> None:
        text = "name: ids\ntasks:\n  - {name: a, type: contract_value}\n"
        result, events, _ = self.execute(runner, contract_store, text, run_id="chosen-id")
        assert result.run_id == "chosen-id" and events[0].run_id == "chosen-id"

    def test_run_created_records_the_workflow_and_params(self, runner: Runner, contract_store: MemoryStore) -> None:
        _, events, _ = self.execute(
            runner,
            contract_store,
            """
name: recorded
version: "2.5"
params:
  n: {type: integer, default: 7}
tasks:
  - {name: a, type: contract_value}
""",
        )
        data = events[0].data
        assert data["workflow"] == "recorded" and data["version"] == "2.5" and data["params"] == {"n": 7}

    def test_a_run_without_a_store_still_runs(self, runner: Runner) -> None:
        plan = compile_yaml("name: bare\ntasks:\n  - {name: a, type: contract_value, config: {value: x}}\n")
        request = RunRequest(plan=plan, params={})
        result = asyncio.run(asyncio.wait_for(runner.run_async(request), RUN_TIMEOUT))
        assert result.succeeded and result.output("a") == "x"

    def test_run_executes_from_synchronous_code(self, runner: Runner, contract_store: MemoryStore) -> None:
        plan = compile_yaml(
            "name: sync\ntasks:\n  - {name: a, type: contract_sleep, config: {seconds: 0.01, value: 1}}\n"
        )
        result = runner.run(RunRequest(plan=plan, params={}, store=contract_store))
        assert result.succeeded and result.output("a") == 1

    # -- retries and timeouts -------------------------------------------------------------

    def test_a_failing_task_is_retried_until_it_succeeds(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: retry
tasks:
  - name: flaky
    type: contract_fail
    config: {failures: 2, value: ok}
    retry: {attempts: 3, backoff: 0.01, jitter: 0}
""",
        )
        assert result.succeeded and result.output("flaky") == "ok"
        assert result.tasks["flaky"].attempts == 3
        started = [e.attempt for e in events if e.kind is EventKind.TASK_STARTED]
        retrying = [e.attempt for e in events if e.kind is EventKind.TASK_RETRYING]
        assert started == [1, 2, 3] and retrying == [1, 2]
        assert not any(e.kind is EventKind.TASK_FAILED for e in events)

    def test_a_task_failing_every_attempt_fails_after_the_last(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: retry
tasks:
  - name: broken
    type: contract_fail
    config: {error: "disk on fire"}
    retry: {attempts: 2, backoff: 0.01, jitter: 0}
""",
        )
        assert result.status is RunStatus.FAILED
        state = result.tasks["broken"]
        assert state.status is TaskStatus.FAILED and state.attempts == 2
        assert "disk on fire" in (state.error or "")
        assert [e.attempt for e in events if e.kind is EventKind.TASK_FAILED] == [2]

    def test_without_retry_a_task_gets_one_attempt(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, events, _ = self.execute(
            runner, contract_store, "name: once\ntasks:\n  - {name: a, type: contract_fail}\n"
        )
        assert result.tasks["a"].attempts == 1
        assert [e.attempt for e in events if e.kind is EventKind.TASK_STARTED] == [1]

    def test_retry_on_retries_only_matching_failures(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: retry-on
on_failure: continue
tasks:
  - name: matching
    type: contract_fail
    config: {failures: 1, exit_code: 3}
    retry: {attempts: 3, backoff: 0.01, jitter: 0, retry_on: ["exit:3"]}
  - name: other
    type: contract_fail
    config: {failures: 1, exit_code: 4}
    retry: {attempts: 3, backoff: 0.01, jitter: 0, retry_on: ["exit:3", timeout]}
""",
        )
        assert result.tasks["matching"].status is TaskStatus.SUCCEEDED and result.tasks["matching"].attempts == 2
        assert result.tasks["other"].status is TaskStatus.FAILED and result.tasks["other"].attempts == 1

    def test_a_non_retryable_failure_is_not_retried(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: final
tasks:
  - name: a
    type: contract_fail
    config: {failures: 1, retryable: false}
    retry: {attempts: 3, backoff: 0.01, jitter: 0}
""",
        )
        assert result.tasks["a"].status is TaskStatus.FAILED and result.tasks["a"].attempts == 1

    def test_an_unexpected_exception_fails_the_attempt_with_its_message(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: bug
tasks:
  - {name: a, type: contract_fail, config: {plain_exception: true, error: "a bug in the type"}}
""",
        )
        assert result.status is RunStatus.FAILED
        assert "a bug in the type" in (result.tasks["a"].error or "")

    def test_a_timed_out_attempt_fails(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: slow
tasks:
  - {name: a, type: contract_sleep, timeout: 0.2, config: {seconds: 30}}
""",
        )
        assert result.tasks["a"].status is TaskStatus.FAILED and result.tasks["a"].attempts == 1

    def test_a_timed_out_attempt_is_retried_when_timeouts_are_retried(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: slow
tasks:
  - name: a
    type: contract_sleep
    timeout: 0.2
    config: {seconds: 30}
    retry: {attempts: 2, backoff: 0.01, jitter: 0, retry_on: [timeout]}
""",
        )
        assert result.tasks["a"].status is TaskStatus.FAILED and result.tasks["a"].attempts == 2
        assert [e.attempt for e in events if e.kind is EventKind.TASK_RETRYING] == [1]

    def test_the_timeout_of_defaults_applies_to_every_task(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: defaults
defaults: {timeout: 0.2}
tasks:
  - {name: a, type: contract_sleep, config: {seconds: 30}}
""",
        )
        assert result.tasks["a"].status is TaskStatus.FAILED

    # -- conditions and skips -------------------------------------------------------------

    def test_a_false_when_skips_the_task_and_its_dependents(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: when
params:
  go: {type: boolean, default: false}
tasks:
  - {name: gate, type: contract_value, when: "${{ params.go }}"}
  - {name: after, type: contract_value, depends_on: [gate]}
  - {name: later, type: contract_value, depends_on: [after]}
  - {name: free, type: contract_value}
""",
        )
        assert result.tasks["gate"].status is TaskStatus.SKIPPED and result.tasks["gate"].reason
        assert result.tasks["after"].status is TaskStatus.SKIPPED and "gate" in (result.tasks["after"].reason or "")
        assert result.tasks["later"].status is TaskStatus.SKIPPED and "after" in (result.tasks["later"].reason or "")
        assert result.tasks["free"].status is TaskStatus.SUCCEEDED
        assert not any(e.kind is EventKind.TASK_STARTED and e.task in ("gate", "after", "later") for e in events)
        assert result.status is RunStatus.SUCCEEDED

    def test_a_true_when_runs_the_task(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: when
tasks:
  - {name: a, type: contract_value, config: {value: "yes"}}
  - {name: b, type: contract_value, depends_on: [a], when: "${{ tasks.a.output == 'yes' }}", config: {value: ran}}
""",
        )
        assert result.output("b") == "ran"

    def test_dependents_of_a_failed_task_are_skipped_naming_it(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: fail
tasks:
  - {name: broken, type: contract_fail}
  - {name: needs_it, type: contract_value, depends_on: [broken]}
""",
        )
        assert result.status is RunStatus.FAILED
        assert result.tasks["needs_it"].status is TaskStatus.SKIPPED
        assert "broken" in (result.tasks["needs_it"].reason or "")
        assert not any(e.kind is EventKind.TASK_STARTED and e.task == "needs_it" for e in events)

    # -- failure policy -------------------------------------------------------------------

    def test_on_failure_stop_starts_nothing_after_a_failure(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: stop
on_failure: stop
tasks:
  - {name: broken, type: contract_fail}
  - {name: slow, type: contract_sleep, config: {seconds: 0.3}}
  - {name: after_slow, type: contract_value, depends_on: [slow]}
""",
        )
        assert result.status is RunStatus.FAILED
        assert result.tasks["after_slow"].status is TaskStatus.SKIPPED
        assert not any(e.kind is EventKind.TASK_STARTED and e.task == "after_slow" for e in events)
        assert result.tasks["slow"].status in (TaskStatus.SUCCEEDED, TaskStatus.CANCELLED)

    def test_stop_is_the_default_policy(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: default-stop
tasks:
  - {name: broken, type: contract_fail}
  - {name: slow, type: contract_sleep, config: {seconds: 0.3}}
  - {name: after_slow, type: contract_value, depends_on: [slow]}
""",
        )
        assert result.tasks["after_slow"].status is TaskStatus.SKIPPED

    def test_on_failure_continue_runs_independent_branches(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: continue
on_failure: continue
tasks:
  - {name: broken, type: contract_fail}
  - {name: needs_broken, type: contract_value, depends_on: [broken]}
  - {name: slow, type: contract_sleep, config: {seconds: 0.3, value: 1}}
  - {name: after_slow, type: contract_value, depends_on: [slow], config: {value: 2}}
""",
        )
        assert result.status is RunStatus.FAILED
        assert result.tasks["needs_broken"].status is TaskStatus.SKIPPED
        assert result.output("after_slow") == 2

    def test_a_task_level_on_failure_overrides_the_workflows(self, runner: Runner, contract_store: MemoryStore) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: override
on_failure: stop
tasks:
  - {name: broken, type: contract_fail, on_failure: continue}
  - {name: slow, type: contract_sleep, config: {seconds: 0.3}}
  - {name: after_slow, type: contract_value, depends_on: [slow], config: {value: 2}}
""",
        )
        assert result.status is RunStatus.FAILED
        assert result.output("after_slow") == 2

    # -- trigger rules (run_if) -----------------------------------------------------------

    @pytest.mark.parametrize("rule", ["all_done", "any_failed", "always"])
    def test_a_run_if_task_runs_after_a_failure_once_every_dependency_ended(
        self, runner: Runner, contract_store: MemoryStore, rule: str
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            f"""
name: run-if
on_failure: continue
tasks:
  - {{name: broken, type: contract_fail}}
  - {{name: needs_broken, type: contract_value, depends_on: [broken]}}
  - {{name: slow, type: contract_sleep, config: {{seconds: 0.2}}}}
  - {{name: cleanup, type: contract_value, depends_on: [needs_broken, slow], run_if: {rule},
     config: {{value: cleaned}}}}
  - {{name: after_cleanup, type: contract_value, depends_on: [cleanup], config: {{value: 9}}}}
""",
        )
        assert result.status is RunStatus.FAILED, "a succeeded cleanup does not hide the failure"
        assert result.tasks["needs_broken"].status is TaskStatus.SKIPPED
        assert result.output("cleanup") == "cleaned"
        assert result.output("after_cleanup") == 9
        slow_ended = next(e.seq for e in events if e.kind is EventKind.TASK_SUCCEEDED and e.task == "slow")
        cleanup_started = next(e.seq for e in events if e.kind is EventKind.TASK_STARTED and e.task == "cleanup")
        assert slow_ended < cleanup_started, "it waits for every dependency"

    def test_any_failed_is_skipped_when_nothing_failed_and_all_done_runs(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: nothing-failed
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: alert, type: contract_value, depends_on: [a], run_if: any_failed, config: {value: 2}}
  - {name: tidy, type: contract_value, depends_on: [a], run_if: all_done, config: {value: 3}}
""",
        )
        assert result.status is RunStatus.SUCCEEDED
        assert result.tasks["alert"].status is TaskStatus.SKIPPED
        assert "any_failed" in (result.tasks["alert"].reason or "")
        assert not any(e.kind is EventKind.TASK_STARTED and e.task == "alert" for e in events)
        assert result.output("tidy") == 3

    def test_a_run_stopped_by_a_failure_still_runs_its_cleanup(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: stop-then-clean
on_failure: stop
concurrency: 1
tasks:
  - {name: setup, type: contract_value, config: {value: 1}}
  - {name: broken, type: contract_fail, depends_on: [setup], priority: 10}
  - {name: never, type: contract_value, depends_on: [setup]}
  - {name: cleanup, type: contract_value, depends_on: [broken, never], run_if: always, config: {value: done}}
  - {name: after_cleanup, type: contract_value, depends_on: [cleanup]}
""",
        )
        assert result.status is RunStatus.FAILED
        assert result.tasks["never"].status is TaskStatus.SKIPPED
        assert result.output("cleanup") == "done"
        assert result.tasks["after_cleanup"].status is TaskStatus.SKIPPED, "a stopped run starts only run_if tasks"
        started = [e.task for e in events if e.kind is EventKind.TASK_STARTED]
        assert "never" not in started and "after_cleanup" not in started

    def test_a_cancelled_run_starts_only_its_always_tasks(self, runner: Runner, contract_store: MemoryStore) -> None:
        plan = compile_yaml("""
name: cancel-then-clean
tasks:
  - {name: sleepy, type: contract_sleep, config: {seconds: 120}}
  - {name: cleanup, type: contract_value, depends_on: [sleepy], run_if: always, config: {value: done}}
  - {name: report, type: contract_value, depends_on: [sleepy], run_if: all_done}
""")
        request = RunRequest(plan=plan, params={}, store=contract_store, run_id="cancel-clean")

        async def run_then_cancel() -> RunResult:
            cancel = asyncio.Event()
            running = asyncio.ensure_future(runner.run_async(request, cancel))
            while not any(e.kind is EventKind.TASK_STARTED for e in contract_store.read_events("cancel-clean")):
                if running.done():
                    return running.result()
                await asyncio.sleep(0.01)
            cancel.set()
            return await running

        result = asyncio.run(asyncio.wait_for(run_then_cancel(), RUN_TIMEOUT))
        events = contract_store.read_events("cancel-clean")
        assert_well_formed(events, result, plan)
        assert result.status is RunStatus.CANCELLED
        assert result.output("cleanup") == "done"
        assert result.tasks["report"].status is TaskStatus.SKIPPED
        assert not any(e.kind is EventKind.TASK_STARTED and e.task == "report" for e in events)

    # -- fan-out --------------------------------------------------------------------------

    def test_foreach_output_is_the_list_of_item_outputs_in_order(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - {name: each, type: contract_value, foreach: [3, 1, 2], config: {value: "${{ item * 10 }}", mode: async}}
""",
        )
        assert result.output("each") == [30, 10, 20]

    def test_foreach_over_an_upstream_output(self, runner: Runner, contract_store: MemoryStore, log: str) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            with_log(
                """
name: fanout
tasks:
  - {name: src, type: contract_value, config: {value: [a, b, c]}}
  - name: each
    type: contract_record
    depends_on: [src]
    foreach: {items: "${{ tasks.src.output }}", max_parallel: 2}
    config: {log: __LOG__, value: "item ${{ item }}"}
  - {name: after, type: contract_value, depends_on: [each], config: {value: "${{ tasks.each.output | length }}"}}
""",
                log,
            ),
        )
        assert result.output("each") == ["item a", "item b", "item c"]
        assert result.output("after") == 3
        assert sorted(item for event, _, item in recording(log) if event == "start") == ["a", "b", "c"]

    def test_foreach_over_an_empty_list_succeeds_with_an_empty_output(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - {name: each, type: contract_value, foreach: [], config: {value: "${{ item }}"}}
""",
        )
        assert result.tasks["each"].status is TaskStatus.SUCCEEDED and result.output("each") == []

    def test_foreach_fail_fast_starts_no_item_after_the_first_that_fails(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - name: each
    type: contract_fail
    foreach: {items: [0, 1, 0, 1], max_parallel: 1}
    config: {failures: "${{ item }}", value: "${{ item }}", error: boom}
  - {name: after, type: contract_value, depends_on: [each], config: {value: 1}}
""",
        )
        state = result.tasks["each"]
        assert result.status is RunStatus.FAILED and state.status is TaskStatus.FAILED
        assert "item 1 (1) failed: boom" in (state.error or "")
        assert "item 3" not in (state.error or "")  # one at a time: item 3 never started
        assert result.tasks["after"].status is TaskStatus.SKIPPED

    def test_foreach_continue_runs_every_item_then_fails_naming_the_failed_ones(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - name: each
    type: contract_fail
    foreach: {items: [0, 1, 0, 1], max_parallel: 1, on_item_failure: continue}
    config: {failures: "${{ item }}", value: "${{ item }}", error: boom}
  - {name: after, type: contract_value, depends_on: [each], config: {value: 1}}
""",
        )
        state = result.tasks["each"]
        assert result.status is RunStatus.FAILED and state.status is TaskStatus.FAILED
        error = state.error or ""
        assert "2 of 4 items failed" in error
        assert error.index("item 1 (1)") < error.index("item 3 (1)")
        assert state.attempts == 1 and state.output is None
        assert result.tasks["after"].status is TaskStatus.SKIPPED

    def test_foreach_continue_retries_each_item_and_succeeds_when_all_do(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - name: each
    type: contract_fail
    foreach: {items: [1, 0, 1], on_item_failure: continue}
    config: {failures: "${{ item }}", value: "${{ item }}"}
    retry: {attempts: 2, backoff: 0.01, jitter: 0}
""",
        )
        assert result.succeeded and result.output("each") == [1, 0, 1]

    def test_foreach_matrix_is_the_product_with_the_last_list_varying_fastest(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: fanout
tasks:
  - {name: src, type: contract_value, config: {value: ["3.11", "3.12"]}}
  - name: each
    type: contract_value
    depends_on: [src]
    foreach: {matrix: {os: [linux, mac], py: "${{ tasks.src.output }}"}}
    config: {value: "${{ item.os }}-${{ item.py }}", mode: async}
""",
        )
        assert result.output("each") == ["linux-3.11", "linux-3.12", "mac-3.11", "mac-3.12"], result.tasks["each"]

    def test_foreach_matrix_past_its_bound_fails_the_task(self, runner: Runner, contract_store: MemoryStore) -> None:
        from flowbuilder.model import MAX_MATRIX_ITEMS

        result, _, _ = self.execute(
            runner,
            contract_store,
            f"""
name: fanout
tasks:
  - {{name: src, type: contract_value, config: {{value: {list(range(MAX_MATRIX_ITEMS // 2 + 1))}}}}}
  - name: each
    type: contract_value
    depends_on: [src]
    foreach: {{matrix: {{a: [1, 2], b: "${{{{ tasks.src.output }}}}"}}}}
    config: {{value: 1}}
""",
        )
        state = result.tasks["each"]
        assert state.status is TaskStatus.FAILED and state.attempts == 1
        assert f"more than {MAX_MATRIX_ITEMS:,}" in (state.error or "")

    # -- event sinks ----------------------------------------------------------------------

    def test_a_raising_sink_is_dropped_and_the_run_goes_on(self, runner: Runner, contract_store: MemoryStore) -> None:
        """EventSink's promise: a sink that raises is called no more and never fails the run."""
        broken, healthy = _RaisingSink(), _CollectingSink()
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: sinks
tasks:
  - {name: a, type: contract_sleep, config: {seconds: 0.02, value: 1}}
  - {name: b, type: contract_sleep, depends_on: [a], config: {seconds: 0.02, value: 2}}
  - {name: c, type: contract_value, depends_on: [b], config: {value: 3}}
""",
            sinks=[broken, healthy],
        )
        assert result.status is RunStatus.SUCCEEDED and result.output("c") == 3
        assert broken.calls == 1, "a sink that raised must be dropped for the rest of the run"
        assert [e.seq for e in healthy.events] == [e.seq for e in events], "the other sinks get every event"

    # -- cancellation ---------------------------------------------------------------------

    def test_cancelling_a_run_stops_it_and_starts_nothing_more(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        plan = compile_yaml("""
name: cancel
tasks:
  - {name: sleepy, type: contract_sleep, config: {seconds: 120}}
  - {name: after, type: contract_value, depends_on: [sleepy]}
""")
        request = RunRequest(plan=plan, params={}, store=contract_store, run_id="cancel-me")

        async def run_then_cancel() -> RunResult:
            cancel = asyncio.Event()
            running = asyncio.ensure_future(runner.run_async(request, cancel))
            while not any(e.kind is EventKind.TASK_STARTED for e in contract_store.read_events("cancel-me")):
                if running.done():  # ended before its task started: surface its result or error
                    return running.result()
                await asyncio.sleep(0.01)
            cancel.set()
            return await running

        result = asyncio.run(asyncio.wait_for(run_then_cancel(), RUN_TIMEOUT))
        events = contract_store.read_events("cancel-me")
        assert_well_formed(events, result, plan)
        assert result.status is RunStatus.CANCELLED
        assert result.tasks["sleepy"].status is TaskStatus.CANCELLED
        assert result.tasks["after"].status in (TaskStatus.SKIPPED, TaskStatus.CANCELLED)
        assert not any(e.kind is EventKind.TASK_STARTED and e.task == "after" for e in events)

    # -- resume ---------------------------------------------------------------------------

    def _first_run(self, store: MemoryStore, run_id: str, plan: ExecutionPlan, finished: bool) -> None:
        """Write the events of an interrupted first run: ``a`` succeeded (or only started)."""
        events = [
            RunEvent(
                run_id, 1, EventKind.RUN_CREATED, data={"workflow": plan.workflow.name, "version": "1", "params": {}}
            ),
            RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "contract", "resumed": False}),
            RunEvent(run_id, 3, EventKind.TASK_STARTED, task="a", attempt=1),
        ]
        if finished:
            events.append(
                RunEvent(
                    run_id,
                    4,
                    EventKind.TASK_SUCCEEDED,
                    task="a",
                    attempt=1,
                    data={"output": "from the first run", "duration": 0.0},
                )
            )
        store.append_events(run_id, events, 0)

    def test_resume_does_not_rerun_succeeded_tasks_and_reuses_their_outputs(
        self, runner: Runner, contract_store: MemoryStore, log: str
    ) -> None:
        text = with_log(
            """
name: resumable
tasks:
  - {name: a, type: contract_record, config: {log: __LOG__, value: fresh}}
  - {name: b, type: contract_record, depends_on: [a], config: {log: __LOG__, value: "b saw ${{ tasks.a.output }}"}}
""",
            log,
        )
        plan = compile_yaml(text)
        self._first_run(contract_store, "resumed-run", plan, finished=True)
        state = contract_store.load_state("resumed-run")
        result, events, _ = self.execute(runner, contract_store, text, run_id="resumed-run", resume=state)
        assert result.succeeded
        assert result.output("a") == "from the first run"
        assert result.output("b") == "b saw from the first run"
        assert [task for event, task, _ in recording(log) if event == "start"] == ["b"]
        restarted = [e for e in events[4:] if e.kind is EventKind.RUN_STARTED]
        assert len(restarted) == 1 and restarted[0].data.get("resumed") is True

    def test_resume_runs_again_a_task_that_started_but_did_not_finish(
        self, runner: Runner, contract_store: MemoryStore, log: str
    ) -> None:
        text = with_log(
            """
name: resumable
tasks:
  - {name: a, type: contract_record, config: {log: __LOG__, value: second}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: "${{ tasks.a.output }}"}}
""",
            log,
        )
        plan = compile_yaml(text)
        self._first_run(contract_store, "crashed-run", plan, finished=False)
        state = contract_store.load_state("crashed-run")
        result, _, _ = self.execute(runner, contract_store, text, run_id="crashed-run", resume=state)
        assert result.succeeded and result.output("b") == "second"
        assert [task for event, task, _ in recording(log) if event == "start"] == ["a"]

    def test_resume_numbers_the_rerun_of_an_interrupted_task_as_its_next_attempt(
        self, runner: Runner, contract_store: MemoryStore, log: str
    ) -> None:
        """No second ``task_started`` for attempt 1: the interrupted attempt keeps its number."""
        text = with_log(
            """
name: resumable
tasks:
  - {name: a, type: contract_record, config: {log: __LOG__, value: second}}
""",
            log,
        )
        plan = compile_yaml(text)
        self._first_run(contract_store, "renumbered-run", plan, finished=False)
        state = contract_store.load_state("renumbered-run")
        result, events, _ = self.execute(runner, contract_store, text, run_id="renumbered-run", resume=state)
        assert result.succeeded and result.tasks["a"].attempts == 2
        assert [e.attempt for e in events if e.kind is EventKind.TASK_STARTED and e.task == "a"] == [1, 2]

    # -- independence ---------------------------------------------------------------------

    def test_two_concurrent_runs_on_one_runner_are_independent(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        plan = compile_yaml("""
name: twins
params:
  tag: {type: string}
tasks:
  - {name: a, type: contract_sleep, config: {seconds: 0.05, value: "${{ params.tag }}"}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: "${{ tasks.a.output }}-b"}}
""")

        left_request = RunRequest(plan=plan, params={"tag": "left"}, store=contract_store, run_id="twin-left")
        right_request = RunRequest(plan=plan, params={"tag": "right"}, store=contract_store, run_id="twin-right")
        left, right = asyncio.run(asyncio.wait_for(_gather(runner, left_request, right_request), RUN_TIMEOUT))
        assert left.output("b") == "left-b" and right.output("b") == "right-b"
        for result in (left, right):
            assert_well_formed(contract_store.read_events(result.run_id), result, plan)

    def test_a_task_with_expressions_is_rendered_by_its_types_render_config(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """``TaskType.render_config`` decides how an attempt's config is rendered (shell quotes)."""
        result, _, _ = self.execute(
            runner,
            contract_store,
            """
name: rendered
params:
  word: {type: string}
tasks:
  - {name: a, type: contract_render, config: {text: "${{ params.word }}"}}
""",
            {"word": "hi"},
        )
        assert result.output("a") == "<hi>"

    # -- state machines (issue 11, item 9) ------------------------------------------------

    def test_a_state_machine_runs_only_the_actions_of_the_states_it_enters(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """A ``states:`` plan is not a DAG of all its tasks: actions run when their state is entered."""
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: machine
initial: first
states:
  - {name: first, on_enter: [a], transitions: [{outcome: succeeded, to: second}]}
  - {name: second, on_enter: [b], transitions: [{outcome: succeeded, to: done, guard: "${{ tasks.b.output == 2 }}"},
                                                {outcome: succeeded, to: elsewhere}]}
  - {name: done, final: true}
  - {name: elsewhere, on_enter: [never], final: true}
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, config: {value: 2}}
  - {name: never, type: contract_value, config: {value: 3}}
""",
        )
        assert result.status is RunStatus.SUCCEEDED
        entered = [e.data["state"] for e in events if e.kind is EventKind.STATE_ENTERED]
        assert entered == ["first", "second", "done"]
        started = [e.task for e in events if e.kind is EventKind.TASK_STARTED]
        assert started == ["a", "b"], "the actions of a state start after it is entered, and no others"
        first_b = next(e.seq for e in events if e.kind is EventKind.TASK_STARTED and e.task == "b")
        second = next(e.seq for e in events if e.kind is EventKind.STATE_ENTERED and e.data["state"] == "second")
        assert second < first_b
        assert fold_events(result.run_id, events).machine is not None

    def test_a_failed_action_compensates_completed_states_newest_first_and_fails_the_run(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        result, events, _ = self.execute(
            runner,
            contract_store,
            """
name: saga
initial: one
states:
  - {name: one, on_enter: [do_one], compensate: [undo_one], transitions: [{outcome: succeeded, to: two}]}
  - {name: two, on_enter: [do_two], compensate: [undo_two], transitions: [{outcome: succeeded, to: three}]}
  - {name: three, on_enter: [do_three], transitions: [{outcome: succeeded, to: end}]}
  - {name: end, final: true}
tasks:
  - {name: do_one, type: contract_value}
  - {name: undo_one, type: contract_value}
  - {name: do_two, type: contract_value}
  - {name: undo_two, type: contract_value}
  - {name: do_three, type: contract_fail}
""",
        )
        assert result.status is RunStatus.FAILED
        undone = [e.task for e in events if e.kind is EventKind.TASK_SUCCEEDED and (e.task or "").startswith("undo")]
        assert undone == ["undo_two", "undo_one"]
        [taken] = [e for e in events if e.kind is EventKind.TRANSITION_TAKEN and e.data["from"] == "three"]
        assert taken.data["to"] is None and taken.data["compensate"] == ["two", "one"]

    # -- lifetime -------------------------------------------------------------------------

    def test_warm_starts_nothing_may_repeat_and_the_runner_runs_afterwards(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """``Engine.warm()`` calls ``warm`` once at start-up: it loads, but starts no thread or
        process (a warmed runner that never runs costs nothing to close)."""
        import multiprocessing
        import threading

        threads, children = threading.active_count(), len(multiprocessing.active_children())
        runner.warm()
        runner.warm()
        assert threading.active_count() <= threads and len(multiprocessing.active_children()) <= children
        text = "name: w\ntasks:\n  - {name: a, type: contract_value, config: {value: 5}}\n"
        result, _, _ = self.execute(runner, contract_store, text)
        assert result.output("a") == 5
        runner.close()

    def test_close_is_idempotent_and_the_runner_runs_again_afterwards(
        self, runner: Runner, contract_store: MemoryStore
    ) -> None:
        """Run services call ``close`` when done; the runner starts what it needs again on demand."""
        text = "name: c\ntasks:\n  - {name: a, type: contract_value, config: {value: 3}}\n"
        self.execute(runner, contract_store, text)
        runner.close()
        runner.close()
        result, _, _ = self.execute(runner, contract_store, text)
        assert result.output("a") == 3
        runner.close()


__all__ = ["MakeRunner", "RUN_TIMEOUT", "RunnerContract", "assert_well_formed", "compile_yaml", "resolved_params"]
