"""``concurrency: N`` means N shell processes alive at once, and the thread pool behind them is capped (issue 10).

Each command records its own start and end (``date +%s.%N``) in a file of its own, and in
between waits at a barrier until ``concurrency`` commands have started (or a few seconds
have passed). The peak of commands between a start and an end is read from those stamps,
so the tests count overlap, never wall-clock speed: were fewer than N able to run at once,
the first commands would wait out the barrier and the peak would fall short of N.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from flowrunner_helpers import run_text

from flowrunner._daemon_threads import MAX_THREADS, _DaemonThreads

BARRIER_SECONDS = 5


def _command(folder: Path, wanted: int) -> str:
    # Started markers in one folder, stamps in another: the barrier counts only starts.
    return (
        f'echo "start $(date +%s.%N)" > {folder}/stamps/$$; touch {folder}/started/$$; '
        f"i=0; while [ $(ls {folder}/started | wc -l) -lt {wanted} ] && [ $i -lt {BARRIER_SECONDS * 100} ]; "
        "do sleep 0.01; i=$((i+1)); done; "
        f'echo "end $(date +%s.%N)" >> {folder}/stamps/$$'
    )


def _workflow(folder: Path, tasks: int, concurrency: int) -> str:
    (folder / "stamps").mkdir()
    (folder / "started").mkdir()
    command = _command(folder, concurrency).replace("'", "''")
    lines = [f"name: at-once\nconcurrency: {concurrency}\ntasks:"]
    lines += [f"  - {{name: t{i}, type: shell, config: {{command: '{command}'}}}}" for i in range(tasks)]
    return "\n".join(lines) + "\n"


def _peak(folder: Path) -> int:
    edges: list[tuple[float, int]] = []
    for stamps in (folder / "stamps").iterdir():
        for line in stamps.read_text().splitlines():
            kind, instant = line.split()
            edges.append((float(instant), 1 if kind == "start" else -1))
    assert len(edges) % 2 == 0 and edges, "every command records a start and an end"
    running = peak = 0
    for _, step in sorted(edges):  # at the same instant an end (-1) sorts before a start
        running += step
        peak = max(peak, running)
    return peak


def test_concurrency_8_runs_8_shell_processes_at_once(tmp_path: Path) -> None:
    """The run's limit, not a thread cap below it, decides how many shell tasks run at once."""
    result = run_text(_workflow(tmp_path, tasks=16, concurrency=8))
    assert result.succeeded
    assert _peak(tmp_path) == 8


def test_flowbuilder_run_with_concurrency_8_runs_8_shell_processes_at_once(tmp_path: Path) -> None:
    """The same through the command line, as a user runs it (default store, a fresh process)."""
    path = tmp_path / "wf.yaml"
    path.write_text(_workflow(tmp_path, tasks=12, concurrency=8))
    flowbuilder = str(Path(sys.executable).with_name("flowbuilder"))
    completed = subprocess.run([flowbuilder, "run", "--store", "memory://", str(path)], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120, env=dict(os.environ))  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert _peak(tmp_path) == 8


def test_the_daemon_pool_grows_to_its_cap_and_no_further() -> None:
    """Jobs past the cap wait for a free thread; the cap is far above any per-run concurrency."""
    assert MAX_THREADS >= 64  # far above any sane per-run concurrency on one machine
    pool = _DaemonThreads(limit=3)
    release = threading.Event()
    lock = threading.Lock()
    running = peak = 0

    def job() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(10)
        with lock:
            running -= 1

    futures = [pool.submit(job) for _ in range(6)]
    for _ in range(1000):  # until the three threads hold a job each (at most about 5 s)
        with lock:
            if running >= 3:
                break
        threading.Event().wait(0.005)
    threading.Event().wait(0.05)  # room for a thread past the cap to show up
    assert pool.threads == 3 and running == 3 and not any(future.done() for future in futures)
    release.set()
    for future in futures:
        future.result(10)
    assert peak == 3


def test_a_job_submitted_as_the_last_result_arrives_reuses_the_thread_that_ran_it() -> None:
    """A thread counts as idle before its result is published (the scheduler submits from there)."""
    pool = _DaemonThreads(limit=3)
    chain_done = threading.Event()

    def next_link(links_left: int) -> None:  # each job submitted by the last one's done-callback
        if links_left == 0:
            chain_done.set()
            return
        pool.submit(lambda: None).add_done_callback(lambda _: next_link(links_left - 1))

    next_link(20)
    assert chain_done.wait(10)
    assert pool.threads == 1


def test_a_job_started_from_the_last_report_reuses_the_thread_and_errors_reach_the_report() -> None:
    """``start`` (no Future) keeps the rule of ``submit``: idle before the report runs."""
    pool = _DaemonThreads(limit=3)
    chain_done = threading.Event()
    reports: list[tuple[object, object]] = []

    def failing() -> None:
        raise ValueError("from the job")

    def next_link(links_left: int) -> None:  # each job started by the last one's report
        if links_left == 0:
            chain_done.set()
            return
        call = failing if links_left == 1 else (lambda: links_left)

        def report(result: object, error: BaseException | None) -> None:
            reports.append((result, error))
            next_link(links_left - 1)

        pool.start(call, report)

    next_link(20)
    assert chain_done.wait(10)
    assert pool.threads == 1
    assert [result for result, _ in reports[:-1]] == list(range(20, 1, -1))
    result, error = reports[-1]
    assert result is None and isinstance(error, ValueError) and str(error) == "from the job"
