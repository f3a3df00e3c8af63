"""``isolation: thread`` tasks: as many at once as the run allows (issue #7 item D)."""

from __future__ import annotations

import uuid

from flowrunner_helpers import run_text

PARTIES = 40
"""More than asyncio's default executor ever has (``min(32, cpus + 4)``), on any machine."""


def test_as_many_thread_tasks_run_at_once_as_the_concurrency_allows() -> None:
    meeting = uuid.uuid4().hex
    tasks = "\n".join(
        f"  - {{name: t{i}, type: python, config: {{callable: 'flowrunner_sample_callables:meet',"
        f" args: [{meeting}, {PARTIES}], isolation: thread}}}}"
        for i in range(PARTIES)
    )
    result = run_text(f"name: threads\nconcurrency: {PARTIES}\ntasks:\n{tasks}\n")
    assert result.succeeded, {name: state.error for name, state in result.tasks.items() if state.error}


def test_thread_tasks_never_exceed_the_concurrency() -> None:
    tasks = "\n".join(
        f"  - {{name: t{i}, type: python, config: {{callable: 'flowrunner_sample_callables:count_overlap',"
        f" args: [0.02], isolation: thread}}}}"
        for i in range(12)
    )
    upstream = ", ".join(f"t{i}" for i in range(12))
    peak = f"  - {{name: peak, type: python, depends_on: [{upstream}], config: {{callable: 'flowrunner_sample_callables:overlap_peak'}}}}"
    result = run_text(f"name: threads\nconcurrency: 3\ntasks:\n{tasks}\n{peak}\n")
    assert result.succeeded and 1 <= result.output("peak") <= 3


def test_a_coroutine_function_with_thread_isolation_returns_its_result() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [21], isolation: thread}}
""")
    assert result.output("a") == 42
