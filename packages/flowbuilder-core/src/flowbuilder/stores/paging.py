"""Stable run-listing order and cursors, shared by every store so pages mean the same everywhere.

Runs are listed newest first by ``(created_at, run_id)``; a cursor is the position of the
last run of a page, so runs appended meanwhile never shift later pages.

Public for store plugins: a store that filters in memory returns :func:`page_of`; one that
pages in its backend orders by :func:`listing_key` and hands out :func:`encode_cursor`
cursors, so a cursor from any store means the same position.
"""

from __future__ import annotations

import base64
import json
from typing import Iterable

from flowbuilder.errors import StoreError, quoted
from flowbuilder.events import RunStatus
from flowbuilder.interfaces.store import RunPage, RunSummary


def encode_cursor(summary: RunSummary) -> str:
    """The opaque cursor that resumes a listing just after ``summary`` (URL-safe text)."""
    raw = json.dumps([summary.created_at, summary.run_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The ``(created_at, run_id)`` position of a cursor; a one-line StoreError if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, run_id = json.loads(base64.urlsafe_b64decode(padded))
        return float(created_at), str(run_id)
    except (ValueError, TypeError) as error:
        raise StoreError(f"invalid page cursor {quoted(cursor)}; pass back the next_cursor of a listing") from error


def listing_key(summary: RunSummary) -> tuple[float, str]:
    """The sort key of run listings (newest first means descending by this key)."""
    return (summary.created_at, summary.run_id)


def page_of(
    summaries: Iterable[RunSummary],
    *,
    workflow: str | None,
    status: RunStatus | None,
    since: float | None,
    until: float | None,
    limit: int,
    cursor: str | None,
) -> RunPage:
    """Filter, order and cut one page from an iterable of summaries."""
    if limit < 1:
        raise StoreError(f"page limit must be at least 1, got {limit}")
    after = decode_cursor(cursor) if cursor else None
    chosen = [
        s
        for s in summaries
        if (workflow is None or s.workflow == workflow)
        and (status is None or s.status is status)
        and (since is None or s.created_at >= since)
        and (until is None or s.created_at < until)
        and (after is None or listing_key(s) < after)
    ]
    chosen.sort(key=listing_key, reverse=True)
    page = chosen[:limit]
    next_cursor = encode_cursor(page[-1]) if len(chosen) > limit else None
    return RunPage(runs=page, next_cursor=next_cursor)


__all__ = [
    "decode_cursor",
    "encode_cursor",
    "listing_key",
    "page_of",
]
