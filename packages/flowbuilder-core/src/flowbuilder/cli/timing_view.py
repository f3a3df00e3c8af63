"""``flowbuilder runs show --timing``: a run's recorded timing breakdown, as lines for people.

The runner records one summary per run, as ``run_finished``'s ``timing`` (docs/runner.md,
"Where the time went"); this module only renders it. It reads the mapping defensively: a run
recorded by an older runner has none (one clear line says so), and a newer runner's extra
fields are ignored rather than failing the command.
"""

from __future__ import annotations

from typing import Any, Mapping

NO_TIMING = "no timing recorded (the run has not finished, or a runner older than flowrunner 0.2 recorded it)"

_CAUSE_LABELS = (
    ("concurrency", "run concurrency (all slots busy)"),
    ("pool", "pool full"),
    ("type_limit", "task type limit full"),
    ("priority", "behind higher-priority tasks"),
    ("paused", "run paused"),
    ("store_backlog", "store behind (backpressure)"),
    ("stopping", "run stopping (never started)"),
    ("dispatch", "dispatch (could start, not yet started)"),
)


def seconds(value: Any) -> str:
    """A duration at a readable scale: ``12.3 s``, ``45.6 ms``, ``789 µs``; ``-`` when unknown."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    if value >= 1.0:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _share(part: float, whole: float) -> str:
    return f"{part / whole:>4.0%}" if whole > 0 else ""


def timing_lines(timing: Mapping[str, Any] | None) -> list[str]:
    """The breakdown, one line each (indented for ``runs show``), or the one "no timing" line."""
    if not isinstance(timing, Mapping):
        return [f"  timing     {NO_TIMING}"]
    total = _number(timing.get("total"))
    attempts = int(_number(timing.get("attempts")))
    lines = [
        "  timing (recorded when the run finished)",
        f"    {'run, start to finish':<44} {seconds(timing.get('total')):>10}",
        f"    {'compile (load, validate, plan)':<44} {seconds(timing.get('compile')):>10}",
        "    engine (parts of the run's wall time):",
    ]
    for key, label in (("dispatch", "dispatch (scheduler's own work)"), ("store_writes", "store writes"),
                       ("sinks", "event sinks"), ("inline_bodies", "inline task bodies (scheduler's thread)")):  # fmt: skip
        value = _number(timing.get(key))
        lines.append(f"      {label:<42} {seconds(value):>10} {_share(value, total)}")
    queue = timing.get("queue_wait")
    queue = queue if isinstance(queue, Mapping) else {}
    waited = _number(queue.get("total"))
    lines.append(f"    summed over {attempts} attempts (they overlap when they run at once):")
    lines.append(f"      {'task bodies':<42} {seconds(timing.get('task_bodies')):>10}")
    lines.append(f"      {'queue wait (ready, not started)':<42} {seconds(waited):>10}")
    causes = [(label, _number(queue.get(key))) for key, label in _CAUSE_LABELS]
    for label, value in causes:
        if value > 0:
            lines.append(f"        {label:<40} {seconds(value):>10} {_share(value, waited)}")
    if waited > 0:
        label, value = max(causes, key=lambda cause: cause[1])
        lines.append(f"    most of the queue wait: {label} ({_share(value, waited).strip()})")
    return lines
