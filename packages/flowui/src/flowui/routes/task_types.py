"""``/api/v1/task-types``: each installed task type with its config's JSON schema.

The Designer builds its "add task" form from these schemas, so the form asks for exactly
what the type's ``config_model`` will accept when the workflow is loaded (one source of
truth: the plugin's pydantic model, never a copy in the browser).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from flowui.api_context import context_of
from flowui.schemas import TaskTypeList, TaskTypeModel

router = APIRouter(tags=["service"])


def config_schema(task_type: Any) -> dict[str, Any] | None:
    """The JSON schema of ``task_type.config_model``; None when it has none or pydantic cannot
    render one (a field of an arbitrary Python type): the UI then falls back to raw JSON."""
    model = getattr(task_type, "config_model", None)
    if model is None:
        return None
    try:
        schema: dict[str, Any] = model.model_json_schema()
    except Exception:  # a plugin's model pydantic cannot describe must not break the listing
        return None
    return schema


@router.get("/task-types", response_model=TaskTypeList)
def list_task_types(request: Request) -> TaskTypeList:
    """Every installed task type, its one-line summary, the plugin that registered it and its config schema."""
    host = context_of(request).host
    owners = {name: plugin for plugin, kinds in host.contributions().items() for name in kinds.get("task_types", [])}
    return TaskTypeList(task_types=[TaskTypeModel(name=name, summary=str(getattr(task_type, "summary", "") or ""),
                                                  plugin=owners.get(name), config_schema=config_schema(task_type))
                                    for name, task_type in sorted(host.task_types().items())])  # fmt: skip


__all__ = ["config_schema", "router"]
