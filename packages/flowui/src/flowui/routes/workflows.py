"""``/api/v1/workflows``: list, show (YAML and compiled DAG), validate, store and list versions.

Names come from two places, in this order: workflows with stored versions (this API's
``POST /workflows/{name}/versions``; see :mod:`flowui.workflow_versions`) and the workflows of
the newest runs in the store (up to :data:`RECENT_RUNS`), for runs started from files.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from flowbuilder.errors import WorkflowError
from flowui.api_context import ApiContext, context_of
from flowui.api_errors import ApiError, located_errors
from flowui.schemas import Dag, DagTask, Validation, VersionList, WorkflowDetail, WorkflowItem, WorkflowList
from flowui.yaml_body import YAML_BODY, read_yaml_body

RECENT_RUNS = 1000
"""How many of the newest runs are read to name the workflows known only from runs."""

router = APIRouter(prefix="/workflows", tags=["workflows"])


def compile_text(context: ApiContext, text: str) -> Any:
    """Validate and plan posted YAML with core; raises WorkflowError (located).

    A posted workflow may not name a sub-workflow by ``path:``: that would make the server
    read files of its own machine for a caller (existence and parse errors leak). Children
    of a posted workflow are stored versions (``definition:`` and ``version:``).
    """
    from collections.abc import Mapping

    from flowbuilder.errors import WorkflowError
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.run_service import CompiledWorkflow
    from flowbuilder.subworkflows import WORKFLOW_TASK_TYPE

    host = context.host
    source = load_workflow(text.encode("utf-8"), filename="<posted workflow>", limits=host.settings.limits,
                           host=host)  # fmt: skip
    problems = [source.locator.at(("tasks", index, "config", "path"), "a posted workflow cannot name a sub-workflow"
                                  " file (the server would read its own files)", "store the child with POST"
                                  " /api/v1/workflows/NAME/versions and give `definition:` and `version:`")
                for index, task in enumerate(source.workflow.tasks)
                if task.type == WORKFLOW_TASK_TYPE and isinstance(task.config, Mapping)
                and task.config.get("path") is not None]  # fmt: skip
    if problems:
        raise WorkflowError(problems)
    return CompiledWorkflow(plan_workflow(source, host), source.content)


def dag_of(plan: Any) -> Dag:
    types = {task.name: task.type for task in plan.workflow.tasks}
    tasks = [DagTask(name=name, type=types.get(name, "?"), depends_on=[plan.names[p] for p in plan.predecessors[i]])
             for i, name in enumerate(plan.names)]  # fmt: skip
    return Dag(tasks=tasks)


@router.get("", response_model=WorkflowList)
def list_workflows(request: Request) -> WorkflowList:
    context = context_of(request)
    items: dict[str, WorkflowItem] = {}
    for name in context.versions.names():
        versions = context.versions.versions(name)
        items[name] = WorkflowItem(name=name, versions=len(versions),
                                   latest_definition=versions[-1].definition if versions else None)  # fmt: skip
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
    latest = context.versions.latest(name)
    digest = latest.definition if latest else _newest_run_definition(context, name)
    text = context.store.load_definition(digest).decode("utf-8", errors="replace")
    compiled = compile_text(context, text)
    return WorkflowDetail(name=name, definition=digest, version=latest.to_dict() if latest else None,
                          yaml=text, dag=dag_of(compiled.plan))  # fmt: skip


def _newest_run_definition(context: ApiContext, name: str) -> str:
    for summary in context.store.list_runs(workflow=name, limit=20).runs:
        if summary.definition_hash:
            return summary.definition_hash
    raise ApiError(404, f"no workflow {name!r}: no stored version and no run of it in the store")


@router.get("/{name}/versions", response_model=VersionList)
def list_versions(name: str, request: Request) -> VersionList:
    versions = context_of(request).versions.versions(name)
    return VersionList(versions=[version.to_dict() for version in versions])


@router.post("/{name}/versions", response_model=VersionList, status_code=201, openapi_extra=YAML_BODY)
async def store_version(name: str, request: Request) -> VersionList:
    """Store posted YAML as the next version of ``name`` (it must validate and be named ``name``)."""
    from starlette.concurrency import run_in_threadpool

    text = await read_yaml_body(request)
    context = context_of(request)

    def store() -> VersionList:
        compiled = compile_text(context, text)
        workflow = compiled.plan.workflow
        if workflow.name != name:
            raise ApiError(422, f"the posted workflow is named {workflow.name!r}, not {name!r}")
        digest = context.store.save_definition(text.encode("utf-8"))
        added = context.versions.add(name, digest, workflow.version)
        return VersionList(versions=[added.to_dict()])

    return await run_in_threadpool(store)


__all__ = ["router"]
