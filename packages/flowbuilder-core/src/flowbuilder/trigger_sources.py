"""Plugin trigger sources in a workflow: checked at load, watched by the active scheduler.

``on: {source: {type: NAME, config: {...}}}`` names a :class:`~flowbuilder.interfaces.TriggerSource`
that a plugin registered (``flowbuilder_trigger_sources``; core ships ``file``).

* At load (:func:`source_diagnostics`, called by :func:`flowbuilder.loader.plan_workflow`):
  an unknown ``type`` or a ``config`` its ``config_model`` refuses is a ``FILE:LINE:COL`` error.
* While a ``flowbuilder scheduler`` leads, :class:`SourceWatcher` awaits the source's
  ``watch`` and hands each event to the scheduler. An event's run claims the idempotency key
  :func:`event_key` (``trigger:<workflow>:<source>:<event id>``), so an event reported twice,
  by one scheduler or by two, starts one run.
* :func:`event_problem` refuses an event whose id or payload cannot be right (empty, too long,
  not text; a payload that is not a mapping or is too big); the params are then checked like
  any params by the run service. A refused event is logged with the reason and starts nothing.
* A source that raises is logged and watched again after a pause (1 s, doubling up to
  :data:`MAX_RESTART_PAUSE`): a folder that does not exist yet may be created later.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowbuilder.errors import Diagnostic

if TYPE_CHECKING:
    from flowbuilder.diagnostics import Locator
    from flowbuilder.interfaces.trigger_source import TriggerEvent, TriggerSource
    from flowbuilder.model import Workflow
    from flowbuilder.plugins import PluginHost

MAX_EVENT_ID_CHARS = 512
"""The longest event (or webhook delivery) id: it is part of a store key."""
MAX_PAYLOAD_BYTES = 1024 * 1024
"""The largest payload, as compact JSON: params are stored with every run."""
MAX_RESTART_PAUSE = 30.0
"""The longest pause before a failed source is watched again."""


def event_key(workflow: str, source: str, event_id: str) -> str:
    """The idempotency key of the run that event ``event_id`` of ``source`` starts."""
    return f"trigger:{workflow}:{source}:{event_id}"


def source_diagnostics(workflow: Workflow, host: PluginHost, locator: Locator) -> list[Diagnostic]:
    """The located problems of ``workflow``'s ``on.source``: an unknown type, a config its model refuses."""
    from pydantic import ValidationError

    from flowbuilder.diagnostics import pydantic_diagnostics, suggest

    trigger = workflow.on.source if workflow.on is not None else None
    if trigger is None:
        return []
    sources = host.trigger_source_classes()
    source = sources.get(trigger.type)
    if source is None:
        installed = ", ".join(sorted(sources)) or "none"
        hint = suggest(trigger.type, sources)
        hint = f"{hint} installed trigger sources: {installed}" if hint else f"installed trigger sources: {installed}"
        return [locator.at(("on", "source", "type"), f"unknown trigger source {trigger.type!r}", hint)]
    try:
        source.config_model.model_validate(trigger.config)
    except ValidationError as error:
        model = source.config_model
        found = pydantic_diagnostics(error, locator, ("on", "source", "config"), model.model_fields, owner=None,
                                     model=model)  # fmt: skip
        return [Diagnostic(d.file, d.line, d.column, f"{source.name} trigger config: {d.message}", d.hint)
                for d in found]  # fmt: skip
    return []


def event_problem(event_id: Any, payload: Any) -> str | None:
    """Why an event (or webhook delivery) cannot start a run, or None when its shape is right."""
    if not isinstance(event_id, str) or not event_id.strip():
        return f"its id must be non-empty text, not {event_id!r:.80}"
    if len(event_id) > MAX_EVENT_ID_CHARS:
        return f"its id has {len(event_id)} characters; at most {MAX_EVENT_ID_CHARS}"
    if any(ord(char) < 32 for char in event_id):
        return "its id holds a control character"
    if any(0xD800 <= ord(char) <= 0xDFFF for char in event_id):
        return "its id holds a lone surrogate, which is not Unicode text; send UTF-8"
    if not isinstance(payload, Mapping):
        return f"its payload must be a JSON object (name: value), not {type(payload).__name__}"
    try:
        # UTF-8, as a store encodes it: a lone surrogate ("\ud800" in JSON) is refused here, before
        # the key is claimed, not by the run's first append (which left the key with no run).
        size = len(json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode())
    except UnicodeEncodeError:
        return "its payload holds a lone surrogate (such as \\ud800), which is not Unicode text; send UTF-8"
    except (TypeError, ValueError, RecursionError) as error:  # RecursionError: nested deeper than JSON goes
        return f"its payload is not JSON data ({error})"
    if size > MAX_PAYLOAD_BYTES:
        return f"its payload is {size} bytes as JSON; at most {MAX_PAYLOAD_BYTES}"
    return None


Handle = Callable[["TriggerEvent"], Awaitable[None]]
Log = Callable[[str], None]


class SourceWatcher:
    """Keeps one workflow's trigger source watching while the scheduler leads.

    Args:
        workflow: the triggered workflow's name (for log lines).
        source: the source instance; ``config``: its validated config.
        handle: awaited for every event (the scheduler starts the run).
        log: where failures go.
    """

    def __init__(self, workflow: str, source: TriggerSource, config: Any, handle: Handle, log: Log):
        self.workflow = workflow
        self.source = source
        self.config = config
        self.handle = handle
        self.log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin watching on the running loop (once)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._supervise())

    async def round(self) -> None:
        """Nothing to do per round: the source pushes its events (kept for the scheduler's loop)."""
        self.start()

    async def _supervise(self) -> None:
        pause = 1.0
        name = type(self.source).name
        while True:
            try:
                await self.source.watch(self.config, self.handle)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a plugin's failure: logged, never the scheduler's end
                reason = str(error) or type(error).__name__
                self.log(f"{self.workflow}: trigger source {name} failed: {reason}; watching again in {pause:g}s")
            else:
                self.log(f"{self.workflow}: trigger source {name} stopped watching; watching again in {pause:g}s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_RESTART_PAUSE)

    async def close(self) -> None:
        """Stop watching (the next leader watches again; claimed keys keep events to one run)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


__all__ = [
    "MAX_EVENT_ID_CHARS",
    "MAX_PAYLOAD_BYTES",
    "MAX_RESTART_PAUSE",
    "SourceWatcher",
    "event_key",
    "event_problem",
    "source_diagnostics",
]
