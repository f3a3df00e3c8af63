"""FlowBuilder's microkernel: the workflow model, the compiler and the plugin contract.

Plugin authors need only::

    from flowbuilder import hookimpl, TaskType, TaskContext

and an entry point in the ``flowbuilder.plugins`` group (see ``docs/plugins.md``).
Embedders load and compile workflows with :func:`build_plugin_host` and
:func:`load_plan`. Heavy modules (pydantic models, Jinja2) load only when first used, so
importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder._version import __version__
from flowbuilder.errors import (
    ConfigurationError,
    Diagnostic,
    FlowBuilderError,
    NoStoreError,
    NotInstalledError,
    PluginError,
    RunNotFoundError,
    SequenceConflictError,
    StoreError,
    WorkflowError,
)

if TYPE_CHECKING:
    from flowbuilder.annotations import Annotation
    from flowbuilder.audit import AuditRecord
    from flowbuilder.config import Settings, load_settings
    from flowbuilder.control import ControlRequest
    from flowbuilder.events import EventKind, RunEvent, RunState, RunStatus, TaskState, TaskStatus
    from flowbuilder.expressions import ExpressionError
    from flowbuilder.hookspecs import hookimpl, hookspec
    from flowbuilder.interfaces import (
        Authenticator,
        ConsensusEngine,
        EventSink,
        ExecutionMode,
        LogLine,
        Principal,
        Role,
        Runner,
        RunPage,
        RunRequest,
        RunResult,
        RunSummary,
        Store,
        TaskContext,
        TaskFailure,
        TaskType,
        TaskWarning,
    )
    from flowbuilder.leases import RunLease
    from flowbuilder.loader import load_plan, load_workflow, plan_workflow
    from flowbuilder.model import Task, Workflow
    from flowbuilder.params import ParamError
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost, build_plugin_host
    from flowbuilder.subscriptions import RunUpdate

_LAZY = {
    "Annotation": "flowbuilder.annotations",
    "AuditRecord": "flowbuilder.audit",
    "Authenticator": "flowbuilder.interfaces",
    "Principal": "flowbuilder.interfaces",
    "Role": "flowbuilder.interfaces",
    "RunUpdate": "flowbuilder.subscriptions",
    "ControlRequest": "flowbuilder.control",
    "RunLease": "flowbuilder.leases",
    "Settings": "flowbuilder.config",
    "load_settings": "flowbuilder.config",
    "EventKind": "flowbuilder.events",
    "RunEvent": "flowbuilder.events",
    "RunState": "flowbuilder.events",
    "RunStatus": "flowbuilder.events",
    "TaskState": "flowbuilder.events",
    "TaskStatus": "flowbuilder.events",
    "ExpressionError": "flowbuilder.expressions",
    "hookimpl": "flowbuilder.hookspecs",  # pluggy: imported by the first plugin (never by `--version`
    "hookspec": "flowbuilder.hookspecs",  # or a `validate` answered from its cache)
    "ParamError": "flowbuilder.params",
    "ConsensusEngine": "flowbuilder.interfaces",
    "EventSink": "flowbuilder.interfaces",
    "ExecutionMode": "flowbuilder.interfaces",
    "LogLine": "flowbuilder.interfaces",
    "RunPage": "flowbuilder.interfaces",
    "Runner": "flowbuilder.interfaces",
    "RunRequest": "flowbuilder.interfaces",
    "RunResult": "flowbuilder.interfaces",
    "RunSummary": "flowbuilder.interfaces",
    "Store": "flowbuilder.interfaces",
    "TaskContext": "flowbuilder.interfaces",
    "TaskFailure": "flowbuilder.interfaces",
    "TaskType": "flowbuilder.interfaces",
    "TaskWarning": "flowbuilder.interfaces",
    "load_plan": "flowbuilder.loader",
    "load_workflow": "flowbuilder.loader",
    "plan_workflow": "flowbuilder.loader",
    "Task": "flowbuilder.model",
    "Workflow": "flowbuilder.model",
    "ExecutionPlan": "flowbuilder.plan",
    "PluginHost": "flowbuilder.plugins",
    "build_plugin_host": "flowbuilder.plugins",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowbuilder' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "Annotation",
    "AuditRecord",
    "Authenticator",
    "ConfigurationError",
    "ConsensusEngine",
    "ControlRequest",
    "Diagnostic",
    "EventKind",
    "EventSink",
    "ExecutionMode",
    "ExecutionPlan",
    "ExpressionError",
    "FlowBuilderError",
    "LogLine",
    "NoStoreError",
    "NotInstalledError",
    "ParamError",
    "PluginError",
    "PluginHost",
    "Principal",
    "Role",
    "RunEvent",
    "RunLease",
    "RunNotFoundError",
    "RunPage",
    "RunRequest",
    "RunResult",
    "RunState",
    "RunStatus",
    "RunSummary",
    "RunUpdate",
    "Runner",
    "SequenceConflictError",
    "Settings",
    "Store",
    "StoreError",
    "Task",
    "TaskContext",
    "TaskFailure",
    "TaskState",
    "TaskStatus",
    "TaskType",
    "TaskWarning",
    "Workflow",
    "WorkflowError",
    "__version__",
    "build_plugin_host",
    "hookimpl",
    "hookspec",
    "load_plan",
    "load_settings",
    "load_workflow",
    "plan_workflow",
]
