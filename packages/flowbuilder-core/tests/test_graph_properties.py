"""Property-based tests of the compiler's graph work (hypothesis).

* Any random DAG compiles to a plan whose topological order respects every edge, whose
  levels and in-degrees match the graph, and whose critical path is a real path of maximal
  cost — checked against a brute-force enumeration of every path on small graphs.
* Any random graph with a cycle is rejected, and every cycle reported is a real cycle of
  the graph (the path is parsed back from the message and each edge checked).
* On any random directed graph, the compiler and :mod:`graphlib` agree on whether it is
  acyclic.
"""

from __future__ import annotations

import graphlib
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from flowbuilder.compiler import compile_workflow
from flowbuilder.errors import WorkflowError
from flowbuilder.interfaces import TaskContext, TaskType
from flowbuilder.model import Workflow
from flowbuilder.plan import ExecutionPlan

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CYCLE = re.compile(r"dependency cycle: (.*)$")


@dataclass(frozen=True)
class Graph:
    """``depends[name]``: the names ``name`` depends on, in the order written."""

    names: tuple[str, ...]
    depends: dict[str, list[str]]

    def workflow(self) -> Workflow:
        tasks = [{"name": n, "type": "noop", "depends_on": self.depends[n]} for n in self.names]
        return Workflow.model_validate({"name": "random", "tasks": tasks})

    def edges(self) -> set[tuple[str, str]]:
        """(task, dependency) pairs."""
        return {(task, dep) for task, deps in self.depends.items() for dep in deps}


class NoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoopType(TaskType):
    """A task type with an empty config, enough for compiling."""

    name = "noop"
    config_model = NoConfig

    def run(self, config: Any, context: TaskContext) -> None:
        return None


TASK_TYPES: Any = {"noop": NoopType()}


@st.composite
def dags(draw: st.DrawFn, max_tasks: int = 12) -> Graph:
    """A random DAG: edges go from later to earlier in a hidden order; the file order is shuffled."""
    count = draw(st.integers(1, max_tasks))
    hidden = [f"t{i}" for i in range(count)]
    pairs = st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)).filter(lambda p: p[0] != p[1])
    chosen = draw(st.lists(pairs, max_size=count * 3))
    depends: dict[str, list[str]] = {name: [] for name in hidden}
    for a, b in chosen:
        later, earlier = max(a, b), min(a, b)
        depends[hidden[later]].append(hidden[earlier])  # may repeat: a repeated dependency counts once
    order = draw(st.permutations(hidden))
    return Graph(tuple(order), depends)


@st.composite
def cyclic_graphs(draw: st.DrawFn, max_tasks: int = 12) -> Graph:
    """A random graph with at least one cycle of length >= 2 (self-dependencies are another error)."""
    count = draw(st.integers(2, max_tasks))
    names = [f"t{i}" for i in range(count)]
    cycle = draw(st.lists(st.sampled_from(names), min_size=2, max_size=count, unique=True))
    depends: dict[str, list[str]] = {name: [] for name in names}
    for position, name in enumerate(cycle):
        depends[name].append(cycle[(position + 1) % len(cycle)])
    pairs = st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(lambda p: p[0] != p[1])
    for task, dep in draw(st.lists(pairs, max_size=count * 2)):
        if dep not in depends[task]:
            depends[task].append(dep)
    order = draw(st.permutations(names))
    return Graph(tuple(order), depends)


@st.composite
def any_graphs(draw: st.DrawFn, max_tasks: int = 10) -> Graph:
    count = draw(st.integers(1, max_tasks))
    names = [f"t{i}" for i in range(count)]
    pairs = st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(lambda p: p[0] != p[1])
    depends: dict[str, list[str]] = {name: [] for name in names}
    for task, dep in draw(st.lists(pairs, max_size=count * 2)):
        if dep not in depends[task]:
            depends[task].append(dep)
    return Graph(tuple(names), depends)


def compile_graph(graph: Graph, durations: dict[str, float] | None = None) -> ExecutionPlan:
    return compile_workflow(graph.workflow(), TASK_TYPES, estimated_durations=durations)


def brute_force_longest_path(graph: Graph, cost: dict[str, float]) -> float:
    """The largest total cost over every path, found by enumerating every path."""
    needed_by: dict[str, set[str]] = {name: set() for name in graph.names}
    for task, dep in graph.edges():
        needed_by[dep].add(task)
    best = 0.0

    def walk(node: str, total: float) -> None:
        nonlocal best
        best = max(best, total)
        for successor in needed_by[node]:
            walk(successor, total + cost[successor])

    for start in graph.names:
        walk(start, cost[start])
    return best


# -- DAGs ------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(dags())
def test_topological_order_respects_every_edge(graph: Graph) -> None:
    plan = compile_graph(graph)
    order = [plan.names[i] for i in plan.topological_order]
    assert sorted(order) == sorted(graph.names)
    position = {name: i for i, name in enumerate(order)}
    for task, dep in graph.edges():
        assert position[dep] < position[task]


@PROPERTY_SETTINGS
@given(dags())
def test_indegree_successors_and_predecessors_match_the_graph(graph: Graph) -> None:
    plan = compile_graph(graph)
    for task_id, name in enumerate(plan.names):
        deps = set(graph.depends[name])
        assert plan.indegree[task_id] == len(deps)
        assert {plan.names[p] for p in plan.predecessors[task_id]} == deps
        assert {plan.names[s] for s in plan.successors[task_id]} == {t for t, d in graph.edges() if d == name}


@PROPERTY_SETTINGS
@given(dags())
def test_levels_are_longest_distances_from_a_root(graph: Graph) -> None:
    plan = compile_graph(graph)
    level_of: dict[str, int] = {}
    for number, level in enumerate(plan.levels):
        for task_id in level:
            level_of[plan.names[task_id]] = number
    assert sorted(level_of) == sorted(graph.names)
    for name in graph.names:
        deps = graph.depends[name]
        assert level_of[name] == (1 + max(level_of[d] for d in deps) if deps else 0)
    assert plan.max_width == max(len(level) for level in plan.levels)


@PROPERTY_SETTINGS
@given(dags(), st.data())
def test_the_critical_path_is_a_real_path_of_maximal_cost(graph: Graph, data: st.DataObject) -> None:
    use_durations = data.draw(st.booleans())
    durations = None
    if use_durations:
        durations = {n: data.draw(st.floats(0.5, 100.0, allow_nan=False)) for n in graph.names}
    plan = compile_graph(graph, durations)
    cost = durations or {n: 1.0 for n in graph.names}
    path = [plan.names[i] for i in plan.critical_path]
    assert path, "a non-empty graph has a critical path"
    assert not graph.depends[path[0]], "the path starts at a root"
    assert not any(path[-1] in deps for deps in graph.depends.values()), "the path ends at a sink"
    for earlier, later in itertools.pairwise(path):
        assert earlier in graph.depends[later], f"{earlier} -> {later} is not an edge"
    total = sum(cost[n] for n in path)
    assert math.isclose(plan.critical_path_cost, total)
    assert math.isclose(total, brute_force_longest_path(graph, cost))


@PROPERTY_SETTINGS
@given(dags())
def test_remaining_path_is_own_cost_plus_the_longest_successor(graph: Graph) -> None:
    plan = compile_graph(graph)
    for task_id in range(len(plan)):
        after = [plan.remaining_path[s] for s in plan.successors[task_id]]
        assert plan.remaining_path[task_id] == 1.0 + max(after, default=0.0)


# -- cycles ----------------------------------------------------------------------------------


def reported_cycles(error: WorkflowError) -> list[list[str]]:
    cycles = []
    for diagnostic in error.diagnostics:
        match = CYCLE.match(diagnostic.message)
        if match:
            cycles.append(match.group(1).split(" -> "))
    return cycles


@PROPERTY_SETTINGS
@given(cyclic_graphs())
def test_a_graph_with_a_cycle_is_rejected_with_real_cycles(graph: Graph) -> None:
    try:
        compile_graph(graph)
    except WorkflowError as error:
        cycles = reported_cycles(error)
    else:
        raise AssertionError("a cyclic graph compiled")
    assert cycles, "the rejection names at least one cycle"
    for cycle in cycles:
        assert len(cycle) >= 3 and cycle[0] == cycle[-1], cycle
        assert len(set(cycle[:-1])) == len(cycle) - 1, f"{cycle} repeats a task"
        for task, dep in itertools.pairwise(cycle):
            assert dep in graph.depends[task], f"{task} does not depend on {dep} in {cycle}"


@PROPERTY_SETTINGS
@given(cyclic_graphs())
def test_reported_cycles_are_disjoint_and_start_at_their_first_task_in_the_file(graph: Graph) -> None:
    try:
        compile_graph(graph)
    except WorkflowError as error:
        cycles = reported_cycles(error)
    position = {name: i for i, name in enumerate(graph.names)}
    seen: set[str] = set()
    for cycle in cycles:
        assert not seen & set(cycle)
        seen.update(cycle)
        assert position[cycle[0]] == min(position[n] for n in cycle)


@PROPERTY_SETTINGS
@given(any_graphs())
def test_the_compiler_and_graphlib_agree_on_acyclicity(graph: Graph) -> None:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter({n: graph.depends[n] for n in graph.names})
    try:
        sorter.prepare()
        acyclic = True
    except graphlib.CycleError:
        acyclic = False
    try:
        compile_graph(graph)
        compiled = True
    except WorkflowError as error:
        compiled = False
        assert reported_cycles(error)
    assert compiled == acyclic
