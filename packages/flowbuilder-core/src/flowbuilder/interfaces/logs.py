"""The logs role of a store: what task attempts printed, in order.

A log viewer (``flowbuilder logs``, the UI's log pane) needs only this role, so it types
against :class:`LogStore`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a task attempt wrote. ``stream`` is ``stdout``, ``stderr`` or ``system``."""

    task: str
    attempt: int
    stream: str
    text: str
    time: float = field(default_factory=time.time)


class LogStore(ABC):
    """Log lines of runs, returned in the order they were appended."""

    @abstractmethod
    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        """Append log lines of a run (any tasks), keeping their order."""

    @abstractmethod
    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        """The run's log lines (of one task if given), skipping the first ``after`` of them."""


__all__ = ["LogLine", "LogStore"]
