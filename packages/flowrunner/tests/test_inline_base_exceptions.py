"""A task's call that raises a ``BaseException`` that is not an ``Exception`` (a plugin's own
subclass, ``GeneratorExit``) fails its attempt, on every execution path, as the async and
thread executors report it: it must not escape the run's driver with a traceback (the CLI's
exit 1, and a run whose end was never recorded)."""

from __future__ import annotations

import pytest
from flowrunner_helpers import run_text

from flowbuilder.interfaces import Attempt, AttemptOutcome, ExecutionMode, TaskContext
from flowrunner.executors import InlineExecutor
from flowrunner.tasktypes.python import PythonTask

WORKFLOW = """
name: base
params: {{kind: {{type: string, default: {kind}}}}}
tasks:
  - name: a
    type: python
    on_failure: continue
    config: {{callable: "flowrunner_sample_callables:raise_base_exception", args: [{arg}]}}
  - {{name: other, type: shell, config: {{command: "echo other"}}}}
"""


@pytest.mark.parametrize(("kind", "error"), [("own", "PluginAbort: gave up"), ("generator", "GeneratorExit: closed")])
@pytest.mark.parametrize("rendered", [False, True], ids=["context-free call", "run with a context"])
def test_an_inline_call_raising_a_base_exception_fails_its_attempt_and_the_run_goes_on(
    kind: str, error: str, rendered: bool
) -> None:
    arg = "'${{ params.kind }}'" if rendered else kind
    result = run_text(WORKFLOW.format(kind=kind, arg=arg))
    assert not result.succeeded
    assert (result.tasks["a"].status, result.tasks["a"].error) == ("failed", error)
    assert result.tasks["other"].status == "succeeded"


def test_the_inline_executor_reports_a_base_exception_as_the_attempt_s_failure() -> None:
    task_type = PythonTask()
    config = task_type.config_model.model_validate(
        {"callable": "flowrunner_sample_callables:raise_base_exception", "args": ["own"]}
    )
    attempt = Attempt("r", "a", 0, 1, task_type, config, ExecutionMode.INLINE, TaskContext(run_id="r", task="a"))
    outcomes: list[AttemptOutcome] = []
    InlineExecutor().submit(attempt, lambda done, outcome: outcomes.append(outcome))
    assert [(outcome.kind, outcome.message) for outcome in outcomes] == [
        (AttemptOutcome.FAILED, "PluginAbort: gave up")
    ]
