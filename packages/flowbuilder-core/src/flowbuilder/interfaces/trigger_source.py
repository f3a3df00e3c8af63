"""The TriggerSource interface: events from outside (files, queues, buckets) that start runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class TriggerEvent:
    """One thing that happened, as a source reports it.

    ``id`` names the event for good: the run it starts claims the idempotency key
    ``trigger:<workflow>:<source type>:<id>``, so an event reported again (after a restart,
    by a second scheduler, by a source that re-lists) starts no second run. Non-empty text of
    at most :data:`~flowbuilder.trigger_sources.MAX_EVENT_ID_CHARS` characters.
    ``payload`` becomes the run's params, checked like ``--param`` values (every key must be
    a declared param; types are converted and checked).
    """

    id: str
    payload: Mapping[str, Any] = field(default_factory=dict)


Emit = Callable[[TriggerEvent], Awaitable[None]]
"""What a source awaits for each event. It returns once the event was handled: its run
started (or claimed by another process before), or the event refused and logged (a bad id or
payload). A source that keeps a cursor of its own (a Kafka offset) may commit it then.
While the scheduler's run slots are full it waits: that is the back-pressure."""


class TriggerSource(ABC):
    """Watches something outside FlowBuilder and reports each event once it happens.

    Registered by ``name`` through the ``flowbuilder_trigger_sources`` hook. A workflow
    uses it with ``on: {source: {type: NAME, config: {...}}}``; the ``config`` is checked
    with :attr:`config_model` when the file is loaded (a located ``FILE:LINE:COL`` error).
    The active ``flowbuilder scheduler`` builds one instance per workflow (``cls()``, no
    arguments) and awaits :meth:`watch` while it leads; a standby watches nothing.

    Contract (``flowbuilder_contracts.trigger_source.TriggerSourceContract``):

    * :meth:`watch` runs until cancelled; cancelling it must end it promptly (within a
      second) and leave nothing running.
    * It may report an event more than once (at-least-once): the idempotency key of the
      event's ``id`` keeps it to one run. It must give one event the same ``id`` every time.
    * An error it cannot recover from is raised: the scheduler logs it and calls
      :meth:`watch` again after a pause that grows up to half a minute.
    """

    name: ClassVar[str]
    """The ``type:`` that names this source in a workflow."""
    config_model: ClassVar[type[BaseModel]]
    """The pydantic model of the source's ``config:`` (forbid extra fields to catch typos)."""

    @abstractmethod
    async def watch(self, config: Any, emit: Emit) -> None:
        """Report each event with ``await emit(TriggerEvent(id, payload))`` until cancelled.

        ``config`` is an instance of :attr:`config_model`.
        """


__all__ = ["Emit", "TriggerEvent", "TriggerSource"]
