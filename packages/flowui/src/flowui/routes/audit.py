"""``/api/v1/audit``: the store's audit log (who did what, when), newest first, for admins.

Paging is the store's own (:meth:`~flowbuilder.interfaces.audit_log.AuditLog.read_audit`):
``after`` is a record number, so records appended while a reader pages do not shift pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from flowui.api_context import context_of
from flowui.schemas import AuditPageModel, AuditRecordModel

MAX_PAGE = 1000

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=AuditPageModel)
async def read_audit(request: Request, after: int | None = Query(default=None, ge=1, le=1 << 62),
                     limit: int = Query(default=100, ge=1, le=MAX_PAGE)) -> AuditPageModel:  # fmt: skip
    """Up to ``limit`` audit records older than record ``after`` (none: from the newest)."""
    store = context_of(request).store
    page = await run_in_threadpool(lambda: store.read_audit(after=after, limit=limit))
    return AuditPageModel(records=[AuditRecordModel(**record.to_dict()) for record in page.records],
                          next_after=page.next_after)  # fmt: skip


__all__ = ["router"]
