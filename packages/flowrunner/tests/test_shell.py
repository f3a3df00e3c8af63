"""The shell task type with real processes."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from flowrunner_helpers import group_alive, processes_with_env, run_text

from flowbuilder.events import RunStatus, TaskStatus
from flowbuilder.stores.memory import MemoryStore


def test_output_is_the_last_json_line_of_stdout() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo starting; echo '{\\"n\\": 1}'; echo '{\\"n\\": 2}'; echo trailing"}}
""")
    assert result.output("a") == {"n": 2}


def test_output_is_the_whole_stdout_when_no_line_is_json() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo one; echo two"}}
""")
    assert result.output("a") == "one\ntwo"


def test_a_non_zero_exit_fails_with_the_exit_code_and_stderr() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo broken >&2; exit 7"}}
""")
    state = result.tasks["a"]
    assert state.status is TaskStatus.FAILED
    assert "exited with 7" in state.error and "broken" in state.error


def test_success_codes_count_other_exit_codes_as_success() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "exit 3", success_codes: [0, 3]}}
""")
    assert result.succeeded


def test_an_argv_list_runs_without_a_shell() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: [echo, "$HOME; not expanded"]}}
""")
    assert result.output("a") == "$HOME; not expanded"


def test_expression_values_reach_the_shell_as_environment_variables_never_as_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = run_text(
        """
name: t
params:
  name: {type: string}
tasks:
  - {name: a, type: shell, config: {command: "echo hello ${{ params.name }}"}}
""",
        params={"name": f"x; touch {marker}; echo $(id)"},
    )
    assert result.output("a") == f"hello x; touch {marker}; echo $(id)"
    assert not marker.exists()


def test_env_and_cwd_reach_the_process(tmp_path: Path) -> None:
    result = run_text(f"""
name: t
env: {{FROM_WORKFLOW: wf}}
tasks:
  - name: a
    type: shell
    env: {{FROM_TASK: task}}
    config: {{command: "echo $FROM_WORKFLOW $FROM_TASK $FROM_CONFIG $(pwd)", env: {{FROM_CONFIG: cfg}}, cwd: "{tmp_path}"}}
""")
    assert result.output("a") == f"wf task cfg {tmp_path}"


def test_each_process_gets_the_runner_environment_of_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decoded environment is reused between processes only while os.environ is unchanged."""
    workflow = """
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo ${FLOWRUNNER_TEST_CHANGING-unset}"}}
"""
    monkeypatch.setenv("FLOWRUNNER_TEST_CHANGING", "first")
    assert run_text(workflow).output("a") == "first"
    monkeypatch.setenv("FLOWRUNNER_TEST_CHANGING", "second")
    assert run_text(workflow).output("a") == "second"
    monkeypatch.delenv("FLOWRUNNER_TEST_CHANGING")
    assert run_text(workflow).output("a") == "unset"


def test_stdout_and_stderr_lines_are_logged_in_order() -> None:
    store = MemoryStore.open(f"memory://{uuid.uuid4().hex}")
    result = run_text(
        """
name: t
tasks:
  - {name: a, type: shell, config: {command: "for i in 1 2 3; do echo out$i; done; echo err >&2"}}
""",
        store=store,
    )
    lines = [(line.stream, line.text) for line in store.read_logs(result.run_id, "a")]
    assert lines[:3] == [("stdout", "out1"), ("stdout", "out2"), ("stdout", "out3")]
    assert ("stderr", "err") in lines


def test_logs_beyond_the_size_cap_are_dropped_with_a_marker() -> None:
    store = MemoryStore.open(f"memory://{uuid.uuid4().hex}")
    result = run_text(
        """
name: t
tasks:
  - {name: a, type: shell, config: {command: "for i in $(seq 1 1000); do echo line-$i; done; echo '[1]'", max_log_bytes: 100}}
""",
        store=store,
    )
    lines = store.read_logs(result.run_id, "a")
    assert result.succeeded
    assert sum(len(line.text) + 1 for line in lines if line.stream == "stdout") <= 100
    assert any("truncated" in line.text for line in lines if line.stream == "system")


def test_the_output_is_the_last_json_line_of_the_whole_stdout_even_past_the_log_cap() -> None:
    result = run_text("""
name: t
tasks:
  - name: a
    type: shell
    config:
      command: "echo '{\\"early\\": 1}'; for i in $(seq 1 2000); do echo line-$i; done; echo '{\\"end\\": 1}'; echo bye"
      max_log_bytes: 100
""")
    assert result.output("a") == {"end": 1}


def test_a_json_line_in_the_kept_part_stays_the_output_when_none_follows_past_the_cap() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo '{\\"n\\": 1}'; seq 1 2000", max_log_bytes: 100}}
""")
    assert result.output("a") == {"n": 1}


def test_a_cut_stdout_with_no_json_line_fails_the_task_instead_of_passing_a_cut_value() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "seq 1 2000", max_log_bytes: 100}}
  - {name: b, type: shell, depends_on: [a], config: {command: "echo ${{ tasks.a.output }}"}}
""")
    assert result.tasks["a"].status is TaskStatus.FAILED
    assert "no line of it is JSON" in (result.tasks["a"].error or "")
    assert result.tasks["a"].attempts == 1
    assert result.tasks["b"].status is TaskStatus.SKIPPED


def test_a_line_too_long_to_keep_is_dropped_without_buffering_it_and_cannot_be_the_output(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"x": "' + "a" * (17 << 20) + '"}\n')
    result = run_text(f"""
name: t
tasks:
  - {{name: a, type: shell, config: {{command: "echo '[1]'; cat {big}", max_log_bytes: 100}}}}
  - {{name: b, type: shell, config: {{command: "cat {big}; echo '[2]'", max_log_bytes: 100}}}}
""")
    assert result.tasks["a"].status is TaskStatus.FAILED
    assert "too long to keep" in (result.tasks["a"].error or "")
    assert result.output("b") == [2]


def test_a_timed_out_shell_task_leaves_no_process_of_its_group_behind(tmp_path: Path) -> None:
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    pid_file = tmp_path / "pgid"
    result = run_text(f"""
name: t
tasks:
  - name: a
    type: shell
    timeout: 1
    env: {{TOKEN: "{token}"}}
    config: {{command: "echo $$ > {pid_file}; sleep 300 & sleep 300 & trap '' TERM; sleep 300", kill_grace: 0.5}}
""")
    state = result.tasks["a"]
    assert state.status is TaskStatus.FAILED and "timed out" in state.error
    group = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while (group_alive(group) or processes_with_env(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(group)
    assert processes_with_env(token) == []


def test_a_cancelled_command_that_exits_on_sigterm_ends_its_attempt_without_waiting_out_kill_grace(
    tmp_path: Path,
) -> None:
    """The attempt ends when its thread has reaped the leader, not after kill_grace (here an hour)."""
    marker = tmp_path / "terminated"
    workflow = f"""
name: t
tasks:
  - name: a
    type: shell
    timeout: 0.5
    config: {{command: "trap 'echo term > {marker}; exit 0' TERM; while true; do sleep 0.05; done", kill_grace: 3600}}
"""
    outcome: list[object] = []
    runner = threading.Thread(target=lambda: outcome.append(run_text(workflow)), daemon=True)
    runner.start()
    runner.join(60)  # a hang guard far below the hour a missed end would cost, not a speed limit
    assert outcome, "the attempt waited out kill_grace although its command had exited"
    assert marker.read_text().strip() == "term"


def test_background_children_of_a_finished_command_do_not_outlive_it() -> None:
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    result = run_text(f"""
name: t
tasks:
  - {{name: a, type: shell, env: {{TOKEN: "{token}"}}, config: {{command: "sleep 300 & echo started"}}}}
""")
    assert result.succeeded and result.output("a") == "started"
    deadline = time.monotonic() + 5
    while processes_with_env(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with_env(token) == []


def test_a_missing_working_directory_fails_without_retries(tmp_path: Path) -> None:
    result = run_text(f"""
name: t
tasks:
  - {{name: a, type: shell, retry: {{attempts: 3, backoff: 0.01}}, config: {{command: "true", cwd: "{tmp_path}/nope"}}}}
""")
    assert result.status is RunStatus.FAILED and result.tasks["a"].attempts == 1


def test_a_daemon_that_leaves_the_process_group_does_not_hang_the_task() -> None:
    token = f"FLOWRUNNER_TEST_{uuid.uuid4().hex}"
    result = run_text(f"""
name: t
tasks:
  - {{name: a, type: shell, env: {{TOKEN: "{token}"}}, config: {{command: "setsid sleep 30 & echo detached"}}}}
""")
    try:
        assert result.succeeded and result.output("a") == "detached"
    finally:
        for pid in processes_with_env(token):
            os.kill(pid, 9)
