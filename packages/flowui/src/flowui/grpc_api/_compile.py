"""A workflow sent in a request, loaded and planned by core with the request's file name.

Text only, by the rules both APIs share (:mod:`flowui.posted_workflows`): never a path,
and a ``path:`` sub-workflow is refused with a located error (it would be a file of the
server's disk); a run stored from a request can use ``definition:`` children from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowbuilder.loader import load_workflow, plan_workflow
from flowbuilder.run_service import CompiledWorkflow

if TYPE_CHECKING:
    from flowbuilder import PluginHost

DEFAULT_FILENAME = "<request>"


def compile_text(host: PluginHost, yaml: str, filename: str = "") -> CompiledWorkflow:
    """Validate and plan ``yaml``; :class:`~flowbuilder.errors.WorkflowError` with located problems if invalid."""
    from flowui.posted_workflows import compile_posted

    return compile_posted(host, yaml, filename or DEFAULT_FILENAME)


def compile_stored(host: PluginHost, content: bytes, workflow: str, number: int) -> CompiledWorkflow:
    """Plan a stored version (validated when it was stored; checked again: plugins may have changed)."""
    source = load_workflow(content, filename=f"<workflow {workflow} version {number}>", limits=host.settings.limits,
                           host=host)  # fmt: skip
    return CompiledWorkflow(plan_workflow(source, host, children=False), source.content)


__all__ = ["DEFAULT_FILENAME", "compile_stored", "compile_text"]
