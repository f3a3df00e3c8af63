"""``flowbuilder cache list | clear``: the cached task results of a store.

Both read an existing store only (never create one) and use the store's
:class:`~flowbuilder.interfaces.result_cache.ResultCache` role, so they work on any store.
Keys are shown as the digests they are: the text a key was made from is never stored.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING

import click

from flowbuilder.cli.arguments import UTF8_TEXT
from flowbuilder.cli.runs_commands import json_option, open_existing_store, store_choice, store_option
from flowbuilder.cli.terminal import echo, one_line

if TYPE_CHECKING:
    from flowbuilder.caching import CachedResult

workflow_option = click.option("--workflow", "-w", type=UTF8_TEXT, metavar="NAME", help="Only this workflow's entries.")
task_option = click.option("--task", "-t", type=UTF8_TEXT, metavar="TASK", help="Only this task's entries.")


def _checked_names(workflow: str | None, task: str | None) -> None:
    """Refuse a name no entry can have with one line (exit 2), before any store is opened."""
    from flowbuilder.caching import check_cache_name
    from flowbuilder.errors import StoreError

    try:
        if workflow is not None:
            check_cache_name("workflow", workflow)
        if task is not None:
            check_cache_name("task", task)
    except StoreError as error:
        raise click.UsageError(str(error)) from None


@click.group()
def cache() -> None:
    """Cached task results (tasks with `cache:`): list them, clear them."""


@cache.command("list")
@workflow_option
@task_option
@store_option
@json_option
def list_cache(workflow: str | None, task: str | None, store: str | None, as_json: bool) -> None:
    """The live cached results, by workflow and task: key, source run, age and expiry."""
    _checked_names(workflow, task)
    opened = open_existing_store(store)
    if opened is None:
        entries: list[CachedResult] = []
    else:
        with opened:
            entries = opened.list_cached_results(workflow, task)
    if as_json:
        click.echo(json.dumps([entry.to_dict() for entry in entries], default=str))
        return
    if not entries:
        echo(f"no cached results in {store_choice(store)}")
        return
    click.echo(f"{'WORKFLOW':<24} {'TASK':<24} {'KEY':<16} {'RUN':<32} {'STORED':<19} EXPIRES")
    for entry in entries:
        click.echo(f"{one_line(entry.workflow, 24):<24} {one_line(entry.task, 24):<24} {entry.key[:16]:<16}"
                   f" {one_line(entry.run_id, 32):<32} {_when(entry.stored_at):<19} {_expiry(entry)}")  # fmt: skip


@cache.command("clear")
@workflow_option
@task_option
@store_option
def clear_cache(workflow: str | None, task: str | None, store: str | None) -> None:
    """Remove cached results (every one, a workflow's, or a task's), and every expired one.

    Runs and their outputs are not touched: only the cache entries that point at them.
    """
    _checked_names(workflow, task)
    opened = open_existing_store(store)
    if opened is None:
        echo(f"no cached results in {store_choice(store)}")
        return
    with opened:
        removed = opened.clear_cached_results(workflow, task)
    scope = " of every workflow" if workflow is None else f" of workflow {workflow!r}"
    if task is not None:
        scope += f", task {task!r}"
    echo(f"removed {removed} cached result{'' if removed == 1 else 's'}{scope}")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _expiry(entry: CachedResult) -> str:
    if entry.expires_at is None:
        return "never"
    left = entry.expires_at - time.time()
    return f"{_when(entry.expires_at)} (in {left:.0f}s)" if left < 3600 else _when(entry.expires_at)


__all__ = ["cache"]
