"""Fake task types for flowbuilder-core's own tests.

Core has no task types; the real ``shell``/``http``/``script`` come from flowrunner, which
core's tests must not depend on. These fakes have the same names and strict config models
(unknown fields are errors) so that workflows read like real ones, but they do no work.

In-process tests register this module with ``PluginHost.register``; CLI tests in a
subprocess put this directory on ``PYTHONPATH`` and name the module in
``FLOWBUILDER_PLUGIN_MODULES`` (with ``FLOWBUILDER_LOAD_PLUGINS=core`` so that an installed
flowrunner cannot clash with these names).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowbuilder import hookimpl
from flowbuilder.interfaces import TaskContext, TaskType


class _StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpConfig(_StrictConfig):
    url: str
    method: Literal["GET", "POST", "PUT", "DELETE"] = "GET"
    timeout: float = Field(30.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)


class ShellConfig(_StrictConfig):
    command: str
    cwd: str | None = None


class ScriptConfig(_StrictConfig):
    language: Literal["python", "bash"] = "python"
    code: str


class SleepConfig(_StrictConfig):
    seconds: float = Field(ge=0)


class FakeHttp(TaskType):
    name = "http"
    config_model = HttpConfig

    def run(self, config: Any, context: TaskContext) -> Any:
        return {"url": config.url, "method": config.method}


class FakeShell(TaskType):
    name = "shell"
    config_model = ShellConfig

    def run(self, config: Any, context: TaskContext) -> Any:
        return config.command


class FakeScript(TaskType):
    name = "script"
    config_model = ScriptConfig

    def run(self, config: Any, context: TaskContext) -> Any:
        return None


class FakeSleep(TaskType):
    """Knows its own duration, for critical-path-by-estimate tests."""

    name = "sleep"
    config_model = SleepConfig

    def estimate_duration(self, config: Any) -> float | None:
        return float(config.seconds)

    def run(self, config: Any, context: TaskContext) -> Any:
        return config.seconds


FAKE_TASK_TYPES = (FakeHttp, FakeShell, FakeScript, FakeSleep)


@hookimpl
def flowbuilder_task_types() -> list[type[TaskType]]:
    return list(FAKE_TASK_TYPES)
