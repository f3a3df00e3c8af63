"""Following and annotating a run from any process: ``runs watch`` and ``runs annotate``.

``runs watch RUN_ID`` prints the run's events and annotations as the store pushes them
(:meth:`~flowbuilder.interfaces.Store.subscribe`) and ends when the run finishes; ``--json``
prints one JSON object a line (``{"event": ...}`` or ``{"annotation": ...}``). ``runs
annotate RUN_ID --kind note --data JSON`` attaches an annotation to a run, live or finished,
without ever disturbing the runner's appends.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from flowbuilder.cli.arguments import UTF8_TEXT
from flowbuilder.cli.store_option import store_option
from flowbuilder.cli.terminal import echo
from flowbuilder.errors import ConfigurationError

if TYPE_CHECKING:
    from flowbuilder.annotations import Annotation
    from flowbuilder.events import RunEvent
    from flowbuilder.interfaces import Store

_store_option = store_option("The store of the run.")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


def event_line(event: RunEvent) -> str:
    """One human line for an event: time, seq, kind, task#attempt and the telling data."""
    where = f" {event.task}#{event.attempt}" if event.task else ""
    data = dict(event.data)
    detail = ""
    if "error" in data:
        detail = f"  {str(data['error']).splitlines()[0][:100] if str(data['error']).strip() else ''}"
    elif "status" in data:
        detail = f"  {data['status']}"
    elif "output" in data:
        detail = f"  output={json.dumps(data['output'], default=str, ensure_ascii=False)[:100]}"
    elif "by" in data:  # a control request honoured: who asked (and the signal's name and payload)
        signal = f" {data.get('name')}={json.dumps(data.get('payload'), default=str, ensure_ascii=False)[:80]}"
        detail = f"{signal if 'name' in data else ''}  by {data['by']}"
    return f"{_clock(event.time)} {event.seq:>6} {event.kind.value}{where}{detail}"


def annotation_line(annotation: Annotation) -> str:
    """One human line for an annotation: time, ``#NUMBER`` (in the seq column), kind, what, who, payload."""
    where = ""
    if annotation.task:
        where = f" {annotation.task}" + (f"#{annotation.attempt}" if annotation.attempt is not None else "")
    payload = json.dumps(annotation.payload, default=str, ensure_ascii=False)[:100]
    body = annotation.payload
    if annotation.kind == "anomaly" and isinstance(body, dict) and isinstance(body.get("why"), str):
        score = body.get("score")  # flowbuilder-ai's anomalies: the score and the reason in words, whole
        payload = (f"score {score:.3f}: " if isinstance(score, (int, float)) else "") + body["why"][:300]
    by = f" by {annotation.author}" if annotation.author else ""
    return f"{_clock(annotation.time)} {'#' + str(annotation.number):>6} {annotation.kind}{where}{by}  {payload}"


def event_record(event: RunEvent) -> dict[str, Any]:
    return {"run_id": event.run_id, "seq": event.seq, "kind": event.kind.value, "task": event.task,
            "attempt": event.attempt, "data": dict(event.data), "time": event.time}  # fmt: skip


async def _watch(store: Store, run_id: str, after: int, as_json: bool) -> None:
    """Print the run's updates until it finishes; stop with a one-line error once it is
    interrupted (its process gone: no update comes until it is resumed)."""
    from flowbuilder.cli.runs_commands import stop_following_if_interrupted

    printing = asyncio.ensure_future(_print_updates(store, run_id, after, as_json))
    try:
        while not (await asyncio.wait({printing}, timeout=INTERRUPTED_CHECK_SECONDS))[0]:
            await asyncio.to_thread(stop_following_if_interrupted, store, run_id)
        printing.result()
    finally:
        printing.cancel()


INTERRUPTED_CHECK_SECONDS = 1.0
"""``runs watch``: how often a run with nothing new is checked for being interrupted."""


async def _print_updates(store: Store, run_id: str, after: int, as_json: bool) -> None:
    async for update in store.subscribe(run_id, after):
        for event in update.events:
            if as_json:
                click.echo(json.dumps({"event": event_record(event)}, default=str, ensure_ascii=False))
            else:
                echo(event_line(event))
        for annotation in update.annotations:
            if as_json:
                click.echo(json.dumps({"annotation": annotation.to_dict()}, default=str, ensure_ascii=False))
            else:
                echo(annotation_line(annotation))


@click.command("watch")
@click.argument("run_id", type=UTF8_TEXT)
@click.option("--after", type=click.IntRange(min=0), default=0, show_default=True,
              help="Start after this event number (0: from the beginning).")  # fmt: skip
@_store_option
@_json_option
def watch(run_id: str, after: int, store: str | None, as_json: bool) -> None:
    """Print a run's events and annotations as they happen; end when the run finishes."""
    from flowbuilder.cli.runs_commands import open_store_with_run

    with open_store_with_run(store, run_id) as opened:  # no store: the run is not found, none is created
        opened.get_run(run_id)  # RunNotFoundError (one line) for an unknown id
        asyncio.run(_watch(opened, run_id, after, as_json))


def default_author() -> str:
    """``user@host`` of this process: who asked, for the run's history."""
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


@click.command("annotate")
@click.argument("run_id", type=UTF8_TEXT)
@click.option("--kind", "-k", type=UTF8_TEXT, default="note", show_default=True, help="What the annotation is.")
@click.option("--data", "-d", "data", type=UTF8_TEXT, help='Its payload, as JSON (e.g. \'{"text": "ok"}\').')
@click.option("--task", "-t", type=UTF8_TEXT, help="The task it is about (default: the whole run).")
@click.option("--attempt", "-a", type=click.IntRange(min=0), help="The attempt of that task it is about.")
@click.option("--author", type=UTF8_TEXT, help="Who writes it (default: user@host).")
@_store_option
@_json_option
def annotate(run_id: str, kind: str, data: str | None, task: str | None, attempt: int | None, author: str | None,
             store: str | None, as_json: bool) -> None:  # fmt: skip
    """Attach an annotation to a run, live or finished."""
    from flowbuilder.annotations import Annotation, add_annotation
    from flowbuilder.cli.context import plugin_host

    payload: Any = None
    if data is not None:
        try:
            payload = json.loads(data)
        except ValueError as error:
            raise ConfigurationError(f"--data is not JSON ({error}); quote text as JSON, e.g. '\"a note\"'") from None
    note = Annotation(kind, payload, task=task, attempt=attempt, author=author or default_author())
    from flowbuilder.cli.runs_commands import open_store_with_run

    with open_store_with_run(store, run_id) as opened:
        stored = add_annotation(opened, run_id, note, limits=plugin_host().settings.limits)  # refuses unknown tasks
    if as_json:
        click.echo(json.dumps({"run_id": run_id, "annotation": stored.to_dict()}, ensure_ascii=False))
    else:
        click.echo(f"annotation {stored.number} added to run {run_id}")
