"""No input makes the loader fail with anything but a located :class:`WorkflowError` (hypothesis).

Random documents built from the DSL's own field names (so they get deep into validation and
compilation), and random edits of a valid file (so they hit the YAML parser's error paths),
either compile or raise ``WorkflowError`` whose every diagnostic has a line and column
inside the file — never another exception, which the CLI would show as an internal error.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowbuilder.errors import WorkflowError
from flowbuilder.loader import load_plan
from flowbuilder.plugins import PluginHost

FUZZ_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

FIELDS = [
    "name", "version", "description", "params", "defaults", "env", "pools", "concurrency", "on_failure", "tasks",
    "type", "depends_on", "config", "retry", "timeout", "deadline", "when", "priority", "pool", "foreach", "outputs",
    "attempts", "backoff", "max_delay", "jitter", "retry_on", "items", "max_parallel", "default", "required",
    "choices", "command", "url", "method", "language", "code", "seconds", "a", "b",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["a", "b", "shell", "http", "sleep", "5m", "x y", "", "${{ params.a }}", "${{ tasks.a.output }}",
                     "${{ item }}", "${{ }}", "${{ a +", "status:5xx", "string", "integer", "no"]),
    st.text(max_size=6),
)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS), children, max_size=5),
    ),
    max_leaves=30,
)


def workflow_like() -> st.SearchStrategy[Any]:
    task = st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "c"]), "type": st.sampled_from(["shell", "http", "sleep", "nope"])},
        optional={
            field: DOCUMENTS for field in ("depends_on", "config", "retry", "timeout", "when", "foreach", "pool")
        },
    )
    return st.fixed_dictionaries(
        {"name": st.sampled_from(["w", "x"]), "tasks": st.lists(task, max_size=4)},
        optional={field: DOCUMENTS for field in ("params", "defaults", "env", "pools", "version")},
    )


def assert_loads_or_reports(data: bytes, host: PluginHost) -> None:
    line_count = data.count(b"\n") + 1
    try:
        load_plan(data, host)
    except WorkflowError as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert 1 <= diagnostic.line <= line_count + 1, diagnostic
            assert diagnostic.column >= 1, diagnostic
            assert "\n" not in diagnostic.format()


@FUZZ_SETTINGS
@given(st.one_of(DOCUMENTS, workflow_like()))
def test_random_documents_compile_or_raise_located_workflow_errors(host: PluginHost, document: Any) -> None:
    assert_loads_or_reports(yaml.safe_dump(document, sort_keys=False).encode(), host)


VALID = b"""name: fuzz
params:
  who: {type: string, default: "x"}
tasks:
  - name: a
    type: shell
    config: {command: "echo ${{ params.who }}"}
  - name: b
    type: http
    depends_on: [a]
    retry: {attempts: 3, retry_on: [timeout]}
    config:
      url: "http://127.0.0.1/"
"""


@FUZZ_SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 3), st.binary(max_size=3)), max_size=4))
def test_random_edits_of_a_valid_file_compile_or_raise_located_workflow_errors(
    host: PluginHost, edits: list[tuple[int, int, bytes]]
) -> None:
    data = VALID
    for position, removed, inserted in edits:
        position = min(position, len(data))
        data = data[:position] + inserted + data[position + removed :]
    assert_loads_or_reports(data, host)
