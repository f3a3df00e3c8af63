"""The script, http and python task types inside real runs."""

from __future__ import annotations

from flowrunner_helpers import plan_of, run_text

from flowbuilder.events import RunStatus, TaskStatus


def test_python_script_sees_the_single_upstream_output_as_input_data() -> None:
    result = run_text("""
name: t
tasks:
  - {name: src, type: shell, config: {command: "echo '[1, 2, 3]'"}}
  - name: count
    type: script
    depends_on: [src]
    config:
      code: |
        import json
        print(json.dumps({"count": len(json.loads(input_data))}))
""")
    assert result.output("count") == {"count": 3}


def test_input_data_is_a_mapping_by_name_when_there_are_several_upstreams() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo '{\\"x\\": 1}'"}}
  - {name: b, type: shell, config: {command: "echo plain"}}
  - name: both
    type: script
    depends_on: [a, b]
    config:
      code: |
        import json
        data = json.loads(input_data)
        print(json.dumps({"keys": sorted(data), "x": data["a"]["x"], "b": data["b"]}))
""")
    assert result.output("both") == {"keys": ["a", "b"], "x": 1, "b": "plain"}


def test_bash_script_gets_input_data_in_the_environment() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: shell, config: {command: "echo hello"}}
  - {name: b, type: script, depends_on: [a], config: {language: bash, code: "echo got $INPUT_DATA"}}
""")
    assert result.output("b") == 'got "hello"'


def test_script_code_with_an_expression_fails_without_running(tmp_path) -> None:
    marker = tmp_path / "ran"
    result = run_text(f"""
name: t
params:
  x: {{type: string, default: a}}
tasks:
  - {{name: a, type: script, config: {{code: "open('{marker}', 'w'); print('${{{{ params.x }}}}')"}}}}
""")
    assert result.tasks["a"].status is TaskStatus.FAILED and "input_data" in result.tasks["a"].error
    assert not marker.exists()


def test_a_failing_script_reports_its_exit_code_and_last_stderr_line() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: script, config: {code: "raise SystemExit('bad input')"}}
""")
    assert result.tasks["a"].status is TaskStatus.FAILED
    assert "exited with 1" in result.tasks["a"].error and "bad input" in result.tasks["a"].error


def test_http_output_is_the_parsed_json_body(http_server: str) -> None:
    result = run_text(f"""
name: t
tasks:
  - {{name: get, type: http, config: {{url: "{http_server}/data"}}}}
""")
    assert isinstance(result.output("get"), list) and result.output("get")[0]["id"] == 1


def test_http_full_response_carries_the_status(http_server: str) -> None:
    result = run_text(f"""
name: t
tasks:
  - {{name: post, type: http, config: {{url: "{http_server}/echo", method: post, json: {{a: 1}}, response: full}}}}
""")
    assert result.output("post")["status"] == 200
    assert result.output("post")["body"] == {"received": {"a": 1}}


def test_an_unexpected_status_fails_and_is_retried_when_retry_on_names_it(http_server: str) -> None:
    result = run_text(f"""
name: t
tasks:
  - name: get
    type: http
    retry: {{attempts: 2, backoff: 0.01, jitter: 0, retry_on: ["status:5xx"]}}
    config: {{url: "{http_server}/status/503"}}
""")
    assert result.tasks["get"].status is TaskStatus.FAILED and result.tasks["get"].attempts == 2
    assert "503" in result.tasks["get"].error


def test_expected_status_accepts_listed_codes(http_server: str) -> None:
    result = run_text(f"""
name: t
tasks:
  - {{name: get, type: http, config: {{url: "{http_server}/status/404", expected_status: [404]}}}}
""")
    assert result.succeeded and result.output("get") == {"status": 404}


def test_a_connection_error_fails_the_attempt() -> None:
    result = run_text("""
name: t
tasks:
  - {name: get, type: http, config: {url: "http://127.0.0.1:9/nothing", timeout: 2}}
""")
    assert result.status is RunStatus.FAILED and "127.0.0.1:9" in result.tasks["get"].error


def test_python_callable_receives_rendered_args_and_kwargs() -> None:
    result = run_text("""
name: t
params:
  sep: {type: string, default: "-"}
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:join", args: [x, y], kwargs: {sep: "${{ params.sep }}"}}}
""")
    assert result.output("a") == "x-y"


def test_async_and_threaded_callables_run() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: python, config: {callable: "flowrunner_sample_callables:async_double", args: [21]}}
  - {name: b, type: python, config: {callable: "flowrunner_sample_callables:blocking_double", args: [4], isolation: thread}}
""")
    assert result.output("a") == 42 and result.output("b") == 8


def test_process_isolation_runs_in_another_process() -> None:
    import os

    result = run_text("""
name: t
tasks:
  - {name: a, type: python, config: {callable: "os:getpid", isolation: process}}
""")
    assert result.succeeded and result.output("a") != os.getpid()


def test_a_timed_out_process_task_has_its_worker_killed() -> None:
    result = run_text("""
name: t
tasks:
  - {name: slow, type: python, timeout: 1, config: {callable: "time:sleep", args: [60], isolation: process}}
  - {name: after, type: python, depends_on: [], config: {callable: "os:getpid", isolation: process}}
""")
    assert result.tasks["slow"].status is TaskStatus.FAILED and "timed out" in result.tasks["slow"].error


def test_an_unknown_callable_fails_without_retries() -> None:
    result = run_text("""
name: t
tasks:
  - {name: a, type: python, retry: {attempts: 3, backoff: 0.01}, config: {callable: "no_such_module_x:f"}}
""")
    assert result.tasks["a"].status is TaskStatus.FAILED and result.tasks["a"].attempts == 1
    assert "no_such_module_x" in result.tasks["a"].error


def _refusal(task: str, defaults: str = "") -> str | None:
    from flowbuilder.errors import WorkflowError

    try:
        plan_of(f"name: t\n{defaults}tasks:\n  - {task}\n")
    except WorkflowError as error:
        return str(error)
    return None


def test_a_timeout_on_a_plain_inline_function_is_refused_at_its_line() -> None:
    refusal = _refusal('{name: a, type: python, timeout: 1, config: {callable: "time:sleep", args: [9]}}')
    assert refusal is not None and refusal.startswith("<test>:3:38: task 'a': timeout cannot be kept: ")
    assert "isolation: process" in refusal


def test_a_deadline_on_a_thread_call_is_refused() -> None:
    refusal = _refusal('{name: a, type: python, deadline: 1, config: {callable: "time:sleep", isolation: thread}}')
    assert refusal is not None and "deadline cannot be kept: a function on a thread" in refusal


def test_timeouts_that_can_be_kept_are_accepted() -> None:
    """An async inline function is cancelled at an await; a worker process is killed."""
    assert _refusal('{name: a, type: python, timeout: 1, config: {callable: "asyncio:sleep", args: [0]}}') is None
    assert _refusal('{name: a, type: python, timeout: 1, config: {callable: "time:sleep", isolation: process}}') is None


def test_defaults_timeout_is_not_refused_for_calls_it_cannot_stop() -> None:
    assert _refusal('{name: a, type: python, config: {callable: "time:sleep"}}', "defaults: {timeout: 5}\n") is None
