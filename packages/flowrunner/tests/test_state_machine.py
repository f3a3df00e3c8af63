"""The scheduling rules, driven synchronously: no event loop, a clock moved by hand.

Each test builds a :class:`RunStateMachine` for a small workflow, plays the driver itself
(``pump`` records which attempts start; the test reports their outcomes) and reads the
decisions and events. This is exactly what a remote executor's driver relies on.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from flowbuilder.events import EventKind, RunStatus
from flowbuilder.interfaces import TaskFailure
from flowbuilder_contracts.runner import compile_yaml
from flowrunner._event_writer import EventWriter
from flowrunner.scheduling import ReadyQueue, RunStateMachine
from flowrunner.scheduling.state import FAILED, READY, RETRY_WAIT, RUNNING, SKIPPED, SUCCEEDED, WAITING


class HandClock:
    """``monotonic`` and ``time`` move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


class Harness:
    """A state machine plus the bookkeeping of a driver that does nothing on its own."""

    def __init__(self, text: str, limit: int = 10) -> None:
        self.clock = HandClock()
        self.plan = compile_yaml(text)
        workflow = self.plan.workflow
        tasks = workflow.tasks
        self.writer = EventWriter("run-1", None, [])
        pool_of = [task.pool for task in tasks] if workflow.pools else None
        queue = ReadyQueue([task.priority or 0 for task in tasks], self.plan.remaining_path, self.clock.monotonic,
                           pool_of, dict(workflow.pools))  # fmt: skip
        self.machine = RunStateMachine(self.plan, self.writer, queue, limit, self.clock)
        self.wakes = 0
        self.machine.wake = self._woken
        self.started: list[tuple[str, int]] = []

    def _woken(self) -> None:
        self.wakes += 1

    def _start(self, task_id: int, attempt: int) -> None:
        self.started.append((self.plan.names[task_id], attempt))

    def open(self) -> Harness:
        self.machine.open(self.plan.roots())
        return self

    def pump(self) -> list[tuple[str, int]]:
        """Start what may start; return the (task, attempt) pairs started by this pump."""
        before = len(self.started)
        self.machine.pump(self._start)
        return self.started[before:]

    def id(self, name: str) -> int:
        return self.plan.index[name]

    def succeed(self, name: str, output: Any = None) -> None:
        task_id = self.id(name)
        self.machine.succeeded(task_id, self.machine.attempts[task_id], output)

    def fail(self, name: str, failure: TaskFailure | None = None, message: str = "boom") -> float | None:
        task_id = self.id(name)
        return self.machine.attempt_failed(task_id, self.machine.attempts[task_id], failure, message)

    def state(self, name: str) -> int:
        return self.machine.state[self.id(name)]

    def events(self, kind: EventKind) -> list[tuple[str | None, int, Any]]:
        return [(event.task, event.attempt, event.data) for event in self.writer.pending if event.kind is kind]


DIAMOND = """
name: diamond
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, config: {value: 2}}
  - {name: c, type: contract_value, depends_on: [a, b], config: {value: 3}}
  - {name: d, type: contract_value, depends_on: [c], config: {value: 4}}
"""


def test_a_task_starts_only_when_every_dependency_succeeded() -> None:
    run = Harness(DIAMOND).open()
    assert sorted(run.pump()) == [("a", 1), ("b", 1)]
    run.succeed("a")
    assert run.pump() == []  # c still waits for b
    assert run.state("c") != READY
    run.succeed("b")
    assert run.pump() == [("c", 1)]
    assert run.state("c") == RUNNING


def test_the_limit_caps_attempts_running_at_once() -> None:
    run = Harness(DIAMOND, limit=1).open()
    assert len(run.pump()) == 1
    assert run.pump() == []
    run.succeed(run.started[0][0])
    assert len(run.pump()) == 1


def test_a_final_failure_skips_the_whole_downstream_with_reasons() -> None:
    run = Harness(DIAMOND).open()
    run.pump()
    assert run.fail("a") is None  # no retry policy: final at once
    assert run.state("a") == FAILED
    assert run.state("c") == SKIPPED and run.state("d") == SKIPPED
    assert run.machine.reasons[run.id("c")] == "dependency 'a' failed"
    assert run.machine.reasons[run.id("d")] == "dependency 'c' was skipped"
    assert [task for task, _, _ in run.events(EventKind.TASK_SKIPPED)] == ["c", "d"]


def test_a_false_when_skips_the_task_and_its_downstream() -> None:
    run = Harness(DIAMOND.replace("depends_on: [a, b],", "depends_on: [a, b], when: 'false',")).open()
    run.machine.evaluate_when = lambda task_id: False
    run.pump()
    run.succeed("a")
    run.succeed("b")
    assert run.pump() == []
    assert run.state("c") == SKIPPED and run.state("d") == SKIPPED
    assert run.machine.reasons[run.id("c")].startswith("when condition is false")


def test_a_when_that_raises_fails_the_task() -> None:
    run = Harness(DIAMOND.replace("depends_on: [a, b],", "depends_on: [a, b], when: 'true',")).open()

    def broken(task_id: int) -> bool:
        raise ValueError("no such name")

    run.machine.evaluate_when = broken
    run.pump()
    run.succeed("a")
    run.succeed("b")
    assert run.state("c") == FAILED
    assert run.machine.errors[run.id("c")] == "when condition failed: no such name"


RETRIED = """
name: retried
tasks:
  - name: flaky
    type: contract_value
    retry: {attempts: 3, backoff: 2, jitter: 0}
    config: {value: 1}
"""


def test_a_retried_failure_is_a_decision_to_retry_at_a_clock_instant() -> None:
    run = Harness(RETRIED).open()
    assert run.pump() == [("flaky", 1)]
    run.clock.now = 110.0
    due = run.fail("flaky")
    assert due == 112.0  # now + backoff
    assert run.state("flaky") == RETRY_WAIT
    assert run.events(EventKind.TASK_RETRYING) == [("flaky", 1, {"error": "boom", "duration": 10.0, "delay": 2.0})]
    assert run.events(EventKind.TASK_FAILED) == []
    assert not run.machine.done  # a retry is due
    run.machine.retry_due(run.id("flaky"))
    assert run.pump() == [("flaky", 2)]
    run.succeed("flaky")
    assert run.machine.done


def test_the_last_allowed_attempt_fails_for_good() -> None:
    run = Harness(RETRIED).open()
    for _ in (1, 2):
        run.pump()
        due = run.fail("flaky")
        assert due is not None
        run.machine.retry_due(run.id("flaky"))
    assert run.pump() == [("flaky", 3)]
    assert run.fail("flaky") is None
    ((task, attempt, data),) = run.events(EventKind.TASK_FAILED)
    assert (task, attempt, data["final"]) == ("flaky", 3, True)


def test_no_retry_when_the_delay_would_pass_the_deadline() -> None:
    run = Harness(RETRIED.replace("retry:", "deadline: 5\n    retry:")).open()
    run.pump()  # the deadline clock starts now (t=100): ends at 105
    run.clock.now = 103.5
    assert run.fail("flaky") is None  # 103.5 + 2 >= 105
    assert run.machine.errors[run.id("flaky")] == "boom (deadline reached, not retried)"


def test_a_retry_within_the_deadline_is_allowed_and_its_timeout_is_what_is_left() -> None:
    run = Harness(RETRIED.replace("retry:", "deadline: 5\n    timeout: 30\n    retry:")).open()
    run.pump()
    assert run.machine.attempt_timeout(run.id("flaky")) == 5.0  # the deadline cuts the 30 s timeout
    run.clock.now = 101.0
    due = run.fail("flaky")
    assert due == 103.0
    run.clock.now = due
    run.machine.retry_due(run.id("flaky"))
    run.pump()
    assert run.machine.attempt_timeout(run.id("flaky")) == 2.0


def test_retry_on_limits_which_failures_are_retried() -> None:
    run = Harness(RETRIED.replace("jitter: 0}", "jitter: 0, retry_on: [timeout]}")).open()
    run.pump()
    assert run.fail("flaky", TaskFailure("exit 1", exit_code=1), "exit 1") is None
    run2 = Harness(RETRIED.replace("jitter: 0}", "jitter: 0, retry_on: [timeout]}")).open()
    run2.pump()
    assert run2.fail("flaky", TaskFailure("slow", timed_out=True), "slow") is not None


def test_a_failure_marked_not_retryable_is_final() -> None:
    run = Harness(RETRIED).open()
    run.pump()
    assert run.fail("flaky", TaskFailure("bad config", retryable=False), "bad config") is None


STOPPING = """
name: stopping
on_failure: {policy}
tasks:
  - {{name: waits, type: contract_value, retry: {{attempts: 5, backoff: 60, jitter: 0}}, config: {{value: 1}}}}
  - {{name: breaks, type: contract_value, config: {{value: 2}}}}
  - {{name: later, type: contract_value, depends_on: [waits], config: {{value: 3}}}}
  - {{name: other, type: contract_value, priority: -5, config: {{value: 4}}}}
"""


def test_on_failure_stop_starts_nothing_more_and_fails_waiting_retries() -> None:
    run = Harness(STOPPING.format(policy="stop"), limit=2).open()
    assert sorted(run.pump()) == [("breaks", 1), ("waits", 1)]  # `other` has the lowest priority
    assert run.fail("waits") is not None
    assert run.fail("breaks") is None
    assert run.machine.stopping
    assert run.machine.errors[run.id("waits")] == "not retried: run stopped: task 'breaks' failed"
    assert run.machine.retry_waiting == {}
    assert run.pump() == []  # `other` was ready, but the run stopped
    assert run.machine.done
    assert run.machine.finish() is RunStatus.FAILED
    assert run.machine.reasons[run.id("other")] == "run stopped: task 'breaks' failed"


def test_on_failure_continue_runs_what_does_not_depend_on_the_failure() -> None:
    run = Harness(STOPPING.format(policy="continue"), limit=2).open()
    run.pump()
    run.fail("breaks")
    assert not run.machine.stopping
    assert run.pump() == [("other", 1)]


def test_a_retry_stopped_while_waiting_records_the_stop_reason() -> None:
    run = Harness(STOPPING.format(policy="continue"), limit=2).open()
    run.pump()
    run.fail("waits")
    run.machine.stop("shutting down")
    assert run.state("waits") == FAILED
    assert run.machine.errors[run.id("waits")] == "not retried: shutting down"
    run.machine.retry_due(run.id("waits"))  # the driver's timer fires late: nothing happens
    assert run.state("waits") == FAILED


def test_cancel_cancels_waiting_retries_starts_nothing_and_ends_cancelled() -> None:
    run = Harness(STOPPING.format(policy="continue"), limit=2).open()
    run.pump()
    run.fail("waits")
    assert run.machine.request_cancel("operator asked") is True
    assert run.machine.request_cancel("again") is False  # the driver escalates on a second request
    assert len(run.events(EventKind.RUN_CANCEL_REQUESTED)) == 1
    assert [task for task, _, _ in run.events(EventKind.TASK_CANCELLED)] == ["waits"]
    assert run.machine.reasons[run.id("later")] == "dependency 'waits' was cancelled"
    assert run.pump() == []
    run.machine.cancelled(run.id("breaks"), 1)  # the driver cancelled the running attempt
    assert run.machine.done
    assert run.machine.finish() is RunStatus.CANCELLED
    assert run.wakes >= 1


def test_pause_starts_nothing_new_while_running_attempts_finish() -> None:
    run = Harness(DIAMOND).open()
    run.pump()
    run.machine.pause()
    run.succeed("a")
    run.succeed("b")  # c becomes ready while paused
    assert run.pump() == []
    assert not run.machine.done  # paused with work left: the run waits, it does not end
    wakes = run.wakes
    run.machine.unpause()
    assert run.wakes == wakes + 1  # the driver is told to pump again
    assert run.pump() == [("c", 1)]


def test_a_retry_that_falls_due_while_paused_waits_for_unpause() -> None:
    run = Harness(RETRIED).open()
    run.pump()
    run.fail("flaky")
    run.machine.pause()
    run.machine.retry_due(run.id("flaky"))
    assert run.pump() == []
    run.machine.unpause()
    assert run.pump() == [("flaky", 2)]


def test_finish_skips_what_never_started_and_reports_success() -> None:
    run = Harness(DIAMOND).open()
    run.pump()
    for name in ("a", "b"):
        run.succeed(name)
    run.pump()
    run.succeed("c")
    run.pump()
    run.succeed("d", {"n": 4})
    assert run.machine.done
    assert run.machine.finish() is RunStatus.SUCCEEDED
    assert run.machine.outputs[run.id("d")] == {"n": 4}
    assert all(run.state(name) == SUCCEEDED for name in "abcd")


def test_an_output_the_check_refuses_fails_the_task() -> None:
    run = Harness(DIAMOND).open()
    run.machine.check_output = lambda output: "output too large" if output == "huge" else None
    run.pump()
    run.succeed("a", "huge")
    assert run.state("a") == FAILED and run.machine.errors[run.id("a")] == "output too large"


def test_the_output_check_is_not_asked_about_an_attempt_that_returned_nothing() -> None:
    run = Harness(DIAMOND).open()
    asked: list[object] = []
    run.machine.check_output = lambda output: asked.append(output)  # type: ignore[func-returns-value]
    run.pump()
    run.succeed("a", None)
    run.succeed("b", 0)
    run.pump()
    run.succeed("c", "text")
    assert asked == [0, "text"]
    assert all(run.state(name) == SUCCEEDED for name in "abc")


POOLS = """
name: pools
pools: {db: 1}
tasks:
  - {name: q1, type: contract_value, pool: db, priority: 9, config: {value: 1}}
  - {name: q2, type: contract_value, pool: db, priority: 8, config: {value: 2}}
  - {name: free, type: contract_value, config: {value: 3}}
"""


def test_a_full_pool_holds_its_tasks_while_others_start() -> None:
    run = Harness(POOLS).open()
    assert run.pump() == [("q1", 1), ("free", 1)]
    run.succeed("free")
    assert run.pump() == []  # q2 waits for the pool's one slot
    run.succeed("q1")
    assert run.pump() == [("q2", 1)]


@pytest.mark.parametrize(("retries", "expected_first"), [(0, "high"), (3, "low")])
def test_the_ready_queue_orders_by_priority_minus_retries(retries: int, expected_first: str) -> None:
    clock = HandClock()
    queue = ReadyQueue([5.0, 3.0], [1.0, 1.0], clock.monotonic)
    queue.push(0, retries)  # "high": priority 5, maybe retried 3 times (5 - 3 < 3)
    queue.push(1, 0)  # "low"
    assert ["high", "low"][queue.pop() or 0] == expected_first


def test_ageing_lets_an_early_task_pass_a_later_higher_priority_one() -> None:
    clock = HandClock()
    queue = ReadyQueue([0.0, 2.0], [1.0, 1.0], clock.monotonic)
    queue.push(0, 0)
    clock.now += 3.0  # the second arrives three seconds later: three points of ageing behind
    queue.push(1, 0)
    assert queue.pop() == 0


def test_the_scheduling_core_imports_without_asyncio() -> None:
    """The rules must stay usable by a driver that is not asyncio (a cluster leader, a test)."""
    code = "import sys; sys.modules['asyncio'] = None; import flowrunner.scheduling; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr


# -- run_if (trigger rules) -------------------------------------------------------------------

RUN_IF = """
name: cleanup
on_failure: {policy}
tasks:
  - {{name: setup, type: contract_value, config: {{value: 1}}}}
  - {{name: work, type: contract_value, depends_on: [setup], config: {{value: 2}}}}
  - {{name: side, type: contract_value, depends_on: [setup], priority: -5, config: {{value: 3}}}}
  - {{name: report, type: contract_value, depends_on: [work], config: {{value: 4}}}}
  - {{name: teardown, type: contract_value, depends_on: [report, side], run_if: {rule}, config: {{value: 5}}}}
  - {{name: after, type: contract_value, depends_on: [teardown], config: {{value: 6}}}}
"""


def _run_if(rule: str, policy: str = "continue", limit: int = 10) -> Harness:
    return Harness(RUN_IF.format(rule=rule, policy=policy), limit=limit).open()


def _through_setup(run: Harness) -> None:
    assert run.pump() == [("setup", 1)]
    run.succeed("setup")


@pytest.mark.parametrize("rule", ["all_done", "any_failed", "always"])
def test_a_run_if_task_waits_for_every_dependency_to_end(rule: str) -> None:
    run = _run_if(rule)
    _through_setup(run)
    assert sorted(run.pump()) == [("side", 1), ("work", 1)]
    run.fail("work")
    assert run.state("report") == SKIPPED
    assert run.pump() == []  # `side` still runs: the rule waits for it
    assert run.state("teardown") != SKIPPED
    run.succeed("side")
    assert run.pump() == [("teardown", 1)]
    run.succeed("teardown")
    assert run.pump() == [("after", 1)]  # what needs a succeeded run_if task runs as usual
    run.succeed("after")
    assert run.machine.done
    assert run.machine.finish() is RunStatus.FAILED  # cleanup succeeding does not hide the failure


def test_all_succeeded_is_the_default_and_a_failure_skips_the_cleanup() -> None:
    run = _run_if("all_succeeded")
    _through_setup(run)
    run.pump()
    run.fail("work")
    assert run.machine.reasons[run.id("teardown")] == "dependency 'report' was skipped"


@pytest.mark.parametrize("rule", ["all_done", "always"])
def test_all_done_and_always_run_when_everything_succeeded(rule: str) -> None:
    run = _run_if(rule)
    _through_setup(run)
    run.pump()
    run.succeed("work")
    run.succeed("side")
    assert run.pump() == [("report", 1)]
    run.succeed("report")
    assert run.pump() == [("teardown", 1)]


def test_any_failed_is_skipped_when_no_dependency_failed() -> None:
    run = _run_if("any_failed")
    _through_setup(run)
    run.pump()
    run.succeed("work")
    run.succeed("side")
    run.pump()
    run.succeed("report")
    assert run.pump() == []
    assert run.machine.reasons[run.id("teardown")] == "run_if any_failed: no dependency failed"
    assert run.machine.reasons[run.id("after")] == "dependency 'teardown' was skipped"
    assert run.machine.finish() is RunStatus.SUCCEEDED


def test_any_failed_counts_a_dependency_skipped_because_of_a_failure_as_failed() -> None:
    # Like Airflow's upstream_failed: `report` was skipped because `work` failed.
    run = _run_if("any_failed")
    _through_setup(run)
    run.pump()
    run.fail("work")
    run.succeed("side")
    assert run.pump() == [("teardown", 1)]


def test_any_failed_does_not_count_a_dependency_skipped_by_its_when() -> None:
    run = Harness("""
name: w
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, depends_on: [a], when: "false", config: {value: 2}}
  - {name: c, type: contract_value, depends_on: [b], run_if: any_failed, config: {value: 3}}
""").open()
    run.machine.evaluate_when = lambda task_id: False
    run.pump()
    run.succeed("a")
    assert run.pump() == []
    assert run.machine.reasons[run.id("c")] == "run_if any_failed: no dependency failed"


def test_a_stopped_run_still_runs_its_cleanup_once_its_dependencies_ended() -> None:
    run = _run_if("always", policy="stop", limit=1)
    _through_setup(run)
    assert run.pump() == [("work", 1)]  # limit 1: `side` (lower priority) waits in the queue
    run.fail("work")
    assert run.machine.stopping
    assert run.machine.reasons[run.id("side")] == "run stopped: task 'work' failed"  # settled at once
    assert not run.machine.done
    assert run.pump() == [("teardown", 1)]
    run.succeed("teardown")
    assert run.pump() == []  # `after` is an ordinary task: a stopped run does not start it
    assert run.machine.reasons[run.id("after")] == "run stopped: task 'work' failed"
    assert run.machine.done
    assert run.machine.finish() is RunStatus.FAILED


def test_a_stopped_run_waits_for_a_running_dependency_before_its_cleanup() -> None:
    run = _run_if("all_done", policy="stop")
    _through_setup(run)
    assert sorted(run.pump()) == [("side", 1), ("work", 1)]
    run.fail("work")
    assert run.pump() == []
    assert not run.machine.done  # `side` runs on
    run.succeed("side")
    assert run.pump() == [("teardown", 1)]
    run.succeed("teardown")
    assert run.machine.done


def test_a_cancel_starts_only_always_tasks() -> None:
    for rule, expected in (("always", [("teardown", 1)]), ("all_done", []), ("any_failed", [])):
        run = _run_if(rule)
        _through_setup(run)
        run.pump()
        run.machine.request_cancel("operator asked")
        run.machine.cancelled(run.id("work"), 1)
        run.machine.cancelled(run.id("side"), 1)
        assert run.pump() == expected, rule
        if expected:
            assert not run.machine.done
            run.succeed("teardown")
            assert run.pump() == []  # `after` is not `always`
        else:
            assert run.machine.reasons[run.id("teardown")] == "run cancelled: operator asked"
        assert run.machine.done
        assert run.machine.finish() is RunStatus.CANCELLED


def test_a_run_if_task_sees_its_dependencies_statuses_in_when() -> None:
    run = Harness("""
name: w
on_failure: continue
tasks:
  - {name: a, type: contract_value, config: {value: 1}}
  - {name: b, type: contract_value, config: {value: 2}}
  - {name: notify, type: contract_value, depends_on: [a, b], run_if: all_done,
     when: "${{ tasks.a.status == 'failed' }}", config: {value: 3}}
""").open()
    seen: list[tuple[str, str]] = []

    def when(task_id: int) -> bool:
        seen.append((run.machine.task_result(run.id("a"))["status"], run.machine.task_result(run.id("b"))["status"]))
        return True

    run.machine.evaluate_when = when
    run.pump()
    run.fail("a")
    assert seen == []  # `b` has not ended yet
    run.succeed("b")
    assert seen == [("failed", "succeeded")]
    assert run.pump() == [("notify", 1)]


def test_resume_reruns_what_failed_before_a_run_if_task_decides() -> None:
    class Stored:
        def __init__(self, status: str) -> None:
            from flowbuilder.events import TaskStatus

            self.status = TaskStatus(status)
            self.attempts = 1
            self.output = None
            self.started_at = self.finished_at = 1.0

    fresh = Harness(RUN_IF.format(rule="any_failed", policy="continue"))
    restored = fresh.machine.restore({"setup": Stored("succeeded"), "side": Stored("succeeded"),
                                      "work": Stored("failed")})  # fmt: skip
    assert sorted(fresh.plan.names[t] for t in restored) == ["setup", "side"]
    fresh.machine.open(fresh.machine.resumable_roots())
    assert fresh.pump() == [("work", 2)]
    fresh.succeed("work")
    fresh.pump()
    fresh.succeed("report")
    assert fresh.pump() == []  # nothing it depends on failed this time
    assert fresh.state("teardown") == SKIPPED


# -- restoring a finished run for a retry (flowbuilder retry) -------------------------------


def _stored(**statuses: str) -> dict[str, Any]:
    from flowbuilder.events import TaskState, TaskStatus

    return {name: TaskState(status=TaskStatus(status), attempts=1, output=f"out-{name}", error="boom")
            for name, status in statuses.items()}  # fmt: skip


def test_a_retry_restores_succeeded_tasks_and_reruns_only_the_chosen_ones_with_attempts_continuing() -> None:
    run = Harness(DIAMOND)
    stored = _stored(a="succeeded", b="failed", c="skipped", d="skipped")
    restored = run.machine.restore(stored, rerun=["b", "c", "d"])
    assert restored == [run.id("a")] and run.machine.outputs[run.id("a")] == "out-a"
    run.machine.open(run.machine.resumable_roots())
    assert run.pump() == [("b", 2)]
    run.succeed("b")
    assert run.pump() == [("c", 2)]


def test_a_retry_reruns_a_succeeded_task_it_chose_and_keeps_failures_it_did_not() -> None:
    run = Harness(DIAMOND)
    stored = _stored(a="succeeded", b="failed", c="skipped", d="skipped")
    restored = run.machine.restore(stored, rerun=["a"])
    assert restored == []
    run.machine.open(run.machine.resumable_roots())
    assert run.pump() == [("a", 2)]
    run.succeed("a")
    assert run.pump() == []  # c waits on b, whose failure is kept
    assert run.state("b") == FAILED and run.state("c") == SKIPPED
    assert run.machine.finish() is RunStatus.FAILED
    assert run.events(EventKind.TASK_SKIPPED) == []  # kept outcomes are not recorded again


def test_a_resume_without_rerun_runs_everything_that_did_not_succeed() -> None:
    run = Harness(DIAMOND)
    run.machine.restore(_stored(a="succeeded", b="failed"))
    run.machine.open(run.machine.resumable_roots())
    assert run.pump() == [("b", 2)]


# -- waits (approvals, timers): started, then holding no slot ----------------------------------

WAITERS = """
name: waiters
pools: {gate: 1}
tasks:
  - {name: w1, type: contract_value, pool: gate, config: {value: 1}}
  - {name: w2, type: contract_value, pool: gate, config: {value: 2}}
  - {name: w3, type: contract_value, pool: gate, config: {value: 3}}
  - {name: job, type: contract_value, config: {value: 4}}
  - {name: after, type: contract_value, depends_on: [w1], config: {value: 5}}
"""


class WaitingHarness(Harness):
    """A driver that turns every start of a task named ``w*`` into a wait, as flowrunner's does."""

    def _start(self, task_id: int, attempt: int) -> None:
        super()._start(task_id, attempt)
        if self.plan.names[task_id].startswith("w"):
            self.machine.wait(task_id, attempt, {"signal": "go"})


def test_a_waiting_task_holds_no_slot_of_the_run_or_its_pool() -> None:
    """Three waits in a pool of 1 under a run limit of 1 all start, and other work still runs."""
    run = WaitingHarness(WAITERS, limit=1).open()
    started = run.pump()
    assert sorted(started) == [("job", 1), ("w1", 1), ("w2", 1), ("w3", 1)]
    assert run.machine.running == 1  # only `job` holds a slot
    assert {name for name, _, _ in run.events(EventKind.TASK_WAITING)} == {"w1", "w2", "w3"}
    assert run.state("w1") == WAITING
    assert not run.machine.done  # the waits keep the run open


def test_a_wait_that_succeeds_records_its_output_and_starts_its_dependents() -> None:
    run = WaitingHarness(WAITERS, limit=1).open()
    run.pump()
    run.succeed("job")
    assert run.machine.wait_succeeded(run.id("w1"), {"approved": True}, {"signal_request": 3})
    assert run.machine.running == 0 and run.machine.queue.pool_used["gate"] == 0
    assert run.events(EventKind.TASK_SUCCEEDED)[-1][0] == "w1"
    assert run.events(EventKind.TASK_SUCCEEDED)[-1][2]["signal_request"] == 3
    assert run.pump() == [("after", 1)]
    assert not run.machine.wait_succeeded(run.id("w1"), None)  # ended already: nothing recorded twice


def test_a_wait_that_fails_is_final_and_skips_its_dependents() -> None:
    run = WaitingHarness(WAITERS.replace("name: waiters", "name: waiters\non_failure: continue"), limit=1).open()
    run.pump()
    assert run.machine.wait_failed(run.id("w1"), "rejected by bob", {"signal_request": 1})
    assert run.state("w1") == FAILED and run.state("after") == SKIPPED
    assert run.machine.running == 1  # `job` still holds its slot; the failed wait gave back none it did not hold
    failed = run.events(EventKind.TASK_FAILED)[-1]
    assert failed[0] == "w1" and failed[2]["error"] == "rejected by bob" and failed[2]["final"]


def test_cancelling_the_run_cancels_what_waits() -> None:
    run = WaitingHarness(WAITERS, limit=1).open()
    run.pump()
    run.machine.request_cancel("stop it")
    assert {name for name, _, _ in run.events(EventKind.TASK_CANCELLED)} == {"w1", "w2", "w3"}
    run.machine.cancelled(run.id("job"), 1)
    assert run.machine.done


def test_a_stopped_run_cancels_what_waits_rather_than_waiting_for_it() -> None:
    run = WaitingHarness(WAITERS, limit=1).open()
    run.pump()
    run.fail("job")  # on_failure: stop
    assert not run.machine.waits and run.machine.done
    assert {name for name, _, _ in run.events(EventKind.TASK_CANCELLED)} == {"w1", "w2", "w3"}
