"""The typed interfaces that plugins implement and the engine calls directly."""

from flowbuilder.interfaces.consensus import ConsensusEngine
from flowbuilder.interfaces.runner import Runner, RunRequest, RunResult
from flowbuilder.interfaces.sink import EventSink
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store, definition_hash
from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType

__all__ = [
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
    "definition_hash",
]
