"""``--workers URL``: a plugin's attempt executor, chosen by URL, takes a run's attempts of its modes.

The executor is :class:`OtherThreadExecutor` (test_executors.py) declared URL-choosable: the
run service builds it from the URL through ``flowbuilder_attempt_executors``, puts it in the
request, and the runner sends it the thread/process/async attempts while INLINE ones stay
local — the scheduling rules unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from test_executors import OtherThreadExecutor

from flowbuilder import hookimpl
from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces import Attempt, AttemptExecutor
from flowbuilder.interfaces.executor import OnDone
from flowbuilder.plugins import PluginHost, build_plugin_host
from flowbuilder.run_service import RunService
from flowbuilder.stores.memory import MemoryStore

WORKFLOW = """
name: remote
tasks:
  - {name: local_call, type: python, config: {callable: "operator:add", args: [1, 2]}}
  - name: threaded
    type: python
    worker: {labels: [gpu], group: fast}
    config: {callable: "operator:mul", args: [3, 4], isolation: thread}
  - {name: shelled, type: shell, config: {command: "echo hi"}}
"""


class ElsewhereExecutor(OtherThreadExecutor):
    name: ClassVar[str] = "elsewhere"
    url_schemes: ClassVar[tuple[str, ...]] = ("elsewhere",)
    built: ClassVar[list[ElsewhereExecutor]] = []

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.attempts: list[Attempt] = []
        ElsewhereExecutor.built.append(self)

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> AttemptExecutor:
        if url.endswith("unreachable"):
            raise ConfigurationError(f"cannot reach {url}")
        return cls(url)

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        self.attempts.append(attempt)
        super().submit(attempt, on_done)


class ElsewherePlugin:
    @hookimpl
    def flowbuilder_attempt_executors(self) -> list[Any]:
        return [ElsewhereExecutor]


def host_with_elsewhere(**settings: Any) -> PluginHost:
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner"), **settings))
    host.register(ElsewherePlugin(), name="elsewhere")
    return host


@pytest.fixture(autouse=True)
def fresh() -> None:
    ElsewhereExecutor.built.clear()


def run_remote(service: RunService) -> Any:
    try:
        return service.run(service.prepare(WORKFLOW))
    finally:
        service.close()


def test_a_workers_url_sends_thread_process_and_async_attempts_to_its_executor_and_keeps_inline_local() -> None:
    result = run_remote(RunService(host_with_elsewhere(), MemoryStore(), workers="elsewhere://cluster"))

    assert result.succeeded and result.output("threaded") == 12 and result.output("local_call") == 3
    (executor,) = ElsewhereExecutor.built
    assert sorted(attempt.task for attempt in executor.attempts) == ["shelled", "threaded"]
    assert executor.closed, "the run service closes the executor it built"


def test_an_attempt_carries_its_tasks_placement() -> None:
    run_remote(RunService(host_with_elsewhere(), MemoryStore(), workers="elsewhere://cluster"))
    by_task = {attempt.task: attempt.placement for attempt in ElsewhereExecutor.built[0].attempts}
    placement = by_task["threaded"]
    assert placement is not None and (placement.labels, placement.group) == (["gpu"], "fast")
    assert by_task["shelled"] is None


def test_the_workers_setting_applies_when_no_url_is_given() -> None:
    run_remote(RunService(host_with_elsewhere(workers="elsewhere://from-settings"), MemoryStore()))
    assert [executor.url for executor in ElsewhereExecutor.built] == ["elsewhere://from-settings"]


def test_without_workers_every_attempt_runs_locally() -> None:
    assert run_remote(RunService(host_with_elsewhere(), MemoryStore())).succeeded
    assert ElsewhereExecutor.built == []


def test_an_unknown_scheme_is_a_configuration_error_naming_the_installed_ones() -> None:
    service = RunService(host_with_elsewhere(), MemoryStore(), workers="pigeon://loft")
    with pytest.raises(ConfigurationError, match=r"unknown scheme 'pigeon' \(installed: elsewhere://\)"):
        service.request(service.prepare(WORKFLOW))


def test_an_executor_that_cannot_connect_says_why() -> None:
    service = RunService(host_with_elsewhere(), MemoryStore(), workers="elsewhere://unreachable")
    with pytest.raises(ConfigurationError, match="cannot reach elsewhere://unreachable"):
        _ = service.workers
