"""``wait``: a durable timer, for a duration or until a time.

Example::

    - name: cool_off
      type: wait
      config: {for: 2h}                            # or {until: "2026-12-06T08:00:00Z"}

The end of the wait is recorded as an absolute wall-clock instant (``task_waiting``,
``until``) when it starts, so a run resumed after its process died waits only for what is
left (and not at all when that instant passed). A time already past ends the wait at once.
The output is ``{"until": "2026-12-06T08:00:00Z"}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from flowbuilder.model import Duration
from flowrunner.tasktypes._common import ConfigModel
from flowrunner.tasktypes._waiting import (
    MAX_WAIT_SECONDS,
    WaitingTaskType,
    WaitOutcome,
    WaitPlan,
    iso_time,
    parse_instant,
)


class WaitConfig(ConfigModel):
    """Config of a ``wait`` task: ``for`` or ``until``, not both."""

    duration: Duration | None = Field(None, alias="for", le=MAX_WAIT_SECONDS, description="How long to wait:"
                                      " seconds or '30s', '5m', '2h', '1d'.")  # fmt: skip
    until: float | None = Field(None, description="Until when: ISO 8601 with a zone, e.g. '2026-12-06T08:00:00Z'.")

    @field_validator("until", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return None if value is None else parse_instant(value)

    @model_validator(mode="after")
    def _one_of(self) -> WaitConfig:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give `for` (a duration) or `until` (a time), one of them")
        return self


class WaitTask(WaitingTaskType):
    """Wait for a duration or until a time (see the module doc)."""

    name: ClassVar[str] = "wait"
    config_model: ClassVar[type[WaitConfig]] = WaitConfig
    summary: ClassVar[str] = "Wait for a duration or until a time; survives a restart (durable timer)."

    def plan_wait(self, config: Any, now: float) -> WaitPlan:
        assert isinstance(config, WaitConfig)
        until = config.until if config.until is not None else now + (config.duration or 0.0)
        return WaitPlan(until)

    def on_time(self, config: Any, plan: WaitPlan) -> WaitOutcome:
        assert plan.until is not None
        return WaitOutcome("succeeded", {"until": iso_time(plan.until)})
