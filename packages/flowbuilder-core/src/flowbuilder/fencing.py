"""Fencing tokens: how a store refuses the writes of a leader that was deposed.

A scheduler that leads (see :class:`~flowbuilder.interfaces.ConsensusEngine`) gets a
*fencing token* from its consensus engine (:meth:`ConsensusEngine.fencing_token
<flowbuilder.interfaces.ConsensusEngine.fencing_token>`): an integer that is strictly
greater with every change of leader. Every event it appends for a run it drives carries a
:class:`Fence` — a *scope* (the group of schedulers that compete for one leadership) and the
token. The store keeps, per scope, the highest token it has seen, and refuses an append
whose token is lower (:class:`~flowbuilder.errors.StaleLeaderError`), atomically with the
append itself. So a leader that was paused (a long GC, SIGSTOP, a partition) and came back
after another node took over cannot add a single event to any run of its scope: the new
leader raised the fence (:meth:`~flowbuilder.interfaces.event_log.EventLog.raise_fence`)
before it resumed anything.

Runs started by anything else (``flowbuilder run``, the Python API, a server) carry no
fence and are appended exactly as before (:meth:`~flowbuilder.interfaces.event_log.EventLog.append_events`),
at no extra cost per event.

Tokens of different engines are not comparable (a ``noop`` token is a wall-clock reading,
a ``store`` token a lease epoch, a Raft token its term), so a scheduler's scope names its
engine (:func:`scheduler_scope`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_FENCE_TOKEN = (1 << 63) - 1
"""The largest token a store must accept (a signed 64-bit integer: Redis and Lua count in those)."""
MAX_FENCE_SCOPE = 256
"""The longest scope name a store must accept (characters)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """What a fenced append carries: the leadership ``scope`` and this leader's ``token`` in it."""

    scope: str
    token: int

    def __post_init__(self) -> None:
        check_fence(self.scope, self.token)

    def as_data(self) -> dict[str, Any]:
        """The form recorded in a run's ``run_started`` event (``fence``): who drove the run from there."""
        return {"scope": self.scope, "token": self.token}

    @classmethod
    def from_data(cls, data: Any) -> Fence | None:
        """The fence a ``run_started`` event recorded, or None (an unfenced run, or not a fence)."""
        if not isinstance(data, dict):
            return None
        scope, token = data.get("scope"), data.get("token")
        if not isinstance(scope, str) or not isinstance(token, int) or isinstance(token, bool):
            return None
        try:
            return cls(scope, token)
        except ValueError:
            return None


def check_fence(scope: str, token: int) -> None:
    """Raise ValueError unless ``scope`` is short non-empty text and ``token`` an int in 0..2**63-1."""
    if not isinstance(scope, str) or not scope or len(scope) > MAX_FENCE_SCOPE or "\n" in scope:
        raise ValueError(f"a fence scope is one line of 1 to {MAX_FENCE_SCOPE} characters, not {scope!r}")
    if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token <= MAX_FENCE_TOKEN:
        raise ValueError(f"a fencing token is an integer from 0 to {MAX_FENCE_TOKEN}, not {token!r}")


def scheduler_scope(engine_name: str, group: str = "scheduler") -> str:
    """The fence scope of the schedulers that elect one leader with engine ``engine_name``."""
    return f"{group}/{engine_name}"


__all__ = ["Fence", "MAX_FENCE_SCOPE", "MAX_FENCE_TOKEN", "check_fence", "scheduler_scope"]
