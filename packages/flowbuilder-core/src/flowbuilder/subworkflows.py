"""Sub-workflows: a ``type: workflow`` task runs another workflow as a child run.

A child is a real run of the same store, with its own run id, started through the parent's
:class:`~flowbuilder.run_service.RunService` (there is no second way to start a run). What
this module owns is what a parent and its children agree on:

* :class:`SubworkflowConfig`, the task's ``config``: ``path`` (a file, relative to the
  parent's file) or ``definition`` + ``version`` (a stored definition, pinned by its hash),
  and ``params`` for the child (expressions allowed);
* :func:`pin_children`, run when a workflow file is loaded: every ``path:`` child is read,
  validated and compiled with the parent (errors at the parent's ``path:`` value, then the
  child's own), a workflow that includes itself is refused with the chain of files, and the
  bytes of the whole tree are kept on the plan (``plan.metadata["subworkflows"]``) so that
  the run service stores them when the run starts. The run then records each child's
  definition hash in ``run_created`` (``subworkflows``), so a resumed parent starts a child
  from exactly the file it had when it started, as a resumed run does for itself;
* :class:`ParentLink`, the child's ``run_started`` data ``parent: {run_id, task, attempt,
  depth}``; the parent records each child it starts as a ``task_annotated`` event whose data
  is ``{"child_run": RUN_ID}`` (:data:`CHILD_RUN_KEY`) *before* the child writes anything,
  which is how a resumed parent finds the child to resume instead of starting a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowbuilder.errors import Diagnostic, WorkflowError
from flowbuilder.limits import MAX_SUBWORKFLOW_DEPTH
from flowbuilder.plan import PINS_METADATA_KEY, WORKFLOW_TASK_TYPE, has_subworkflows, pins_of

if TYPE_CHECKING:
    from flowbuilder.diagnostics import Locator
    from flowbuilder.interfaces import DefinitionStore
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost

CHILD_RUN_KEY = "child_run"
"""The key of a parent's ``task_annotated`` data that names the child run a task started."""
_HASH = re.compile(r"^[0-9a-f]{64}$")


class SubworkflowConfig(BaseModel):
    """Config of a ``workflow`` task: which workflow runs as the child, and its params.

    Exactly one of ``path`` and ``definition``. ``path`` is read when the parent file is
    loaded (it cannot hold an expression); ``params`` values may. The child's output, as the
    task's output, is ``{"run_id": CHILD_RUN_ID, "outputs": {TASK: OUTPUT, ...}}`` with the
    output of every task of the child that succeeded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: str | None = Field(None, description="A workflow file, relative to the parent workflow's file.")
    definition: str | None = Field(None, description="The name of a workflow stored in the run store.")
    version: str | None = Field(
        None, description="With `definition`: the definition's hash (64 hex digits, `runs show` prints it)."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The child's params (expressions allowed).")

    @model_validator(mode="after")
    def _one_source(self) -> SubworkflowConfig:
        if (self.path is None) == (self.definition is None):
            raise ValueError("give either `path` (a workflow file) or `definition` and `version` (a stored one)")
        if self.path is not None and self.version is not None:
            raise ValueError("`version` pins a stored `definition`; a `path` is pinned when the parent starts")
        if self.definition is not None:
            if self.version is None:
                raise ValueError("a stored `definition` needs its `version` (the hash `flowbuilder runs show` prints)")
            if not _HASH.match(self.version):
                raise ValueError(f"version {self.version!r} is not a definition hash (64 hex digits)")
        if self.path is not None and not self.path.strip():
            raise ValueError("`path` is empty; give the child workflow's file")
        return self


@dataclass(frozen=True, slots=True)
class ParentLink:
    """Who started a child run: recorded as ``parent`` in the child's ``run_started``.

    ``depth`` is the child's level below its top-level run (a direct child is 1), checked
    against :data:`~flowbuilder.limits.MAX_SUBWORKFLOW_DEPTH`.
    """

    run_id: str
    task: str
    attempt: int = 1
    depth: int = 1

    def as_data(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "task": self.task, "attempt": self.attempt, "depth": self.depth}

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | None) -> ParentLink | None:
        """The link recorded in a ``run_started`` (None for a run that is nobody's child)."""
        if not data or not isinstance(data.get("run_id"), str):
            return None
        return cls(str(data["run_id"]), str(data.get("task", "")), int(data.get("attempt", 1)),
                   int(data.get("depth", 1)))  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChildPin:
    """A ``path:`` child as loaded with its parent: where it was, its bytes and its own children."""

    path: str
    content: bytes
    children: Mapping[str, ChildPin] = field(default_factory=dict)


def store_pins(store: DefinitionStore, pins: Mapping[str, ChildPin]) -> dict[str, Any]:
    """Save every pinned child definition (the whole tree); the record for ``run_created``.

    The record maps each task to ``{"path", "definition" (hash), "subworkflows" (its own)}``.
    """
    records: dict[str, Any] = {}
    for task, pin in pins.items():
        digest = store.save_definition(pin.content)
        records[task] = {"path": pin.path, "definition": digest, "subworkflows": store_pins(store, pin.children)}
    return records


def pin_children(plan: ExecutionPlan, locator: Locator, source_path: Path | None, host: PluginHost,
                 ancestors: tuple[Path, ...] = ()) -> ExecutionPlan:  # fmt: skip
    """Load, check and keep every ``path:`` child of ``plan`` (recursively); WorkflowError lists every problem.

    ``source_path`` is the parent's file (None for YAML text: paths are then relative to
    the current directory); ``ancestors`` the files of the workflows that include this one.
    Reported at the parent's ``path:`` (or ``params``) value: a path holding an expression,
    a missing or unreadable file, a workflow that includes itself, nesting past
    :data:`~flowbuilder.limits.MAX_SUBWORKFLOW_DEPTH`, an invalid child (its own located
    problems follow), a param the child does not declare, a required one not given, and a
    literal value of the wrong type. A ``definition:`` child is checked when it starts (no
    store is open when a file is loaded).
    """
    from flowbuilder.loader import load_workflow, plan_workflow

    base = source_path.parent if source_path is not None else Path.cwd()
    me = source_path.resolve() if source_path is not None else None
    chain = (*ancestors, me) if me is not None else ancestors
    problems: list[Diagnostic] = []
    pins: dict[str, ChildPin] = {}
    for task_id, task in enumerate(plan.workflow.tasks):
        if task.type != WORKFLOW_TASK_TYPE:
            continue
        where = ("tasks", task_id)
        if task.foreach is not None:
            problems.append(locator.at((*where, "foreach"), "a workflow task cannot fan out with foreach (not yet)",
                                       "write one workflow task per child"))  # fmt: skip
            continue
        raw = task.config.get("path")
        if not isinstance(raw, str):
            continue  # a definition: child, or a config the compiler already reported
        at_path = (*where, "config", "path")
        if "${{" in raw:
            problems.append(locator.at(at_path, "a sub-workflow's path cannot hold an expression",
                                       "it is read when the parent is loaded; write the file's path"))  # fmt: skip
            continue
        try:
            child_path = (base / raw).resolve()
            is_file, exists = child_path.is_file(), child_path.exists()
        except (OSError, ValueError) as error:  # a NUL byte, a name too long, a loop of links
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            problems.append(locator.at(at_path, f"sub-workflow path {raw[:80]!r} cannot be used: {reason}",
                                       "give the path of a workflow file"))  # fmt: skip
            continue
        if child_path in chain:
            shown = " -> ".join(_short(p) for p in (*chain[chain.index(child_path) :], child_path))
            problems.append(locator.at(at_path, f"workflow includes itself: {shown}",
                                       "a sub-workflow cannot run a workflow that runs it"))  # fmt: skip
            continue
        if len(chain) + 1 > MAX_SUBWORKFLOW_DEPTH:
            problems.append(locator.at(at_path, f"sub-workflows nest deeper than {MAX_SUBWORKFLOW_DEPTH} levels",
                                       "flatten the chain (flowbuilder.limits.MAX_SUBWORKFLOW_DEPTH)"))  # fmt: skip
            continue
        if not is_file:
            what = "is not a file" if exists else "does not exist"
            problems.append(locator.at(at_path, f"sub-workflow {raw!r} {what} ({child_path})",
                                       "paths are relative to this workflow's file"))  # fmt: skip
            continue
        try:
            child_source = load_workflow(child_path, limits=host.settings.limits, host=host)
            child_plan = plan_workflow(child_source, host, ancestors=chain)
        except WorkflowError as error:
            count = len(error.diagnostics)
            problems.append(locator.at(at_path, f"sub-workflow {raw!r} is invalid", f"fix the child workflow: see"
                                       f" its {count} problem{'s' * (count != 1)} listed with this one"))  # fmt: skip
            problems.extend(error.diagnostics)
            continue
        _check_params(task.config.get("params"), child_plan, raw, (*where, "config"), locator, problems)
        pins[task.name] = ChildPin(str(child_path), child_source.content, pins_of(child_plan))
    if problems:
        raise WorkflowError(dict.fromkeys(problems))
    if not pins:
        return plan
    return replace(plan, metadata=MappingProxyType({**plan.metadata, PINS_METADATA_KEY: MappingProxyType(pins)}))


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _check_params(given: Any, child: ExecutionPlan, shown: str, where: tuple[Any, ...], locator: Locator,
                  problems: list[Diagnostic]) -> None:  # fmt: skip
    """The params a parent gives against the child's declared ones (values with expressions: at run time)."""
    from flowbuilder.diagnostics import suggest

    declared = child.workflow.params
    given = given if isinstance(given, dict) else {}
    for name, value in given.items():
        param = declared.get(name)
        if param is None:
            hint = suggest(str(name), declared) or (f"its params: {', '.join(declared)}" if declared
                                                    else "it declares no params")  # fmt: skip
            problems.append(locator.at((*where, "params", name), f"sub-workflow {shown!r} has no param {name!r}",
                                       hint, key=True))  # fmt: skip
            continue
        if isinstance(value, str) and "${{" in value:
            continue
        try:
            param.check(value, f"param {name!r}:")
        except ValueError as error:
            problems.append(locator.at((*where, "params", name), f"sub-workflow {shown!r}: {error}",
                                       f"give a value of type {param.type}"))  # fmt: skip
    missing = [name for name, param in declared.items() if param.is_required and param.default is None
               and name not in given]  # fmt: skip
    if missing:
        at = (*where, "params") if given else where
        problems.append(locator.at(at, f"sub-workflow {shown!r} needs param{'s' * (len(missing) != 1)}"
                                       f" {', '.join(missing)}", "give them under config.params"))  # fmt: skip


__all__ = [
    "CHILD_RUN_KEY",
    "ChildPin",
    "MAX_SUBWORKFLOW_DEPTH",
    "PINS_METADATA_KEY",
    "ParentLink",
    "SubworkflowConfig",
    "WORKFLOW_TASK_TYPE",
    "has_subworkflows",
    "pin_children",
    "pins_of",
    "store_pins",
]
