"""Inspecting and continuing recorded runs: ``runs list|show``, ``logs``, ``resume``, ``gc``.

These commands use only the core :class:`~flowbuilder.interfaces.Store` interface, so
they work on every store (``memory://``, ``rocksdb://``, ``redis://``, a third party's).
Each takes ``--store URL`` (default: ``FLOWBUILDER_STORE``, flowbuilder.toml, else the
highest-priority installed store) and ``--json`` for machines.

Resume semantics (see flowbuilder-storage's README): the run's state is folded from its
events; tasks recorded as succeeded are not run again; a task that had started but not
finished is run again — at-least-once execution, exactly-once recording.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

import click

from flowbuilder.cli.arguments import UTF8_TEXT
from flowbuilder.cli.cache_option import no_cache_option
from flowbuilder.cli.context import plugin_host
from flowbuilder.cli.progress_option import progress_option
from flowbuilder.cli.store_option import store_option as store_option_for
from flowbuilder.cli.terminal import echo, one_line
from flowbuilder.cli.workers_option import workers_option
from flowbuilder.errors import ConfigurationError, cut, quoted

if TYPE_CHECKING:
    from flowbuilder.events import ItemState
    from flowbuilder.interfaces import Store

store_option = store_option_for("The store to read (e.g. rocksdb://PATH, redis://HOST:PORT/DB).")
SHOWN_ITEMS = 20
"""How many items of a ``foreach`` task ``runs show`` lists without ``--items``."""


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")

LOG_FOLLOW_SECONDS = 0.2
"""``logs --follow``: longest wait for the run's next event before reading its logs again."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90s``, ``45m``, ``12h``, ``30d``, ``2w`` -> seconds; ConfigurationError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigurationError(f"invalid duration {quoted(text)}; use a number with s, m, h, d or w, e.g. 30d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _show_wait(run_id: str, waiting: dict[str, Any], interrupted: bool) -> None:
    """The lines of a waiting task (an approval, a timer): what for, until when, how to end it."""
    from flowbuilder.cli.wait_text import describe_wait, signal_command

    click.echo(f"      waiting {one_line(describe_wait(waiting, time.time()))}"
               + (" (goes on when the run is resumed)" if interrupted else ""))  # fmt: skip
    if isinstance(waiting.get("message"), str):
        click.echo(f"      asks    {one_line(waiting['message'])}")
    for refused in waiting.get("refused") or ():
        text = f"a signal from {refused.get('by')}: {refused.get('reason')}"
        click.echo(f"      refused {one_line(text)}")
    command = signal_command(run_id, waiting)
    if command is not None:
        click.echo(f'      decide  {command}  (or {{"approved": false}})')


def open_existing_store(flag: str | None) -> Store | None:
    """The store these commands read, or None when there is none there.

    Reading never creates a store (``runs list`` in an empty folder must not leave a
    ``.flowbuilder/`` behind): the store's ``exists`` is asked first. Commands about one run
    use :func:`open_store_with_run` instead, which turns "no store" into "no such run".
    """
    from flowbuilder.errors import NoStoreError

    try:
        return plugin_host().open_store(flag, create=False)
    except NoStoreError:
        return None


def stop_following_if_interrupted(store: Store, run_id: str) -> None:
    """Raise a one-line error if ``run_id`` is interrupted (running, but its process is gone):
    it will not finish until it is resumed, so `logs --follow` and `runs watch` waited for ever
    (the owner SIGKILLed while another process followed the run)."""
    from flowbuilder.errors import FlowBuilderError
    from flowbuilder.events import RunStatus
    from flowbuilder.leases import with_live_status

    if with_live_status(store, store.get_run(run_id)).status is RunStatus.INTERRUPTED:
        raise FlowBuilderError(f"run {run_id} is interrupted: its process is gone, so it will not finish until"
                               f" it is resumed (`flowbuilder resume {run_id}`); stopped following it")  # fmt: skip


def open_store_with_run(flag: str | None, run_id: str) -> Store:
    """The store to read ``run_id`` from; where there is no store, the run is not found
    (:class:`RunNotFoundError`, saying which store was looked for)."""
    from flowbuilder.errors import RunNotFoundError

    opened = open_existing_store(flag)
    if opened is None:
        raise RunNotFoundError(run_id, f"here: there is no store at {store_choice(flag)}")
    return opened


def store_choice(flag: str | None) -> str:
    """The store these commands read and why that one, for messages such as "no runs in ...".

    Follows the selection order of :meth:`~flowbuilder.plugins.PluginHost.default_store_url`:
    the ``--store`` flag, ``FLOWBUILDER_STORE``, ``store =`` in flowbuilder.toml, else the
    installed store with the highest ``default_priority``.
    """
    from flowbuilder.errors import shown_url

    host = plugin_host()
    if flag:
        return cut(shown_url(flag))  # a 100 KB --store stays a one-line message
    url = shown_url(host.default_store_url())
    if os.environ.get("FLOWBUILDER_STORE"):
        return f"{url} (from FLOWBUILDER_STORE; --store URL to read another)"
    if host.settings.store:
        return f"{url} (store = in {host.settings.source}; --store URL to read another)"
    return f"{url} (the default store; --store URL to read another)"


# -- runs list | show ------------------------------------------------------------------------


@click.group()
def runs() -> None:
    """List and show recorded runs."""


@runs.command("list")
@click.option("--workflow", "-w", type=UTF8_TEXT, help="Only runs of this workflow.")
@click.option(
    "--status",
    "-s",
    type=click.Choice(["pending", "running", "interrupted", "succeeded", "failed", "cancelled"]),
    help="Only runs with this status (interrupted: running, but its process is gone).",
)
@click.option("--since", metavar="DURATION", help="Only runs created within this long ago (e.g. 24h, 7d).")
@click.option("--until", metavar="DURATION", help="Only runs created longer ago than this (e.g. 1h).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--cursor", type=UTF8_TEXT, help="Continue a listing from its next_cursor.")
@store_option
@json_option
def list_runs(workflow: str | None, status: str | None, since: str | None, until: str | None, limit: int,
              cursor: str | None, store: str | None, as_json: bool) -> None:  # fmt: skip
    """Runs, newest first."""
    from flowbuilder.events import RunStatus
    from flowbuilder.leases import list_runs_live

    now = time.time()
    since_time = now - parse_duration(since) if since else None
    until_time = now - parse_duration(until) if until else None
    opened = open_existing_store(store)
    if opened is None:
        if as_json:
            click.echo(json.dumps({"runs": [], "next_cursor": None}))
        else:
            echo(f"no runs: there is no store at {store_choice(store)}")
        return
    with opened:
        page = list_runs_live(opened, workflow=workflow, status=RunStatus(status) if status else None,
                              since=since_time, until=until_time, limit=limit, cursor=cursor)  # fmt: skip
    if as_json:
        click.echo(json.dumps({"runs": [s.to_dict() for s in page.runs], "next_cursor": page.next_cursor}))
        return
    if not page.runs:
        filtered = any(given is not None for given in (workflow, status, since, until, cursor))
        echo(f"no {'matching ' if filtered else ''}runs in {store_choice(store)}")
        return
    click.echo(f"{'RUN ID':<34} {'WORKFLOW':<24} {'STATUS':<11} {'CREATED':<19} {'TOOK':>8} {'EVENTS':>7}")
    for s in page.runs:
        took = f"{s.finished_at - s.created_at:.1f}s" if s.finished_at and s.created_at else "-"
        click.echo(f"{s.run_id:<34} {(s.workflow or '-')[:24]:<24} {s.status.value:<11} {_when(s.created_at):<19}"
                   f" {took:>8} {s.last_seq:>7}")  # fmt: skip
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@runs.command("show")
@click.argument("run_id", type=UTF8_TEXT)
@click.option(
    "--items",
    "all_items",
    is_flag=True,
    help=f"List every item of a foreach task (default: the first {SHOWN_ITEMS}, unfinished and failed first).",
)
@store_option
@json_option
@click.option("--timing", "show_timing", is_flag=True,
              help="Where the run's time went (compile, dispatch, queue wait by cause, store, sinks, task bodies)"
                   " instead of the task list.")  # fmt: skip
def show_run(run_id: str, store: str | None, as_json: bool, all_items: bool = False, show_timing: bool = False) -> None:
    """One run: its summary and every task's state, output and error (one line each)."""
    from flowbuilder.cli.watch_commands import annotation_line
    from flowbuilder.events import RunStatus
    from flowbuilder.leases import with_live_status

    with open_store_with_run(store, run_id) as opened:
        summary = with_live_status(opened, opened.get_run(run_id))
        state = opened.load_state(run_id)
        notes = opened.read_annotations(run_id)
        lease = opened.read_lease(run_id)
        requests = opened.read_control_requests(run_id)
    interrupted = summary.status is RunStatus.INTERRUPTED
    pending = [name for name, task in state.tasks.items() if not task.status.finished]
    if interrupted:
        state.status = RunStatus.INTERRUPTED
    if as_json:
        click.echo(json.dumps({"run": summary.to_dict(), "state": state.to_dict(),
                               "annotations": [a.to_dict() for a in notes],
                               "lease": lease.to_dict() if lease is not None else None,
                               "control_requests": [r.to_dict() for r in requests],
                               "pending_tasks": pending if interrupted else None,
                               "timing": state.timing}, default=str))  # fmt: skip
        return
    click.echo(f"run {summary.run_id}")
    click.echo(f"  workflow   {summary.workflow or '-'} (version {summary.version or '-'})")
    if state.parent:  # a sub-workflow's run: who started it
        click.echo(f"  parent     {state.parent.get('run_id')} (task {state.parent.get('task')},"
                   f" level {state.parent.get('depth', 1)})")  # fmt: skip
    paused = " (paused: no new attempts start; flowbuilder unpause RUN_ID)" if state.paused else ""
    click.echo(f"  status     {summary.status.value}{paused}")
    if lease is not None and not summary.status.finished:
        click.echo(f"  owner      {lease.describe()}{' — gone' if interrupted else ''}")
    if interrupted:
        click.echo(
            f"  pending    {one_line(', '.join(pending) or '-')} (cut short; tasks not reached yet run on resume too)"
        )
        click.echo(f"  resume it  flowbuilder resume {summary.run_id}")
    click.echo(f"  created    {_when(summary.created_at)}")
    click.echo(f"  finished   {_when(summary.finished_at)}")
    click.echo(f"  events     {summary.last_seq}")
    click.echo(f"  definition {summary.definition_hash or '-'}")
    for number, retried in enumerate(state.retries, 1):
        chose = "".join(f" --{flag} {task}" for flag in ("from", "only") for task in retried.get(flag) or ())
        click.echo(f"  retry {number:<4} after {retried.get('previous_status', '-')}{chose}: events from"
                   f" {retried.get('seq', '-')}, reran {one_line(', '.join(retried.get('rerun', ())))}")  # fmt: skip
    if show_timing:
        from flowbuilder.cli.timing_view import timing_lines

        for line in timing_lines(state.timing):
            click.echo(line)
        return
    if state.machine is not None:  # a state-machine workflow: where it is and how it got there
        from flowbuilder.cli.state_history import state_lines

        for line in state_lines(state.machine, summary.status.finished):
            echo(line)
    if state.tasks:
        click.echo(f"  {'TASK':<32} {'STATUS':<10} {'ATTEMPTS':>8} {'TOOK':>8}")
        for name, task in state.tasks.items():
            took = f"{task.finished_at - task.started_at:.2f}s" if task.finished_at and task.started_at else "-"
            click.echo(f"  {one_line(name, 32):<32} {task.status.value:<10} {task.attempts:>8} {took:>8}")
            if task.waiting is not None and not task.status.finished:
                _show_wait(summary.run_id, task.waiting, interrupted)
            if task.lock is not None:
                click.echo(f"      lock    {one_line(str(task.lock.get('name')))}"
                           f" (fencing token {one_line(str(task.lock.get('token')))})")  # fmt: skip
            child = state.children.get(name)
            if child is not None:
                click.echo(f"      child   {child.get('run_id')} (flowbuilder runs show {child.get('run_id')})")
            served = state.cached.get(name) if task.status.value == "succeeded" else None
            if served is not None:
                click.echo(f"      cached  the result of run {one_line(served.get('run', '-'))}"
                           f" (key {str(served.get('key', '-'))[:16]})")  # fmt: skip
            if task.output is not None:
                click.echo(f"      output  {one_line(task.output)}")
            if task.error:
                click.echo(f"      error   {one_line(task.error)}")
            if task.items:
                show_items(name, task.items, None if all_items else SHOWN_ITEMS)
    if notes:
        click.echo(f"  annotations ({len(notes)})")
        for note in notes:
            echo(f"  {annotation_line(note)}")
    unhonoured = [r for r in requests if r.number > state.control_seen]
    if unhonoured:
        click.echo(f"  control requests not yet honoured ({len(unhonoured)})")
        for request in unhonoured:
            echo(f"    #{request.number} {request.action}{' ' + str(request.name) if request.name else ''}"
                 f" by {request.by or '-'} at {_when(request.time)}")  # fmt: skip


def show_items(task: str, items: Mapping[int, ItemState], limit: int | None) -> None:
    """A foreach task's items: a count by status, then one line per item (failed and unfinished first)."""
    from collections import Counter

    counts = Counter(item.status.value for item in items.values())
    click.echo(
        f"      items   {len(items)}: " + ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    )
    order = sorted(items, key=lambda position: (items[position].status.value == "succeeded", position))
    shown = order if limit is None else order[:limit]
    for position in shown:
        item = items[position]
        took = f"{item.finished_at - item.started_at:.2f}s" if item.finished_at and item.started_at else "-"
        label = one_line(f"{task}[{position}]", 28)
        detail = item.error if item.error else item.output
        echo(f"      {label:<28} {item.status.value:<10} {item.attempts:>8} {took:>8}"
             + (f"  {one_line(detail, 60)}" if detail is not None else ""))  # fmt: skip
    if len(shown) < len(items):
        click.echo(f"      ... and {len(items) - len(shown)} more items (--items lists them all)")


# -- logs -------------------------------------------------------------------------------------


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@click.argument("task", required=False, type=UTF8_TEXT)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run finishes.")
@store_option
@json_option
def logs(run_id: str, task: str | None, follow: bool, store: str | None, as_json: bool) -> None:
    """The log lines of a run (of one TASK if given), in order.

    A foreach TASK shows every item's lines (each prefixed with its item, ``[TASK[3]#1]``);
    ``TASK[3]`` shows that item's lines only.
    """

    def emit(line: Any) -> None:
        if as_json:
            click.echo(json.dumps({"task": line.task, "attempt": line.attempt, "stream": line.stream,
                                   "text": line.text, "time": line.time}, ensure_ascii=False))  # fmt: skip
        else:
            echo(f"[{line.task}#{line.attempt}] {line.text}", err=line.stream == "stderr")

    # A foreach task's items write under ``TASK[N]`` (task names cannot hold ``[``), so a
    # plain TASK reads the run's lines and keeps its own and its items'; ``seen`` counts
    # what was read, ``shown`` what was printed.
    whole_task = task is not None and "[" not in task
    asked = None if whole_task else task
    seen = 0
    shown = 0

    def read() -> list[Any]:
        nonlocal seen
        batch = opened.read_logs(run_id, asked, after=seen)
        seen += len(batch)
        if not whole_task:
            return batch
        return [line for line in batch if line.task == task or line.task.startswith(f"{task}[")]

    with open_store_with_run(store, run_id) as opened:
        opened.get_run(run_id)  # RunNotFoundError (one line) for an unknown id
        seq = 0
        while True:
            lines = read()
            if task is not None and not lines and not shown:
                _check_task_recorded(opened, run_id, task)
            for line in lines:
                emit(line)
            shown += len(lines)
            if not follow:
                return
            if opened.get_run(run_id).status.finished:
                for line in read():
                    emit(line)
                return
            stop_following_if_interrupted(opened, run_id)
            # Woken at once by the run's next event (the store pushes it, see Store.subscribe);
            # lines written between events show within LOG_FOLLOW_SECONDS.
            events, _ = opened.wait_for_updates(run_id, seq, 1 << 62, LOG_FOLLOW_SECONDS)
            if events:
                seq = events[-1].seq


def _check_task_recorded(store: Store, run_id: str, task: str) -> None:
    """One-line error when a finished run's history names no task ``task`` (nor an item of one).

    Why: ``logs RUN TASK`` with a mistyped TASK printed nothing and exited 0, as for a task
    that printed nothing. Only a finished run is checked (every task it reached is in its
    history, the others were recorded skipped); a live one's task may not have started yet.
    """
    if not store.get_run(run_id).status.finished:
        return
    recorded = store.load_state(run_id).tasks
    if task in recorded or task.partition("[")[0] in recorded:  # ``each[3]``: an item of a foreach task
        return
    names = sorted(recorded)
    known = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") or "none"
    raise ConfigurationError(f"run {run_id} has no task {quoted(task)} (its tasks: {known})")


# -- resume -----------------------------------------------------------------------------------


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner continues the run.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="At most this many tasks at once.")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="A secret param's value again (the run's record does not hold it); repeatable.")  # fmt: skip
@click.option(
    "--force",
    is_flag=True,
    help="Resume even if the run's lease says its process is alive (only when you know it is gone).",
)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's events as JSON lines (for machines).")
@progress_option
@no_cache_option
@workers_option
def resume(run_id: str, runner: str | None, concurrency: int | None, params: tuple[str, ...], force: bool,
           store: str | None, as_json: bool, progress: bool, no_cache: bool, workers: str | None) -> None:  # fmt: skip
    """Continue an unfinished run: succeeded tasks are kept, the rest run (again).

    Shows the same progress and summary as ``run``, and exits the same way: 0 if it
    succeeded, 1 if it failed, 130 if cancelled.
    """
    from flowbuilder.cli.run_command import execute_and_report
    from flowbuilder.params import parse_param_assignments
    from flowbuilder.run_service import RunService

    host = plugin_host()
    given = parse_param_assignments(params)
    with open_store_with_run(store, run_id) as opened:
        service = RunService(host, opened, runner=runner, concurrency=concurrency or host.settings.concurrency,
                             workers=workers)  # fmt: skip
        prepared = service.prepare_resume(run_id, given, force=force)
        prepared.use_cache = not no_cache
        execute_and_report(service, prepared, as_json, progress=progress)


# -- retry ------------------------------------------------------------------------------------


@click.command()
@click.argument("run_id", type=UTF8_TEXT)
@click.option("--from", "from_tasks", multiple=True, type=UTF8_TEXT, metavar="TASK",
              help="Rerun this task and everything downstream of it, even what succeeded; repeatable.")  # fmt: skip
@click.option("--only", multiple=True, type=UTF8_TEXT, metavar="TASK",
              help="Rerun just this task (and what below it did not succeed); repeatable.")  # fmt: skip
@click.option("--runner", type=UTF8_TEXT, metavar="NAME", help="Which installed runner runs the retry.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="At most this many tasks at once.")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="A secret param's value again (the run's record does not hold it); repeatable.")  # fmt: skip
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the run's events as JSON lines (for machines).")
@no_cache_option
@workers_option
def retry(run_id: str, from_tasks: tuple[str, ...], only: tuple[str, ...], runner: str | None,
          concurrency: int | None, params: tuple[str, ...], store: str | None, as_json: bool,
          no_cache: bool, workers: str | None) -> None:  # fmt: skip
    """Rerun a finished run's failed, skipped and cancelled tasks; succeeded tasks keep their outputs.

    The retry continues the same run id: its events follow the run's history (which is
    never rewritten) and attempt numbers continue. Exits like ``run``: 0 if the run now
    succeeded, 1 if it failed, 130 if cancelled.
    """
    from flowbuilder.cli.run_command import execute_and_report
    from flowbuilder.params import parse_param_assignments
    from flowbuilder.run_service import RunService

    host = plugin_host()
    given = parse_param_assignments(params)
    with open_store_with_run(store, run_id) as opened:
        service = RunService(host, opened, runner=runner, concurrency=concurrency or host.settings.concurrency,
                             workers=workers)  # fmt: skip
        prepared = service.prepare_retry(run_id, given, from_tasks=from_tasks, only=only)
        prepared.use_cache = not no_cache
        if not as_json:
            rerun = prepared.retry["rerun"] if prepared.retry is not None else []
            echo(f"retrying run {run_id}: {len(rerun)} task(s) run again: {one_line(', '.join(rerun))}")
        execute_and_report(service, prepared, as_json)


# -- gc ---------------------------------------------------------------------------------------


def select_garbage(store: Store, *, older_than: float | None, keep_last: int | None, workflow: str | None,
                   now: float | None = None) -> list[str]:  # fmt: skip
    """Finished runs to delete: created more than ``older_than`` seconds ago, or beyond the
    newest ``keep_last`` finished runs (per workflow). Unfinished runs are never chosen."""
    now = time.time() if now is None else now
    chosen: list[str] = []
    kept_per_workflow: dict[str | None, int] = {}
    cursor: str | None = None
    while True:
        page = store.list_runs(workflow=workflow, limit=500, cursor=cursor)
        for summary in page.runs:
            if not summary.status.finished:
                continue
            count = kept_per_workflow.get(summary.workflow, 0)
            too_old = older_than is not None and summary.created_at < now - older_than
            too_many = keep_last is not None and count >= keep_last
            if too_old or too_many:
                chosen.append(summary.run_id)
            else:
                kept_per_workflow[summary.workflow] = count + 1
        if page.next_cursor is None:
            return chosen
        cursor = page.next_cursor


@click.command()
@click.option("--older-than", metavar="DURATION", help="Delete finished runs created longer ago than this (e.g. 30d).")
@click.option("--keep-last", type=click.IntRange(min=0), help="Keep only the newest N finished runs of each workflow.")
@click.option("--workflow", "-w", type=UTF8_TEXT, help="Only runs of this workflow.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@store_option
@json_option
def gc(older_than: str | None, keep_last: int | None, workflow: str | None, dry_run: bool, store: str | None,
       as_json: bool) -> None:  # fmt: skip
    """Delete old finished runs with their events, logs and blobs, then compact the store."""
    if older_than is None and keep_last is None:
        raise ConfigurationError("say what to delete: --older-than DURATION and/or --keep-last N")
    age = parse_duration(older_than) if older_than else None
    opened = open_existing_store(store)
    doomed: list[str] = []
    if opened is not None:  # no store: nothing to delete, and none is created
        with opened:
            doomed = select_garbage(opened, older_than=age, keep_last=keep_last, workflow=workflow)
            if not dry_run:
                for run_id in doomed:
                    opened.delete_run(run_id)
                if doomed:
                    opened.compact()
    if as_json:
        click.echo(json.dumps({"deleted" if not dry_run else "would_delete": doomed}))
    else:
        verb = "would delete" if dry_run else "deleted"
        click.echo(f"{verb} {len(doomed)} run(s)")
        for run_id in doomed:
            click.echo(f"  {run_id}")


def _add_live_commands() -> None:
    from flowbuilder.cli.watch_commands import annotate, watch

    runs.add_command(watch)
    runs.add_command(annotate)


_add_live_commands()
