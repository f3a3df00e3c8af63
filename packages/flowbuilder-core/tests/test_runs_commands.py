"""``runs list|show``, ``logs``, ``gc`` and ``resume`` refusals, on core's memory:// store.

The commands use only the Store interface; the stores of flowbuilder-storage run the same
commands in that package's tests (including resume with a real runner after SIGKILL).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Iterator

import pytest

from flowbuilder.annotations import Annotation
from flowbuilder.cli.runs_commands import parse_duration, select_garbage
from flowbuilder.errors import ConfigurationError
from flowbuilder.events import EventKind, RunEvent, RunStatus
from flowbuilder.interfaces.store import LogLine
from flowbuilder.stores.memory import MemoryStore

URL = "memory://runs-commands"


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    opened = MemoryStore.open(URL)
    yield opened
    MemoryStore.forget(URL)


def add_run(
    store: MemoryStore, run_id: str, created: float, *, workflow: str = "etl", status: str | None = "succeeded"
) -> None:
    events = [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": workflow, "version": "1"}, time=created),
        RunEvent(run_id, 2, EventKind.RUN_STARTED, time=created),
        RunEvent(run_id, 3, EventKind.TASK_STARTED, task="load", attempt=1, time=created),
        RunEvent(run_id, 4, EventKind.TASK_SUCCEEDED, task="load", attempt=1, data={"output": 1}, time=created + 1),
    ]
    if status is not None:
        events.append(RunEvent(run_id, 5, EventKind.RUN_FINISHED, data={"status": status}, time=created + 2))
    store.append_events(run_id, events, 0)


def test_runs_list_json_is_newest_first_with_a_cursor(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    for index in range(3):
        add_run(store, f"r{index}", 100.0 + index)
    result = cli("runs", "list", "--json", "-n", "2", "--store", URL)
    assert result.exit_code == 0, result.output
    page = json.loads(result.stdout)
    assert [run["run_id"] for run in page["runs"]] == ["r2", "r1"] and page["next_cursor"]
    rest = json.loads(cli("runs", "list", "--json", "--cursor", page["next_cursor"], "--store", URL).stdout)
    assert [run["run_id"] for run in rest["runs"]] == ["r0"]


def test_runs_list_filters_by_workflow_and_status(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "a", 1.0, workflow="etl")
    add_run(store, "b", 2.0, workflow="report", status="failed")
    result = cli("runs", "list", "--json", "-w", "report", "-s", "failed", "--store", URL)
    assert [run["run_id"] for run in json.loads(result.stdout)["runs"]] == ["b"]


def test_runs_show_prints_every_task_state(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    result = cli("runs", "show", "r1", "--store", URL)
    assert result.exit_code == 0 and "load" in result.stdout and "succeeded" in result.stdout
    data = json.loads(cli("runs", "show", "r1", "--json", "--store", URL).stdout)
    assert data["state"]["tasks"]["load"]["status"] == "succeeded"


def test_runs_show_of_an_unknown_run_is_one_line_and_exit_1(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", "show", "nope", "--store", URL)
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0 and "no run 'nope'" in result.stderr


def test_logs_prints_lines_in_order_and_filters_by_task(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    store.append_logs("r1", [LogLine("load", 1, "stdout", "one"), LogLine("other", 1, "stdout", "two"),
                             LogLine("load", 1, "stdout", "three")])  # fmt: skip
    assert cli("logs", "r1", "--store", URL).stdout.splitlines() == ["[load#1] one", "[other#1] two", "[load#1] three"]
    lines = [
        json.loads(line)["text"] for line in cli("logs", "r1", "load", "--json", "--store", URL).stdout.splitlines()
    ]
    assert lines == ["one", "three"]


def test_logs_of_a_task_a_finished_run_never_had_is_a_one_line_error(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    """A mistyped TASK printed nothing and exited 0, as for a task that printed nothing."""
    add_run(store, "r1", 1.0)
    store.append_logs("r1", [LogLine("load[2]", 1, "stdout", "an item's line")])
    for args in (("lod",), ("lod", "--follow")):
        result = cli("logs", "r1", *args, "--store", URL)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.strip() == "error: run r1 has no task 'lod' (its tasks: load)"
    assert cli("logs", "r1", "load[2]", "--store", URL).stdout == "[load[2]#1] an item's line\n"
    add_run(store, "r2", 1.5)
    quiet = cli("logs", "r2", "load", "--store", URL)  # a known task that printed nothing: nothing to show
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    add_run(store, "live", 2.0, status=None)  # a live run's task may not have started yet: no verdict
    assert cli("logs", "live", "later", "--store", URL).exit_code == 0


def test_logs_of_a_foreach_task_shows_every_items_lines_in_order(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    """Items write under ``TASK[N]``: ``logs RUN TASK`` showed nothing for a foreach task."""
    add_run(store, "r1", 1.0)
    store.append_logs("r1", [LogLine("load[0]", 1, "stdout", "zero"), LogLine("loader", 1, "stdout", "not mine"),
                             LogLine("load[1]", 1, "stdout", "one"), LogLine("load[0]", 2, "stderr", "again"),
                             LogLine("load", 1, "system", "all items done")])  # fmt: skip
    expected = ["[load[0]#1] zero", "[load[1]#1] one", "[load[0]#2] again", "[load#1] all items done"]
    for args in ((), ("--follow",)):
        result = cli("logs", "r1", "load", *args, "--store", URL)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [line for line in expected if "again" not in line]
        assert result.stderr == "[load[0]#2] again\n"
    shown = cli("logs", "r1", "load", "--json", "--store", URL).stdout.splitlines()
    assert [(json.loads(line)["task"], json.loads(line)["text"]) for line in shown] == [
        ("load[0]", "zero"), ("load[1]", "one"), ("load[0]", "again"), ("load", "all items done")]  # fmt: skip
    assert cli("logs", "r1", "load[1]", "--store", URL).stdout == "[load[1]#1] one\n"


def test_logs_follow_ends_when_the_run_has_finished(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    store.append_logs("r1", [LogLine("load", 1, "stdout", "last words")])
    result = cli("logs", "r1", "--follow", "--store", URL)
    assert result.exit_code == 0 and "last words" in result.stdout


def test_gc_keeps_the_newest_n_finished_runs_per_workflow_and_never_unfinished_ones(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    for index in range(4):
        add_run(store, f"etl{index}", 10.0 + index)
    add_run(store, "busy", 1.0, status=None)
    add_run(store, "report0", 5.0, workflow="report")
    result = cli("gc", "--keep-last", "2", "--json", "--store", URL)
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["deleted"]) == ["etl0", "etl1"]
    left = {s.run_id for s in store.list_runs().runs}
    assert left == {"etl2", "etl3", "busy", "report0"}


def test_gc_older_than_deletes_by_creation_time(store: MemoryStore) -> None:
    add_run(store, "old", 1_000.0)
    add_run(store, "new", 9_000.0)
    assert select_garbage(store, older_than=5_000.0, keep_last=None, workflow=None, now=10_000.0) == ["old"]


def test_gc_dry_run_deletes_nothing(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "old", 1.0)
    result = cli("gc", "--older-than", "1d", "--dry-run", "--store", URL)
    assert "would delete 1 run(s)" in result.stdout
    assert store.get_run("old").status is RunStatus.SUCCEEDED


def test_gc_without_a_criterion_is_a_one_line_error(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    result = cli("gc", "--store", URL)
    assert result.exit_code == 1 and "--older-than" in result.stderr


def test_resume_of_a_finished_run_is_refused(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "done", 1.0)
    result = cli("resume", "done", "--store", URL)
    assert result.exit_code == 1 and "already finished" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90.0), ("45m", 2700.0), ("12h", 43200.0), ("2d", 172800.0), ("1w", 604800.0)]
)
def test_durations_parse_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_duration_without_a_unit_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="30d"):
        parse_duration("30")


def test_runs_list_filters_by_a_time_range(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    import time

    now = time.time()
    add_run(store, "week-old", now - 7 * 86_400)
    add_run(store, "day-old", now - 86_400)
    add_run(store, "fresh", now - 60)
    result = cli("runs", "list", "--json", "--since", "2d", "--until", "1h", "--store", URL)
    assert [run["run_id"] for run in json.loads(result.stdout)["runs"]] == ["day-old"]


def test_a_run_stored_with_a_utf16_definition_stays_resumable(store: MemoryStore, host) -> None:  # type: ignore[no-untyped-def]
    from flowbuilder.run_service import RunService

    # Earlier versions accepted UTF-16 workflow files and stored their bytes as they were.
    text = "name: wide\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n"
    digest = store.save_definition(text.encode("utf-16"))
    created = {"workflow": "wide", "version": "1", "definition_hash": digest, "params": {}}
    store.append_events("old", [RunEvent("old", 1, EventKind.RUN_CREATED, data=created, time=1.0)], 0)
    state, plan = RunService(host, store).stored_plan("old")
    assert state.definition_hash == digest and plan.names == ("a",)


# -- runs watch | annotate -------------------------------------------------------------------


def test_runs_watch_prints_every_event_and_annotation_then_ends_with_the_run(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    store.annotate("r1", Annotation("anomaly", {"score": 0.9}, task="load", attempt=1, author="ai"))
    result = cli("runs", "watch", "r1", "--json", "--store", URL)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["event"]["seq"] for r in records if "event" in r] == [1, 2, 3, 4, 5]
    assert [r["annotation"]["kind"] for r in records if "annotation" in r] == ["anomaly"]
    human = cli("runs", "watch", "r1", "--store", URL).stdout
    assert "run_finished  succeeded" in human and "#1 anomaly load#1 by ai" in human


def test_runs_watch_follows_a_live_run_until_it_finishes(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "live", 1.0, status=None)
    finish = RunEvent("live", 5, EventKind.RUN_FINISHED, data={"status": "failed"}, time=3.0)
    writer = threading.Timer(0.1, lambda: store.append_events("live", [finish], 4))
    writer.start()
    try:
        result = cli("runs", "watch", "live", "--after", "4", "--json", "--store", URL)
    finally:
        writer.join()
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["event"]["kind"] for line in result.stdout.splitlines()] == ["run_finished"]


def test_runs_watch_of_an_unknown_run_is_one_line_and_exit_1(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", "watch", "nope", "--store", URL)
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0 and "no run 'nope'" in result.stderr


def test_runs_annotate_adds_a_note_that_runs_show_prints(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    result = cli("runs", "annotate", "r1", "--kind", "note", "--data", '{"text": "looks fine"}', "--author", "me",
                 "--store", URL)  # fmt: skip
    assert result.exit_code == 0 and "annotation 1 added to run r1" in result.stdout
    assert "#1 note by me" in cli("runs", "show", "r1", "--store", URL).stdout
    shown = json.loads(cli("runs", "show", "r1", "--json", "--store", URL).stdout)
    assert [(a["number"], a["payload"], a["author"]) for a in shown["annotations"]] == [
        (1, {"text": "looks fine"}, "me")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("r1", "--data", "{not json"), "--data is not JSON"),
        (("r1", "--data", '"' + "x" * 70_000 + '"'), "more than the 65536 allowed"),
        (("r1", "--kind", "two words"), "invalid annotation kind"),
        (("nope", "--data", "1"), "no run 'nope'"),
    ],
    ids=["bad-json", "huge", "bad-kind", "unknown-run"],
)
def test_runs_annotate_refuses_bad_input_in_one_line(
    cli, store: MemoryStore, args: tuple[str, ...], message: str
) -> None:  # type: ignore[no-untyped-def]
    add_run(store, "r1", 1.0)
    result = cli("runs", "annotate", *args, "--store", URL)
    assert result.exit_code == 1 and result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert store.read_annotations("r1") == []


def test_runs_annotate_refuses_a_task_the_run_does_not_have(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    """An annotation about a mistyped task was stored, about nothing."""
    add_run(store, "r1", 1.0)
    result = cli("runs", "annotate", "r1", "-t", "lod", "--store", URL)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "error: run r1 has no task 'lod' (its tasks: load)\n"
    assert store.read_annotations("r1") == []
    for task in ("load", "load[3]"):  # a task of the run, an item of it
        assert cli("runs", "annotate", "r1", "-t", task, "--store", URL).exit_code == 0
    assert [a.task for a in store.read_annotations("r1")] == ["load", "load[3]"]


def test_runs_annotate_checks_a_live_runs_task_against_its_definition(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    """A live run has not reached every task yet: its stored definition names them all."""
    digest = store.save_definition(b"name: etl\ntasks:\n  - {name: load, type: noop}\n  - {name: later, type: noop}\n")
    store.append_events("live", [RunEvent("live", 1, EventKind.RUN_CREATED,
                                          data={"workflow": "etl", "definition_hash": digest}),
                                 RunEvent("live", 2, EventKind.RUN_STARTED)], 0)  # fmt: skip
    assert cli("runs", "annotate", "live", "-t", "later", "--store", URL).exit_code == 0
    refused = cli("runs", "annotate", "live", "-t", "latter", "--store", URL)
    assert refused.exit_code == 1
    assert refused.stderr == "error: run live has no task 'latter' (its tasks: later, load)\n"
    add_run(store, "bare", 2.0, status=None)  # live, no definition: its tasks are not known yet, so none is refused
    assert cli("runs", "annotate", "bare", "-t", "anything", "--store", URL).exit_code == 0


def test_runs_show_prints_each_tasks_output_and_error_on_one_safe_line(cli, store: MemoryStore) -> None:  # type: ignore[no-untyped-def]
    long_text = "line one\nline two \x1b]0;owned\x07 " + "x" * 500
    events = [
        RunEvent("r1", 1, EventKind.RUN_CREATED, data={"workflow": "etl", "version": "1"}, time=1.0),
        RunEvent("r1", 2, EventKind.TASK_STARTED, task="load", attempt=1, time=1.0),
        RunEvent("r1", 3, EventKind.TASK_SUCCEEDED, task="load", attempt=1, data={"output": {"rows": 42}}, time=2.0),
        RunEvent("r1", 4, EventKind.TASK_STARTED, task="noisy", attempt=1, time=1.0),
        RunEvent("r1", 5, EventKind.TASK_SUCCEEDED, task="noisy", attempt=1, data={"output": long_text}, time=2.0),
        RunEvent("r1", 6, EventKind.TASK_STARTED, task="push", attempt=1, time=1.0),
        RunEvent("r1", 7, EventKind.TASK_FAILED, task="push", attempt=1, data={"error": "boom\nsecond line"}, time=2.0),
        RunEvent("r1", 8, EventKind.RUN_FINISHED, data={"status": "failed"}, time=3.0),
    ]
    store.append_events("r1", events, 0)
    result = cli("runs", "show", "r1", "--store", URL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert '      output  {"rows": 42}' in lines
    noisy = next(line for line in lines if line.startswith("      output  line one"))
    assert "\x1b" not in noisy and "\x07" not in noisy and "\\x1b]0;owned\\x07" in noisy
    assert noisy.endswith("...") and len(noisy.removeprefix("      output  ")) == 100
    assert "      error   boom\\nsecond line" in lines
    data = json.loads(cli("runs", "show", "r1", "--json", "--store", URL).stdout)
    assert data["state"]["tasks"]["noisy"]["output"] == long_text  # --json keeps the exact value


def test_runs_list_with_no_runs_names_the_store_it_read_and_why(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Core alone is loaded here, so the default store is memory:// (flowbuilder-storage's
    # test of the same message covers rocksdb://). The default memory:// store lives as long
    # as this test process, so runs other tests recorded in it are forgotten first.
    from flowbuilder.stores.memory import MemoryStore

    MemoryStore.forget("memory://")
    result = cli("runs", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout == "no runs in memory:// (the default store; --store URL to read another)\n"
    from_env = cli("runs", "list", env={"FLOWBUILDER_STORE": "memory://from-env"})
    assert from_env.stdout == "no runs in memory://from-env (from FLOWBUILDER_STORE; --store URL to read another)\n"
    (tmp_path / "flowbuilder.toml").write_text('store = "memory://from-file"\n')
    from_file = cli("runs", "list")
    assert from_file.stdout.startswith("no runs in memory://from-file (store = in ")
    assert "flowbuilder.toml; --store URL to read another)" in from_file.stdout
    flagged = cli("runs", "list", "--store", "memory://flagged", "-w", "etl")
    assert flagged.exit_code == 0 and flagged.stdout == "no matching runs in memory://flagged\n"


def test_the_run_display_says_who_paused_signalled_or_cancelled_the_run(capsys: Any) -> None:
    from flowbuilder.cli.run_command import _PlainDisplay
    from flowbuilder.events import EventKind, RunEvent

    display = _PlainDisplay(2)
    display.handle([
        RunEvent("r", 3, EventKind.RUN_PAUSED, data={"request": 1, "by": "ops@a:1", "reason": "deploy"}),
        RunEvent("r", 4, EventKind.RUN_SIGNALLED, data={"request": 2, "by": "bot", "name": "go", "payload": 1}),
        RunEvent("r", 5, EventKind.RUN_CANCEL_REQUESTED, data={"request": 3, "by": "ops@a:1",
                                                               "reason": "requested by ops@a:1: oops"}),
        RunEvent("r", 6, EventKind.RUN_CANCEL_REQUESTED, data={"reason": "interrupted"}),  # not a request: silent
    ])  # fmt: skip
    assert capsys.readouterr().err.splitlines() == [
        "paused (no new tasks start until `flowbuilder unpause`) by ops@a:1: deploy",
        "signal 'go' received by bot",
        "cancelling the run: requested by ops@a:1: oops",
    ]
