"""``workflow``: run another workflow as a child run (a sub-workflow).

The config is :class:`flowbuilder.subworkflows.SubworkflowConfig`: ``path`` (a file, relative
to the parent's file, loaded and checked with the parent) or ``definition`` + ``version`` (a
stored definition pinned by its hash), and ``params`` (expressions allowed). The output is
``{"run_id": CHILD_RUN_ID, "outputs": {TASK: OUTPUT, ...}}``.

A child run is the parent's *run's* business, not an attempt executor's: it is started,
cancelled and resumed through the parent's run service and linked in both histories, so
:class:`~flowrunner.LocalRunner` drives it itself (:mod:`flowrunner._subworkflow`) and never
hands it to an executor (which may be a remote one). :meth:`WorkflowTask.run` is therefore
only reached by a runner that does not start child runs, and says so.

Example::

    - name: build
      type: workflow
      config: {path: build.yaml, params: {target: "${{ params.target }}"}}
"""

from __future__ import annotations

from typing import Any, ClassVar

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType
from flowbuilder.subworkflows import WORKFLOW_TASK_TYPE, SubworkflowConfig


class WorkflowTask(TaskType):
    """Runs another workflow as a child run of the same store (see the module docstring)."""

    name: ClassVar[str] = WORKFLOW_TASK_TYPE
    config_model: ClassVar[type[SubworkflowConfig]] = SubworkflowConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "run another workflow (a file or a stored definition) as a child run"

    def run(self, config: Any, context: TaskContext) -> Any:
        raise TaskFailure(
            f"task {context.task!r}: this runner does not start child runs; run workflow tasks with"
            " flowrunner's `local` runner",
            retryable=False,
        )


__all__ = ["WorkflowTask"]
