"""``flowbuilder scheduler`` and ``backfill`` as a user runs them: real processes, real stores.

Schedules here tick every second or two, so each test takes seconds. Logical times are read
back from the store after every scheduler process has ended (a RocksDB store is served by
the process that opened it first; the test must not become that process while a scheduler
runs).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


def _cli_command() -> list[str]:
    """The ``flowbuilder`` console script of the interpreter running the tests (not imported
    from conftest: with several conftest modules in one run, that name is ambiguous)."""
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


WAIT = 60.0
"""Generous: the machine is shared and under load."""


def write_workflow(folder: Path, name: str, schedule: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        f"schedule: {schedule}\n"
        "tasks:\n"
        "  - name: stamp\n"
        "    type: shell\n"
        "    config: {command: 'echo logical=${{ run.logical_time }}'}\n",
        encoding="utf-8",
    )
    return path


class Scheduler:
    """One ``flowbuilder scheduler`` process whose stderr is collected line by line."""

    def __init__(self, cwd: Path, *args: str, command: str = "scheduler"):
        environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
        self.process = subprocess.Popen(
            [*_cli_command(), command, *args], cwd=cwd, env=environment, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, count: int = 1, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while sum(text in line for line in list(self.lines)) < count:
            if time.monotonic() > deadline or (self.process.poll() is not None and not self._reader.is_alive()):
                raise AssertionError(f"no {count}x {text!r} in the scheduler's log:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def said(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=WAIT)
        self._reader.join(timeout=10)
        return code

    def ensure_dead(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def logical_times(store_url: str, workflow: str, cwd: Path) -> list[str]:
    """Every run's logical time of ``workflow`` in the store (one entry per run), oldest first."""
    code = (
        "import sys, json\n"
        "from flowbuilder.config import Settings\n"
        "from flowbuilder.plugins import build_plugin_host\n"
        "host = build_plugin_host(Settings())\n"
        "with host.open_store(sys.argv[1]) as store:\n"
        "    ids = [s.run_id for s in store.list_runs(workflow=sys.argv[2], limit=10000).runs]\n"
        "    print(json.dumps([store.load_state(i).logical_time for i in ids]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, store_url, workflow], capture_output=True, text=True,
                          cwd=cwd, timeout=WAIT, check=True)  # fmt: skip
    import json

    return sorted(json.loads(done.stdout))


def as_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_no_duplicate(times: list[str]) -> None:
    repeated = [time for time, count in Counter(times).items() if count > 1]
    assert not repeated, f"logical times with two runs: {repeated}"


def test_a_killed_scheduler_catches_up_every_missed_time_on_restart_with_catchup_all(scratch_dir: Path) -> None:
    workflow = write_workflow(scratch_dir, "tick_all", "{every: 2s, catchup: all, max_catchup: 20}")
    store = "rocksdb://state"
    first = Scheduler(scratch_dir, str(workflow), "--store", store, "--lease-seconds", "1")
    try:
        first.wait_for("started run", 1)
        first.wait_for("succeeded", 1)
        first.kill()  # SIGKILL: no cleanup, the lease is left to expire
        down_at = datetime.now(UTC)
        time.sleep(7.5)  # at least three 2-second logical times pass with no scheduler
        second = Scheduler(scratch_dir, str(workflow), "--store", store, "--lease-seconds", "1", "--once")
        assert second.process.wait(timeout=WAIT) == 0, "\n".join(second.lines)
        second._reader.join(timeout=10)
    finally:
        first.ensure_dead()
    times = logical_times(store, "tick_all", scratch_dir)
    assert all(t is not None for t in times)
    assert_no_duplicate(times)
    moments = [as_time(t) for t in times]
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(moments)}
    assert gaps == {2.0}, f"catchup: all leaves no logical time out: {times}"
    missed = [m for m in moments if m > down_at]
    assert len(missed) >= 3, f"expected three missed times caught up: {times}"
    assert second.said("started run") >= 3


def test_a_killed_scheduler_runs_only_the_latest_missed_time_with_catchup_latest(scratch_dir: Path) -> None:
    workflow = write_workflow(scratch_dir, "tick_latest", "{cron: '*/2 * * * * *', catchup: latest}")
    store = "rocksdb://state"
    first = Scheduler(scratch_dir, str(workflow), "--store", store, "--lease-seconds", "1")
    try:
        first.wait_for("succeeded", 1)
        first.kill()
        before = logical_times(store, "tick_latest", scratch_dir)
        time.sleep(7.5)
        second = Scheduler(scratch_dir, str(workflow), "--store", store, "--lease-seconds", "1", "--once")
        assert second.process.wait(timeout=WAIT) == 0, "\n".join(second.lines)
        second._reader.join(timeout=10)
    finally:
        first.ensure_dead()
    times = logical_times(store, "tick_latest", scratch_dir)
    assert_no_duplicate(times)
    new = sorted(set(times) - set(before))
    assert len(new) == 1, f"catchup: latest starts the newest missed time only: {new}"
    assert as_time(new[0]) - as_time(before[-1]) >= timedelta(seconds=6)  # three or more were skipped
    assert second.said("skipped") == 1, "\n".join(second.lines)


@pytest.mark.parametrize("store_kind", ["rocksdb", "redis"])
def test_two_schedulers_on_one_store_have_one_active_and_the_standby_takes_over(
    scratch_dir: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    store = "rocksdb://state" if store_kind == "rocksdb" else request.getfixturevalue("redis_server")
    workflow = write_workflow(scratch_dir, "pair", "{every: 1s, catchup: all}")
    args = (str(workflow), "--store", store, "--lease-seconds", "1.5")
    first = Scheduler(scratch_dir, *args)
    second: Scheduler | None = None
    try:
        first.wait_for("leading since")
        second = Scheduler(scratch_dir, *args)
        second.wait_for("standby: waiting for leadership")
        first.wait_for("started run", 3)
        assert second.said("leading since") == 0 and second.said("started run") == 0
        first.kill()
        second.wait_for("leading since")
        second.wait_for("started run", 2)
        assert second.terminate() == 0
        assert "scheduler stopped" in second.lines[-1]
    finally:
        first.ensure_dead()
        if second is not None:
            second.ensure_dead()
    times = logical_times(store, "pair", scratch_dir)
    assert_no_duplicate(times)
    assert len(times) >= 5


def test_sigterm_stops_a_scheduler_at_once_while_a_start_waits_for_a_free_slot(scratch_dir: Path) -> None:
    """Rule: with --max-runs reached, the next start waits for a slot; SIGTERM ends that wait at
    once (it waited for the running run to end, then started one more run only to cancel it)."""
    workflow = scratch_dir / "slow.yaml"
    workflow.write_text("name: slow\nschedule: {every: 1s}\ntasks:\n"
                        "  - {name: nap, type: shell, config: {command: 'sleep 60'}}\n")  # fmt: skip
    scheduler = Scheduler(scratch_dir, str(workflow), "--store", "rocksdb://state", "--max-runs", "1")
    try:
        scheduler.wait_for("started run")
        time.sleep(2.5)  # the next logical times are due: their start waits for the one slot
        began = time.monotonic()
        assert scheduler.terminate() == 0
        assert time.monotonic() - began < 20, "SIGTERM waited for the running run"
        assert scheduler.said("started run") == 1 and "scheduler stopped" in scheduler.lines[-1]
    finally:
        scheduler.ensure_dead()
    assert len(logical_times("rocksdb://state", "slow", scratch_dir)) == 1


def test_a_handled_time_ahead_of_the_clock_does_not_stop_the_schedule_silently(scratch_dir: Path) -> None:
    """Rule: a newest-handled record a clock that ran ahead wrote (here: 2099) is said and replaced by
    now; before, nothing started, with no word, until that time came."""
    workflow = write_workflow(scratch_dir, "ahead", "{every: 1s}")
    code = (
        "import sys\n"
        "from flowbuilder.config import Settings\n"
        "from flowbuilder.plugins import build_plugin_host\n"
        "with build_plugin_host(Settings()).open_store(sys.argv[1]) as store:\n"
        "    store.write_record('scheduler:handled:ahead', '2099-01-01T00:00:00Z')\n"
    )
    subprocess.run([sys.executable, "-c", code, "rocksdb://state"], cwd=scratch_dir, timeout=WAIT, check=True)
    scheduler = Scheduler(scratch_dir, str(workflow), "--store", "rocksdb://state")
    try:
        scheduler.wait_for("is ahead of this clock")
        scheduler.wait_for("started run", 2)
        assert scheduler.terminate() == 0
    finally:
        scheduler.ensure_dead()
    times = logical_times("rocksdb://state", "ahead", scratch_dir)
    assert_no_duplicate(times)
    assert len(times) >= 2 and all(time < "2099" for time in times)


def test_two_noop_schedulers_never_start_a_logical_time_twice_and_the_newer_fences_the_older_out(
    scratch_dir: Path,
) -> None:
    """With `--consensus noop` both processes lead: the store's idempotency keys keep one run per
    time, and the newer one's fencing token (its start time) stops the older at its next append."""
    workflow = write_workflow(scratch_dir, "both", "{every: 1s, catchup: all}")
    args = (str(workflow), "--store", "rocksdb://state", "--consensus", "noop")
    older = Scheduler(scratch_dir, *args)
    newer: Scheduler | None = None
    try:
        older.wait_for("started run", 1)
        newer = Scheduler(scratch_dir, *args)
        newer.wait_for("leading since")
        assert older.process.wait(timeout=WAIT) == 1, "\n".join(older.lines)
        older._reader.join(timeout=10)
        assert older.lines[-1].startswith("error: the store refused a write fenced with token"), older.lines[-1]
        newer.wait_for("started run", 2)
        assert newer.terminate() == 0
    finally:
        older.ensure_dead()
        if newer is not None:
            newer.ensure_dead()
    times = logical_times("rocksdb://state", "both", scratch_dir)
    assert_no_duplicate(times)
    assert len(times) >= 3


def test_backfill_runs_a_range_in_parallel_and_a_repeat_skips_every_done_time(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    workflow = write_workflow(scratch_dir, "daily", "{cron: '0 2 * * *', timezone: Europe/Paris}")
    first = run_cli("backfill", workflow, "--from", "2026-01-01", "--to", "2026-01-06T23:59Z", "--parallel", "3",
                    "--store", "rocksdb://state")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "6 started, 0 skipped" in first.stdout
    times = logical_times("rocksdb://state", "daily", scratch_dir)
    assert times == [f"2026-01-0{day}T01:00:00Z" for day in range(1, 7)]  # 02:00 in Paris is 01:00Z in winter
    again = run_cli("backfill", workflow, "--from", "2026-01-01", "--to", "2026-01-07T12:00Z", "--parallel", "3",
                    "--store", "rocksdb://state")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "1 started, 6 skipped" in again.stdout
    assert again.stderr.count("already has run") == 6
    assert_no_duplicate(logical_times("rocksdb://state", "daily", scratch_dir))


def test_backfill_runs_at_most_parallel_runs_at_once(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = scratch_dir / "slow.yaml"
    path.write_text(
        "name: slow\nschedule: {every: 1h}\ntasks:\n  - name: wait\n    type: shell\n"
        "    config: {command: 'sleep 0.5'}\n",
        encoding="utf-8",
    )
    done = run_cli("backfill", path, "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T05:00Z", "--parallel", "2",
                   "--store", "rocksdb://state")  # fmt: skip
    assert done.returncode == 0, done.stderr
    code = (
        "import sys\n"
        "from flowbuilder.config import Settings\n"
        "from flowbuilder.events import EventKind\n"
        "from flowbuilder.plugins import build_plugin_host\n"
        "host = build_plugin_host(Settings())\n"
        "spans = []\n"
        "with host.open_store(sys.argv[1]) as store:\n"
        "    for s in store.list_runs(limit=100).runs:\n"
        "        events = store.read_events(s.run_id)\n"
        "        spans.append((events[0].time, events[-1].time))\n"
        "print(max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans))\n"
    )
    overlap = subprocess.run([sys.executable, "-c", code, "rocksdb://state"], capture_output=True, text=True,
                             cwd=scratch_dir, timeout=WAIT, check=True)  # fmt: skip
    assert 1 <= int(overlap.stdout) <= 2


def test_sigterm_stops_a_backfill_at_once_cancelling_its_runs(scratch_dir: Path) -> None:
    """Rule: SIGTERM (or Ctrl-C) during a backfill starts nothing more and cancels the runs going,
    exit 130, rather than waiting silently for them to end (then "aborted")."""
    path = scratch_dir / "long.yaml"
    path.write_text("name: long\nschedule: {every: 1h}\ntasks:\n"
                    "  - {name: nap, type: shell, config: {command: 'sleep 60'}}\n")  # fmt: skip
    environment = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    backfill = subprocess.Popen(
        [*_cli_command(), "backfill", str(path), "--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "2",
         "--store", "rocksdb://state"], cwd=scratch_dir, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert backfill.stderr is not None
    log: list[str] = []
    try:
        for line in backfill.stderr:  # both slots hold a run once two have started
            log.append(line)
            if sum("started run" in seen for seen in log) == 2:
                break
        time.sleep(0.5)
        backfill.send_signal(signal.SIGTERM)
        out, err = backfill.communicate(timeout=20)  # the runs would take 60 s
    finally:
        if backfill.poll() is None:
            backfill.kill()
            backfill.communicate()
    err = "".join(log) + err
    assert backfill.returncode == 130, err
    assert "2 started" in out and out.count("cancelled") == 2
    assert "backfill stopped" in err and "Traceback" not in err
    assert len(logical_times("rocksdb://state", "long", scratch_dir)) == 2


def test_ctrl_c_stops_a_backfill_at_once_and_cancels_its_runs(scratch_dir: Path) -> None:
    """Ctrl-C waited until every running run had ended (with hour-long tasks, an hour), then exited 130."""
    path = scratch_dir / "long.yaml"
    path.write_text("name: long\nschedule: {every: 1h}\ntasks:\n  - name: wait\n    type: shell\n"
                    "    config: {command: 'sleep 60'}\n", encoding="utf-8")  # fmt: skip
    backfill = Scheduler(scratch_dir, str(path), "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T03:00Z",
                         "--parallel", "2", "--store", "rocksdb://state", command="backfill")  # fmt: skip
    try:
        backfill.wait_for("started run", count=2)
        interrupted = time.monotonic()
        backfill.process.send_signal(signal.SIGINT)
        assert backfill.process.wait(timeout=WAIT) == 130
        assert time.monotonic() - interrupted < 20, "\n".join(backfill.lines)  # not the tasks' 60 s
    finally:
        if backfill.process.poll() is None:
            backfill.kill()
    assert backfill.said("stopping: cancelling 2 run(s) still going") == 1
    code = (
        "import sys\n"
        "from flowbuilder.config import Settings\n"
        "from flowbuilder.plugins import build_plugin_host\n"
        "with build_plugin_host(Settings()).open_store('rocksdb://state') as store:\n"
        "    print(sorted(s.status.value for s in store.list_runs(workflow='long').runs))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=scratch_dir,
                          timeout=WAIT, check=True)  # fmt: skip
    assert done.stdout.strip() == "['cancelled', 'cancelled']"  # the two running; the rest never started


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday", "--to", "2026-01-02"], "is not an ISO-8601 time"),
        (["--from", "2026-01-05", "--to", "2026-01-01"], "ends"),
        (["--from", "2000-01-01", "--to", "2026-01-01"], "more than 10000 logical times"),
        (["--from", "0001-01-01T00:00Z", "--to", "9999-12-31T23:59Z"], "before the first time"),  # was exit 70
        (["--from", "0001-01-01T00:00+05:00", "--to", "2026-01-02"], "out of range"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "0"], "--parallel"),
        (["--from", "2026-01-01", "--to", "2026-01-02", "--parallel", "100000"], "--parallel"),
    ],
)
def test_backfill_refuses_bad_ranges_in_one_line(run_cli, scratch_dir: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    workflow = write_workflow(scratch_dir, "hourly", "{every: 1h}")
    done = run_cli("backfill", workflow, *args, "--store", "rocksdb://state")
    assert done.returncode not in (0, 70), done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 4  # click's usage errors carry the usage lines


def test_scheduler_refuses_a_workflow_without_a_schedule_or_with_a_bad_one(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    plain = scratch_dir / "plain.yaml"
    plain.write_text("name: plain\ntasks:\n  - {name: a, type: shell, config: {command: echo}}\n", encoding="utf-8")
    done = run_cli("scheduler", plain, "--store", "rocksdb://state", "--once")
    assert done.returncode == 1 and "has no `schedule:`" in done.stderr and "Traceback" not in done.stderr
    bad = write_workflow(scratch_dir, "bad", "{cron: '0 2 * * *', timezone: Mars/Olympus}")
    done = run_cli("scheduler", bad, "--store", "rocksdb://state", "--once")
    assert done.returncode == 2 and "bad.yaml:2:" in done.stderr and "unknown timezone 'Mars/Olympus'" in done.stderr
    done = run_cli("scheduler", write_workflow(scratch_dir, "ok", "{every: 1h}"), "--consensus", "paxos", "--once")
    assert done.returncode == 1 and "unknown consensus engine 'paxos'" in done.stderr
    assert not (scratch_dir / "state").exists()  # nothing was opened for a refused command


def test_scheduler_refuses_a_scheduled_workflow_whose_param_has_no_default(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = scratch_dir / "needs.yaml"
    path.write_text(
        "name: needs\nschedule: {every: 1h}\nparams:\n  day: {type: string}\ntasks:\n"
        "  - {name: a, type: shell, config: {command: echo}}\n",
        encoding="utf-8",
    )
    done = run_cli("scheduler", path, "--once")
    assert done.returncode == 1 and "every param needs a default" in done.stderr


def test_the_schedule_examples_and_the_dsl_docs_example_are_valid_scheduled_workflows(
    run_cli,
    repo_root: Path,
    scratch_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    import re

    examples = sorted((repo_root / "examples" / "schedule").glob("*.yaml"))
    assert len(examples) == 3
    dsl = (repo_root / "docs" / "dsl.md").read_text(encoding="utf-8")
    documented = []
    for heading in ("## Schedules", "## Triggers"):
        block = re.search(r"```yaml\n(.*?)```", dsl.split(heading, 1)[1], re.S)
        assert block is not None
        documented.append(scratch_dir / f"documented-{len(documented)}.yaml")
        documented[-1].write_text(block.group(1), encoding="utf-8")
    for path in [*examples, *documented]:
        checked = run_cli("validate", path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    nightly = next(path for path in examples if path.name == "nightly.yaml")
    done = run_cli("backfill", nightly, "--from", "2026-12-01",
                   "--to", "2026-12-02T12:00Z", "--parallel", "2", "--store", "rocksdb://state")  # fmt: skip
    assert done.returncode == 0 and "2 started, 0 skipped" in done.stdout, done.stderr


# -- run-finished triggers (issue 11, item 2) ------------------------------------------------


def write_upstream(folder: Path, exit_code: int = 0) -> Path:
    path = folder / f"up{exit_code}.yaml"
    path.write_text(
        f"name: up\ntasks:\n  - name: work\n    type: shell\n    config: {{command: 'sleep 0.3; exit {exit_code}'}}\n",
        encoding="utf-8",
    )
    return path


def write_downstream(folder: Path) -> Path:
    path = folder / "after.yaml"
    path.write_text(
        "name: after\n"
        "on: {run_finished: {workflow: up, status: [succeeded]}}\n"
        "params:\n"
        "  upstream_run_id: {type: string}\n"
        "  upstream_status: {type: string}\n"
        "  note: {type: string, default: plain}\n"
        "tasks:\n"
        "  - name: echo\n"
        "    type: shell\n"
        "    config: {command: 'echo ${{ params.upstream_run_id }}/${{ params.upstream_status }}'}\n",
        encoding="utf-8",
    )
    return path


def runs_with_params(store_url: str, workflow: str, cwd: Path) -> list[dict[str, object]]:
    code = (
        "import sys, json\n"
        "from flowbuilder.config import Settings\n"
        "from flowbuilder.plugins import build_plugin_host\n"
        "host = build_plugin_host(Settings())\n"
        "with host.open_store(sys.argv[1]) as store:\n"
        "    runs = store.list_runs(workflow=sys.argv[2], limit=1000).runs\n"
        "    print(json.dumps([{'id': s.run_id, 'status': s.status.value, 'params': store.load_state(s.run_id).params}"
        " for s in runs]))\n"
    )
    import json

    done = subprocess.run([sys.executable, "-c", code, store_url, workflow], capture_output=True, text=True,
                          cwd=cwd, timeout=WAIT, check=True)  # fmt: skip
    return list(json.loads(done.stdout))


def test_a_finished_run_triggers_one_run_with_its_payload_as_params_and_a_failed_one_none(
    run_cli,
    scratch_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    after = write_downstream(scratch_dir)
    scheduler = Scheduler(scratch_dir, str(after), "--store", "rocksdb://state", "--lease-seconds", "1")
    try:
        scheduler.wait_for("leading since")
        succeeded = run_cli("run", write_upstream(scratch_dir, 0), "--store", "rocksdb://state")
        assert succeeded.returncode == 0, succeeded.stderr
        failed = run_cli("run", write_upstream(scratch_dir, 3), "--store", "rocksdb://state")
        assert failed.returncode == 1
        scheduler.wait_for("triggered by run")
        scheduler.wait_for("succeeded")
        time.sleep(1.5)  # a few more rounds: nothing else may start
        assert scheduler.terminate() == 0
    finally:
        scheduler.ensure_dead()
    upstream = {run["status"]: run["id"] for run in runs_with_params("rocksdb://state", "up", scratch_dir)}
    triggered = runs_with_params("rocksdb://state", "after", scratch_dir)
    assert len(triggered) == 1, triggered
    assert triggered[0]["status"] == "succeeded"
    assert triggered[0]["params"] == {"upstream_run_id": upstream["succeeded"], "upstream_status": "succeeded",
                                      "note": "plain"}  # fmt: skip
    # A restarted scheduler lists the same finished run again: its claim keeps it to one run.
    again = Scheduler(scratch_dir, str(after), "--store", "rocksdb://state", "--once")
    assert again.process.wait(timeout=WAIT) == 0
    assert len(runs_with_params("rocksdb://state", "after", scratch_dir)) == 1


def test_a_triggered_workflow_needs_defaults_for_params_the_payload_does_not_give(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = scratch_dir / "needs.yaml"
    path.write_text(
        "name: needs\non: {run_finished: {workflow: up}}\nparams:\n  day: {type: string}\ntasks:\n"
        "  - {name: a, type: shell, config: {command: echo}}\n",
        encoding="utf-8",
    )
    done = run_cli("scheduler", path, "--once")
    assert done.returncode == 1 and "a triggered run gets only the params upstream_run_id" in done.stderr
    bad = scratch_dir / "bad.yaml"
    bad.write_text("name: bad\non: {run_finished: {workflow: up, status: [done]}}\ntasks:\n"
                   "  - {name: a, type: shell, config: {command: echo}}\n", encoding="utf-8")  # fmt: skip
    done = run_cli("scheduler", bad, "--once")
    assert done.returncode == 2 and "bad.yaml:2:44: on.run_finished.status[0]:" in done.stderr
