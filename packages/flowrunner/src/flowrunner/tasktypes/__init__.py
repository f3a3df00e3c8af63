"""The built-in task types: ``shell``, ``http``, ``script``, ``python``, ``workflow``, and the waiting ``approval`` and ``wait``."""

from flowrunner.tasktypes.approval import ApprovalConfig, ApprovalTask
from flowrunner.tasktypes.http import HttpConfig, HttpTask
from flowrunner.tasktypes.python import PythonConfig, PythonTask
from flowrunner.tasktypes.script import ScriptConfig, ScriptTask
from flowrunner.tasktypes.shell import ShellConfig, ShellTask
from flowrunner.tasktypes.wait import WaitConfig, WaitTask
from flowrunner.tasktypes.workflow import WorkflowTask

BUILTIN_TASK_TYPES = (ShellTask, HttpTask, ScriptTask, PythonTask, WorkflowTask, ApprovalTask, WaitTask)

__all__ = [
    "BUILTIN_TASK_TYPES",
    "ApprovalConfig",
    "ApprovalTask",
    "HttpConfig",
    "HttpTask",
    "PythonConfig",
    "PythonTask",
    "ScriptConfig",
    "ScriptTask",
    "ShellConfig",
    "ShellTask",
    "WaitConfig",
    "WaitTask",
    "WorkflowTask",
]
