"""Expression values cannot reshape an http request: URL slots, path segments, headers (#8.8).

Each test sends real requests to real servers on 127.0.0.1 and reads what they received.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flowrunner_helpers import run_text
from http_recorder import recording_server

from flowbuilder.errors import WorkflowError
from flowbuilder.events import TaskStatus
from flowrunner.tasktypes._url_template import UrlValueError, render_url


def _workflow(config: str, params: str = "v: {type: string}") -> str:
    return f"""
name: url-safety
params: {{{params}}}
tasks:
  - name: call
    type: http
    retry: {{attempts: 3, backoff: 0.01}}
    config: {config}
"""


def test_a_value_after_the_port_cannot_send_the_request_and_its_credentials_elsewhere() -> None:
    """A value in the host/port part of the URL may not hold '@', ':' or '/'."""
    with recording_server() as intended, recording_server() as other:
        url = f"http://127.0.0.1:{intended.port}${{{{ params.v }}}}"
        config = f'{{url: "{url}", headers: {{Authorization: "Bearer secret"}}}}'
        result = run_text(_workflow(config), {"v": f"@127.0.0.1:{other.port}/x"})
    state = result.tasks["call"]
    assert other.requests == [] and intended.requests == []
    assert state.status is TaskStatus.FAILED and state.attempts == 1  # refused, not retried
    assert "would change the host or port" in state.error


def test_a_query_value_cannot_add_parameters_or_a_fragment() -> None:
    with recording_server() as server:
        config = f'{{url: "{server.base}/search?q=${{{{ params.v }}}}&page=1"}}'
        result = run_text(_workflow(config), {"v": "x&admin=true#f"})
    assert result.succeeded
    (path,) = server.paths
    assert parse_qs(urlsplit(path).query) == {"q": ["x&admin=true#f"], "page": ["1"]}


def test_a_path_value_stays_one_segment_and_cannot_climb_out() -> None:
    with recording_server() as server:
        config = f'{{url: "{server.base}/api/v1/${{{{ params.v }}}}/detail"}}'
        result = run_text(_workflow(config), {"v": "../../admin"})
    assert result.succeeded
    (path,) = server.paths
    assert path == "/api/v1/..%2F..%2Fadmin/detail"
    assert unquote(path.split("/")[3]) == "../../admin"


def test_a_dot_segment_value_is_encoded() -> None:
    with recording_server() as server:
        config = f'{{url: "{server.base}/api/v1/${{{{ params.v }}}}/admin"}}'
        result = run_text(_workflow(config), {"v": ".."})
    assert result.succeeded
    assert server.paths == ["/api/v1/%2E%2E/admin"]


def test_path_segments_and_query_entries_are_encoded_one_by_one() -> None:
    with recording_server() as server:
        config = (
            f'{{url: "{server.base}/files", path: ["${{{{ params.v }}}}", "a b"],'
            ' query: {"${{ params.v }}": "${{ params.v }}", plain: 1}}'
        )
        result = run_text(_workflow(config), {"v": "x/y?z=1&w"})
    assert result.succeeded
    (path,) = server.paths
    parts = urlsplit(path)
    assert parts.path == "/files/x%2Fy%3Fz%3D1%26w/a%20b"
    assert parse_qs(parts.query) == {"x/y?z=1&w": ["x/y?z=1&w"], "plain": ["1"]}


def test_a_base_url_param_and_a_whole_url_expression_still_work() -> None:
    with recording_server() as server:
        base = run_text(_workflow('{url: "${{ params.v }}/items"}'), {"v": server.base})
        whole = run_text(_workflow('{url: "${{ params.v }}"}'), {"v": f"{server.base}/all?x=1"})
    assert base.succeeded and whole.succeeded
    assert server.paths == ["/items", "/all?x=1"]


def test_a_base_url_value_with_credentials_or_a_query_is_refused() -> None:
    with recording_server() as server:
        result = run_text(_workflow('{url: "${{ params.v }}/items"}'), {"v": f"http://u@127.0.0.1:{server.port}"})
    assert server.requests == []
    assert "must be a base like" in result.tasks["call"].error


def test_header_names_are_rendered_like_their_values() -> None:
    """A header whose only expression is in its name is still rendered (the task is marked)."""
    with recording_server() as server:
        config = f'{{url: "{server.base}/h", headers: {{"X-${{{{ params.v }}}}": "fixed"}}}}'
        result = run_text(_workflow(config), {"v": "Tenant"})
    assert result.succeeded
    ((_method, _path, headers),) = server.requests
    assert headers["x-tenant"] == "fixed"


def test_a_header_value_with_a_line_break_fails_without_sending() -> None:
    with recording_server() as server:
        config = f'{{url: "{server.base}/h", headers: {{X-Name: "${{{{ params.v }}}}"}}}}'
        result = run_text(_workflow(config), {"v": "a\r\nX-Admin: true"})
    assert server.requests == []
    assert "line break" in result.tasks["call"].error


def test_an_unknown_param_in_a_header_name_is_a_located_validation_error() -> None:
    from flowrunner_helpers import plan_of

    text = _workflow('{url: "http://127.0.0.1:9/h", headers: {"X-${{ params.nope }}": "1"}}')
    with pytest.raises(WorkflowError) as raised:
        plan_of(text)
    (problem,) = raised.value.diagnostics
    assert "unknown param 'nope'" in problem.message and problem.line == 8


def test_a_static_header_name_that_is_not_a_token_is_a_validation_error() -> None:
    from flowrunner_helpers import plan_of

    with pytest.raises(WorkflowError, match="not a valid HTTP token"):
        plan_of(_workflow('{url: "http://127.0.0.1:9/h", headers: {"Bad Name": "1"}}'))


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("http://${{ v }}:8080/x", "api.example.com", "http://api.example.com:8080/x"),
        ("http://h:${{ v }}/x", "8080", "http://h:8080/x"),
        ("http://${{ v }}/x", "[::1]", "http://[::1]/x"),
        ("${{ v }}://h/x", "https", "https://h/x"),
        ("http://h/x#${{ v }}", "a#b c", "http://h/x#a%23b%20c"),
    ],
)
def test_values_fill_the_host_port_scheme_and_fragment_slots(template: str, value: str, expected: str) -> None:
    assert render_url(template, lambda _expression: value) == expected


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("http://${{ v }}/x", "evil.com/"),
        ("http://h:${{ v }}/x", "80@evil.com"),
        ("http://api.${{ v }}/x", "example.com:1"),
        ("${{ v }}://h/x", "http://evil.com/#"),
    ],
)
def test_values_that_would_change_the_origin_are_refused(template: str, value: str) -> None:
    with pytest.raises(UrlValueError):
        render_url(template, lambda _expression: value)
