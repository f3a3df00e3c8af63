"""The quiet progress display ``flowbuilder run`` uses off a terminal (issue 10).

A started or succeeded task prints nothing; failures and retries print as they happen;
the counters line comes every ``QUIET_PROGRESS_EVERY`` seconds, carried by a batch.
The whole-command behaviour (and ``--progress``) is tested end to end in flowrunner's
``test_cli_terminal_summary.py``.
"""

from __future__ import annotations

import re

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


class _Notes:
    """A store as the display reads it: only ``read_annotations``."""

    def __init__(self) -> None:
        self.notes: list[object] = []

    def add(self, kind: str, payload: object, task: str | None = None) -> None:
        from flowbuilder.annotations import Annotation

        self.notes.append(Annotation(kind, payload, task=task, author="plugin", number=len(self.notes) + 1))

    def read_annotations(self, run_id: str, after: int = 0) -> list[object]:
        return [note for note in self.notes if note.number > after]  # type: ignore[attr-defined]


def test_plugin_annotations_in_words_each_once(capsys: pytest.CaptureFixture[str]) -> None:
    """An anomaly in words with its score, an SLA warning's message, a predicted finish (plain output)."""
    import time

    store = _Notes()
    display = run_command._PlainDisplay(2)
    display.follow_annotations(store, "r1")  # type: ignore[arg-type]
    store.add("anomaly", {"score": 0.8312, "why": "took 14.2 s; its median is 1.1 s", "features": {}}, task="fetch")
    store.add("sla_warning", {"message": "predicted to take 41m 10s; its SLA is 30m"})
    store.add("eta", {"finish_at": time.time() + 125.0})
    display.show_annotations(force=True)
    display.show_annotations(force=True)  # nothing new: nothing printed again
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "anomaly: fetch took 14.2 s; its median is 1.1 s (score 0.83)"
    assert lines[1] == "sla_warning: predicted to take 41m 10s; its SLA is 30m (by plugin)"
    assert re.fullmatch(r"predicted finish \d\d:\d\d:\d\d \(in 12[45]s\)", lines[2]), lines[2]
    assert len(lines) == 3 and display.predicted_finish is not None
    store.add("eta", {"finish_at": display.predicted_finish + 0.2})  # moved less than a second: no new line
    display.show_annotations(force=True)
    assert capsys.readouterr().err == ""


def test_an_annotation_without_words_is_shown_as_the_watch_commands_show_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A payload with no message (the watch commands' formatter, imported only for such a note)."""
    store = _Notes()
    display = run_command._PlainDisplay(1)
    display.follow_annotations(store, "r1")  # type: ignore[arg-type]
    store.add("metric", {"rows": 12}, task="load")
    display.show_annotations(force=True)
    (line,) = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r'\S+ +#1 metric load by plugin  \{"rows": 12\}', line), line


def test_the_display_reads_annotations_on_a_timer_without_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a long task runs no event comes: the poller still shows what plugins add."""
    import asyncio

    monkeypatch.setattr(run_command, "ANNOTATION_POLL_SECONDS", 0.01)
    store = _Notes()
    display = run_command._PlainDisplay(1)
    shown: list[str] = []
    monkeypatch.setattr(display, "note", shown.append)
    display.follow_annotations(store, "r1")  # type: ignore[arg-type]

    async def main() -> None:
        poller = asyncio.create_task(display.poll_annotations())
        store.add("anomaly", {"score": 0.5, "why": "took 3.0 s; its median is 1.0 s"}, task="a")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if shown:
                break
        poller.cancel()

    asyncio.run(main())
    assert shown == ["anomaly: a took 3.0 s; its median is 1.0 s (score 0.50)"]
