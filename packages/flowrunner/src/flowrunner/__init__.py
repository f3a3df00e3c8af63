"""flowrunner: FlowBuilder's local runner and its built-in task types.

Embedding FlowBuilder in an application::

    from flowrunner import run_workflow

    result = run_workflow("pipeline.yaml", params={"day": "2024-01-01"})
    print(result.status, result.output("count"))

See :mod:`flowrunner.api` for the asyncio flavour, many runs at once, event streams and
cancellation.
"""

from flowrunner._version import __version__
from flowrunner.api import Engine, RunHandle, run_workflow, run_workflow_async
from flowrunner.runner import LocalRunner
from flowrunner.tasktypes import HttpTask, PythonTask, ScriptTask, ShellTask

__all__ = [
    "Engine",
    "HttpTask",
    "LocalRunner",
    "PythonTask",
    "RunHandle",
    "ScriptTask",
    "ShellTask",
    "__version__",
    "run_workflow",
    "run_workflow_async",
]
