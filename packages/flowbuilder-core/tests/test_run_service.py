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
