"""The compiler: dense ids, in-degrees, levels, width, critical path, configs and passes."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from flowbuilder.compiler import compile_workflow
from flowbuilder.errors import Diagnostic, WorkflowError
from flowbuilder.loader import load_plan, load_workflow
from flowbuilder.plan import ExecutionPlan
from flowbuilder.plugins import PluginHost

#      a
#     / \
#    b   c      d (independent)
#     \ /  \
#      e    f
#      |
#      g
DIAMOND = """
name: diamond
tasks:
  - {name: a, type: shell, config: {command: x}}
  - {name: b, type: shell, depends_on: [a], config: {command: x}}
  - {name: c, type: shell, depends_on: [a], config: {command: x}}
  - {name: d, type: shell, config: {command: x}}
  - {name: e, type: shell, depends_on: [b, c], config: {command: x}}
  - {name: f, type: shell, depends_on: [c], config: {command: x}}
  - {name: g, type: shell, depends_on: [e], config: {command: x}}
"""


def plan_of(text: str, host: PluginHost, **options: Any) -> ExecutionPlan:
    return load_plan(textwrap.dedent(text).lstrip(), host, **options)


def names(plan: ExecutionPlan, ids: Any) -> list[str]:
    return [plan.names[i] for i in ids]


def test_tasks_get_dense_ids_in_file_order(host: PluginHost) -> None:
    plan = plan_of(DIAMOND, host)
    assert plan.names == ("a", "b", "c", "d", "e", "f", "g")
    assert dict(plan.index) == {name: i for i, name in enumerate(plan.names)}
    assert len(plan) == 7


def test_successors_predecessors_and_indegree_mirror_depends_on(host: PluginHost) -> None:
    plan = plan_of(DIAMOND, host)
    assert names(plan, plan.successors[plan.index["a"]]) == ["b", "c"]
    assert names(plan, plan.successors[plan.index["c"]]) == ["e", "f"]
    assert names(plan, plan.predecessors[plan.index["e"]]) == ["b", "c"]
    assert plan.indegree == (0, 1, 1, 0, 2, 1, 1)
    assert names(plan, plan.roots()) == ["a", "d"]


def test_levels_group_tasks_by_longest_distance_from_a_root(host: PluginHost) -> None:
    plan = plan_of(DIAMOND, host)
    assert [names(plan, level) for level in plan.levels] == [["a", "d"], ["b", "c"], ["e", "f"], ["g"]]
    assert plan.max_width == 2
    assert names(plan, plan.topological_order) == ["a", "d", "b", "c", "e", "f", "g"]


def test_the_critical_path_counts_tasks_when_no_durations_are_known(host: PluginHost) -> None:
    plan = plan_of(DIAMOND, host)
    assert names(plan, plan.critical_path) == ["a", "b", "e", "g"]
    assert plan.critical_path_cost == 4.0 and plan.estimated is False
    assert plan.remaining_path[plan.index["a"]] == 4.0
    assert plan.remaining_path[plan.index["d"]] == 1.0
    assert plan.summary()["critical_path_unit"] == "tasks"


def test_estimated_durations_move_the_critical_path(host: PluginHost) -> None:
    durations = {"a": 1.0, "b": 1.0, "c": 10.0, "d": 2.0, "e": 1.0, "f": 30.0, "g": 1.0}
    plan = plan_of(DIAMOND, host, estimated_durations=durations)
    assert names(plan, plan.critical_path) == ["a", "c", "f"]
    assert plan.critical_path_cost == 41.0 and plan.estimated is True
    assert plan.summary()["critical_path_unit"] == "seconds"


def test_a_task_without_an_estimate_costs_the_median_of_the_known_ones(host: PluginHost) -> None:
    # known: a=1, c=5, f=9 -> median 5 for b, d, e, g. a-b-e-g = 1+5+5+5 = 16 beats a-c-f = 15.
    plan = plan_of(DIAMOND, host, estimated_durations={"a": 1.0, "c": 5.0, "f": 9.0})
    assert names(plan, plan.critical_path) == ["a", "b", "e", "g"]
    assert plan.critical_path_cost == 16.0


def test_a_task_type_can_estimate_its_own_duration(host: PluginHost) -> None:
    plan = plan_of(
        """
        name: sleepers
        tasks:
          - {name: short, type: sleep, config: {seconds: 2}}
          - {name: long, type: sleep, config: {seconds: 50}}
          - {name: after_short, type: sleep, depends_on: [short], config: {seconds: 3}}
        """,
        host,
    )
    assert names(plan, plan.critical_path) == ["long"]
    assert plan.critical_path_cost == 50.0 and plan.estimated


def test_given_durations_win_over_the_task_types_estimate(host: PluginHost) -> None:
    plan = plan_of(
        "name: s\ntasks:\n  - {name: a, type: sleep, config: {seconds: 2}}\n", host, estimated_durations={"a": 7.0}
    )
    assert plan.critical_path_cost == 7.0


def test_a_repeated_dependency_counts_once(host: PluginHost) -> None:
    plan = plan_of(
        "name: r\ntasks:\n  - {name: a, type: shell, config: {command: x}}\n"
        "  - {name: b, type: shell, depends_on: [a, a], config: {command: x}}\n",
        host,
    )
    assert plan.indegree == (0, 1) and plan.successors == ((1,), ())


def test_configs_are_validated_into_the_task_types_models(host: PluginHost, fake_tasks: Any) -> None:
    plan = plan_of("name: c\ntasks:\n  - {name: a, type: http, config: {url: 'http://x/'}}\n", host)
    config = plan.configs[0]
    assert isinstance(config, fake_tasks.HttpConfig)
    assert (config.url, config.method, config.timeout) == ("http://x/", "GET", 30.0)


def test_a_config_value_that_is_an_expression_defers_its_check_to_run_time(host: PluginHost) -> None:
    plan = plan_of(
        """
        name: deferred
        params: {t: {type: number, default: 5}}
        tasks:
          - {name: a, type: http, config: {url: 'http://x/', timeout: '${{ params.t }}'}}
          - {name: b, type: shell, config: {command: plain}}
        """,
        host,
    )
    assert plan.configs[0] == {"url": "http://x/", "timeout": "${{ params.t }}"}
    assert plan.expression_tasks == frozenset({0})


def test_an_expression_does_not_excuse_other_config_errors(host: PluginHost) -> None:
    with pytest.raises(WorkflowError, match="unknown field 'tiemout'"):
        plan_of(
            "name: e\ntasks:\n  - {name: a, type: http, config: {url: '${{ params.u }}', tiemout: 1}}\nparams: {u: {}}\n",
            host,
        )


def test_with_no_task_types_installed_the_hint_names_the_package_to_install() -> None:
    source = load_workflow("name: n\ntasks:\n  - {name: a, type: shell}\n")
    with pytest.raises(WorkflowError) as raised:
        compile_workflow(source.workflow, {}, locator=source.locator)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == "unknown task type 'shell'"
    assert diagnostic.hint is not None and "pip install flowbuilder-runner" in diagnostic.hint


def test_a_workflow_built_in_python_is_located_by_its_name() -> None:
    from flowbuilder.model import Workflow

    workflow = Workflow.model_validate({"name": "code", "tasks": [{"name": "a", "type": "t", "depends_on": ["a"]}]})
    with pytest.raises(WorkflowError) as raised:
        compile_workflow(workflow, {})
    assert {d.file for d in raised.value.diagnostics} == {"<workflow code>"}


# -- compile passes -------------------------------------------------------------------------


def register_passes(host: PluginHost, *passes: Any) -> None:
    from types import SimpleNamespace

    from flowbuilder import hookimpl

    @hookimpl
    def flowbuilder_compile_passes() -> list[Any]:
        return list(passes)

    host.register(SimpleNamespace(flowbuilder_compile_passes=flowbuilder_compile_passes), name="passes")


def test_compile_passes_add_metadata_in_registration_order(host: PluginHost) -> None:
    register_passes(
        host, lambda plan: {"count": len(plan), "who": "first"}, lambda plan: {"who": "second"}, lambda plan: None
    )
    plan = plan_of(DIAMOND, host)
    assert dict(plan.metadata) == {"count": 7, "who": "second"}


def test_a_compile_pass_can_reject_a_workflow_with_located_diagnostics(host: PluginHost) -> None:
    def no_d(plan: ExecutionPlan) -> None:
        if "d" in plan.index:
            raise WorkflowError([Diagnostic("policy", 1, 1, "task d is not allowed here")])

    register_passes(host, no_d)
    with pytest.raises(WorkflowError, match="task d is not allowed here"):
        plan_of(DIAMOND, host)


def test_compile_passes_do_not_run_on_a_partial_workflow(host: PluginHost) -> None:
    calls: list[int] = []
    register_passes(host, lambda plan: calls.append(len(plan)))
    with pytest.raises(WorkflowError):
        plan_of(
            "name: p\ntasks:\n  - {name: a, type: shell, timeout: x}\n  - {name: b, type: shell, config: {command: x}}\n",
            host,
        )
    assert calls == []


def test_the_plan_is_immutable(host: PluginHost) -> None:
    plan = plan_of(DIAMOND, host)
    with pytest.raises(AttributeError):
        plan.names = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.index["z"] = 9  # type: ignore[index]


DIGIT_NAMES = """
name: 1000genome
params:
  1st: {type: integer, default: 3}
tasks:
  - {name: 1000genome, type: shell, config: {command: "echo ${{ params['1st'] }}"}}
  - {name: "123", type: shell, config: {command: x}}
  - name: merge
    type: shell
    depends_on: [1000genome, 123]
    config: {command: "echo ${{ tasks['1000genome'].output }} ${{ tasks['123'].outputs }}"}
"""


def test_tasks_named_with_a_leading_digit_are_read_with_brackets(host: PluginHost) -> None:
    plan = plan_of(DIGIT_NAMES, host)
    assert plan.names == ("1000genome", "123", "merge")
    assert names(plan, plan.predecessors[2]) == ["1000genome", "123"]


@pytest.mark.parametrize(
    ("written", "told"),
    [("tasks.1000genome.output", "write tasks['1000genome']"), ("tasks.123.output", "write tasks['123']"),
     ("params.1st", "write params['1st']")],
)  # fmt: skip
def test_a_dotted_name_that_starts_with_a_digit_is_refused_saying_to_use_brackets(
    host: PluginHost, written: str, told: str
) -> None:
    text = DIGIT_NAMES.replace("tasks['1000genome'].output", written)
    with pytest.raises(WorkflowError) as raised:
        plan_of(text, host)
    (problem,) = raised.value.diagnostics
    assert (problem.line, told in problem.message) == (10, True), problem


def test_an_expression_only_in_a_config_key_is_checked(host: PluginHost) -> None:
    """The compiler passes quickly over tasks with no expression: a key's expression is one."""
    text = "name: k\ntasks:\n  - {name: a, type: http, config: {url: 'http://x/', headers: {'${{ params.%s }}': v}}}\n"
    with pytest.raises(WorkflowError, match="unknown param 'nope'"):
        plan_of(text % "nope" + "params: {h: {}}\n", host)
    assert plan_of(text % "h" + "params: {h: {}}\n", host).expression_tasks == frozenset({0})


@pytest.mark.parametrize(
    "field",
    [
        "when: '${{ params.nope }}'",
        "env: {A: '${{ params.nope }}'}",
        "outputs: {n: '${{ params.nope }}'}",
        "lock: '${{ params.nope }}'",
        "cache: {key: '${{ params.nope }}'}",
        "foreach: '${{ params.nope }}'",
    ],
)
def test_an_expression_in_any_field_of_a_task_is_checked(host: PluginHost, field: str) -> None:
    """No field that may hold an expression is passed over by the compiler's quick test."""
    text = f"name: f\ntasks:\n  - name: a\n    type: shell\n    config: {{command: x}}\n    {field}\n"
    with pytest.raises(WorkflowError, match="unknown param 'nope'"):
        plan_of(text, host)
