"""Output size limits: a task whose output is too big fails alone; nothing crashes or is lost."""

from __future__ import annotations

import asyncio

import pytest
from flowrunner_helpers import TASK_TYPES, plan_of

from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.events import RunStatus, TaskStatus
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.params import resolve_params
from flowrunner import LocalRunner
from flowrunner._outputs import byte_count, output_size

BIG_OUTPUTS = """
name: big
on_failure: continue
tasks:
  - {name: small, type: python, config: {callable: "builtins:str", args: ["x"]}}
  - {name: text, type: python, config: {callable: "builtins:str", args: ["${{ 'a' * 3000 }}"]}}
  - {name: listed, type: python, config: {callable: "builtins:list", args: ["${{ 'b' * 3000 }}"]}}
  - {name: after, type: shell, depends_on: [text], config: {command: "echo never"}}
"""


def run_with(text: str, **limits: int) -> RunResult:
    plan = plan_of(text)
    runner = LocalRunner(TASK_TYPES, **limits)
    try:
        request = RunRequest(plan=plan, params=resolve_params(plan.workflow, {}))
        return asyncio.run(asyncio.wait_for(runner.run_async(request), 60))
    finally:
        runner.close_workers()


def test_an_output_over_max_output_bytes_fails_its_task_with_the_sizes_and_skips_its_dependents() -> None:
    result = run_with(BIG_OUTPUTS, max_output_bytes=2000)
    assert result.tasks["small"].status is TaskStatus.SUCCEEDED
    for name in ("text", "listed"):
        assert result.tasks[name].status is TaskStatus.FAILED
        assert "over the limit of 2.0 KiB per output (max_output_bytes)" in (result.tasks[name].error or "")
    assert result.tasks["after"].status is TaskStatus.SKIPPED
    assert result.status is RunStatus.FAILED


def test_outputs_within_the_limits_pass_untouched() -> None:
    result = run_with(BIG_OUTPUTS, max_output_bytes=100_000, max_run_output_bytes=100_000)
    assert result.succeeded
    assert result.output("text") == "a" * 3000


def test_the_output_that_takes_a_run_past_max_run_output_bytes_fails_and_earlier_ones_stand() -> None:
    tasks = "\n".join(
        f"  - {{name: t{i}, type: python, depends_on: [{f't{i - 1}' if i else ''}],"
        f" config: {{callable: 'builtins:str', args: [\"${{{{ 'c' * 400 }}}}\"]}}}}"
        for i in range(5)
    )
    result = run_with(f"name: chain\ntasks:\n{tasks}\n", max_run_output_bytes=1000)
    assert [result.tasks[f"t{i}"].status for i in range(3)] == [TaskStatus.SUCCEEDED, TaskStatus.SUCCEEDED,
                                                                TaskStatus.FAILED]  # fmt: skip
    assert "past 1000 bytes (max_run_output_bytes)" in (result.tasks["t2"].error or "")
    assert result.output("t1") == "c" * 400


def test_sizes_count_text_by_its_utf8_bytes_and_containers_by_their_json_text() -> None:
    assert output_size("é" * 70_000) == 140_000
    assert output_size(["ab", 1]) == len('["ab", 1]')
    assert output_size(b"\0" * 10) == 10


def test_the_settings_table_sets_the_limits_and_a_bad_value_is_a_one_line_configuration_error() -> None:
    settings = Settings(sections={"flowrunner": {"max_output_bytes": "1KiB", "max_run_output_bytes": 4096}})
    runner = LocalRunner.from_settings(TASK_TYPES, settings)
    assert (runner.max_output_bytes, runner.max_run_output_bytes) == (1024, 4096)
    with pytest.raises(ConfigurationError, match=r"\[flowrunner\] max_output_bytes = 'lots': give a whole number"):
        LocalRunner.from_settings(TASK_TYPES, Settings(sections={"flowrunner": {"max_output_bytes": "lots"}}))
    assert byte_count("2 MB", "x") == 2 << 20


UNRECORDABLE_OUTPUTS = """
name: unrecordable
on_failure: continue
tasks:
  - {name: tuple_keys, type: python, config: {callable: "flowrunner_sample_callables:tuple_keyed"}}
  - {name: async_tuple_keys, type: python, config: {callable: "flowrunner_sample_callables:async_tuple_keyed"}}
  - {name: unprintable, type: python, config: {callable: "flowrunner_sample_callables:unprintable"}}
  - {name: async_unprintable, type: python, config: {callable: "flowrunner_sample_callables:async_unprintable"}}
  - {name: self_containing, type: python, config: {callable: "flowrunner_sample_callables:self_containing"}}
  - {name: in_a_thread, type: python, config: {callable: "flowrunner_sample_callables:tuple_keyed", isolation: thread}}
  - {name: fine, type: python, config: {callable: "builtins:str", args: ["ok"]}}
"""


def test_an_output_no_store_could_record_fails_its_task_and_the_run_ends() -> None:
    """Measuring such an output raised inside the scheduler: an inline task's run crashed with
    a traceback, an async or threaded one's never ended (its end was never recorded)."""
    result = run_with(UNRECORDABLE_OUTPUTS)
    for name in (
        "tuple_keys",
        "async_tuple_keys",
        "unprintable",
        "async_unprintable",
        "self_containing",
        "in_a_thread",
    ):
        task = result.tasks[name]
        assert task.status is TaskStatus.FAILED, (name, task.status)
        assert (task.error or "").startswith("output cannot be recorded ("), (name, task.error)
        assert "\n" not in (task.error or "")
    assert result.output("fine") == "ok"
    assert result.status is RunStatus.FAILED
