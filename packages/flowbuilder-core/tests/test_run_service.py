"""Core's run service without a real runner: checks before anything is stored, runner options."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from flowbuilder import hookimpl
from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces import Runner, RunRequest, RunResult
from flowbuilder.params import ParamError
from flowbuilder.run_service import RunService
from flowbuilder.stores.memory import MemoryStore

WORKFLOW = "name: svc\nparams:\n  n: {type: integer}\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n"


class BareRunner(Runner):
    """A runner whose from_settings takes no options (the interface's default)."""

    name: ClassVar[str] = "bare"

    async def run_async(self, request: RunRequest, cancel: asyncio.Event | None = None) -> RunResult:
        raise AssertionError("not run in these tests")


@pytest.fixture
def memory_store() -> Any:
    url = "memory://run-service-tests"
    store = MemoryStore.open(url)
    yield store
    store.close()
    MemoryStore.forget(url)


class BarePlugin:
    @hookimpl
    def flowbuilder_runners(self) -> list[type[Runner]]:
        return [BareRunner]


def test_a_runner_option_the_runner_does_not_take_is_a_one_line_configuration_error(host: Any) -> None:
    host.register(BarePlugin(), name="bare-runner")
    with pytest.raises(ConfigurationError, match=r"runner 'bare' does not take the option\(s\) workers") as caught:
        host.make_runner("bare", workers=2)
    assert "\n" not in str(caught.value)
    assert isinstance(host.make_runner("bare"), BareRunner)


def test_a_wrong_param_is_refused_before_the_definition_is_stored(host: Any, memory_store: Any) -> None:
    service = RunService(host, memory_store)
    with pytest.raises(ParamError):
        service.prepare(WORKFLOW, {"n": "not a number"})
    with pytest.raises(ParamError):
        service.prepare(WORKFLOW, {})
    assert memory_store.list_runs().runs == []


def test_request_saves_the_definition_and_puts_the_callers_sinks_first(host: Any, memory_store: Any) -> None:
    service = RunService(host, memory_store, concurrency=3)
    prepared = service.prepare(WORKFLOW, {"n": "4"}, run_id="r1")
    mine = object()
    request = service.request(prepared, sinks=[mine])  # type: ignore[list-item]
    assert request.run_id == "r1" and request.params == {"n": 4} and request.concurrency == 3
    assert request.sinks[0] is mine
    assert request.definition_hash is not None
    assert memory_store.load_definition(request.definition_hash) == WORKFLOW.encode()


class ClosingRunner(BareRunner):
    """A runner that keeps something between runs and releases it in ``Runner.close``."""

    def __init__(self, task_types: Any) -> None:
        super().__init__(task_types)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_closing_the_service_closes_its_runner_through_the_declared_close(host: Any, memory_store: Any) -> None:
    runner = ClosingRunner({})
    RunService(host, memory_store, runner=runner).close()
    assert runner.closed == 1
    RunService(host, memory_store, runner=BareRunner({})).close()  # the interface's default: nothing to release


def _unfinished_run(store: Any, run_id: str) -> None:
    from flowbuilder.events import EventKind, RunEvent

    digest = store.save_definition(WORKFLOW.encode())
    store.append_events(run_id, [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "svc", "definition_hash": digest,
                                                         "params": {"n": 1}}),
        RunEvent(run_id, 2, EventKind.RUN_STARTED)], 0)  # fmt: skip


def test_cancel_of_a_run_not_running_here_records_a_control_request_naming_who_asked(host: Any,
                                                                                    memory_store: Any) -> None:  # fmt: skip
    _unfinished_run(memory_store, "elsewhere")
    service = RunService(host, memory_store)
    assert service.cancel("elsewhere", "stop it", by="ops@box:1")
    [request] = memory_store.read_control_requests("elsewhere")
    assert (request.action, request.by, request.reason) == ("cancel", "ops@box:1", "stop it")
    signal = service.signal("elsewhere", "approve", {"ok": True})
    assert signal.number == 2 and signal.by.count("@") == 1 and signal.by.rsplit(":", 1)[1].isdigit()


def test_a_control_request_for_an_unknown_or_finished_run_is_refused(host: Any, memory_store: Any) -> None:
    from flowbuilder.errors import FlowBuilderError, RunNotFoundError
    from flowbuilder.events import EventKind, RunEvent

    service = RunService(host, memory_store)
    with pytest.raises(RunNotFoundError):
        service.pause("nope")
    _unfinished_run(memory_store, "done")
    memory_store.append_events("done", [RunEvent("done", 3, EventKind.RUN_FINISHED, data={"status": "failed"})], 2)
    with pytest.raises(FlowBuilderError, match=r"already finished \(failed\); there is nothing to pause"):
        service.pause("done")
    assert memory_store.read_control_requests("done") == []


def test_resume_refuses_a_run_whose_owner_holds_a_live_lease_unless_forced(host: Any, memory_store: Any) -> None:
    import time

    from flowbuilder.errors import FlowBuilderError
    from flowbuilder.leases import RunLease

    _unfinished_run(memory_store, "live")
    now = time.time()
    memory_store.renew_leases([RunLease("live", "o", "other-host", 4242, now, now + 30)])
    service = RunService(host, memory_store)
    with pytest.raises(FlowBuilderError, match=r"still running in pid 4242 on other-host \(lease valid") as caught:
        service.prepare_resume("live")
    assert "\n" not in str(caught.value) and "--force" in str(caught.value)
    assert service.prepare_resume("live", force=True).resume is not None
    memory_store.renew_leases([RunLease("live", "o", "other-host", 4242, now - 20, now - 10)])
    assert service.prepare_resume("live").resume is not None
    assert service.run_status("live").status.value == "interrupted"


# -- retrying a finished run --------------------------------------------------------------------


def _retry_scope(text: str, **statuses: str) -> Any:
    from flowbuilder.events import TaskState, TaskStatus
    from flowbuilder.retry import retry_scope
    from flowbuilder_contracts.runner import compile_yaml

    plan = compile_yaml(text)
    tasks = {name: TaskState(status=TaskStatus(status)) for name, status in statuses.items()}
    return lambda **selection: retry_scope(plan, tasks, **selection)


_CHAIN = """
name: chain
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, depends_on: [a], config: {value: 2}}
  - {name: c, type: contract_value, depends_on: [b], config: {value: 3}}
  - {name: x, type: contract_value, config: {value: 4}}
"""


def test_retry_scope_defaults_to_what_did_not_succeed_and_honours_from_and_only() -> None:
    from flowbuilder.errors import FlowBuilderError

    scope = _retry_scope(_CHAIN, a="succeeded", b="failed", c="skipped", x="succeeded")
    assert scope() == ["b", "c"]
    assert scope(from_tasks=["a"]) == ["a", "b", "c"]
    assert scope(only=["x"]) == ["x"]
    assert scope(only=["b"]) == ["b", "c"]
    with pytest.raises(FlowBuilderError, match="depends on 'b', which did not succeed"):
        scope(only=["c"])
    with pytest.raises(FlowBuilderError, match="no task 'nope'"):
        scope(from_tasks=["nope"])
    succeeded = _retry_scope(_CHAIN, a="succeeded", b="succeeded", c="succeeded", x="succeeded")
    assert succeeded(only=["b"]) == ["b"]  # c succeeded: kept


def test_prepare_retry_reruns_what_did_not_succeed_and_refuses_runs_that_are_not_finished(host: Any,
                                                                                          memory_store: Any) -> None:  # fmt: skip
    import time

    from flowbuilder.errors import FlowBuilderError, RunNotFoundError
    from flowbuilder.events import EventKind, RunEvent
    from flowbuilder.leases import RunLease

    service = RunService(host, memory_store)
    with pytest.raises(RunNotFoundError):
        service.prepare_retry("nope")
    _unfinished_run(memory_store, "r")
    now = time.time()
    memory_store.renew_leases([RunLease("r", "o", "other-host", 4242, now, now + 30)])
    with pytest.raises(FlowBuilderError, match=r"still running in pid 4242 on other-host"):
        service.prepare_retry("r")
    memory_store.renew_leases([RunLease("r", "o", "other-host", 4242, now - 20, now - 10)])
    with pytest.raises(FlowBuilderError, match=r"has not finished .*flowbuilder resume r"):
        service.prepare_retry("r")
    memory_store.append_events("r", [
        RunEvent("r", 3, EventKind.TASK_STARTED, "a", 1),
        RunEvent("r", 4, EventKind.TASK_FAILED, "a", 1, {"error": "boom", "final": True}),
        RunEvent("r", 5, EventKind.RUN_FINISHED, data={"status": "failed"})], 2)  # fmt: skip
    prepared = service.prepare_retry("r")
    assert prepared.run_id == "r" and prepared.resume is not None and prepared.params == {"n": 1}
    assert prepared.retry == {"rerun": ["a"], "from": [], "only": [], "previous_status": "failed"}
    request = service.request(prepared)
    assert request.retry == prepared.retry and request.resume is prepared.resume
    with pytest.raises(FlowBuilderError, match=r"already finished \(failed\); nothing to resume .*flowbuilder retry r"):
        service.prepare_resume("r")


def test_prepare_retry_refuses_a_run_whose_definition_is_not_stored(host: Any, memory_store: Any) -> None:
    from flowbuilder.errors import FlowBuilderError
    from flowbuilder.events import EventKind, RunEvent

    memory_store.append_events("bare", [
        RunEvent("bare", 1, EventKind.RUN_CREATED, data={"workflow": "svc"}),
        RunEvent("bare", 2, EventKind.RUN_STARTED),
        RunEvent("bare", 3, EventKind.RUN_FINISHED, data={"status": "failed"})], 0)  # fmt: skip
    with pytest.raises(FlowBuilderError, match="no stored workflow definition, so it cannot be retried"):
        RunService(host, memory_store).prepare_retry("bare")


def test_a_retry_in_the_history_is_folded_into_the_run_state() -> None:
    from flowbuilder.events import EventKind, RunEvent, RunState, TaskStatus, fold_events

    events = [
        RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"}),
        RunEvent("r", 2, EventKind.RUN_STARTED),
        RunEvent("r", 3, EventKind.TASK_STARTED, "a", 1, time=10.0),
        RunEvent("r", 4, EventKind.TASK_FAILED, "a", 1, {"error": "boom"}, time=11.0),
        RunEvent("r", 5, EventKind.RUN_FINISHED, data={"status": "failed"}, time=12.0),
        RunEvent("r", 6, EventKind.RUN_STARTED, data={"resumed": True, "retry": {"rerun": ["a"]}}, time=50.0),
    ]
    state = fold_events("r", events)
    assert state.status.value == "running" and state.finished_at is None
    assert state.retries == [{"rerun": ["a"], "seq": 6}]
    assert state.tasks["a"].started_at is None  # its clock restarts with the retried attempt
    state.apply(RunEvent("r", 7, EventKind.TASK_STARTED, "a", 2, time=51.0))
    state.apply(RunEvent("r", 8, EventKind.TASK_SUCCEEDED, "a", 2, {"output": 1}, time=52.0))
    assert state.tasks["a"].status is TaskStatus.SUCCEEDED and state.tasks["a"].attempts == 2
    assert RunState.from_dict(state.to_dict()).retries == state.retries
