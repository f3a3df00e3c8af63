"""Retry decisions: whether a failed attempt is tried again, and after how long.

The delay before attempt ``n + 1`` is ``min(max_delay, backoff * multiplier ** (n - 1))``
spread by up to ``jitter`` (a fraction) either way, then capped at ``max_delay`` again, so
the documented maximum really is the maximum.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskFailure
    from flowbuilder.model import RetryPolicy


def retry_delay(policy: RetryPolicy, failed_attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1-based) failed."""
    base = min(policy.max_delay, policy.backoff * policy.multiplier ** (failed_attempt - 1))
    if policy.jitter:
        draw = rng.random() if rng is not None else random.random()  # noqa: S311 (jitter, not crypto)
        base *= 1.0 + policy.jitter * (2.0 * draw - 1.0)
    return max(0.0, min(policy.max_delay, base))


def matches_retry_on(conditions: list[str], failure: TaskFailure | None) -> bool:
    """Whether ``failure`` is one the policy retries (an empty list retries every failure).

    ``failure`` is None for an exception the task type did not classify; only ``error``
    (or an empty list) retries those.
    """
    if failure is not None and not failure.retryable:
        return False
    if not conditions:
        return True
    for condition in conditions:
        if condition == "error":
            return True
        if failure is None:
            continue
        if condition == "timeout":
            if failure.timed_out:
                return True
        elif condition.startswith("exit:"):
            if failure.exit_code is not None and failure.exit_code == int(condition[5:]):
                return True
        elif condition.startswith("status:") and failure.status is not None:
            wanted = condition[7:]
            if wanted.endswith("xx"):
                if failure.status // 100 == int(wanted[0]):
                    return True
            elif failure.status == int(wanted):
                return True
    return False
