"""The typed interfaces that plugins implement and the engine calls directly.

Each interface lives in its own submodule, imported on first use: importing one of them
(``flowbuilder.interfaces.sink``) must not pull in the others' dependencies (the TaskType
interface needs pydantic), so that the CLI's ``--help`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowbuilder.interfaces.consensus import ConsensusEngine
    from flowbuilder.interfaces.executor import Attempt, AttemptExecutor, AttemptOutcome
    from flowbuilder.interfaces.runner import Runner, RunRequest, RunResult
    from flowbuilder.interfaces.sink import EventSink
    from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store, definition_hash
    from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType, TaskWarning

_SUBMODULE_OF = {
    "Attempt": "executor",
    "AttemptExecutor": "executor",
    "AttemptOutcome": "executor",
    "ConsensusEngine": "consensus",
    "EventSink": "sink",
    "ExecutionMode": "tasktype",
    "LogLine": "store",
    "RunPage": "store",
    "RunRequest": "runner",
    "RunResult": "runner",
    "RunSummary": "store",
    "Runner": "runner",
    "Store": "store",
    "TaskContext": "tasktype",
    "TaskFailure": "tasktype",
    "TaskType": "tasktype",
    "TaskWarning": "tasktype",
    "definition_hash": "store",
}

__all__ = [
    "Attempt",
    "AttemptExecutor",
    "AttemptOutcome",
    "ConsensusEngine",
    "EventSink",
    "ExecutionMode",
    "LogLine",
    "RunPage",
    "RunRequest",
    "RunResult",
    "RunSummary",
    "Runner",
    "Store",
    "TaskContext",
    "TaskFailure",
    "TaskType",
    "TaskWarning",
    "definition_hash",
]


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module 'flowbuilder.interfaces' has no attribute {name!r}")
    value = getattr(import_module(f"flowbuilder.interfaces.{submodule}"), name)
    globals()[name] = value
    return value
