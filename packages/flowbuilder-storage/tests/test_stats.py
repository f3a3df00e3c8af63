"""History analytics: percentiles, success and retry rates, daily trend, slowest runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder.events import EventKind, RunEvent
from flowbuilder.interfaces.store import Store
from flowbuilder.stores.memory import MemoryStore
from flowbuilder_storage import RocksDBStore
from flowbuilder_storage.stats import history_report, load_events, load_task_attempts, slowest_runs, task_stats

DAY = 86_400.0


def record_run(store: Store, run_id: str, start: float, duration: float, *, workflow: str = "etl",
               fail: bool = False, retry: bool = False) -> None:  # fmt: skip
    events = [RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": workflow}, time=start),
              RunEvent(run_id, 2, EventKind.TASK_STARTED, task="load", attempt=1, time=start)]  # fmt: skip
    attempt = 1
    if retry:
        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_RETRYING, task="load", attempt=1, time=start))
        attempt = 2
        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_STARTED, task="load", attempt=2, time=start))
    end = start + duration
    if fail:
        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_FAILED, task="load", attempt=attempt,
                               data={"error": "x", "duration": duration, "final": True}, time=end))  # fmt: skip
    else:
        events.append(RunEvent(run_id, len(events) + 1, EventKind.TASK_SUCCEEDED, task="load", attempt=attempt,
                               data={"output": {"rows": [1, 2]}, "duration": duration}, time=end))  # fmt: skip
    events.append(RunEvent(run_id, len(events) + 1, EventKind.RUN_FINISHED,
                           data={"status": "failed" if fail else "succeeded"}, time=end + 1))  # fmt: skip
    store.append_events(run_id, events, 0)


@pytest.fixture(params=["memory", "rocksdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        url = f"memory://stats-{tmp_path.name}"
        opened: Store = MemoryStore.open(url)
    else:
        url = f"rocksdb://{tmp_path}/db"
        opened = RocksDBStore.open(url)
    yield opened
    opened.close()
    MemoryStore.forget(url)


def test_duration_percentiles_interpolate_over_succeeded_executions(store: Store) -> None:
    for n in range(1, 101):
        record_run(store, f"r{n}", 1_000.0 + n, float(n))
    (row,) = task_stats(load_task_attempts(store)).to_dicts()
    assert row["executions"] == 100
    assert row["p50"] == pytest.approx(50.5)
    assert row["p95"] == pytest.approx(95.05)
    assert row["p99"] == pytest.approx(99.01)


def test_success_and_retry_rates_count_executions(store: Store) -> None:
    record_run(store, "ok", 10.0, 1.0)
    record_run(store, "flaky", 20.0, 1.0, retry=True)
    record_run(store, "bad", 30.0, 1.0, fail=True)
    record_run(store, "bad-after-retry", 40.0, 1.0, fail=True, retry=True)
    (row,) = task_stats(load_task_attempts(store)).to_dicts()
    assert row["executions"] == 4
    assert row["success_rate"] == pytest.approx(0.5)
    assert row["retry_rate"] == pytest.approx(0.5)


def test_trend_is_per_day(store: Store) -> None:
    record_run(store, "d1a", 0.0, 1.0)
    record_run(store, "d1b", 10.0, 3.0, fail=True)
    record_run(store, "d2", DAY + 5, 2.0)
    trend = history_report(store)["trend"]
    assert [(row["day"], row["executions"], row["success_rate"]) for row in trend] == [
        ("1970-01-01", 2, 0.5), ("1970-01-02", 1, 1.0)]  # fmt: skip


def test_slowest_runs_are_ordered_by_wall_time(store: Store) -> None:
    for n, duration in enumerate([5.0, 50.0, 0.5]):
        record_run(store, f"r{n}", 100.0 * n, duration)
    report = history_report(store, top=2)
    assert [row["run_id"] for row in report["slowest_runs"]] == ["r1", "r0"]
    assert report["slowest_runs"][0]["seconds"] == pytest.approx(51.0)


def test_stats_filter_by_workflow(store: Store) -> None:
    record_run(store, "a", 1.0, 1.0, workflow="etl")
    record_run(store, "b", 2.0, 2.0, workflow="report")
    rows = history_report(store, workflow="report")["tasks"]
    assert [(row["workflow"], row["executions"]) for row in rows] == [("report", 1)]


def test_slowest_runs_of_no_runs_is_empty(store: Store) -> None:
    assert history_report(store)["slowest_runs"] == []
    assert slowest_runs(load_events(store)).height == 0


def test_the_stats_command_prints_json(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    with RocksDBStore.open(url) as store:
        record_run(store, "only", 1.0, 2.0)
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "stats", "--json", "--store", url], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tasks"][0]["task"] == "load" and report["tasks"][0]["p50"] == 2.0


def test_the_stats_command_where_there_is_no_store_creates_none(tmp_path: Path) -> None:
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    url = f"rocksdb://{tmp_path}/db"
    result = subprocess.run([cli, "stats", "--store", url], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"no runs: there is no store at {url}\n"
    result = subprocess.run([cli, "stats", "--json", "--store", url], capture_output=True, text=True)
    assert json.loads(result.stdout)["runs"] == 0
    assert list(tmp_path.iterdir()) == []


def test_a_workflow_name_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """The raw byte reached the report ("0 runs, 0 events of \\udcff") and exit 0."""
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "stats", "\udcff", "--store", f"rocksdb://{tmp_path}/db"], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 1 and result.stderr == "error: WORKFLOW '\\xff': not valid UTF-8 text\n"


def test_the_cli_does_not_import_polars_unless_stats_runs() -> None:
    code = ("import sys; from flowbuilder.cli.main import cli; import click; "
            "ctx = click.Context(cli); cli.list_commands(ctx); cli.get_command(ctx, 'stats'); "
            "print('polars' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_events_read_in_pieces_give_the_same_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with RocksDBStore.open(f"rocksdb://{tmp_path}/db") as store:
        for n in range(7):
            record_run(store, f"r{n}", 10.0 * n, float(n + 1), fail=n == 3, retry=n == 5)
        whole = history_report(store)
        pieces = list(store.export_event_chunks(2))
        assert [len(runs) for runs, _ in pieces] == [2, 2, 2, 1]
        assert b"\n".join(raw for _, raw in pieces) == store.export_events()[1]
        monkeypatch.setattr(store, "export_event_chunks", lambda: RocksDBStore.export_event_chunks(store, 2))
        assert history_report(store) == whole


FORGED_DURATIONS = [float("nan"), float("inf"), float("-inf"), "12s", True, [1], {"s": 1}, 10**400]


def test_durations_and_outputs_that_are_no_finite_number_are_left_out(store: Store) -> None:
    """Polars' reader refused a whole piece for one NaN/Infinity (core stores a task's NaN
    output so; a forged worker result can record one as a duration) or a duration that is
    text: `flowbuilder stats` was exit 70. The other figures stand, the rest is counted."""
    check_forged_durations(store)


def test_forged_durations_on_redis(redis_url: str) -> None:
    from flowbuilder_storage import RedisStore

    with RedisStore.open(redis_url) as store:
        check_forged_durations(store)


def check_forged_durations(store: Store) -> None:
    for n in range(1, 5):
        record_run(store, f"ok{n}", 1_000.0 + n, float(n))
    for n, duration in enumerate(FORGED_DURATIONS):
        record_run(store, f"forged{n}", 2_000.0 + n, 1.0)
        store.append_events(f"forged{n}", [RunEvent(f"forged{n}", 5, EventKind.TASK_SUCCEEDED, task="score",
                                                    attempt=1, data={"output": [float("nan"), -float("inf")],
                                                                     "duration": duration}, time=2_000.0 + n)],
                            4)  # fmt: skip
    report = history_report(store)
    assert report["runs"] == 4 + len(FORGED_DURATIONS) and report["skipped_durations"] == len(FORGED_DURATIONS)
    load, score = report["tasks"]
    assert (load["task"], load["executions"], load["p50"]) == ("load", 4 + len(FORGED_DURATIONS), 1.0)
    assert (score["task"], score["executions"], score["success_rate"], score["p50"]) == ("score", 8, 1.0, None)


def test_the_stats_command_says_how_many_durations_it_left_out(tmp_path: Path) -> None:
    url = f"rocksdb://{tmp_path}/db"
    with RocksDBStore.open(url) as store:
        record_run(store, "ok", 1.0, 2.0)
        record_run(store, "forged", 2.0, 1.0)
        store.append_events("forged", [RunEvent("forged", 5, EventKind.TASK_SUCCEEDED, task="score", attempt=1,
                                                data={"duration": float("nan")}, time=float("inf"))], 4)  # fmt: skip
    cli = str(Path(sys.executable).with_name("flowbuilder"))
    result = subprocess.run([cli, "stats", "--store", url], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.splitlines()[:2] == ["2 runs, 9 events", "1 recorded duration(s) left out: not a finite"
                                              " number of seconds"]  # fmt: skip
    result = subprocess.run([cli, "stats", "--json", "--store", url], capture_output=True, text=True)
    report = json.loads(result.stdout)
    assert report["skipped_durations"] == 1 and report["tasks"][0]["p50"] == 1.5
    assert [row["executions"] for row in report["trend"]] == [2]  # the score with no time has no day


def test_an_event_that_is_no_event_is_one_line_naming_its_run(tmp_path: Path) -> None:
    """Read line by line, a line that is not an event is damage: one StoreError naming the run."""
    from flowbuilder.errors import StoreError
    from flowbuilder_storage.stats import _parse

    good = b'{"s":1,"k":"run_created","t":1.0,"d":{"workflow":"w","x":NaN}}'
    assert _parse(good + b"\n" + good.replace(b'"s":1', b'"s":2'), ["a"]).height == 2
    for damaged in [b'{"s":2,', b'{"s":"2","k":"x"}', b"[2]", b"\xff", b'{"s":1e400,"k":"x"}', b'{"s":2,"k":null}']:
        with pytest.raises(StoreError, match=r"^an event of run b cannot be read \("):
            _parse(b"\n".join([good, good, damaged]), ["a", "b"])
