"""Plain inline ``python`` calls that never see their context are made without one.

The scheduler asks the task type once per (type, config) of plain tasks for a context-free call
(:meth:`PythonTask.context_free_call`) and then calls it on each attempt without building a
``TaskContext``. Everything a run records must stay as on the path with a context.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.interfaces import RunRequest, TaskContext
from flowrunner import LocalRunner
from flowrunner.tasktypes import PythonTask
from flowrunner.tasktypes.python import PythonConfig


def _run(text: str, task_types: dict[str, Any] | None = None) -> Any:
    import asyncio

    types = task_types or TASK_TYPES
    runner = LocalRunner(types)
    plan = plan_of(text) if task_types is None else _plan(text, types)
    try:
        return asyncio.run(runner.run_async(RunRequest(plan=plan)))
    finally:
        runner.close_workers()


def _plan(text: str, types: dict[str, Any]) -> Any:
    from flowbuilder.compiler import compile_workflow
    from flowbuilder.loader import load_workflow

    source = load_workflow(text, filename="<test>")
    return compile_workflow(source.workflow, types, locator=source.locator)


def test_args_and_kwargs_reach_the_function_on_every_attempt() -> None:
    result = _run("""
name: calls
tasks:
  - {name: joined, type: python, config: {callable: "flowrunner_sample_callables:join", args: [a, b], kwargs: {sep: "-"}}}
  - {name: doubled, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [4]}}
""")
    assert result.succeeded
    assert result.tasks["joined"].output == "a-b"
    assert result.tasks["doubled"].output == 8


def test_a_function_taking_its_context_still_gets_it() -> None:
    result = _run("""
name: context
tasks:
  - {name: first, type: python, config: {callable: "flowrunner_sample_callables:noop"}}
  - {name: seen, type: python, depends_on: [first], config: {callable: "flowrunner_sample_callables:context_seen", pass_context: true}}
""")
    assert result.succeeded
    assert result.tasks["seen"].output == {"task": "seen", "attempt": 1, "inputs": {"first": None}}


def test_a_plain_function_returning_an_awaitable_is_awaited() -> None:
    result = _run("""
name: awaited
tasks:
  - {name: later, type: python, config: {callable: "flowrunner_sample_callables:returns_awaitable"}}
""")
    assert result.succeeded and result.tasks["later"].output == 42


def test_an_unknown_callable_fails_with_the_import_error_as_before() -> None:
    result = _run("""
name: missing
tasks:
  - {name: gone, type: python, config: {callable: "flowrunner_sample_callables:no_such_function"}}
""")
    assert not result.succeeded
    assert "has no attribute 'no_such_function'" in (result.tasks["gone"].error or "")


class CountingPython(PythonTask):
    """A subclass with its own ``run``: the scheduler must call it, not the function directly."""

    name: ClassVar[str] = "python"
    calls: ClassVar[list[str]] = []

    def run(self, config: PythonConfig, context: TaskContext) -> Any:  # type: ignore[override]
        CountingPython.calls.append(context.task)
        return super().run(config, context)


def test_a_subclass_with_its_own_run_is_not_bypassed() -> None:
    CountingPython.calls.clear()
    types = {**TASK_TYPES, "python": CountingPython()}
    result = _run("""
name: subclass
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:noop"}}
  - {name: b, type: python, depends_on: [a], config: {callable: "flowrunner_sample_callables:noop"}}
""", types)  # fmt: skip
    assert result.succeeded
    assert CountingPython.calls == ["a", "b"]


def test_the_config_s_own_list_is_passed_as_on_the_path_with_a_context() -> None:
    """A retried attempt sees what the earlier attempt did to a mutable argument, as ``run`` would."""
    plan_text = """
name: mutable
tasks:
  - {name: grow, type: python, config: {callable: "flowrunner_sample_callables:append_to", args: [[], 7]}}
"""
    plan = plan_of(plan_text)
    config = plan.configs[0]
    call = PythonTask().context_free_call(config)
    assert call is not None
    assert call() == 1 and call() == 2
    assert config.args[0] == [7, 7]
    assert PythonTask().run(config, TaskContext("run", "grow")) == 3


def test_context_free_call_declines_what_needs_a_context_or_fails() -> None:
    task = PythonTask()
    assert (
        task.context_free_call(PythonConfig(callable="flowrunner_sample_callables:context_seen", pass_context=True))
        is None
    )
    assert task.context_free_call(PythonConfig(callable="flowrunner_sample_callables:missing")) is None
    assert CountingPython().context_free_call(PythonConfig(callable="flowrunner_sample_callables:noop")) is None
    from flowrunner_sample_callables import noop

    assert task.context_free_call(PythonConfig(callable="flowrunner_sample_callables:noop")) is noop


class AskCountingPython(PythonTask):
    """Counts how often the scheduler asks for a context-free call (``run`` is PythonTask's own)."""

    name: ClassVar[str] = "python"
    asked: ClassVar[list[str]] = []

    def context_free_call(self, config: PythonConfig) -> Any:
        AskCountingPython.asked.append(config.callable)
        return super().context_free_call(config)


def test_the_type_is_asked_once_per_config_shared_by_equal_tasks_and_each_task_still_runs() -> None:
    """Tasks with equal configs share one validated config: one question for a stretch of them."""
    import asyncio

    from flowrunner_sample_callables import CALLS

    from flowbuilder.compiler import compile_workflow
    from flowbuilder.model import Workflow

    AskCountingPython.asked.clear()
    CALLS.pop("shared", None)
    CALLS.pop("own", None)
    types = {**TASK_TYPES, "python": AskCountingPython()}
    shared = {"callable": "flowrunner_sample_callables:count_call", "args": ["shared"]}
    own = {"callable": "flowrunner_sample_callables:count_call", "args": ["own"]}
    tasks = [
        {"name": "a", "type": "python", "config": shared},
        {"name": "b", "type": "python", "config": dict(shared)},
        {"name": "c", "type": "python", "depends_on": ["a", "b"], "config": shared},
        {"name": "d", "type": "python", "config": own},
    ]
    plan = compile_workflow(Workflow.model_validate({"name": "shared", "tasks": tasks}), types)
    assert len({id(config) for config in plan.configs}) == 2  # the compiler shares equal configs
    runner = LocalRunner(types)
    try:
        result = asyncio.run(runner.run_async(RunRequest(plan=plan)))
    finally:
        runner.close_workers()
    assert result.succeeded
    assert len(AskCountingPython.asked) == 2, AskCountingPython.asked
    assert CALLS["shared"] == 3 and CALLS["own"] == 1
