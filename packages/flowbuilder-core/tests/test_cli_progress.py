"""The quiet progress display ``flowbuilder run`` uses off a terminal (issue 10).

A started or succeeded task prints nothing; failures and retries print as they happen;
the counters line comes every ``QUIET_PROGRESS_EVERY`` seconds, carried by a batch.
The whole-command behaviour (and ``--progress``) is tested end to end in flowrunner's
``test_cli_terminal_summary.py``.
"""

from __future__ import annotations

import pytest

from flowbuilder.cli import run_command
from flowbuilder.events import EventKind, RunEvent


def _events(*specs: tuple[EventKind, str, dict[str, object]]) -> list[RunEvent]:
    return [RunEvent("r1", seq, kind, task, 1, data) for seq, (kind, task, data) in enumerate(specs, 1)]


def test_successes_print_nothing_and_failures_print_as_they_happen(capsys: pytest.CaptureFixture[str]) -> None:
    display = run_command._QuietDisplay(3)
    display.handle(_events((EventKind.TASK_STARTED, "a", {}), (EventKind.TASK_SUCCEEDED, "a", {"duration": 0.1})))
    assert capsys.readouterr().out == ""
    display.handle(_events((EventKind.TASK_STARTED, "b", {}), (EventKind.TASK_RETRYING, "b", {"error": "flaky"}),
                           (EventKind.TASK_FAILED, "b", {"error": "boom"})))  # fmt: skip
    shown = [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert shown == ["b retrying (attempt 1): flaky", "b failed: boom"]
    assert (display.done, display.failed, len(display.running)) == (1, 1, 0)


def test_a_long_run_prints_the_counters_now_and_then(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_command, "QUIET_PROGRESS_EVERY", 0.0)
    display = run_command._QuietDisplay(4)
    display.handle(_events((EventKind.TASK_STARTED, "a", {}), (EventKind.TASK_SUCCEEDED, "a", {}),
                           (EventKind.TASK_STARTED, "b", {})))  # fmt: skip
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("1/4 finished: 1 done, 1 running, 0 failed, 0 skipped;"), line


def test_the_counters_wait_for_their_interval(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_command, "QUIET_PROGRESS_EVERY", 3600.0)
    display = run_command._QuietDisplay(4)
    for _ in range(3):
        display.handle(_events((EventKind.TASK_STARTED, "a", {}), (EventKind.TASK_SUCCEEDED, "a", {})))
    assert capsys.readouterr().out == ""
