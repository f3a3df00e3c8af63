"""Loading workflow files: YAML text to a validated model to a plan, with located errors.

The usual entry point is :func:`load_plan`. Everything a file can get wrong is reported
together, in line order, as ``FILE:LINE:COL: message (hint)`` by :class:`WorkflowError`.

"Everything" includes the compiler's checks when the schema check failed: the parts that
validated (the header without its bad fields, the tasks that validated) are compiled too,
and the compiler is told what was left out so it reports no follow-on errors (a dependency
on a task that failed validation is not "unknown").
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.diagnostics import Locator, pydantic_diagnostics
from flowbuilder.errors import Diagnostic, WorkflowError, cut
from flowbuilder.gc_pause import gc_paused
from flowbuilder.limits import YamlLimits

if TYPE_CHECKING:
    from pydantic import ValidationError

    from flowbuilder._workflow_form_cache import WorkflowFormCache
    from flowbuilder.compiler import Omitted
    from flowbuilder.model import Workflow
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost


@dataclass(frozen=True)
class WorkflowSource:
    """A validated workflow with where it came from (for locating later errors) and its bytes."""

    workflow: Workflow
    locator: Locator
    content: bytes
    path: Path | None = None
    """The file it was read from (None for text): sub-workflow ``path:`` values are relative to it."""


def read_workflow_file(path: str | Path, limits: YamlLimits = YamlLimits()) -> bytes:
    """The bytes of a workflow file; a located error (not a traceback) if it cannot be read.

    Only a regular file is read. The file is opened without blocking and checked before
    any byte is read: a FIFO would otherwise wait forever for a writer, and a device such as
    ``/dev/zero`` would never end (``/dev/null`` would read as an empty workflow).
    """
    name = str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise WorkflowError([Diagnostic(name, 1, 1, "no such file", "check the path")]) from None
    except IsADirectoryError:
        raise _not_a_file(name, "a directory") from None
    except PermissionError:
        raise WorkflowError([Diagnostic(name, 1, 1, "permission denied", "make the file readable")]) from None
    except OSError as error:  # ENXIO: a socket; ELOOP, ENAMETOOLONG (a 100 KB argument: shown cut), ...
        raise WorkflowError([Diagnostic(cut(name), 1, 1, f"cannot open: {error.strerror}",
                                        "give the path of a regular .yaml file")]) from None  # fmt: skip
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise _not_a_file(name, _file_kind(status.st_mode))
    with os.fdopen(descriptor, "rb") as opened:
        if status.st_size > limits.max_bytes:
            raise WorkflowError([Diagnostic(name, 1, 1, f"file is {status.st_size:,} bytes, over the limit of {limits.max_bytes:,}",
                                            "raise [limits] max_bytes in flowbuilder.toml (or FLOWBUILDER_LIMITS__MAX_BYTES) if this is intended")])  # fmt: skip
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        content = opened.read(limits.max_bytes + 1)  # the file may have grown since fstat
    if len(content) > limits.max_bytes:
        raise WorkflowError([Diagnostic(name, 1, 1, f"file is over the limit of {limits.max_bytes:,} bytes",
                                        "raise [limits] max_bytes in flowbuilder.toml (or FLOWBUILDER_LIMITS__MAX_BYTES) if this is intended")])  # fmt: skip
    return content


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_a_file(name: str, kind: str) -> WorkflowError:
    return WorkflowError(
        [Diagnostic(name, 1, 1, f"is {kind}, not a workflow file", "give the path of a regular .yaml file")]
    )


_FIELD_NAMES: frozenset[str] | None = None


def _dsl_field_names() -> frozenset[str]:
    """Every field name of the DSL's models, for "did you mean" on unknown fields."""
    global _FIELD_NAMES
    if _FIELD_NAMES is None:
        from flowbuilder import model

        names: set[str] = set()
        for cls in (model.Workflow, model.Task, model.RetryPolicy, model.Param, model.TaskDefaults, model.Foreach,
                    model.State, model.Transition):  # fmt: skip
            names.update(cls.model_fields)
        _FIELD_NAMES = frozenset(names)
    return _FIELD_NAMES


@dataclass(frozen=True)
class PartialWorkflow:
    """The parts of an invalid document that validated, for compiling the rest of the checks.

    ``task_positions[i]`` is the index in the document of ``workflow.tasks[i]``.
    """

    workflow: Workflow
    task_positions: tuple[int, ...]
    omitted: Omitted


class _InvalidDocument(WorkflowError):
    """Schema problems of a document, with what of it could still be compiled (if anything)."""

    def __init__(self, diagnostics: list[Diagnostic], partial: PartialWorkflow | None):
        super().__init__(diagnostics)
        self.partial = partial


def validate_document(document: Any, locator: Locator) -> Workflow:
    """Validate a parsed document as a workflow, reporting every problem at once.

    Raises :class:`WorkflowError` with every schema problem found, in line order.
    """
    from pydantic import ValidationError

    from flowbuilder.model import Workflow

    if not isinstance(document, dict):
        raise WorkflowError([locator.at((), "a workflow file must be a mapping with `name` and `tasks`",
                                        "start the file with `name: my-workflow`")])  # fmt: skip
    try:
        return Workflow.model_validate(document)
    except ValidationError as error:
        problems, partial = _validate_parts(document, locator, error)
    raise _InvalidDocument(problems, partial)


_PLACEHOLDER_TASK = {"name": "placeholder", "type": "placeholder"}


def _validate_parts(
    document: dict[str, Any], locator: Locator, whole_errors: ValidationError
) -> tuple[list[Diagnostic], PartialWorkflow | None]:
    """Validate the header and each task on its own, so one bad part hides no other problem."""
    from pydantic import ValidationError

    from flowbuilder.compiler import Omitted
    from flowbuilder.model import Task, Workflow

    fields = _dsl_field_names()
    tasks = document.get("tasks")
    if not (isinstance(tasks, list) and tasks):
        return pydantic_diagnostics(whole_errors, locator, (), fields, model=Workflow), None
    problems: list[Diagnostic] = []
    header = {key: value for key, value in document.items() if key != "tasks"}
    omitted_params: set[str] = set()
    omitted_pools: set[str] = set()
    all_params = all_pools = False
    try:
        Workflow.model_validate({**header, "tasks": [_PLACEHOLDER_TASK]})
    except ValidationError as error:
        problems.extend(pydantic_diagnostics(error, locator, (), fields, model=Workflow))
        # Drop what failed: one param or pool when the error is inside it, else the whole field.
        for item in error.errors(include_url=False):
            loc = item["loc"]
            top = loc[0] if loc else None
            if top in ("params", "pools") and len(loc) >= 2 and isinstance(header.get(top), dict):
                header[top] = {k: v for k, v in header[top].items() if k != loc[1]}
                (omitted_params if top == "params" else omitted_pools).add(str(loc[1]))
                continue
            if top == "params":
                all_params = True
            elif top == "pools":
                all_pools = True
            header.pop(str(top), None)
        header.setdefault("name", "invalid-workflow")
        if "states" in document and "states" not in header:
            header.pop("initial", None)  # its states were dropped: "initial needs states" would be a follow-on
    valid_tasks: list[Any] = []
    positions: list[int] = []
    omitted_tasks: set[str] = set()
    for task_id, raw_task in enumerate(tasks):
        try:
            Task.model_validate(raw_task)
        except ValidationError as error:
            problems.extend(pydantic_diagnostics(error, locator, ("tasks", task_id), fields, owner="task", model=Task))
            name = raw_task.get("name") if isinstance(raw_task, dict) else None
            if isinstance(name, str):
                omitted_tasks.add(name)
            continue
        valid_tasks.append(raw_task)
        positions.append(task_id)
    if not problems:  # cannot happen while the parts cover the whole; never hide an error
        return pydantic_diagnostics(whole_errors, locator, (), fields, model=Workflow), None
    if not valid_tasks:
        return problems, None
    try:
        workflow = Workflow.model_validate({**header, "tasks": valid_tasks})
    except ValidationError:  # the parts disagree with the whole; report what we have
        return problems, None
    omitted = Omitted(
        task_names=frozenset(omitted_tasks),
        param_names=frozenset(omitted_params),
        all_params=all_params,
        pool_names=frozenset(omitted_pools),
        all_pools=all_pools,
    )
    return problems, PartialWorkflow(workflow, tuple(positions), omitted)


def _compile_problems(partial: PartialWorkflow, locator: Locator, host: PluginHost) -> list[Diagnostic]:
    """The compiler's findings on the valid part of an invalid document."""
    from dataclasses import replace

    from flowbuilder.compiler import compile_workflow

    try:
        compile_workflow(
            partial.workflow,
            host.task_types(),
            locator=replace(locator, task_positions=partial.task_positions),
            omitted=partial.omitted,
        )
    except WorkflowError as error:
        return error.diagnostics
    return []


def load_workflow(
    source: str | bytes | Path,
    *,
    filename: str | None = None,
    limits: YamlLimits = YamlLimits(),
    host: PluginHost | None = None,
    form_cache: WorkflowFormCache | None = None,
) -> WorkflowSource:
    """Parse and validate a workflow from a path (``Path``) or YAML text (``str``/``bytes``).

    With ``host``, a file that fails schema validation is also compiled as far as it
    validated, and the compiler's problems (unknown task types, unknown dependencies,
    cycles, expressions) are reported with the schema problems in one :class:`WorkflowError`.

    With ``form_cache`` (``flowbuilder run``), a file whose bytes were validated before under
    the same settings and installation is not parsed or validated again: its validated form
    is rebuilt from the cache (:mod:`flowbuilder._workflow_form_cache`); a valid file seen for
    the first time is stored there.
    """
    path = None
    if isinstance(source, Path):
        content = read_workflow_file(source, limits)
        filename = filename or str(source)
        path = source
    else:
        content = source.encode() if isinstance(source, str) else source
        filename = filename or "<string>"
    # The document is parsed without positions (a third of the memory of a located one) and
    # dropped once validated; the locator parses the content again, with positions, only when
    # a problem or a lint warning needs one (bench/memory.py).
    locator = Locator(filename, content=content, limits=limits)
    form_key = None
    if form_cache is not None:
        remembered, form_key = form_cache.lookup(content)
        if remembered is not None:
            return WorkflowSource(remembered, locator, content, path)
    from flowbuilder.yamlsource import parse_yaml

    with gc_paused():  # the document and its models stay alive: see flowbuilder.gc_pause
        document = parse_yaml(content, filename, limits, positions=False)
        try:
            workflow = validate_document(document, locator)
        except _InvalidDocument as error:
            if host is None or error.partial is None:
                raise
            found = set(error.diagnostics)
            more = [d for d in _compile_problems(error.partial, locator, host) if d not in found]
            raise WorkflowError([*error.diagnostics, *more]) from None
        del document
    if form_key is not None and form_cache is not None:
        form_cache.store(form_key, workflow)
    return WorkflowSource(workflow, locator, content, path)


def plan_workflow(
    source: WorkflowSource,
    host: PluginHost,
    *,
    estimated_durations: Mapping[str, float] | None = None,
    children: bool = True,
    ancestors: tuple[Path, ...] = (),
) -> ExecutionPlan:
    """Compile a loaded workflow with the task types and compile passes of ``host``.

    With ``children`` (the default), the ``path:`` children of its ``workflow`` tasks are
    loaded and checked too, and kept on the plan (:func:`flowbuilder.subworkflows.pin_children`;
    ``ancestors``: the files that include this one). A definition read back from a store
    passes False: its children were pinned when its run started.
    """
    from flowbuilder.compiler import compile_workflow

    task_types = host.task_types()
    passes = host.compile_passes()
    with gc_paused():  # the plan stays alive: see flowbuilder.gc_pause
        plan = compile_workflow(
            source.workflow,
            task_types,
            locator=source.locator,
            estimated_durations=estimated_durations,
            passes=passes,
        )
        finished = source.workflow.on.run_finished if source.workflow.on is not None else None
        if finished is not None and finished.workflow == source.workflow.name:
            # Each of its runs would start the next, for ever (about two a second under a scheduler).
            raise WorkflowError([source.locator.at(
                ("on", "run_finished", "workflow"),
                f"workflow {source.workflow.name!r} is triggered by its own runs, so each run would start the next"
                " for ever", "name another workflow, or use `schedule:` to run it repeatedly")])  # fmt: skip
        if source.workflow.on is not None and source.workflow.on.source is not None:  # issue 11.2: trigger sources
            from flowbuilder.trigger_sources import source_diagnostics

            problems = source_diagnostics(source.workflow, host, source.locator)
            if problems:
                raise WorkflowError(problems)
        from flowbuilder.plan import has_subworkflows

        if children and has_subworkflows(plan):
            from flowbuilder.subworkflows import pin_children  # imported only then: it builds a pydantic model

            plan = pin_children(plan, source.locator, source.path, host, ancestors)
        return plan


def load_plan(source: str | bytes | Path, host: PluginHost, **options: Any) -> ExecutionPlan:
    """Load, validate and compile a workflow in one step."""
    limits = host.settings.limits
    with gc_paused():
        return plan_workflow(load_workflow(source, limits=limits, host=host), host, **options)


__all__ = [
    "PartialWorkflow",
    "WorkflowSource",
    "load_plan",
    "load_workflow",
    "plan_workflow",
    "read_workflow_file",
    "validate_document",
]
