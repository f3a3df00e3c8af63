"""``/api/v1/workflows``: list, show (YAML and compiled DAG), validate, store and list versions.

Names come from two places, in this order: workflows with stored versions (this API's
``POST /workflows/{name}/versions`` or gRPC's StoreWorkflow; see :mod:`flowui.workflow_catalog`) and the workflows of
the newest runs in the store (up to :data:`RECENT_RUNS`), for runs started from files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from flowbuilder.errors import WorkflowError
from flowui.api_context import ApiContext, context_of
from flowui.api_errors import ApiError, located_errors
from flowui.schemas import Dag, DagTask, Validation, VersionList, WorkflowDetail, WorkflowItem, WorkflowList
from flowui.yaml_body import YAML_BODY, read_yaml_body

if TYPE_CHECKING:
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.run_service import CompiledWorkflow
    from flowui.workflow_catalog import WorkflowVersion

RECENT_RUNS = 1000
"""How many of the newest runs are read to name the workflows known only from runs."""

router = APIRouter(prefix="/workflows", tags=["workflows"])


def compile_text(context: ApiContext, text: str | bytes, filename: str = "<posted workflow>") -> CompiledWorkflow:
    """Validate and plan YAML by the rules both APIs share (:mod:`flowui.posted_workflows`)."""
    from flowui.posted_workflows import compile_posted

    return compile_posted(context.host, text, filename)


def version_json(version: WorkflowVersion) -> dict[str, object]:
    """A :class:`~flowui.workflow_catalog.WorkflowVersion` as the REST API shows it."""
    return {"workflow": version.workflow, "number": version.number, "definition": version.definition_hash,
            "version": version.declared_version or None, "saved_at": version.stored_at}  # fmt: skip


def latest_version(context: ApiContext, name: str) -> WorkflowVersion | None:
    """The newest stored version of ``name``, or None."""
    from flowui.workflow_catalog import list_versions

    versions = list_versions(context.store, name)
    return versions[-1] if versions else None


def dag_of(plan: ExecutionPlan) -> Dag:
    types = {task.name: task.type for task in plan.workflow.tasks}
    tasks = [DagTask(name=name, type=types.get(name, "?"), depends_on=[plan.names[p] for p in plan.predecessors[i]])
             for i, name in enumerate(plan.names)]  # fmt: skip
    return Dag(tasks=tasks)


@router.get("", response_model=WorkflowList)
def list_workflows(request: Request) -> WorkflowList:
    from flowui.workflow_catalog import list_versions, list_workflows

    context = context_of(request)
    items: dict[str, WorkflowItem] = {}
    for name in list_workflows(context.store):
        versions = list_versions(context.store, name)
        if versions:  # a name listed by a writer killed before its first version has none
            items[name] = WorkflowItem(
                name=name, versions=len(versions), latest_definition=versions[-1].definition_hash
            )
    page = context.store.list_runs(limit=RECENT_RUNS)
    for summary in page.runs:
        if summary.workflow and summary.workflow not in items:
            items[summary.workflow] = WorkflowItem(name=summary.workflow, versions=0,
                                                   latest_definition=summary.definition_hash)  # fmt: skip
    return WorkflowList(workflows=list(items.values()), sources=["stored versions", f"newest {RECENT_RUNS} runs"])


@router.post("/validate", response_model=Validation, openapi_extra=YAML_BODY)
async def validate_workflow(request: Request) -> Validation:
    """Validate a posted workflow file; 200 with ``valid`` and core's located errors either way."""
    from starlette.concurrency import run_in_threadpool

    text = await read_yaml_body(request)
    try:
        compiled = await run_in_threadpool(compile_text, context_of(request), text)
    except WorkflowError as error:
        return Validation(valid=False, errors=located_errors(error))
    return Validation(valid=True, workflow=compiled.plan.workflow.name)


@router.get("/{name}", response_model=WorkflowDetail)
def show_workflow(name: str, request: Request) -> WorkflowDetail:
    """The latest stored version (else the definition of the newest run of ``name``), with its DAG."""
    context = context_of(request)
    latest = latest_version(context, name)
    digest = latest.definition_hash if latest else _newest_run_definition(context, name)
    content = context.store.load_definition(digest)
    compiled = compile_text(context, content, f"<workflow {name}>")
    text = content.decode("utf-8", errors="replace")
    return WorkflowDetail(name=name, definition=digest, version=version_json(latest) if latest else None,
                          yaml=text, dag=dag_of(compiled.plan))  # fmt: skip


def _newest_run_definition(context: ApiContext, name: str) -> str:
    for summary in context.store.list_runs(workflow=name, limit=20).runs:
        if summary.definition_hash:
            return summary.definition_hash
    raise ApiError(404, f"no workflow {name!r}: no stored version and no run of it in the store")


@router.get("/{name}/versions", response_model=VersionList)
def list_versions(name: str, request: Request) -> VersionList:
    from flowui.workflow_catalog import list_versions

    versions = list_versions(context_of(request).store, name)
    return VersionList(versions=[version_json(version) for version in versions])


@router.post("/{name}/versions", response_model=VersionList, status_code=201, openapi_extra=YAML_BODY)
async def store_version(name: str, request: Request) -> VersionList:
    """Store posted YAML as the next version of ``name`` (it must validate and be named ``name``)."""
    from starlette.concurrency import run_in_threadpool

    text = await read_yaml_body(request)
    context = context_of(request)

    def store() -> VersionList:
        from flowui.workflow_catalog import store_version

        compiled = compile_text(context, text)
        workflow = compiled.plan.workflow
        if workflow.name != name:
            raise ApiError(422, f"the posted workflow is named {workflow.name!r}, not {name!r}")
        added, _ = store_version(context.store, name, text.encode("utf-8"), workflow.version or "")
        return VersionList(versions=[version_json(added)])

    return await run_in_threadpool(store)


__all__ = ["router"]
