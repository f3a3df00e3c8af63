"""The typed interfaces that plugins implement and the engine calls directly.

Each interface lives in its own submodule, imported on first use: importing one of them
(``flowbuilder.interfaces.sink``) must not pull in the others' dependencies (the TaskType
interface needs pydantic), so that the CLI's ``--help`` stays fast.

The Store is split into roles (``EventLog``, ``RunIndex``, ``DefinitionStore``,
``LogStore``, ``BlobStore``, ``AnnotationStore``, ``ControlChannel``, ``ResultCache``, ``CoordinationStore``, ``AuditLog``) that ``Store`` inherits; a plugin still
subclasses ``Store``, a consumer may type against one role.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowbuilder.interfaces.annotation_store import AnnotationStore
    from flowbuilder.interfaces.audit_log import AuditLog
    from flowbuilder.interfaces.authenticator import Authenticator, Principal, Role
    from flowbuilder.interfaces.blobs import BlobStore
    from flowbuilder.interfaces.consensus import ClusterConfig, ConsensusEngine
    from flowbuilder.interfaces.control import ControlChannel
    from flowbuilder.interfaces.coordination import CoordinationStore
    from flowbuilder.interfaces.definitions import DefinitionStore
    from flowbuilder.interfaces.event_log import EventLog
    from flowbuilder.interfaces.executor import Attempt, AttemptExecutor, AttemptOutcome
    from flowbuilder.interfaces.logs import LogStore
    from flowbuilder.interfaces.message_bus import Message, MessageBus
    from flowbuilder.interfaces.node_announcer import NodeAnnouncement, NodeAnnouncer
    from flowbuilder.interfaces.result_cache import ResultCache
    from flowbuilder.interfaces.run_index import RunIndex
    from flowbuilder.interfaces.runner import Runner, RunRequest, RunResult
    from flowbuilder.interfaces.sink import EventSink
    from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary, Store, definition_hash
    from flowbuilder.interfaces.tasktype import ExecutionMode, TaskContext, TaskFailure, TaskType, TaskWarning
    from flowbuilder.interfaces.trigger_source import TriggerEvent, TriggerSource

_SUBMODULE_OF = {
    "AnnotationStore": "annotation_store",
    "Attempt": "executor",
    "AuditLog": "audit_log",
    "Authenticator": "authenticator",
    "Principal": "authenticator",
    "Role": "authenticator",
    "AttemptExecutor": "executor",
    "AttemptOutcome": "executor",
    "BlobStore": "blobs",
    "ClusterConfig": "consensus",
    "ControlChannel": "control",
    "CoordinationStore": "coordination",
    "DefinitionStore": "definitions",
    "EventLog": "event_log",
    "LogStore": "logs",
    "ResultCache": "result_cache",
    "RunIndex": "run_index",
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
    # trigger sources (issue 11.2)
    "TriggerEvent": "trigger_source",
    "TriggerSource": "trigger_source",
    # the cluster event bus (issue 12.4)
    "Message": "message_bus",
    "MessageBus": "message_bus",
    # the node registry's announcers (issue 12, schedulers in the registry)
    "NodeAnnouncement": "node_announcer",
    "NodeAnnouncer": "node_announcer",
}

__all__ = [
    "AnnotationStore",
    "Attempt",
    "AttemptExecutor",
    "AuditLog",
    "Authenticator",
    "AttemptOutcome",
    "BlobStore",
    "ClusterConfig",
    "ControlChannel",
    "CoordinationStore",
    "DefinitionStore",
    "EventLog",
    "LogStore",
    "Message",
    "Principal",
    "MessageBus",
    "NodeAnnouncement",
    "NodeAnnouncer",
    "ResultCache",
    "Role",
    "RunIndex",
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
    "TriggerEvent",
    "TriggerSource",
    "definition_hash",
]


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module 'flowbuilder.interfaces' has no attribute {name!r}")
    value = getattr(import_module(f"flowbuilder.interfaces.{submodule}"), name)
    globals()[name] = value
    return value
