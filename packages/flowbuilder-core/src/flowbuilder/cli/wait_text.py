"""How the CLI words a waiting task (``task_waiting``) and a refused signal, in one place.

``runs show``, ``run``'s progress lines and ``runs watch`` say the same thing: what the task
waits for, from whom, until when, and the command that ends the wait.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Mapping


def describe_wait(data: Mapping[str, Any], now: float) -> str:
    """``for signal 'deploy' from alice, bob until 2026-12-06 08:00:00 UTC (in 1h59m; then reject)``."""
    parts = []
    signal = data.get("signal")
    if isinstance(signal, str):
        parts.append(f"for signal {signal!r}")
        approvers = data.get("approvers")
        if isinstance(approvers, list) and approvers:
            parts.append("from " + ", ".join(str(who) for who in approvers))
    until = data.get("until")
    if isinstance(until, (int, float)):
        left = until - now
        then = f"; then {data['default']}" if isinstance(data.get("default"), str) and signal else ""
        when = "passed" if left <= 0 else f"in {_span(left)}"
        parts.append(f"until {_utc(until)} ({when}{then})")
    elif signal:
        parts.append("(no timeout)")
    return " ".join(parts) or "a wait"


def signal_command(run_id: str, data: Mapping[str, Any]) -> str | None:
    """The command that decides an approval, or None for a wait no signal ends."""
    signal = data.get("signal")
    if not isinstance(signal, str):
        return None
    return f"flowbuilder signal {run_id} {signal} --data '{json.dumps({'approved': True})}'"


def _utc(instant: float) -> str:
    try:
        return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{instant:.0f} (epoch seconds)"


def _span(seconds: float) -> str:
    seconds = int(seconds + 0.999)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
