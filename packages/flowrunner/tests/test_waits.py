"""``approval`` and ``wait`` in one process: signals decide, timeouts default, waits hold no slot.

Runs go through :class:`flowrunner.Engine` on a ``memory://`` store; signals go through the
control channel exactly as ``flowbuilder signal`` sends them (``Engine.signal``). Real
processes, RocksDB, Redis and restarts are in tests/test_approvals_end_to_end.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from flowbuilder.events import EventKind, RunStatus, TaskStatus
from flowbuilder.interfaces import RunResult
from flowrunner import Engine

APPROVAL = """
name: approve
tasks:
  - {name: build, type: python, config: {callable: "operator:add", args: [1, 2]}}
  - name: gate
    type: approval
    depends_on: build
    config: {signal: deploy, approvers: [alice, bob]}
  - {name: ship, type: python, depends_on: gate, config: {callable: "operator:add", args: [2, 2]}}
  - {name: tidy, type: python, depends_on: gate, run_if: any_failed, config: {callable: "operator:add", args: [0, 0]}}
"""


def _engine() -> Engine:
    return Engine(store=f"memory://waits-{uuid.uuid4().hex}")


def _events(engine: Engine, run_id: str, kind: EventKind) -> list[Any]:
    return [event for event in engine.store.read_events(run_id) if event.kind is kind]


async def _until_waiting(engine: Engine, run_id: str, count: int = 1, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_events(engine, run_id, EventKind.TASK_WAITING)) < count:
        assert time.monotonic() < deadline, "no task started waiting"
        await asyncio.sleep(0.02)


def _run(text: str, *signals: tuple[str, Any, str], params: dict[str, Any] | None = None,
         waits: int = 1) -> tuple[Engine, RunResult]:  # fmt: skip
    """Run ``text``; once ``waits`` tasks wait, send ``signals`` (name, payload, by) in order."""
    engine = _engine()

    async def main() -> RunResult:
        handle = await engine.submit(text, params)
        if signals:
            await _until_waiting(engine, handle.run_id, waits)
            for name, payload, by in signals:
                engine.signal(handle.run_id, name, payload, by=by)
        return await asyncio.wait_for(handle.result(), 30)

    result = asyncio.run(main())
    engine.close()
    return engine, result


def test_an_approval_from_an_approver_succeeds_with_the_payload_and_who_approved() -> None:
    _, result = _run(APPROVAL, ("deploy", {"approved": True, "ticket": "CHG-7"}, "alice@laptop:4242"))
    assert result.status is RunStatus.SUCCEEDED
    gate = result.tasks["gate"]
    assert gate.output == {"approved": True, "by": "alice@laptop:4242", "payload": {"approved": True, "ticket": "CHG-7"},
                           "at": gate.output["at"]}  # fmt: skip
    assert result.tasks["ship"].status is TaskStatus.SUCCEEDED
    assert result.tasks["tidy"].status is TaskStatus.SKIPPED


def test_a_rejection_fails_the_task_with_who_and_why_so_run_if_tasks_run() -> None:
    _, result = _run(APPROVAL, ("deploy", {"approved": False, "comment": "freeze week"}, "bob"))
    assert result.status is RunStatus.FAILED
    assert result.tasks["gate"].error == "approval 'deploy' rejected by bob: freeze week"
    assert result.tasks["gate"].attempts == 1  # a decision is never retried
    assert result.tasks["ship"].status is TaskStatus.SKIPPED
    assert result.tasks["tidy"].status is TaskStatus.SUCCEEDED


def test_a_signal_from_someone_not_an_approver_is_refused_visibly_and_the_task_waits_on() -> None:
    engine, result = _run(APPROVAL, ("deploy", {"approved": True}, "mallory@evil:1"),
                          ("deploy", {"approved": True}, "bob"))  # fmt: skip
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["gate"].output["by"] == "bob"
    refused = _events(engine, result.run_id, EventKind.TASK_SIGNAL_REFUSED)
    assert [(event.task, event.data["by"]) for event in refused] == [("gate", "mallory@evil:1")]
    assert refused[0].data["reason"] == "mallory@evil:1 is not an approver of 'deploy' (approvers: alice, bob)"


def test_a_payload_that_decides_nothing_is_refused_with_what_to_send() -> None:
    engine, result = _run(APPROVAL, ("deploy", {"ok": "sure"}, "alice"), ("deploy", True, "alice"))
    assert result.status is RunStatus.SUCCEEDED
    (refused,) = _events(engine, result.run_id, EventKind.TASK_SIGNAL_REFUSED)
    assert '{"approved": true}' in refused.data["reason"]


@pytest.mark.parametrize(("default", "status"), [("approve", RunStatus.SUCCEEDED), ("reject", RunStatus.FAILED)])
def test_the_timeout_decides_by_default(default: str, status: RunStatus) -> None:
    text = APPROVAL.replace("approvers: [alice, bob]", f"timeout: 0.2, default: {default}")
    _, result = _run(text)
    assert result.status is status
    gate = result.tasks["gate"]
    if default == "approve":
        assert gate.output["approved"] is True and gate.output["default"] is True and gate.output["by"] is None
    else:
        assert gate.error == "no decision on 'deploy' before the timeout (0.2s): rejected by default"
        assert result.tasks["tidy"].status is TaskStatus.SUCCEEDED


def test_a_signal_sent_before_the_task_waits_is_kept_for_it() -> None:
    """The approval's upstream is still running when the signal comes; the approval takes it later."""
    text = APPROVAL.replace('callable: "operator:add", args: [1, 2]', 'callable: "asyncio:sleep", args: [0.5]', 1)
    engine = _engine()

    async def main() -> RunResult:
        handle = await engine.submit(text)
        while not _events(engine, handle.run_id, EventKind.TASK_STARTED):  # the run is recorded
            await asyncio.sleep(0.01)
        engine.signal(handle.run_id, "deploy", {"approved": True}, by="alice")
        return await asyncio.wait_for(handle.result(), 30)

    result = asyncio.run(main())
    engine.close()
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["gate"].output["by"] == "alice"


def test_waiting_tasks_take_no_slot_of_the_runs_concurrency() -> None:
    """Eight approvals wait under concurrency 2; the other work still finishes while they wait."""
    approvals = "\n".join(f"  - {{name: gate{i}, type: approval, config: {{signal: go{i}}}}}" for i in range(8))
    text = f"""
name: many
concurrency: 2
tasks:
{approvals}
  - {{name: one, type: python, config: {{callable: "asyncio:sleep", args: [0.01]}}}}
  - {{name: two, type: python, depends_on: one, config: {{callable: "asyncio:sleep", args: [0.01]}}}}
  - {{name: three, type: python, depends_on: two, config: {{callable: "asyncio:sleep", args: [0.01]}}}}
"""
    engine = _engine()

    async def main() -> RunResult:
        handle = await engine.submit(text)
        await _until_waiting(engine, handle.run_id, 8)
        deadline = time.monotonic() + 20
        while not _events(engine, handle.run_id, EventKind.TASK_SUCCEEDED):
            assert time.monotonic() < deadline, "work did not run while approvals waited"
            await asyncio.sleep(0.02)
        while len(_events(engine, handle.run_id, EventKind.TASK_SUCCEEDED)) < 3:
            assert time.monotonic() < deadline, "work did not finish while approvals waited"
            await asyncio.sleep(0.02)
        for i in range(8):
            engine.signal(handle.run_id, f"go{i}", True, by="ops")
        return await asyncio.wait_for(handle.result(), 30)

    result = asyncio.run(main())
    engine.close()
    assert result.status is RunStatus.SUCCEEDED
    done = [event.task for event in _events(engine, result.run_id, EventKind.TASK_SUCCEEDED)]
    assert done[:3] == ["one", "two", "three"]  # all three finished before any approval was decided


def test_a_wait_for_a_duration_and_a_time_already_past() -> None:
    text = """
name: timers
tasks:
  - {name: nap, type: wait, config: {for: 0.2}}
  - {name: past, type: wait, config: {until: "2001-01-01T00:00:00Z"}}
"""
    engine, result = _run(text)
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["past"].output == {"until": "2001-01-01T00:00:00Z"}
    waiting = {event.task: event.data for event in _events(engine, result.run_id, EventKind.TASK_WAITING)}
    assert waiting["nap"]["until"] == pytest.approx(waiting["nap"]["since"] + 0.2)
    took = result.tasks["nap"].finished_at - result.tasks["nap"].started_at  # type: ignore[operator]
    assert took >= 0.19


def test_a_wait_and_an_approval_read_expressions() -> None:
    text = """
name: rendered
params:
  at: {type: string, default: "2001-01-01T00:00:00+02:00"}
  who: {type: string, default: carol}
tasks:
  - {name: until_param, type: wait, config: {until: "${{ params.at }}"}}
  - name: gate
    type: approval
    config: {signal: go, approvers: ["${{ params.who }}"], message: "at ${{ params.at }}?"}
"""
    engine, result = _run(text, ("go", True, "carol"), waits=2)
    assert result.status is RunStatus.SUCCEEDED
    assert result.tasks["until_param"].output == {"until": "2000-12-31T22:00:00Z"}
    waiting = {event.task: event.data for event in _events(engine, result.run_id, EventKind.TASK_WAITING)}
    assert waiting["gate"]["message"] == "at 2001-01-01T00:00:00+02:00?"


def test_an_expression_that_is_not_a_time_fails_the_wait_once() -> None:
    text = """
name: bad
params:
  at: {type: string, default: "tomorrow"}
tasks:
  - {name: later, type: wait, retry: {attempts: 3, backoff: 0.01}, config: {until: "${{ params.at }}"}}
"""
    _, result = _run(text)
    assert result.status is RunStatus.FAILED
    assert "'tomorrow' is not an ISO 8601 time" in (result.tasks["later"].error or "")
    assert result.tasks["later"].attempts == 1


@pytest.mark.parametrize("until", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_outside_the_calendar_in_utc_fails_the_wait_saying_so(until: str) -> None:
    """Rule: an ``until`` that is year 10000 (or 0) once read in UTC is refused in words, not with
    Python's bare ``year 10000 is out of range``."""
    text = f"""
name: far
params:
  at: {{type: string, default: "{until}"}}
tasks:
  - {{name: later, type: wait, config: {{until: "${{{{ params.at }}}}"}}}}
"""
    _, result = _run(text)
    assert result.status is RunStatus.FAILED
    assert f"'{until}' is outside the years 1 to 9999 in UTC" in (result.tasks["later"].error or "")


def test_cancelling_a_run_ends_its_waits() -> None:
    engine = _engine()

    async def main() -> RunResult:
        handle = await engine.submit(APPROVAL)
        await _until_waiting(engine, handle.run_id)
        engine.cancel(handle.run_id, "not today")
        return await asyncio.wait_for(handle.result(), 30)

    result = asyncio.run(main())
    engine.close()
    assert result.status is RunStatus.CANCELLED
    assert result.tasks["gate"].status is TaskStatus.CANCELLED


def _waiting_section_workflows() -> list[str]:
    """The ```yaml blocks marked ``<!-- test: workflow -->`` in docs/dsl.md's section on waiting."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "dsl.md").read_text(encoding="utf-8")
    section = text.split("### Waiting: `approval` and `wait`", 1)[1].split("\n### ", 1)[0]
    blocks = section.split("<!-- test: workflow -->\n```yaml\n")[1:]
    return [block.split("\n```", 1)[0] for block in blocks]


def test_the_dsl_pages_waiting_examples_run_and_succeed() -> None:
    workflows = _waiting_section_workflows()
    assert workflows, "docs/dsl.md lost its tested example of approval and wait"
    for text in workflows:
        _, result = _run(text)
        assert result.status is RunStatus.SUCCEEDED, {name: state.error for name, state in result.tasks.items()}
        assert result.tasks["deploy"].output == "approved by "  # the timeout approved by default: `by` is null


def test_foreach_over_an_approval_fails_at_once_saying_why() -> None:
    text = """
name: fan
tasks:
  - {name: gates, type: approval, foreach: [a, b], config: {signal: go}}
"""
    _, result = _run(text)
    assert result.status is RunStatus.FAILED
    assert "cannot run as an attempt (foreach over it is not supported)" in (result.tasks["gates"].error or "")
