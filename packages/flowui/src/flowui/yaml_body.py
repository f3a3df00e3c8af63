"""Request bodies that are a workflow file: raw YAML text, UTF-8 (bad UTF-8 is a 400)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from flowui.api_errors import ApiError

YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}
"""The OpenAPI request body of the routes that take a workflow file."""


async def read_yaml_body(request: Request) -> str:
    """The body as text; ApiError 400 when it is empty or not UTF-8."""
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "empty body: post the workflow's YAML text")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not UTF-8 (byte {error.start}); post the workflow file as UTF-8") from None


__all__ = ["YAML_BODY", "read_yaml_body"]
