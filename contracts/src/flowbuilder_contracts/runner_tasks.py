"""Small task types the Runner contract runs, importable so process-based runners can use them.

Each keeps no per-task state in the instance: ``contract_fail`` decides from the attempt
number, ``contract_record`` appends to a module-level list named by its config (tests read
it with :func:`recording`). They are deliberately tiny so a contract failure points at the
runner, not at them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType

_RECORDINGS: dict[str, list[tuple[str, str, Any]]] = {}
_RECORDINGS_LOCK = threading.Lock()


def recording(log: str) -> list[tuple[str, str, Any]]:
    """What ``contract_record`` tasks wrote to ``log``: ``(event, task, item)`` tuples in order."""
    with _RECORDINGS_LOCK:
        return list(_RECORDINGS.get(log, ()))


def forget_recording(log: str) -> None:
    with _RECORDINGS_LOCK:
        _RECORDINGS.pop(log, None)


def _record(log: str, event: str, context: TaskContext) -> None:
    with _RECORDINGS_LOCK:
        _RECORDINGS.setdefault(log, []).append((event, context.task, context.item))


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueConfig(_Config):
    value: Any = None
    mode: Literal["inline", "async"] = "inline"


class ContractValue(TaskType):
    """Returns ``config.value`` (inline, or awaited when ``mode: async``)."""

    name: ClassVar[str] = "contract_value"
    config_model: ClassVar[type[BaseModel]] = ValueConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def execution_mode(self, config: BaseModel) -> ExecutionMode:
        assert isinstance(config, ValueConfig)
        return ExecutionMode.ASYNC if config.mode == "async" else ExecutionMode.INLINE

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, ValueConfig)
        if config.mode == "async":
            return self._later(config.value)
        return config.value

    @staticmethod
    async def _later(value: Any) -> Any:
        await asyncio.sleep(0)
        return value


class FailConfig(_Config):
    failures: int = 1_000_000
    """Attempts 1..failures fail; later attempts succeed and return ``value``."""
    error: str = "contract failure"
    exit_code: int | None = None
    retryable: bool = True
    plain_exception: bool = False
    """Raise a RuntimeError instead of a TaskFailure (a bug in a task type, not an understood failure)."""
    value: Any = "recovered"


class ContractFail(TaskType):
    """Fails its first ``failures`` attempts, then succeeds."""

    name: ClassVar[str] = "contract_fail"
    config_model: ClassVar[type[BaseModel]] = FailConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, FailConfig)
        if context.attempt <= config.failures:
            message = f"{config.error} (attempt {context.attempt})"
            if config.plain_exception:
                raise RuntimeError(message)
            raise TaskFailure(message, exit_code=config.exit_code, retryable=config.retryable)
        return config.value


class SleepConfig(_Config):
    seconds: float
    value: Any = None


class ContractSleep(TaskType):
    """Sleeps on the event loop, then returns ``value``; cancellable like any async task."""

    name: ClassVar[str] = "contract_sleep"
    config_model: ClassVar[type[BaseModel]] = SleepConfig

    async def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, SleepConfig)
        await asyncio.sleep(config.seconds)
        return config.value


class RecordConfig(_Config):
    log: str
    sleep: float = 0.0
    value: Any = None


class ContractRecord(TaskType):
    """Appends ``("start", task, item)``, sleeps, appends ``("end", task, item)``, returns ``value``."""

    name: ClassVar[str] = "contract_record"
    config_model: ClassVar[type[BaseModel]] = RecordConfig

    async def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, RecordConfig)
        _record(config.log, "start", context)
        await asyncio.sleep(config.sleep)
        _record(config.log, "end", context)
        return config.value


class ContextConfig(_Config):
    pass


class ContractContext(TaskType):
    """Returns what it was told about its run: attempt, inputs, params, env and item."""

    name: ClassVar[str] = "contract_context"
    config_model: ClassVar[type[BaseModel]] = ContextConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        return {
            "task": context.task,
            "attempt": context.attempt,
            "inputs": dict(context.inputs),
            "params": dict(context.params),
            "env": dict(context.env),
            "item": context.item,
        }


class RenderConfig(_Config):
    text: str


class ContractRender(TaskType):
    """Returns ``config.text``; its own ``render_config`` brackets what the expressions rendered."""

    name: ClassVar[str] = "contract_render"
    config_model: ClassVar[type[BaseModel]] = RenderConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.INLINE

    def render_config(self, raw: Any, scope: Any) -> Any:
        rendered = super().render_config(raw, scope)
        return {**rendered, "text": f"<{rendered['text']}>"}

    def run(self, config: BaseModel, context: TaskContext) -> Any:
        assert isinstance(config, RenderConfig)
        return config.text


CONTRACT_TASK_TYPES: tuple[type[TaskType], ...] = (
    ContractValue,
    ContractFail,
    ContractSleep,
    ContractRecord,
    ContractContext,
    ContractRender,
)


def contract_task_types() -> dict[str, TaskType]:
    """A fresh name -> instance mapping of every contract task type."""
    return {cls.name: cls() for cls in CONTRACT_TASK_TYPES}


__all__ = [
    "CONTRACT_TASK_TYPES",
    "ContractContext",
    "ContractFail",
    "ContractRecord",
    "ContractRender",
    "ContractSleep",
    "ContractValue",
    "contract_task_types",
    "forget_recording",
    "recording",
]
