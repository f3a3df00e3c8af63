"""Crash test with real processes: ``flowbuilder run`` SIGKILLed at random moments, then resumed.

A 300-task workflow whose shell tasks each append their name to a ledger file (at the end
of the task) is started with ``flowbuilder run``; the whole process is SIGKILLed after a
random delay; then ``flowbuilder resume RUN_ID`` is started and killed again, ``kills``
times in all, and finally resumed to the end. Checked afterwards:

* every task is recorded as succeeded exactly once (one ``task_succeeded`` event each);
* every task appears in the ledger;
* a task appears more than once only if it was *in flight at a kill*: its ledger line was
  written but its success was not yet recorded when that process died.

With ``redis_restart`` the test's own Redis server (AOF on) is killed and restarted during
one of the runs. Run standalone for the full 50-kill version::

    python packages/flowbuilder-storage/tests/crash_harness.py --backend rocksdb --kills 50
    python packages/flowbuilder-storage/tests/crash_harness.py --backend redis --kills 50
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TASKS = 300
CLI = str(Path(sys.executable).with_name("flowbuilder"))


def write_workflow(directory: Path, ledger: Path, tasks: int = TASKS) -> Path:
    lines = ["name: crashy", "tasks:"]
    for index in range(tasks):
        name = f"t{index:03d}"
        delay = 0.02 + (index % 5) * 0.02
        lines.append(f"  - name: {name}")
        lines.append("    type: shell")
        if index >= 20:
            lines.append(f"    depends_on: [t{index - 20:03d}]")
        lines.append(f'    config: {{command: "sleep {delay:.2f}; echo {name} >> {ledger}"}}')
    path = directory / "crashy.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str, store: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([CLI, *args, "--store", store], capture_output=True, text=True, cwd=cwd, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"flowbuilder {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def store_state(store: str, cwd: Path, run_id: str) -> dict[str, object]:
    return json.loads(cli("runs", "show", run_id, "--json", store=store, cwd=cwd).stdout)


def succeeded_tasks(store: str, cwd: Path, run_id: str) -> set[str]:
    state = store_state(store, cwd, run_id)["state"]
    assert isinstance(state, dict)
    return {name for name, task in state["tasks"].items() if task["status"] == "succeeded"}


def read_ledger(ledger: Path) -> list[str]:
    return ledger.read_text().split() if ledger.exists() else []


@dataclass
class CrashReport:
    kills: int = 0
    runs: int = 0
    tasks_recorded: int = 0
    ledger_lines: int = 0
    duplicated: int = 0
    in_flight_at_kills: int = 0
    redis_restarted: bool = False
    seconds: float = 0.0


def run_crash_test(store: str, directory: Path, kills: int, seed: int = 1, restart_redis: object | None = None,
                   max_delay: float = 2.5) -> CrashReport:  # fmt: skip
    """SIGKILL runs ``kills`` times in all (resuming each run until it ends, then a fresh run); check each run."""
    rng = random.Random(seed)
    started = time.monotonic()
    report = CrashReport()
    restart_at = kills // 2 if restart_redis is not None else -1
    round_number = 0
    while report.kills < kills:
        round_number += 1
        round_dir = directory / f"round-{round_number}"
        round_dir.mkdir()
        ledger = round_dir / "ledger.txt"
        workflow = write_workflow(round_dir, ledger)
        run_id = ""
        in_flight: set[str] = set()
        while report.kills < kills:
            args = [CLI, "run", str(workflow), "-c", "8"] if not run_id else [CLI, "resume", run_id, "-c", "8"]
            process = subprocess.Popen([*args, "--store", store], cwd=round_dir, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
            restarter = None
            if report.kills == restart_at and not report.redis_restarted:
                restarter = threading.Thread(target=restart_redis)  # type: ignore[arg-type]
                restarter.start()
                report.redis_restarted = True
            time.sleep(rng.uniform(0.3, max_delay))
            if restarter is not None:
                restarter.join()
            finished = process.poll() is not None
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the run process and everything in its session
            except ProcessLookupError:  # it had finished already
                pass
            _, stderr = process.communicate()
            assert "Traceback" not in stderr, stderr
            time.sleep(0.3)  # shell tasks started in their own sessions finish their ledger line
            if not finished:
                report.kills += 1
            if not run_id:
                listing = json.loads(cli("runs", "list", "-w", "crashy", "--json", store=store, cwd=round_dir).stdout)
                known = {r["run_id"] for r in listing["runs"]}
                fresh = known - _seen_runs
                if not fresh:
                    continue  # killed before the run was created: start it again
                run_id = fresh.pop()
                _seen_runs.add(run_id)
            in_flight |= set(read_ledger(ledger)) - succeeded_tasks(store, round_dir, run_id)
            if finished:
                break
        if not run_id:
            cli("run", str(workflow), "-c", "8", store=store, cwd=round_dir)
            listing = json.loads(cli("runs", "list", "-w", "crashy", "--json", store=store, cwd=round_dir).stdout)
            run_id = ({r["run_id"] for r in listing["runs"]} - _seen_runs).pop()
            _seen_runs.add(run_id)
        elif store_state(store, round_dir, run_id)["run"]["status"] in ("pending", "running", "interrupted"):  # type: ignore[index]
            cli("resume", run_id, "-c", "8", store=store, cwd=round_dir)
        check_run(store, round_dir, run_id, ledger, in_flight, report)
    report.seconds = time.monotonic() - started
    return report


_seen_runs: set[str] = set()


def check_run(store: str, directory: Path, run_id: str, ledger: Path, in_flight: set[str], report: CrashReport) -> None:
    """The guarantees, for one run after its last resume."""
    state = store_state(store, directory, run_id)
    tasks = state["state"]["tasks"]  # type: ignore[index]
    assert state["run"]["status"] == "succeeded", state["run"]  # type: ignore[index]
    assert len(tasks) == TASKS and all(t["status"] == "succeeded" for t in tasks.values())
    successes = count_success_events(store, directory, run_id)
    assert set(successes) == set(tasks) and set(successes.values()) == {1}, "each task recorded succeeded exactly once"
    ledger_counts = Counter(read_ledger(ledger))
    assert set(ledger_counts) == set(tasks), "every task ran"
    duplicated = {name for name, count in ledger_counts.items() if count > 1}
    assert duplicated <= in_flight, f"ran twice without being in flight at a kill: {duplicated - in_flight}"
    report.runs += 1
    report.tasks_recorded += len(successes)
    report.ledger_lines += sum(ledger_counts.values())
    report.duplicated += len(duplicated)
    report.in_flight_at_kills += len(in_flight)


def count_success_events(store: str, directory: Path, run_id: str) -> Counter[str]:
    """task_succeeded events per task, read through the Store interface in a separate process."""
    code = ("import sys, json, collections; from flowbuilder.plugins import build_plugin_host; "
            "s = build_plugin_host().open_store(sys.argv[1]); "
            "c = collections.Counter(e.task for e in s.read_events(sys.argv[2]) if e.kind.value == 'task_succeeded'); "
            "s.close(); print(json.dumps(c))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, store, run_id], capture_output=True, text=True, cwd=directory)
    assert result.returncode == 0, result.stderr
    return Counter(json.loads(result.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["rocksdb", "redis"], default="rocksdb")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        if options.backend == "rocksdb":
            report = run_crash_test(f"rocksdb://{directory}/store", directory, options.kills, options.seed)
        else:
            from flowbuilder_contracts.redis_server import RedisServer

            server = RedisServer(directory / "redis", appendonly=True)
            server.start()

            def restart() -> None:
                time.sleep(0.3)
                server.stop(kill=True)
                time.sleep(0.5)
                server.start()

            try:
                report = run_crash_test(server.url, directory, options.kills, options.seed, restart_redis=restart)
            finally:
                server.stop()
    print(json.dumps(report.__dict__, indent=1))


if __name__ == "__main__":
    main()
