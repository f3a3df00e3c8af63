"""A workflow sent to the server (REST body or gRPC request): YAML text, validated and planned by core.

Shared by both APIs so they accept and refuse the same files. Text only, never a path: a
client cannot make the server read its files. For the same reason a ``workflow`` task may
not name its child by ``path:`` (the server would read that file, and existence and parse
errors would leak); the refusal is a located error like any other, at the ``path:`` value.
Children of a posted workflow are stored versions (``definition:`` and ``version:``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from flowbuilder.errors import WorkflowError
from flowbuilder.loader import load_workflow, plan_workflow
from flowbuilder.run_service import CompiledWorkflow
from flowbuilder.subworkflows import WORKFLOW_TASK_TYPE

if TYPE_CHECKING:
    from flowbuilder import PluginHost

PATH_CHILD_MESSAGE = (
    "a workflow sent to the server cannot name a sub-workflow file (the server would read its own files)"
)
PATH_CHILD_HINT = "store the child as a workflow version and give `definition:` and `version:`"


def compile_posted(host: PluginHost, content: str | bytes, filename: str) -> CompiledWorkflow:
    """Validate and plan posted YAML; :class:`~flowbuilder.errors.WorkflowError` (located) if invalid."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    source = load_workflow(data, filename=filename, limits=host.settings.limits, host=host)
    problems = [source.locator.at(("tasks", index, "config", "path"), PATH_CHILD_MESSAGE, PATH_CHILD_HINT)
                for index, task in enumerate(source.workflow.tasks)
                if task.type == WORKFLOW_TASK_TYPE and isinstance(task.config, Mapping)
                and task.config.get("path") is not None]  # fmt: skip
    if problems:
        raise WorkflowError(problems)
    return CompiledWorkflow(plan_workflow(source, host, children=False), source.content)


__all__ = ["PATH_CHILD_HINT", "PATH_CHILD_MESSAGE", "compile_posted"]
