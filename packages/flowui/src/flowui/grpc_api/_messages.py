"""Core's values as protobuf messages, and the JSON fields of requests as Python values.

JSON values travel as JSON text (see the proto file's header for why not ``Struct``); a
request's text that is not JSON, or not the expected shape, is a :class:`BadRequest`
naming the field.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from flowbuilder.events import json_fallback
from flowui.grpc_api._generated import flowbuilder_pb2 as pb
from flowui.grpc_api._status import BadRequest
from flowui.request_limits import lone_surrogate

if TYPE_CHECKING:
    from flowbuilder import Annotation, Diagnostic, RunEvent, RunState, RunSummary
    from flowbuilder.plan import ExecutionPlan
    from flowui.workflow_catalog import WorkflowVersion


def to_json(value: Any) -> str:
    """Compact JSON, as the store keeps events (values JSON cannot hold as events' encoder shows them)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=json_fallback)


def parse_json(text: str, field: str) -> Any:
    """The JSON value of a request field (empty text: None); BadRequest for text that is not
    JSON, nests past Python's recursion limit, or holds a lone surrogate escape (``"\\ud800"``),
    as the REST API refuses them (:mod:`flowui.request_limits`)."""
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise BadRequest(f"{field} is not JSON ({error}); send a JSON value") from None
    except RecursionError:
        raise BadRequest(f"{field} is nested too deeply; send a flatter JSON value") from None
    at = lone_surrogate(text.encode("utf-8"))
    if at is not None:  # it decodes to a str no store can encode: an INTERNAL error later
        raise BadRequest(f"{field} holds a lone surrogate escape at byte {at}; text must be valid Unicode"
                         " (a surrogate only as half of a pair)")  # fmt: skip
    return value


def parse_json_object(text: str, field: str) -> dict[str, Any]:
    """The JSON object of a request field (empty text: ``{}``)."""
    value = parse_json(text, field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be a JSON object of NAME: VALUE, not {type(value).__name__}")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def diagnostic(found: Diagnostic) -> pb.Diagnostic:
    return pb.Diagnostic(file=found.file, line=max(found.line, 0), column=max(found.column, 0), message=found.message,
                         hint=found.hint or "")  # fmt: skip


def compiled_workflow(plan: ExecutionPlan, definition_hash: str) -> pb.CompiledWorkflow:
    """The plan as the client sees it: tasks in the file's order with their dependencies and level."""
    level_of: dict[int, int] = {}
    for level, ids in enumerate(plan.levels):
        for task_id in ids:
            level_of[task_id] = level
    workflow = plan.workflow
    tasks = [
        pb.CompiledTask(
            name=task.name,
            type=task.type,
            depends_on=[plan.names[p] for p in plan.predecessors[task_id]],
            level=level_of.get(task_id, 0),
        )
        for task_id, task in enumerate(plan.tasks)
    ]
    params = {name: param.model_dump(mode="json", exclude_none=True) for name, param in workflow.params.items()}
    return pb.CompiledWorkflow(name=workflow.name, version=str(workflow.version or ""),
                               description=workflow.description or "", tasks=tasks,
                               critical_path=[plan.names[i] for i in plan.critical_path], max_width=plan.max_width,
                               params_json=to_json(params), definition_hash=definition_hash)  # fmt: skip


def run_event(event: RunEvent) -> pb.RunEvent:
    return pb.RunEvent(run_id=event.run_id, seq=event.seq, kind=event.kind.value, task=event.task or "",
                       attempt=event.attempt, data_json=to_json(dict(event.data)), time=event.time)  # fmt: skip


def annotation(note: Annotation) -> pb.Annotation:
    message = pb.Annotation(number=note.number, kind=note.kind, task=note.task or "", author=note.author,
                            payload_json=to_json(note.payload), time=note.time)  # fmt: skip
    if note.attempt is not None:
        message.attempt = note.attempt
    return message


def run_summary(summary: RunSummary) -> pb.RunSummary:
    message = pb.RunSummary(run_id=summary.run_id, workflow=summary.workflow or "", version=str(summary.version or ""),
                            status=summary.status.value, created_at=summary.created_at, last_seq=summary.last_seq,
                            definition_hash=summary.definition_hash or "")  # fmt: skip
    if summary.finished_at is not None:
        message.finished_at = summary.finished_at
    return message


def flow_status(summary: RunSummary, state: RunState) -> pb.FlowStatus:
    tasks = []
    for name, task in state.tasks.items():
        entry = pb.TaskStatus(name=name, status=task.status.value, attempts=task.attempts, error=task.error or "")
        if task.started_at is not None:
            entry.started_at = task.started_at
        if task.finished_at is not None:
            entry.finished_at = task.finished_at
        tasks.append(entry)
    return pb.FlowStatus(summary=run_summary(summary), paused=state.paused, tasks=tasks)


def workflow_version(version: WorkflowVersion) -> pb.WorkflowVersion:
    return pb.WorkflowVersion(workflow=version.workflow, number=version.number, definition_hash=version.definition_hash,
                              declared_version=version.declared_version, stored_at=version.stored_at)  # fmt: skip


def finite(value: float, field: str) -> float | None:
    """A time filter: None for 0 (unset); a BadRequest for NaN or infinity."""
    if value == 0:
        return None
    if not math.isfinite(value):
        raise BadRequest(f"{field} must be a finite number of seconds since the epoch")
    return value


__all__ = [
    "annotation",
    "compiled_workflow",
    "diagnostic",
    "finite",
    "flow_status",
    "parse_json",
    "parse_json_object",
    "run_event",
    "run_summary",
    "to_json",
    "workflow_version",
]
