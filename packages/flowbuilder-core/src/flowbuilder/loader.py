"""Loading workflow files: YAML text to a validated model to a plan, with located errors.

The usual entry point is :func:`load_plan`. Everything a file can get wrong is reported
together, in line order, as ``FILE:LINE:COL: message (hint)`` by :class:`WorkflowError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.diagnostics import Locator, pydantic_diagnostics
from flowbuilder.errors import Diagnostic, WorkflowError
from flowbuilder.yamlsource import YamlLimits, parse_yaml

if TYPE_CHECKING:
    from flowbuilder.model import Workflow
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost


@dataclass(frozen=True)
class WorkflowSource:
    """A validated workflow with where it came from (for locating later errors) and its bytes."""

    workflow: Workflow
    locator: Locator
    content: bytes


def read_workflow_file(path: str | Path, limits: YamlLimits = YamlLimits()) -> bytes:
    """The bytes of a workflow file; a located error (not a traceback) if it cannot be read."""
    name = str(path)
    try:
        size = Path(path).stat().st_size
        if size > limits.max_bytes:
            raise WorkflowError([Diagnostic(name, 1, 1, f"file is {size:,} bytes, over the limit of {limits.max_bytes:,}",
                                            "raise [limits] max_bytes in flowbuilder.toml if this is intended")])  # fmt: skip
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise WorkflowError([Diagnostic(name, 1, 1, "no such file", "check the path")]) from None
    except IsADirectoryError:
        raise WorkflowError([Diagnostic(name, 1, 1, "is a directory, not a workflow file", "give the path of a .yaml file")]) from None
    except PermissionError:
        raise WorkflowError([Diagnostic(name, 1, 1, "permission denied", "make the file readable")]) from None


_FIELD_NAMES: frozenset[str] | None = None


def _dsl_field_names() -> frozenset[str]:
    """Every field name of the DSL's models, for "did you mean" on unknown fields."""
    global _FIELD_NAMES
    if _FIELD_NAMES is None:
        from flowbuilder import model

        names: set[str] = set()
        for cls in (model.Workflow, model.Task, model.RetryPolicy, model.Param, model.TaskDefaults, model.Foreach):
            names.update(cls.model_fields)
        _FIELD_NAMES = frozenset(names)
    return _FIELD_NAMES


def validate_document(document: Any, locator: Locator) -> Workflow:
    """Validate a parsed document as a workflow, reporting every problem at once."""
    from pydantic import ValidationError

    from flowbuilder.model import Task, Workflow

    if not isinstance(document, dict):
        raise WorkflowError([locator.at((), "a workflow file must be a mapping with `name` and `tasks`",
                                        "start the file with `name: my-workflow`")])  # fmt: skip
    try:
        return Workflow.model_validate(document)
    except ValidationError as error:
        whole_errors = error
    # Validate the parts one by one so that one bad task does not hide the problems of others.
    fields = _dsl_field_names()
    tasks = document.get("tasks")
    if not (isinstance(tasks, list) and tasks):
        raise WorkflowError(pydantic_diagnostics(whole_errors, locator, (), fields))
    problems: list[Diagnostic] = []
    header = {key: value for key, value in document.items() if key != "tasks"}
    header["tasks"] = [{"name": "placeholder", "type": "placeholder"}]
    try:
        Workflow.model_validate(header)
    except ValidationError as error:
        problems.extend(pydantic_diagnostics(error, locator, (), fields))
    for task_id, raw_task in enumerate(tasks):
        try:
            Task.model_validate(raw_task)
        except ValidationError as error:
            problems.extend(pydantic_diagnostics(error, locator, ("tasks", task_id), fields))
    if not problems:  # cannot happen while the parts cover the whole; never hide an error
        problems.extend(pydantic_diagnostics(whole_errors, locator, (), fields))
    raise WorkflowError(problems)


def load_workflow(
    source: str | bytes | Path, *, filename: str | None = None, limits: YamlLimits = YamlLimits()
) -> WorkflowSource:
    """Parse and validate a workflow from a path (``Path``) or YAML text (``str``/``bytes``)."""
    if isinstance(source, Path):
        content = read_workflow_file(source, limits)
        filename = filename or str(source)
    else:
        content = source.encode() if isinstance(source, str) else source
        filename = filename or "<string>"
    document = parse_yaml(content, filename, limits)
    locator = Locator(filename, document)
    return WorkflowSource(validate_document(document, locator), locator, content)


def plan_workflow(
    source: WorkflowSource, host: PluginHost, *, estimated_durations: Mapping[str, float] | None = None
) -> ExecutionPlan:
    """Compile a loaded workflow with the task types and compile passes of ``host``."""
    from flowbuilder.compiler import compile_workflow

    return compile_workflow(
        source.workflow,
        host.task_types(),
        locator=source.locator,
        estimated_durations=estimated_durations,
        passes=host.compile_passes(),
    )


def load_plan(source: str | bytes | Path, host: PluginHost, **options: Any) -> ExecutionPlan:
    """Load, validate and compile a workflow in one step."""
    limits = host.settings.limits
    return plan_workflow(load_workflow(source, limits=limits), host, **options)

