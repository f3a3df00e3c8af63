"""Scheduling rules: pools, priorities, critical path, retries' timing, deadlines, outputs, foreach."""

from __future__ import annotations

import random

from flowrunner_helpers import run_text

from flowbuilder.events import RunStatus, TaskStatus
from flowbuilder.interfaces import TaskFailure
from flowbuilder.model import RetryPolicy
from flowbuilder_contracts.runner_tasks import forget_recording, recording
from flowrunner._retry import matches_retry_on, retry_delay


def _max_overlap(log: str) -> int:
    running = best = 0
    for event, _, _ in recording(log):
        running += 1 if event == "start" else -1
        best = max(best, running)
    return best


def _contract_run(text: str) -> object:
    import asyncio

    from flowbuilder.interfaces import RunRequest
    from flowbuilder_contracts.runner import compile_yaml
    from flowbuilder_contracts.runner_tasks import contract_task_types
    from flowrunner import LocalRunner

    plan = compile_yaml(text)
    return asyncio.run(LocalRunner(contract_task_types()).run_async(RunRequest(plan=plan)))


def test_a_pool_limits_how_many_of_its_tasks_run_at_once() -> None:
    tasks = "\n".join(
        f"  - {{name: t{i}, type: contract_record, pool: db, config: {{log: pool-log, sleep: 0.02}}}}" for i in range(6)
    )
    result = _contract_run(f"name: p\npools: {{db: 2}}\ntasks:\n{tasks}\n")
    try:
        assert result.succeeded and _max_overlap("pool-log") == 2
    finally:
        forget_recording("pool-log")


def test_the_global_concurrency_limits_all_tasks() -> None:
    tasks = "\n".join(
        f"  - {{name: t{i}, type: contract_record, config: {{log: conc-log, sleep: 0.02}}}}" for i in range(6)
    )
    result = _contract_run(f"name: p\nconcurrency: 3\ntasks:\n{tasks}\n")
    try:
        assert result.succeeded and _max_overlap("conc-log") == 3
    finally:
        forget_recording("conc-log")


def test_higher_priority_ready_tasks_start_first() -> None:
    result = _contract_run("""
name: p
concurrency: 1
tasks:
  - {name: low, type: contract_record, priority: 1, config: {log: prio-log}}
  - {name: high, type: contract_record, priority: 9, config: {log: prio-log}}
  - {name: mid, type: contract_record, priority: 5, config: {log: prio-log}}
""")
    try:
        assert result.succeeded
        assert [task for event, task, _ in recording("prio-log") if event == "start"] == ["high", "mid", "low"]
    finally:
        forget_recording("prio-log")


def test_at_equal_priority_the_longer_remaining_path_starts_first() -> None:
    result = _contract_run("""
name: p
concurrency: 1
tasks:
  - {name: short, type: contract_record, config: {log: cp-log}}
  - {name: long, type: contract_record, config: {log: cp-log}}
  - {name: long2, type: contract_record, depends_on: [long], config: {log: cp-log}}
  - {name: long3, type: contract_record, depends_on: [long2], config: {log: cp-log}}
""")
    try:
        assert result.succeeded
        assert next(task for event, task, _ in recording("cp-log") if event == "start") == "long"
    finally:
        forget_recording("cp-log")


def test_retry_delays_grow_exponentially_and_never_exceed_max_delay() -> None:
    policy = RetryPolicy(attempts=10, backoff=1, multiplier=2, max_delay=5, jitter=0)
    assert [retry_delay(policy, n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = RetryPolicy(attempts=10, backoff=4, multiplier=2, max_delay=5, jitter=0.5)
    rng = random.Random(7)
    delays = [retry_delay(jittered, 1, rng) for _ in range(200)]
    assert min(delays) >= 2 and max(delays) <= 5 and len(set(delays)) > 100


def test_retry_on_matches_exit_codes_status_classes_and_timeouts() -> None:
    assert matches_retry_on(["status:5xx"], TaskFailure("x", status=503))
    assert not matches_retry_on(["status:5xx"], TaskFailure("x", status=404))
    assert matches_retry_on(["exit:2"], TaskFailure("x", exit_code=2))
    assert matches_retry_on(["timeout"], TaskFailure("x", timed_out=True))
    assert not matches_retry_on(["timeout"], None)
    assert matches_retry_on([], None) and matches_retry_on(["error"], None)
    assert not matches_retry_on([], TaskFailure("x", retryable=False))


def test_a_deadline_stops_retries_that_would_start_after_it() -> None:
    result = _contract_run("""
name: p
tasks:
  - name: a
    type: contract_fail
    deadline: 0.3
    retry: {attempts: 100, backoff: 0.1, multiplier: 1, jitter: 0}
""")
    state = result.tasks["a"]
    assert state.status is TaskStatus.FAILED and 1 < state.attempts < 10 and "deadline" in state.error


def test_task_outputs_are_evaluated_from_the_result_and_reach_dependents() -> None:
    result = run_text("""
name: p
tasks:
  - name: a
    type: shell
    config: {command: "echo '{\\"rows\\": [1, 2, 3]}'"}
    outputs: {count: "${{ output.rows | length }}"}
  - {name: b, type: shell, depends_on: [a], config: {command: "echo ${{ tasks.a.outputs.count }}"}}
""")
    assert result.output("b") == "3"


def test_foreach_max_parallel_limits_items_at_once() -> None:
    result = _contract_run("""
name: p
tasks:
  - name: each
    type: contract_record
    foreach: {items: [1, 2, 3, 4, 5, 6], max_parallel: 2}
    config: {log: fe-log, sleep: 0.02, value: "${{ item }}"}
""")
    try:
        assert result.output("each") == [1, 2, 3, 4, 5, 6] and _max_overlap("fe-log") == 2
    finally:
        forget_recording("fe-log")


def test_a_failed_foreach_item_fails_the_task_naming_the_item() -> None:
    result = run_text("""
name: p
tasks:
  - {name: each, type: shell, foreach: [0, 3, 0], config: {command: "exit ${{ item }}"}}
""")
    assert result.status is RunStatus.FAILED and "item 1" in result.tasks["each"].error


def test_a_continue_foreach_names_five_failed_items_and_counts_the_rest() -> None:
    long = "x" * 200
    result = _contract_run(f"""
name: p
tasks:
  - name: each
    type: contract_fail
    foreach: {{items: [a, b, c, d, e, f, g, {long}], on_item_failure: continue}}
    config: {{error: "no ${{{{ item[:3] }}}}"}}
""")
    error = result.tasks["each"].error
    assert error.startswith("8 of 8 items failed: item 0 ('a'): no a (attempt 1); item 1 ('b')")
    assert "item 4 ('e')" in error and "item 5" not in error and error.endswith("; and 3 more")


def test_a_continue_foreach_cuts_a_long_item_in_its_error() -> None:
    long = "x" * 200
    result = _contract_run(f"""
name: p
tasks:
  - name: each
    type: contract_fail
    foreach: {{items: [ok, {long}], on_item_failure: continue}}
    config: {{failures: "${{{{ 0 if item == 'ok' else 1 }}}}", error: boom}}
""")
    error = result.tasks["each"].error
    assert error == f"1 of 2 items failed: item 1 ('{'x' * 56}...): boom (attempt 1)"


def test_a_continue_foreach_stops_at_once_when_the_run_stops() -> None:
    result = run_text("""
name: p
tasks:
  - {name: broken, type: shell, config: {command: "exit 3"}}
  - name: each
    type: shell
    foreach: {items: [1, 2], on_item_failure: continue, max_parallel: 1}
    config: {command: "sleep 0.3; exit ${{ item }}"}
""")
    each = result.tasks["each"]
    assert each.status is TaskStatus.FAILED
    assert each.error.startswith("1 of 2 items failed: item 0 (1): command exited with 1")


def test_a_stop_after_failure_does_not_retry_tasks_waiting_for_a_retry() -> None:
    result = _contract_run("""
name: p
tasks:
  - {name: broken, type: contract_fail, config: {}}
  - name: flaky
    type: contract_fail
    priority: 5
    retry: {attempts: 5, backoff: 5, jitter: 0}
""")
    assert result.status is RunStatus.FAILED
    assert result.tasks["flaky"].status is TaskStatus.FAILED and result.tasks["flaky"].attempts == 1


def test_a_per_type_limit_caps_tasks_of_that_type_without_a_pool() -> None:
    import asyncio

    from flowbuilder.interfaces import RunRequest
    from flowbuilder_contracts.runner import compile_yaml
    from flowbuilder_contracts.runner_tasks import contract_task_types
    from flowrunner import LocalRunner

    tasks = "\n".join(
        f"  - {{name: t{i}, type: contract_record, config: {{log: type-log, sleep: 0.02}}}}" for i in range(6)
    )
    plan = compile_yaml(f"name: p\ntasks:\n{tasks}\n")
    runner = LocalRunner(contract_task_types(), type_limits={"contract_record": 2})
    try:
        assert asyncio.run(runner.run_async(RunRequest(plan=plan))).succeeded
        assert _max_overlap("type-log") == 2
    finally:
        forget_recording("type-log")


def test_a_failing_store_stops_the_runs_processes_and_surfaces_the_error(tmp_path) -> None:
    import asyncio
    import uuid

    import pytest
    from flowrunner_helpers import TASK_TYPES, plan_of, processes_with_env

    from flowbuilder.errors import StoreError
    from flowbuilder.interfaces import RunRequest
    from flowbuilder.stores.memory import MemoryStore
    from flowrunner import LocalRunner

    class BrokenStore(MemoryStore):
        def append_events(self, run_id, events, expected_seq):  # type: ignore[no-untyped-def]
            if expected_seq > 0:
                raise StoreError("disk full")
            return super().append_events(run_id, events, expected_seq)

    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    plan = plan_of(f"""
name: p
tasks:
  - {{name: quick, type: shell, config: {{command: "true"}}}}
  - {{name: slow, type: shell, env: {{TOKEN: "{token}"}}, config: {{command: "sleep 60", kill_grace: 0.2}}}}
""")
    runner = LocalRunner(TASK_TYPES)
    with pytest.raises(StoreError, match="disk full"):
        asyncio.run(runner.run_async(RunRequest(plan=plan, store=BrokenStore(f"memory://{uuid.uuid4().hex}"))))
    assert processes_with_env(token) == []


def test_an_attempt_failing_after_the_run_stopped_says_it_was_not_retried() -> None:
    """A retry policy that stop overrode is named in the error, not silently ignored."""
    result = run_text("""
name: p
tasks:
  - {name: broken, type: shell, config: {command: "exit 3"}}
  - name: flaky
    type: shell
    retry: {attempts: 3, backoff: 0.01, jitter: 0}
    config: {command: "sleep 0.5; exit 1"}
""")
    flaky = result.tasks["flaky"]
    assert flaky.status is TaskStatus.FAILED and flaky.attempts == 1
    assert "not retried: run stopped: task 'broken' failed" in flaky.error


def test_a_foreach_item_failing_after_the_run_stopped_says_it_was_not_retried() -> None:
    result = run_text("""
name: p
tasks:
  - {name: broken, type: shell, config: {command: "exit 3"}}
  - name: each
    type: shell
    foreach: [1]
    retry: {attempts: 3, backoff: 0.01, jitter: 0}
    config: {command: "sleep 0.5; exit ${{ item }}"}
""")
    each = result.tasks["each"]
    assert each.status is TaskStatus.FAILED
    assert "not retried: run stopped: task 'broken' failed" in each.error
