"""Request and response bodies of the REST API, as pydantic models (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    status: int
    reason: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx: the status again and a one-line reason."""

    error: ErrorDetail


class LocatedError(BaseModel):
    line: int
    column: int
    message: str
    hint: str | None = None


class Validation(BaseModel):
    valid: bool
    workflow: str | None = None
    errors: list[LocatedError] = []


class DagTask(BaseModel):
    name: str
    type: str
    depends_on: list[str]


class Dag(BaseModel):
    tasks: list[DagTask]


class WorkflowItem(BaseModel):
    name: str
    versions: int = Field(description="Stored versions (0: known only from runs in the store).")
    latest_definition: str | None = None


class WorkflowList(BaseModel):
    workflows: list[WorkflowItem]
    sources: list[str] = Field(description="Where the names came from: stored versions, then recent runs.")


class WorkflowVersionModel(BaseModel):
    workflow: str
    number: int
    definition: str
    version: str | None = None
    saved_at: float


class WorkflowDetail(BaseModel):
    name: str
    definition: str
    version: WorkflowVersionModel | None = None
    yaml: str
    dag: Dag


class VersionList(BaseModel):
    versions: list[WorkflowVersionModel]


class StartRun(BaseModel):
    """Start a run of a stored workflow (``workflow``: its latest version) or of posted YAML (``yaml``)."""

    model_config = ConfigDict(extra="forbid")
    workflow: str | None = Field(default=None, max_length=256)
    yaml: str | None = None
    params: dict[str, Any] = {}


class RunSummaryModel(BaseModel):
    run_id: str
    workflow: str | None = None
    version: str | None = None
    status: str
    created_at: float
    finished_at: float | None = None
    last_seq: int
    definition_hash: str | None = None


class RunPageModel(BaseModel):
    runs: list[RunSummaryModel]
    next_cursor: str | None = None


class RunDetail(BaseModel):
    summary: RunSummaryModel
    params: dict[str, Any]
    paused: bool
    tasks: dict[str, dict[str, Any]]


class EventModel(BaseModel):
    seq: int
    kind: str
    task: str | None = None
    attempt: int
    data: dict[str, Any]
    time: float


class EventPage(BaseModel):
    events: list[EventModel]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null: no more events now.")


class LogLineModel(BaseModel):
    number: int
    task: str
    attempt: int
    stream: str
    text: str
    time: float


class LogPage(BaseModel):
    lines: list[LogLineModel]
    next_after: int | None


class Outputs(BaseModel):
    outputs: dict[str, Any]


class ControlBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=1000)


class SignalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    payload: Any = None
    reason: str = Field(default="", max_length=1000)


class ResumeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any] = {}


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_tasks: list[str] = []
    only: list[str] = []
    params: dict[str, Any] = {}


class Accepted(BaseModel):
    run_id: str
    action: str
    request: int | None = Field(default=None, description="The control request's number (null: done in this process).")


class Started(BaseModel):
    run_id: str
    status_url: str
    stream_url: str


class AnnotationModel(BaseModel):
    number: int
    kind: str
    task: str | None = None
    attempt: int | None = None
    payload: Any = None
    author: str
    time: float


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=64)
    payload: Any = None
    task: str | None = Field(default=None, max_length=256)


class AnnotationList(BaseModel):
    annotations: list[AnnotationModel]


class PluginModel(BaseModel):
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str]
    provides: dict[str, list[str]]


class PluginList(BaseModel):
    plugins: list[PluginModel]


class RunStats(BaseModel):
    workflow: str | None = None
    runs: int
    by_status: dict[str, int]
    success_rate: float | None
    duration_p50: float | None
    duration_p95: float | None
    window: int = Field(description="How many of the newest runs were read.")


class TaskTypeModel(BaseModel):
    name: str
    summary: str = ""
    plugin: str | None = Field(default=None, description="The plugin that registered the type.")
    config_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema of the type's config (None: the type gives none; post raw JSON)."
    )


class TaskTypeList(BaseModel):
    task_types: list[TaskTypeModel]


class RunDefinition(BaseModel):
    run_id: str
    workflow: str | None = None
    definition: str = Field(description="The definition_hash the run was started with.")
    yaml: str
    dag: Dag


class TaskHistory(BaseModel):
    model_config = ConfigDict(extra="allow")
    workflow: str | None = None
    task: str
    executions: int
    success_rate: float | None = None
    p50: float | None = None
    p95: float | None = None


class SlowRun(BaseModel):
    model_config = ConfigDict(extra="allow")
    run_id: str
    workflow: str | None = None
    status: str | None = None
    seconds: float | None = None


class WorkflowHistory(BaseModel):
    workflow: str
    runs: int
    events: int
    tasks: list[TaskHistory]
    trend: list[dict[str, Any]]
    slowest_runs: list[SlowRun]


class AuditRecordModel(BaseModel):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    client: str
    detail: str


class AuditPageModel(BaseModel):
    records: list[AuditRecordModel]
    next_after: int | None = Field(default=None, description="Pass as `after` for the next, older page.")


class Health(BaseModel):
    status: str
    reason: str | None = None
