"""``approval``: wait for a named signal that approves or rejects, from an allowed person.

Example::

    - name: approve_deploy
      type: approval
      depends_on: [build]
      config:
        signal: deploy-prod               # flowbuilder signal RUN_ID deploy-prod --data '{"approved": true}'
        approvers: [alice, bob]           # who may decide (default: anyone)
        timeout: 8h                       # default: wait for ever
        default: reject                   # what the timeout decides (default: reject)
        message: "Deploy build ${{ tasks.build.output.version }} to production?"

The signal's payload decides: ``{"approved": true, ...}`` (or ``true``) approves, and the
task's output is ``{"approved": true, "by": WHO, "payload": PAYLOAD, "at": WHEN}``;
``{"approved": false, ...}`` (or ``false``) rejects, and the task fails (``approval
'deploy-prod' rejected by bob: too late in the day``), never retried, so ``run_if`` tasks
downstream see a failure. A signal from someone not in ``approvers``, or without a decision,
is refused: recorded as ``task_signal_refused`` with the reason, and the task waits on.

Who sent a signal is the request's ``by`` (``--by``, else ``user@host:pid``); an approver
``alice`` matches ``alice`` and ``alice@any-host:any-pid``. ``by`` is what the requester
says, not an authenticated identity: whoever can write to the store can signal.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Mapping

from pydantic import Field, field_validator

from flowbuilder.model import Duration
from flowrunner.tasktypes._common import ConfigModel
from flowrunner.tasktypes._waiting import MAX_WAIT_SECONDS, WaitingTaskType, WaitOutcome, WaitPlan

_SIGNAL_NAME = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"


class ApprovalConfig(ConfigModel):
    """Config of an ``approval`` task."""

    signal: str = Field(pattern=_SIGNAL_NAME, description="The signal name that decides (a letter, then up to 63"
                        " letters, digits or _ . : -).")  # fmt: skip
    approvers: list[str] | None = Field(None, min_length=1, description="Who may decide: `by` identities (`alice`"
                                        " matches `alice@host:pid`). Default: anyone.")  # fmt: skip
    timeout: Duration | None = Field(None, le=MAX_WAIT_SECONDS, description="How long to wait for a decision"
                                     " (default: for ever).")  # fmt: skip
    default: Literal["approve", "reject"] = Field("reject", description="What the timeout decides.")
    message: str | None = Field(None, max_length=2000, description="What is asked (shown by `runs show`).")

    @field_validator("approvers")
    @classmethod
    def _approver_names(cls, approvers: list[str] | None) -> list[str] | None:
        for who in approvers or ():
            if not who.strip() or len(who) > 200:
                raise ValueError(f"{who!r} is not an approver identity (non-empty text, at most 200 characters)")
        return approvers


def _decision(payload: Any) -> bool | None:
    """True (approve), False (reject) or None (the payload decides nothing)."""
    if type(payload) is bool:
        return payload
    if isinstance(payload, Mapping) and type(payload.get("approved")) is bool:
        return bool(payload["approved"])
    return None


def _is_approver(by: str, approvers: list[str]) -> bool:
    return by in approvers or by.partition("@")[0] in approvers


class ApprovalTask(WaitingTaskType):
    """Wait for a signal that approves or rejects (see the module doc)."""

    name: ClassVar[str] = "approval"
    config_model: ClassVar[type[ApprovalConfig]] = ApprovalConfig
    summary: ClassVar[str] = "Wait for a named signal that approves or rejects, with approvers and a timeout."

    def plan_wait(self, config: Any, now: float) -> WaitPlan:
        assert isinstance(config, ApprovalConfig)
        details: dict[str, Any] = {"default": config.default}
        if config.approvers is not None:
            details["approvers"] = list(config.approvers)
        if config.message is not None:
            details["message"] = config.message
        until = now + config.timeout if config.timeout is not None else None
        return WaitPlan(until, config.signal, details)

    def on_signal(self, config: Any, signal: Mapping[str, Any]) -> WaitOutcome:
        assert isinstance(config, ApprovalConfig)
        by = str(signal.get("by") or "")
        if config.approvers is not None and not _is_approver(by, config.approvers):
            return WaitOutcome("refused", message=f"{by or 'an unnamed requester'} is not an approver of"
                               f" {config.signal!r} (approvers: {', '.join(config.approvers)})")  # fmt: skip
        payload = signal.get("payload")
        decision = _decision(payload)
        if decision is None:
            return WaitOutcome("refused", message='the payload decides nothing: send {"approved": true} or'
                               ' {"approved": false} (other keys are kept in the output)')  # fmt: skip
        if decision:
            return WaitOutcome("succeeded", {"approved": True, "by": by, "payload": payload,
                                             "at": signal.get("requested_at")})  # fmt: skip
        why = [str(part) for part in (signal.get("reason"), _comment(payload)) if part]
        return WaitOutcome("failed", message=f"approval {config.signal!r} rejected by {by}"
                           + (f": {'; '.join(why)}" if why else ""))  # fmt: skip

    def on_time(self, config: Any, plan: WaitPlan) -> WaitOutcome:
        assert isinstance(config, ApprovalConfig)
        if config.default == "approve":
            return WaitOutcome("succeeded", {"approved": True, "by": None, "payload": None, "at": plan.until,
                                             "default": True})  # fmt: skip
        return WaitOutcome("failed", message=f"no decision on {config.signal!r} before the timeout"
                           f" ({config.timeout:g}s): rejected by default")  # fmt: skip


def _comment(payload: Any) -> str | None:
    if isinstance(payload, Mapping):
        for key in ("comment", "reason"):
            if isinstance(payload.get(key), str) and payload[key]:
                return str(payload[key])[:500]
    return None
