"""The EventSink interface: where run events go besides the store (tracing, metrics, UIs)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

from flowbuilder.events import RunEvent


class EventSink(ABC):
    """Receives run events in batches, in sequence order per run.

    Sinks are obtained once per run through ``flowbuilder_event_sinks`` and then called
    directly. ``handle`` runs on the runner's thread between scheduling steps, so it must
    be quick: buffer and hand slow work to a thread of your own. A sink that raises is
    reported once and dropped for the rest of the run; it never fails the run.
    """

    @abstractmethod
    def handle(self, events: Sequence[RunEvent]) -> None:
        """Take a batch of events (possibly of several runs)."""

    def close(self) -> None:
        """Flush and release resources; called once when the run ends."""


__all__ = [
    "EventSink",
]
