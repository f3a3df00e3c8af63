"""The embedding API: run from a file, text or model; many runs at once; streams; cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowbuilder.errors import ConfigurationError
from flowbuilder.events import EventKind, RunStatus
from flowbuilder.model import Task, Workflow
from flowbuilder.params import ParamError
from flowrunner import Engine, run_workflow

TEXT = """
name: api
params:
  n: {type: integer, default: 2}
tasks:
  - {name: double, type: python, config: {callable: "operator:mul", args: ["${{ params.n }}", 2]}}
"""


def test_run_workflow_accepts_yaml_text_and_params() -> None:
    result = run_workflow(TEXT, params={"n": 5})
    assert result.succeeded and result.output("double") == 10


def test_run_workflow_accepts_a_path(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(TEXT)
    assert run_workflow(str(path)).output("double") == 4
    assert run_workflow(path).output("double") == 4


def test_run_workflow_accepts_a_workflow_built_in_python() -> None:
    workflow = Workflow(name="built", tasks=[
        Task(name="a", type="shell", config={"command": "echo built"}),
        Task(name="b", type="python", depends_on=["a"], config={"callable": "builtins:str.upper", "args": ["${{ tasks.a.output }}"]}),
    ])  # fmt: skip
    assert run_workflow(workflow).output("b") == "BUILT"


def test_bad_params_and_missing_files_are_one_line_errors() -> None:
    with pytest.raises(ParamError):
        run_workflow(TEXT, params={"n": "many"})
    with pytest.raises(ConfigurationError, match="no workflow file"):
        run_workflow("no/such/file.yaml")


def test_on_event_sees_every_event_in_order() -> None:
    seen = []
    run_workflow(TEXT, on_event=seen.append)
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[0].kind is EventKind.RUN_CREATED and seen[-1].kind is EventKind.RUN_FINISHED


def test_an_engine_runs_many_workflows_at_once_and_streams_events() -> None:
    async def main() -> None:
        engine = Engine(store="memory://api-many")
        try:
            handles = [await engine.submit(TEXT, params={"n": n}) for n in range(20)]
            kinds = [event.kind async for event in handles[3].events()]
            results = [await handle.result() for handle in handles]
        finally:
            engine.close()
        assert [r.output("double") for r in results] == [n * 2 for n in range(20)]
        assert len({r.run_id for r in results}) == 20
        assert kinds[0] is EventKind.RUN_CREATED and kinds[-1] is EventKind.RUN_FINISHED

    asyncio.run(main())


def test_a_submitted_run_can_be_cancelled() -> None:
    async def main() -> None:
        engine = Engine(store="memory://api-cancel")
        try:
            handle = await engine.submit("name: s\ntasks:\n  - {name: a, type: shell, config: {command: 'sleep 60'}}\n")
            async for event in handle.events():
                if event.kind is EventKind.TASK_STARTED:
                    assert engine.cancel(handle.run_id)
            result = await handle.result()
        finally:
            engine.close()
        assert result.status is RunStatus.CANCELLED

    asyncio.run(asyncio.wait_for(main(), 30))


def test_run_workflows_runs_many_at_once_from_synchronous_code() -> None:
    from flowrunner import run_workflows

    results = run_workflows([(TEXT, {"n": n}) for n in range(30)])
    assert [r.output("double") for r in results] == [n * 2 for n in range(30)]


def test_a_forced_cancel_kills_only_the_processes_of_its_own_run() -> None:
    stubborn = (
        "name: a\ntasks:\n  - {name: a, type: shell, config: {command: \"trap '' TERM; sleep 30\", kill_grace: 30}}\n"
    )
    bystander = "name: b\ntasks:\n  - {name: b, type: shell, config: {command: 'sleep 1.5; echo ok'}}\n"

    async def started(handle) -> None:  # type: ignore[no-untyped-def]
        async for event in handle.events():
            if event.kind is EventKind.TASK_STARTED:
                return

    async def main() -> None:
        engine = Engine(store="memory://api-forced-cancel")
        try:
            a = await engine.submit(stubborn)
            b = await engine.submit(bystander)
            await asyncio.gather(started(a), started(b))
            await asyncio.sleep(0.3)  # both shells are running
            a.cancel()
            await asyncio.sleep(0.3)  # the first request only sent SIGTERM, which `a` ignores
            a.cancel()  # the second kills what is left of run a, and nothing else
            result_a, result_b = await a.result(), await b.result()
        finally:
            engine.close()
        assert result_a.status is RunStatus.CANCELLED
        assert result_b.succeeded, result_b.tasks["b"].error
        assert result_b.output("b") == "ok"

    asyncio.run(asyncio.wait_for(main(), 30))
