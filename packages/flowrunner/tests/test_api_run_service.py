"""The Python API goes through core's run service: the configured runner, and resume."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowbuilder import hookimpl
from flowbuilder.config import Settings
from flowbuilder.errors import FlowBuilderError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces import Runner, RunRequest, RunResult
from flowbuilder.plugins import PluginHost, build_plugin_host
from flowbuilder.stores.memory import MemoryStore
from flowrunner import Engine
from flowrunner.runner import LocalRunner

TEXT = """
name: api
tasks:
  - {name: double, type: python, config: {callable: "operator:mul", args: [21, 2]}}
"""


class RecordingRunner(LocalRunner):
    """The local runner under another name, noting every run it executes."""

    name: ClassVar[str] = "recording"
    runs: ClassVar[list[str]] = []

    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        RecordingRunner.runs.append(request.run_id or "")
        return await super().run_async(request, cancel)


class RecordingRunnerPlugin:
    @hookimpl
    def flowbuilder_runners(self) -> list[type[Runner]]:
        return [RecordingRunner]


def host_with_recording_runner(runner: str | None) -> PluginHost:
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner"), runner=runner))
    host.register(RecordingRunnerPlugin(), name="recording-runner")
    return host


def test_engine_runs_on_the_runner_the_settings_name() -> None:
    """``runner = "recording"`` in the settings is honoured from Python, not only by the CLI."""
    RecordingRunner.runs.clear()
    engine = Engine(store="memory://", host=host_with_recording_runner("recording"))
    try:
        assert isinstance(engine.runner, RecordingRunner)
        result = asyncio.run(engine.run(TEXT))
    finally:
        engine.close()
    assert result.output("double") == 42 and RecordingRunner.runs == [result.run_id]


def test_engine_runner_argument_wins_over_the_settings() -> None:
    host = host_with_recording_runner("recording")
    engine = Engine(store="memory://", host=host, runner="local")
    try:
        assert type(engine.runner) is LocalRunner
    finally:
        engine.close()


def interrupted_run(store: MemoryStore, ledger: Path, run_id: str) -> None:
    """A run recorded up to: a succeeded, b started (its process died with the runner)."""
    text = (
        "name: resumable\n"
        "tasks:\n"
        f'  - {{name: a, type: shell, config: {{command: "echo a >> {ledger}"}}}}\n'
        f'  - {{name: b, type: shell, depends_on: [a], config: {{command: "echo b >> {ledger}"}}}}\n'
        f'  - {{name: c, type: shell, depends_on: [b], config: {{command: "echo c >> {ledger}"}}}}\n'
    )
    digest = store.save_definition(text.encode())
    created: dict[str, Any] = {"workflow": "resumable", "version": "1", "definition_hash": digest, "params": {}}
    store.append_events(run_id, [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data=created),
        RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False}),
        RunEvent(run_id, 3, EventKind.TASK_STARTED, task="a", attempt=1),
        RunEvent(run_id, 4, EventKind.TASK_SUCCEEDED, task="a", attempt=1, data={"output": "a", "duration": 0.01}),
        RunEvent(run_id, 5, EventKind.TASK_STARTED, task="b", attempt=1),
    ], 0)  # fmt: skip


@pytest.fixture
def store() -> Any:
    url = f"memory://api-resume-{uuid.uuid4().hex}"
    opened = MemoryStore.open(url)
    yield opened
    opened.close()
    MemoryStore.forget(url)


def test_engine_resume_keeps_succeeded_tasks_and_runs_the_rest_under_the_same_id(
    store: MemoryStore, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    interrupted_run(store, ledger, "run-1")

    async def main() -> tuple[RunResult, list[str]]:
        engine = Engine(store=store)
        try:
            handle = await engine.resume("run-1")
            kinds = [event.kind.value async for event in handle.events()]
            return await handle.result(), kinds
        finally:
            engine.close()

    result, kinds = asyncio.run(asyncio.wait_for(main(), 60))
    assert result.run_id == "run-1" and result.succeeded
    assert ledger.read_text().split() == ["b", "c"]
    assert result.output("a") == "a"  # kept from the record, not run again
    assert kinds[-1] == "run_finished"
    assert store.load_state("run-1").status.value == "succeeded"


def test_engine_resume_of_a_finished_run_is_refused_in_one_line(store: MemoryStore) -> None:
    async def main() -> str:
        engine = Engine(store=store)
        try:
            finished = await engine.run(TEXT)
            with pytest.raises(FlowBuilderError) as caught:
                await engine.resume(finished.run_id)
            return str(caught.value)
        finally:
            engine.close()

    message = asyncio.run(main())
    assert "already finished (succeeded); nothing to resume" in message and "\n" not in message


class FailingRunner(LocalRunner):
    name: ClassVar[str] = "failing"

    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        raise RuntimeError("the runner broke")


def test_a_runner_that_raises_ends_the_event_stream_and_the_result_raises() -> None:
    """Followers of a run are never left waiting: the stream ends even if the runner never closed it."""

    async def main() -> list[RunEvent]:
        engine = Engine(store="memory://", runner=FailingRunner({}))
        try:
            handle = await engine.submit(TEXT)
            events = [event async for event in handle.events()]
            with pytest.raises(RuntimeError, match="the runner broke"):
                await handle.result()
            return events
        finally:
            engine.close()

    assert asyncio.run(asyncio.wait_for(main(), 30)) == []


REPLAY_WORKFLOW = """
name: replay
tasks:
  - {name: a, type: python, config: {callable: "builtins:int"}}
  - {name: b, type: python, depends_on: [a], config: {callable: "builtins:int"}}
"""


@pytest.mark.parametrize("replay", [True, False])
def test_a_handle_replays_the_run_from_its_first_event_only_when_submitted_with_replay(replay: bool) -> None:
    """replay=False (Engine.run, run_workflow) keeps no events for a follower that comes late."""

    async def main() -> list[str]:
        engine = Engine(store="memory://")
        try:
            prepared = engine.service.prepare(REPLAY_WORKFLOW)
            handle = await engine.service.submit(prepared, replay=replay)
            assert (await handle.result()).succeeded
            return [event.kind.value async for event in handle.events()]  # after the run ended
        finally:
            engine.close()

    kinds = asyncio.run(asyncio.wait_for(main(), 60))
    every = ["run_created", "run_started", *["task_started", "task_succeeded"] * 2, "run_finished"]
    assert kinds == (every if replay else [])


def test_of_two_retries_prepared_from_one_finished_state_only_the_first_runs(
    store: MemoryStore, tmp_path: Path
) -> None:
    """Rule: a retry (or resume) appends after the state it was prepared from, so a second one
    prepared from the same state is refused by the store's expected sequence number instead of
    running the tasks again after the first (two `flowbuilder retry RUN_ID` at once ran the
    task twice, killed one attempt with -9 and recorded attempt 2 twice)."""
    ledger, flag = tmp_path / "ledger.txt", tmp_path / "ok"
    text = ("name: flaky\ntasks:\n"
            f"  - {{name: a, type: shell, config: {{command: 'echo ran >> {ledger} && test -f {flag}'}}}}\n")  # fmt: skip

    async def main() -> tuple[RunResult, BaseException | RunResult]:
        engine = Engine(store=store)
        try:
            failed = await engine.run(text)
            assert not failed.succeeded
            flag.touch()
            first = engine.service.prepare_retry(failed.run_id)
            second = engine.service.prepare_retry(failed.run_id)  # both read the run as failed
            done = await (await engine.service.submit(first)).result()
            try:
                late: BaseException | RunResult = await (await engine.service.submit(second)).result()
            except FlowBuilderError as refused:
                late = refused
            return done, late
        finally:
            engine.close()

    done, late = asyncio.run(asyncio.wait_for(main(), 60))
    assert done.succeeded
    assert isinstance(late, FlowBuilderError) and "another writer advanced" in str(late)
    assert ledger.read_text().split() == ["ran", "ran"]  # the first run and one retry, not two
    state = store.load_state(done.run_id)
    assert state.status.value == "succeeded" and len(state.retries) == 1 and state.tasks["a"].attempts == 2
