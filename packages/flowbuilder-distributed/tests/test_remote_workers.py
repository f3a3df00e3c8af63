"""Remote workers end to end: real ``flowbuilder worker`` processes, a real redis-server, real runs.

Every wait is bounded (runs by their subprocess timeout, polls by a deadline).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import redis
from remote_runs import finish, python_task, start_run, stored_history, successes_per_task, write_workflow
from worker_processes import WorkerProcesses, run_cli_process

from flowbuilder_contracts.redis_server import RedisServer, free_port


def store_of(scratch: Path) -> str:
    return f"rocksdb://{scratch / 'runs.db'}"


def wait_for_files(folder: Path, pattern: str, count: int, within: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + within
    while True:
        found = sorted(folder.glob(pattern))
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"only {len(found)} of {count} {pattern} within {within:g}s"
        time.sleep(0.05)


def test_a_run_on_two_worker_processes_records_every_task_once(scratch: Path, workers: WorkerProcesses) -> None:
    workers.start(env={"FLOWBUILDER_TEST_NODE": "w0"})
    workers.start(env={"FLOWBUILDER_TEST_NODE": "w1"})
    workers.wait_registered(2)
    # 0.3 s each, 2 slots per worker: longer than a worker takes to find a new queue (1 s), so both get some
    tasks = [python_task(f"t{i}", "who_runs", args=[0.3]) for i in range(16)]
    tasks.append({"name": "shell", "type": "shell", "depends_on": ["t0"], "config": {"command": "echo remote"}})
    flow = write_workflow(scratch, "spread", tasks)

    code, events, err = finish(start_run(scratch, flow, workers.url, store_of(scratch)))

    assert code == 0, err
    run_id = events[0]["run_id"]
    history = stored_history(store_of(scratch), run_id)
    assert successes_per_task(history) == {task["name"]: 1 for task in tasks}
    nodes = {event.data["output"]["node"] for event in history if event.kind.value == "task_succeeded"
             and event.task.startswith("t")}  # fmt: skip
    assert nodes == {"w0", "w1"}, "both workers should have run attempts"
    assert {event.data["output"]["pid"] for event in history if event.task == "t0" and event.kind.value ==
            "task_succeeded"} != {os.getpid()}  # fmt: skip


def test_a_worker_killed_mid_attempt_is_reclaimed_after_its_lease_and_each_task_succeeds_once(
    scratch: Path, workers: WorkerProcesses
) -> None:
    marks = scratch / "marks"
    marks.mkdir()
    doomed = workers.start(concurrency=4, lease=1.0)
    workers.wait_registered(1)
    tasks = [python_task(f"slow{i}", "slow_then_mark", args=[str(marks), f"slow{i}", 1.5]) for i in range(4)]
    flow = write_workflow(scratch, "reclaim", tasks)
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    wait_for_files(marks, "*.started", 4)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    workers.start(concurrency=4, lease=1.0)

    code, events, err = finish(run)

    assert code == 0, err
    history = stored_history(store_of(scratch), events[0]["run_id"])
    assert successes_per_task(history) == {f"slow{i}": 1 for i in range(4)}
    finished_by = {path.name.split(".")[1] for path in marks.glob("*.finished")}
    assert str(doomed.pid) not in finished_by, "the killed worker finished nothing; another one reran its attempts"


def test_a_poison_attempt_is_dead_lettered_after_max_deliveries_and_its_task_fails_with_that_reason(
    scratch: Path, workers: WorkerProcesses
) -> None:
    for _ in range(3):
        workers.start("--max-deliveries", "2", concurrency=1, lease=0.5)
    workers.wait_registered(3)
    flow = write_workflow(scratch, "poison", [python_task("poison", "die")])

    code, events, err = finish(start_run(scratch, flow, workers.url, store_of(scratch)))

    assert code == 1, err
    failed = [
        event for event in stored_history(store_of(scratch), events[0]["run_id"]) if event.kind.value == "task_failed"
    ]
    assert len(failed) == 1 and "dead-lettered after 2 deliveries" in failed[0].data["error"]
    client = redis.Redis.from_url(workers.url)
    try:
        ((_entry_id, fields),) = client.xrange("flowbuilder:workers:default:dead")
        assert b"dead-lettered" in fields[b"reason"]
    finally:
        client.close()
    assert sum(1 for process in workers.started if process.poll() is not None) == 2, "two workers died of it"


def test_labels_place_tasks_only_on_workers_that_have_them(scratch: Path, workers: WorkerProcesses) -> None:
    workers.start("--labels", "linux,gpu", env={"FLOWBUILDER_TEST_NODE": "gpu"})
    workers.start("--labels", "linux", env={"FLOWBUILDER_TEST_NODE": "plain"})
    workers.wait_registered(2)
    gpu_tasks = [python_task(f"gpu{i}", "who_runs", worker={"labels": ["gpu"]}) for i in range(8)]
    any_tasks = [python_task(f"any{i}", "who_runs", worker={"labels": ["linux"]}) for i in range(8)]
    flow = write_workflow(scratch, "labels", gpu_tasks + any_tasks)

    code, events, err = finish(start_run(scratch, flow, workers.url, store_of(scratch)))

    assert code == 0, err
    ran_on = {event.task: event.data["output"]["node"] for event in stored_history(store_of(scratch), events[0]["run_id"])
              if event.kind.value == "task_succeeded"}  # fmt: skip
    assert {ran_on[f"gpu{i}"] for i in range(8)} == {"gpu"}
    assert len(ran_on) == 16


def test_an_attempt_with_no_matching_live_worker_waits_queued_until_one_joins(
    scratch: Path, workers: WorkerProcesses
) -> None:
    workers.start("--labels", "linux")
    workers.wait_registered(1)
    flow = write_workflow(scratch, "queued", [python_task("arm", "who_runs", worker={"labels": ["arm"]})])
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    time.sleep(2.0)
    assert run.poll() is None, "the attempt must wait for a worker, not fail"
    workers.start("--labels", "arm", env={"FLOWBUILDER_TEST_NODE": "arm"})

    code, events, err = finish(run)

    assert code == 0, err
    (succeeded,) = [event for event in events if event["kind"] == "task_succeeded"]
    assert succeeded["data"]["output"]["node"] == "arm"


def test_sigterm_drains_a_worker_it_finishes_its_attempt_and_exits_0(scratch: Path, workers: WorkerProcesses) -> None:
    marks = scratch / "marks"
    marks.mkdir()
    draining = workers.start(lease=5.0)
    workers.wait_registered(1)
    flow = write_workflow(scratch, "drain", [python_task("long", "slow_then_mark", args=[str(marks), "long", 1.5])])
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    wait_for_files(marks, "long.*.started", 1)
    draining.send_signal(signal.SIGTERM)

    assert draining.wait(timeout=30) == 0, workers.log_of(draining)
    code, _events, err = finish(run)
    assert code == 0, err
    assert (marks / f"long.{draining.pid}.finished").exists(), "the draining worker finished the attempt itself"


def test_a_worker_that_cannot_finish_within_the_drain_timeout_hands_its_attempt_back(
    scratch: Path, workers: WorkerProcesses
) -> None:
    marks = scratch / "marks"
    marks.mkdir()
    leaving = workers.start("--drain-timeout", "0.2", lease=30.0)
    workers.wait_registered(1)
    flow = write_workflow(scratch, "handback", [python_task("long", "slow_then_mark", args=[str(marks), "long", 3.0])])
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    wait_for_files(marks, "long.*.started", 1)
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(timeout=30) == 0, workers.log_of(leaving)
    taker = workers.start(lease=30.0)  # long lease: only a hand-back (not a reclaim) can reach it in time

    code, _events, err = finish(run, within=25)  # under the 30 s lease: a reclaim would come too late

    assert code == 0, err
    assert (marks / f"long.{taker.pid}.finished").exists()


def test_dead_redis_is_a_one_line_error_with_a_non_zero_exit(scratch: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    flow = write_workflow(scratch, "nowhere", [python_task("t", "who_runs")])
    for args in (("run", str(flow), "--store", store_of(scratch), "--workers", dead), ("worker", "--store", dead),
                 ("cluster", "status", "--store", dead)):  # fmt: skip
        done = run_cli_process(scratch, *args, timeout=60)
        assert done.returncode not in (0, 70), (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot reach" in lines[0], (args, done.stderr)


def test_an_unknown_workers_scheme_names_what_is_installed(scratch: Path) -> None:
    flow = write_workflow(scratch, "scheme", [python_task("t", "who_runs")])
    done = run_cli_process(scratch, "run", str(flow), "--store", store_of(scratch), "--workers", "carrier://pigeon")
    assert done.returncode == 2 or done.returncode == 1, done.stderr
    assert "unknown scheme 'carrier'" in done.stderr and "redis://" in done.stderr


def test_garbage_in_the_queue_stream_is_dead_lettered_and_the_worker_goes_on(
    scratch: Path, workers: WorkerProcesses
) -> None:
    survivor = workers.start()
    workers.wait_registered(1)
    client = redis.Redis.from_url(workers.url)
    queue = "flowbuilder:workers:default:queue:-"
    try:
        client.sadd("flowbuilder:workers:default:queues", "-")
        hostile = [b"not json", b"[1, 2]", b'{"v": 1}', b"\xff\xfe\x00binary", b"[" * 100_000, b'{"v": 99}',
                   b'{"v": 1, "attempt_id": "x", "results": "flowbuilder:workers:results:test", "number": -1}']  # fmt: skip
        for payload in hostile:
            client.xadd(queue, {"attempt": payload})
        client.xadd(queue, {"something": "else"})
        deadline = time.monotonic() + 30
        while client.xlen("flowbuilder:workers:default:dead") < len(hostile) + 1:
            assert time.monotonic() < deadline, workers.log_of(survivor)
            time.sleep(0.05)
        # The worker dead-letters the entry first, then answers the results stream it named.
        while not (answered := client.xread({"flowbuilder:workers:results:test": "0"})):
            assert time.monotonic() < deadline, workers.log_of(survivor)
            time.sleep(0.05)
        ((_, [(_, reply)]),) = answered
        assert b"could not be read" in reply[b"result"]
    finally:
        client.close()
    assert survivor.poll() is None, workers.log_of(survivor)
    flow = write_workflow(scratch, "after", [python_task("t", "square", args=[7])])
    code, _events, err = finish(start_run(scratch, flow, workers.url, store_of(scratch)))
    assert code == 0, err


def test_junk_in_the_queue_index_registry_and_results_field_never_stops_a_worker(
    scratch: Path, workers: WorkerProcesses
) -> None:
    """Each of these once ended every worker that read it (exit 70, or exit 1 "lost the workers'
    Redis" on WRONGTYPE): a queue-index member and a registry member that are not UTF-8, an
    attempt whose ``results`` names a key that is no results stream (here the queue index, a set),
    and a results stream that someone replaced with a string."""
    client = redis.Redis.from_url(workers.url)
    queues, queue = "flowbuilder:workers:default:queues", "flowbuilder:workers:default:queue:-"
    try:
        client.sadd(queues, "-", b"\xff\xfe")
        client.zadd("flowbuilder:nodes", {b"\xff\xfe": time.time()})
        survivor = workers.start()
        workers.wait_registered(1)
        elsewhere = {"v": 1, "attempt_id": "x", "results": queues, "run_id": "r", "task": "t", "number": 1,
                     "type": "shell", "config": {"command": "true"}}  # fmt: skip
        client.xadd(queue, {"attempt": json.dumps(elsewhere)})
        deadline = time.monotonic() + 30
        while client.xlen("flowbuilder:workers:default:dead") < 1:
            assert time.monotonic() < deadline, workers.log_of(survivor)
            time.sleep(0.05)
        (dead,) = client.xrange("flowbuilder:workers:default:dead")
        assert b"not a results stream" in dead[1][b"reason"]
        assert client.type(queues) == b"set", "nothing is written to a key the entry named"
        # A results stream someone made a string: Redis refuses that one result, the worker goes on.
        client.set("flowbuilder:workers:results:clobbered", "x")
        client.xadd(queue, {"attempt": json.dumps({**elsewhere, "results": "flowbuilder:workers:results:clobbered",
                                                   "type": "no-such-type"})})  # fmt: skip
        flow = write_workflow(scratch, "after", [python_task("t", "square", args=[7])])
        code, _events, err = finish(start_run(scratch, flow, workers.url, store_of(scratch)), within=30)
        assert code == 0, err
        assert survivor.poll() is None, workers.log_of(survivor)
    finally:
        client.close()


def test_a_live_worker_renews_a_long_attempt_so_nobody_reclaims_it(scratch: Path, workers: WorkerProcesses) -> None:
    marks = scratch / "marks"
    marks.mkdir()
    workers.start(concurrency=1, lease=1.0)
    workers.wait_registered(1)
    flow = write_workflow(scratch, "renew", [python_task("long", "slow_then_mark", args=[str(marks), "long", 3.5])])
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    wait_for_files(marks, "long.*.started", 1)
    workers.start(concurrency=1, lease=1.0)  # idle, and looking for entries idle longer than the lease

    code, _events, err = finish(run)

    assert code == 0, err
    assert len(list(marks.glob("long.*.started"))) == 1, "the attempt ran once: its worker kept its lease"


def test_redis_dying_mid_run_fails_the_attempt_within_the_loss_limit_and_the_worker_exits_with_one_line(
    scratch: Path, workers: WorkerProcesses, redis_server: RedisServer
) -> None:
    marks = scratch / "marks"
    marks.mkdir()
    orphaned = workers.start()
    workers.wait_registered(1)
    flow = write_workflow(scratch, "lost", [python_task("long", "slow_then_mark", args=[str(marks), "long", 1.0])])
    run = start_run(
        scratch, flow, workers.url, store_of(scratch), env={"FLOWBUILDER_DISTRIBUTED__REDIS_LOSS_LIMIT": "1"}
    )
    wait_for_files(marks, "long.*.started", 1)
    redis_server.stop(kill=True)

    code, events, err = finish(run, within=60)

    assert code == 1 and "Traceback" not in err, err
    (failed,) = [event for event in events if event["kind"] == "task_failed"]
    assert "lost the workers' Redis" in failed["data"]["error"]
    assert orphaned.wait(timeout=30) == 1
    worker_output = workers.log_of(orphaned)
    assert "Traceback" not in worker_output and "error: lost the workers' Redis at" in worker_output


CHAOS_TASKS = 500
CHAOS_TASK_SECONDS = 0.6
"""Long enough that 500 tasks on 3 workers x 4 slots take about 25 s: at least three kills land mid-run."""
CHAOS_KILL_EVERY = 5.0
CHAOS_LEASE = 1.0
ORPHAN_SLACK = 3.0
"""Seconds past its lease an entry may go unrenewed: a live worker's next look for orphans (every
quarter lease, before it reads new entries), its free slot, and the executor's acknowledgement of
a posted result. Measured here: at most 1.8 s in all (lease included); before reclaimed entries
came before new ones, 12 s (every slot was busy with new entries until the queue drained)."""


def test_killing_a_random_worker_every_5s_during_a_500_task_run_loses_nothing_and_records_every_task_once(
    scratch: Path, workers: WorkerProcesses
) -> None:
    """Issue 12's fault test: kill -9 a random worker every 5 s during a 500-task run.

    Every task is recorded exactly once, no queue entry stays unacknowledged and unrenewed
    (orphaned) longer than its lease (plus :data:`ORPHAN_SLACK`), and the run succeeds.
    """
    import random

    for _ in range(3):
        workers.start(concurrency=4, lease=CHAOS_LEASE)
    workers.wait_registered(3)
    tasks = [python_task(f"t{i}", "slow_then_mark", args=[str(scratch), f"t{i}", CHAOS_TASK_SECONDS])
             for i in range(CHAOS_TASKS)]  # fmt: skip
    flow = write_workflow(scratch, "chaos", tasks)
    client = redis.Redis.from_url(workers.url)
    queue = "flowbuilder:workers:default:queue:-"
    run = start_run(scratch, flow, workers.url, store_of(scratch))
    chooser = random.Random(12)
    kills_mid_run = 0
    longest_idle_ms = 0
    deadline = time.monotonic() + 85
    next_kill = time.monotonic() + CHAOS_KILL_EVERY
    try:
        while run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.25)
            try:
                pending = client.xpending_range(queue, "workers", "-", "+", 1000)
            except redis.ResponseError:  # the queue or its group is not made yet
                pending = []
            longest_idle_ms = max([longest_idle_ms, *(int(entry["time_since_delivered"]) for entry in pending)])
            alive = [process for process in workers.started if process.poll() is None]
            if time.monotonic() >= next_kill and run.poll() is None and alive:
                victim = chooser.choice(alive)
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                kills_mid_run += run.poll() is None
                next_kill += CHAOS_KILL_EVERY
                workers.start(concurrency=4, lease=CHAOS_LEASE)

        code, events, err = finish(run, within=30)

        assert code == 0, err
        history = stored_history(store_of(scratch), events[0]["run_id"])
        assert successes_per_task(history) == {f"t{i}": 1 for i in range(CHAOS_TASKS)}
        assert not [event for event in history if event.kind.value == "task_failed"]
        assert kills_mid_run >= 3, f"only {kills_mid_run} kill(s) landed mid-run: make the tasks longer"
        assert longest_idle_ms <= (CHAOS_LEASE + ORPHAN_SLACK) * 1000, f"an entry waited {longest_idle_ms} ms"
        assert client.xpending(queue, "workers")["pending"] == 0, "nothing orphaned"
    finally:
        client.close()
    print(f"{kills_mid_run} kills mid-run; the longest an entry went unrenewed: {longest_idle_ms} ms")
