"""From a validated :class:`~flowbuilder.model.Workflow` to an :class:`ExecutionPlan`.

The compiler checks everything that needs the whole workflow at once — task types and
their configs, names, dependencies, pools, cycles, expressions and what they reference —
collecting every problem before it reports, then lays the graph out as dense integer ids
with the facts a scheduler wants precomputed (in-degrees, levels, remaining critical path).
Compile passes of plugins run last, on the finished plan.

When a file fails schema validation, the loader still compiles the parts that validated
(see :class:`Omitted`) so that one run reports every problem; the compiler then keeps quiet
about what only follows from the omission (a dependency on a task that was left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from pydantic import ValidationError  # imported already by the models this module compiles

from flowbuilder import graph
from flowbuilder._config_sharing import EqualConfigs
from flowbuilder._frozen_record import FrozenRecord
from flowbuilder._model_sharing import share_model_parts
from flowbuilder.diagnostics import Locator, pydantic_diagnostics, suggest
from flowbuilder.errors import Diagnostic, WorkflowError
from flowbuilder.expressions import (
    ROOT_NAMES,
    RUN_FIELDS,
    ExpressionError,
    has_expression,
    iter_expressions,
    parse_references,
    whole_expression,
)
from flowbuilder.plan import ExecutionPlan
from flowbuilder.secrets import SECRET_NAME

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskType
    from flowbuilder.model import Task, Workflow
    from flowbuilder.state_machines import StateMachine

CompilePass = Callable[[ExecutionPlan], "Mapping[str, Any] | None"]
"""A plugin's extra pass: may raise WorkflowError, or return metadata for ``plan.metadata``."""

_TASK_FIELDS = ("output", "outputs", "status")


@dataclass(frozen=True, slots=True)
class Omitted:
    """What the loader left out of a workflow because it failed schema validation.

    ``task_names``: names of tasks that were dropped (a dependency on one, or an expression
    reading one, is not reported). ``param_names``/``all_params``: params that were dropped
    (or the whole ``params`` table). ``pool_names``/``all_pools``: pools that were dropped
    (or the whole ``pools`` table).
    """

    task_names: frozenset[str] = frozenset()
    param_names: frozenset[str] = frozenset()
    all_params: bool = False
    pool_names: frozenset[str] = frozenset()
    all_pools: bool = False


def compile_workflow(
    workflow: Workflow,
    task_types: Mapping[str, TaskType],
    *,
    locator: Locator | None = None,
    estimated_durations: Mapping[str, float] | None = None,
    passes: Sequence[CompilePass] = (),
    omitted: Omitted | None = None,
) -> ExecutionPlan:
    """Check ``workflow`` as a whole and compile it; :class:`WorkflowError` lists every problem.

    ``omitted`` says what the loader dropped from an invalid file (then plugin passes are
    not run: the plan is only a vehicle for diagnostics).
    """
    locator = locator or Locator(f"<workflow {workflow.name}>")
    omitted = omitted or Omitted()
    problems: list[Diagnostic] = []
    tasks = workflow.tasks
    index: dict[str, int] = {}
    for task_id, task in enumerate(tasks):
        if task.name in index:
            first = locator.at(("tasks", index[task.name], "name"), "")
            problems.append(locator.at(("tasks", task_id, "name"), f"duplicate task name {task.name!r} (first at line {first.line})",
                                       "task names must be unique; rename one"))  # fmt: skip
        else:
            index[task.name] = task_id

    predecessors, successors, incomplete = _edges(tasks, index, locator, problems, omitted.task_names)
    configs = _check_types_and_configs(workflow, task_types, locator, problems)
    _check_timeouts_can_stop(workflow, task_types, configs, locator, problems)
    if not omitted.all_pools:
        _check_pools(workflow, locator, problems, omitted.pool_names)

    indegree = [len(p) for p in predecessors]
    ordering = graph.topological_levels(successors, indegree)
    if not isinstance(ordering, graph.Ordering):
        for cycle in graph.find_cycles(predecessors, ordering):
            shown = " -> ".join(tasks[node].name for node in cycle)
            start = cycle[0]
            depends = tasks[start].depends_on
            position = depends.index(tasks[cycle[1]].name) if tasks[cycle[1]].name in depends else None
            where = ("tasks", start, "depends_on", position) if position is not None else ("tasks", start, "depends_on")
            problems.append(
                locator.at(
                    where,
                    f"dependency cycle: {shown}",
                    "each task depends on the next; remove one of these dependencies",
                )
            )
        raise WorkflowError(dict.fromkeys(problems))

    secret_names: set[str] = set()
    expression_tasks = _check_expressions(
        workflow, index, predecessors, locator, problems, omitted, incomplete, secret_names
    )
    states: StateMachine | None = None
    state_warnings: list[Diagnostic] = []
    if workflow.states is not None or workflow.initial is not None:  # a state machine (issue 11 item 9)
        from flowbuilder.state_machines import compile_state_machine

        states, state_warnings = compile_state_machine(workflow, index, predecessors, locator, problems,
                                                       omitted.task_names)  # fmt: skip
    if problems:
        raise WorkflowError(dict.fromkeys(problems))  # one report per problem, even if found twice

    cost, estimated = _task_costs(tasks, configs, task_types, estimated_durations)
    remaining, next_on_path = graph.longest_remaining_paths(ordering.order, successors, cost)
    roots = ordering.levels[0] if ordering.levels else []
    path = graph.critical_path(roots, remaining, next_on_path)

    plan = ExecutionPlan(
        workflow=workflow,
        names=tuple(task.name for task in tasks),
        index=MappingProxyType(index),
        successors=_shared_tuples(successors),
        predecessors=_shared_tuples(predecessors),
        indegree=tuple(indegree),
        topological_order=tuple(ordering.order),
        levels=tuple(tuple(level) for level in ordering.levels),
        remaining_path=tuple(remaining),
        critical_path=tuple(path),
        critical_path_cost=remaining[path[0]] if path else 0.0,
        max_width=max((len(level) for level in ordering.levels), default=0),
        estimated=estimated,
        configs=tuple(configs),
        expression_tasks=frozenset(expression_tasks),
        secret_names=frozenset(secret_names),
        warnings=(*state_warnings, *_lint(workflow, task_types, locator)),
        cached_tasks=_cached_tasks(workflow),
        states=states,
    )
    plan = _run_passes(plan, passes if omitted == Omitted() else (), locator)
    measured = plan.metadata.get(ESTIMATED_DURATIONS_KEY)
    if isinstance(measured, Mapping) and measured:
        plan = _recost(plan, tasks, configs, task_types, {**(estimated_durations or {}), **measured},
                       ordering)  # fmt: skip
    return plan


def _shared_tuples(lists: Sequence[list[int]]) -> tuple[tuple[int, ...], ...]:
    """Each list as a tuple, equal ones as one tuple.

    The tasks of a fan-out have the same predecessors, ``(root,)``, and the same successors,
    ``(sink,)``: one tuple each instead of one per task is 13 MB less at 100,000 tasks
    (bench/memory.py), for a dict look-up per task while compiling.
    """
    seen: dict[tuple[int, ...], tuple[int, ...]] = {}
    keep = seen.setdefault
    return tuple([keep(ids, ids) for ids in map(tuple, lists)])


ESTIMATED_DURATIONS_KEY = "estimated_durations"
"""A compile pass that returns ``{ESTIMATED_DURATIONS_KEY: {task name: seconds}}`` (for
example measured medians from run history) re-costs the plan with them, so critical-path-first
scheduling uses real times: the pass cannot change the priorities any other way, and this keeps
the critical-path rule in one place (here)."""


def _recost(
    plan: ExecutionPlan,
    tasks: Sequence[Task],
    configs: Sequence[Any],
    task_types: Mapping[str, TaskType],
    durations: Mapping[str, float],
    ordering: graph.Ordering,
) -> ExecutionPlan:
    from dataclasses import replace

    clean = {
        name: float(seconds)
        for name, seconds in durations.items()
        if isinstance(name, str) and isinstance(seconds, (int, float)) and 0 < float(seconds) < float("inf")
    }
    if not clean:
        return plan
    cost, estimated = _task_costs(tasks, configs, task_types, clean)
    remaining, next_on_path = graph.longest_remaining_paths(ordering.order, plan.successors, cost)
    roots = ordering.levels[0] if ordering.levels else []
    path = graph.critical_path(roots, remaining, next_on_path)
    return replace(
        plan,
        remaining_path=tuple(remaining),
        critical_path=tuple(path),
        critical_path_cost=remaining[path[0]] if path else 0.0,
        estimated=estimated,
    )


def _task_costs(
    tasks: Sequence[Task],
    configs: Sequence[Any],
    task_types: Mapping[str, TaskType],
    estimated_durations: Mapping[str, float] | None,
) -> tuple[list[float], bool]:
    """Each task's expected seconds, and whether any is known (else every task costs 1).

    ``estimated_durations`` (e.g. from run history) wins; then the task type's own
    ``estimate_duration(config)`` (asked only of types that override it); a task known by
    neither costs the median of the known ones.
    """
    from flowbuilder.interfaces import TaskType as BaseTaskType

    known: dict[str, float] = dict(estimated_durations or {})
    estimators = {  # only the types in use: looking one up may import it (flowbuilder.plugins)
        name: task_type
        for name, task_type in _types_in_use(tasks, task_types)
        if type(task_type).estimate_duration is not BaseTaskType.estimate_duration
    }
    if estimators:
        for task, config in zip(tasks, configs, strict=True):
            estimator = estimators.get(task.type)
            if estimator is not None and task.name not in known and not isinstance(config, dict):
                seconds = estimator.estimate_duration(config)
                if seconds is not None and seconds > 0:
                    known[task.name] = float(seconds)
    if not known:
        return [1.0] * len(tasks), False
    positive = sorted(d for d in known.values() if d > 0)
    fallback = positive[len(positive) // 2] if positive else 1.0
    return [float(known.get(task.name, fallback)) for task in tasks], True


def _edges(
    tasks: Sequence[Task],
    index: Mapping[str, int],
    locator: Locator,
    problems: list[Diagnostic],
    omitted_tasks: frozenset[str],
) -> tuple[list[list[int]], list[list[int]], set[int]]:
    """Predecessor and successor lists, and the ids that lost a dependency on an omitted task."""
    predecessors: list[list[int]] = [[] for _ in tasks]
    successors: list[list[int]] = [[] for _ in tasks]
    incomplete: set[int] = set()
    for task_id, task in enumerate(tasks):
        depends_on = task.depends_on
        if not depends_on:
            continue
        first_of_its_name = index.get(task.name) == task_id  # a duplicate name gets no edges
        own = predecessors[task_id]
        seen: set[int] = set()
        for position, dependency in enumerate(depends_on):
            dep_id = index.get(dependency)
            if dep_id is None and dependency in omitted_tasks:
                incomplete.add(task_id)
            elif dep_id is None:
                hint = suggest(dependency, index) or "declare that task or remove the dependency"
                problems.append(locator.at(("tasks", task_id, "depends_on", position),
                                           f"task {task.name!r} depends on unknown task {dependency!r}", hint))  # fmt: skip
            elif dep_id == task_id and first_of_its_name:
                problems.append(locator.at(("tasks", task_id, "depends_on", position),
                                           f"task {task.name!r} depends on itself", "remove it from its own depends_on"))  # fmt: skip
            elif first_of_its_name and dep_id not in seen:
                seen.add(dep_id)
                own.append(dep_id)
                successors[dep_id].append(task_id)
    return predecessors, successors, incomplete


def _check_types_and_configs(
    workflow: Workflow, task_types: Mapping[str, TaskType], locator: Locator, problems: list[Diagnostic]
) -> list[Any]:
    configs: list[Any] = []
    equal = EqualConfigs()  # tasks with equal configs share one validated model
    for task_id, task in enumerate(workflow.tasks):
        task_type = task_types.get(task.type)
        if task_type is None:
            installed = (
                ", ".join(sorted(task_types))
                or "none installed; `pip install flowbuilder-runner` provides shell, http, script, python"
            )
            hint = suggest(task.type, task_types)
            hint = f"{hint} installed types: {installed}" if hint else f"installed types: {installed}"
            problems.append(locator.at(("tasks", task_id, "type"), f"unknown task type {task.type!r}", hint))
            configs.append(task.config)
            continue
        key = equal.key(task.type, task_type.config_model, task.config)
        validated = equal.get(key) if key is not None else None
        if validated is None:
            validated = _validate_config(task_type, task.config, task_id, locator, problems)
            if key is not None and validated is not task.config:  # valid: not the raw dict handed back
                equal.keep(key, validated)
        configs.append(validated)
    return configs


def _check_timeouts_can_stop(
    workflow: Workflow,
    task_types: Mapping[str, TaskType],
    configs: Sequence[Any],
    locator: Locator,
    problems: list[Diagnostic],
) -> None:
    """Refuse a task's own timeout or deadline when its type says it could not stop the attempt.

    ``defaults.timeout`` is a blanket policy and is not refused here: the type's docs say
    what it means for attempts it cannot stop.
    """
    for task_id, task in enumerate(workflow.tasks):
        if task.timeout is None and task.deadline is None:
            continue
        task_type = task_types.get(task.type)
        config = configs[task_id]
        if task_type is None or isinstance(config, dict):  # unknown type, or checked at run time
            continue
        reason = task_type.why_not_stoppable(config)
        if reason is None:
            continue
        limit = "timeout" if task.timeout is not None else "deadline"
        message = f"task {task.name!r}: {limit} cannot be kept: {reason}"
        problems.append(
            locator.at(("tasks", task_id, limit), message, f"if the task must not be stopped, remove its {limit}")
        )


def _validate_config(
    task_type: TaskType, config: dict[str, Any], task_id: int, locator: Locator, problems: list[Diagnostic]
) -> Any:
    """The validated config model, or the raw dict when expressions defer validation to run time."""
    model = task_type.config_model
    try:
        validated = model.model_validate(config)
        share_model_parts(validated)  # one config per task: share what is equal (when frozen)
        return validated
    except ValidationError as error:
        prefix = ("tasks", task_id, "config")

        def is_expression(path: tuple[Any, ...]) -> bool:
            value: Any = config
            for step in path[len(prefix) :]:
                try:
                    value = value[step]
                except (KeyError, IndexError, TypeError):
                    return False
                if isinstance(value, str) and "${{" in value:
                    return True
            return False

        found = pydantic_diagnostics(
            error, locator, prefix, model.model_fields, skip=is_expression, owner=None, model=model
        )
        for diagnostic in found:
            problems.append(Diagnostic(diagnostic.file, diagnostic.line, diagnostic.column,
                                       f"{task_type.name} config: {diagnostic.message}", diagnostic.hint))  # fmt: skip
        return config


def _check_pools(workflow: Workflow, locator: Locator, problems: list[Diagnostic], omitted: frozenset[str]) -> None:
    pools = {**workflow.pools, **dict.fromkeys(omitted, 1)}  # an omitted pool was declared, if badly
    if workflow.defaults.pool is not None and workflow.defaults.pool not in pools:
        problems.append(locator.at(("defaults", "pool"), f"unknown pool {workflow.defaults.pool!r}",
                                   f"declare it under `pools:` with a limit, e.g. pools: {{{workflow.defaults.pool}: 4}}"))  # fmt: skip
    for task_id, task in enumerate(workflow.tasks):
        if task.pool is not None and task.pool not in pools:
            hint = (
                suggest(task.pool, pools) or f"declare it under `pools:` with a limit, e.g. pools: {{{task.pool}: 4}}"
            )
            problems.append(locator.at(("tasks", task_id, "pool"), f"unknown pool {task.pool!r}", hint))


def _types_in_use(tasks: Sequence[Task], task_types: Mapping[str, TaskType]) -> list[tuple[str, TaskType]]:
    """(name, instance) of the installed task types the tasks name, in the order of ``task_types``:
    a task type nothing uses is never built (nor, with the plugin manifest, imported)."""
    used = {task.type for task in tasks}
    return [(name, task_types[name]) for name in task_types if name in used]


def _lint(workflow: Workflow, task_types: Mapping[str, TaskType], locator: Locator) -> tuple[Diagnostic, ...]:
    """The located warnings of the task types that override ``TaskType.lint``."""
    from flowbuilder.interfaces import TaskType as BaseTaskType

    linters = {
        name: t for name, t in _types_in_use(workflow.tasks, task_types) if type(t).lint is not BaseTaskType.lint
    }
    if not linters:
        return ()
    found: list[Diagnostic] = []
    for task_id, task in enumerate(workflow.tasks):
        linter = linters.get(task.type)
        if linter is not None:
            for warning in linter.lint(task, workflow):
                found.append(locator.at(("tasks", task_id, *warning.path), warning.message, warning.hint))
    return tuple(sorted(dict.fromkeys(found), key=lambda d: (d.file, d.line, d.column, d.message)))


def _key_expressions(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """Expressions in the keys of a config's mappings (``headers: {"${{ params.h }}": v}``),
    with the path to the entry: task types may render keys too, so they are checked alike."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "${{" in key:
                for _, expression in iter_expressions(key):
                    yield (*path, key), expression
            yield from _key_expressions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _key_expressions(item, (*path, index))


def _may_hold_expression(value: Any) -> bool:
    """Whether any text in ``value``, mapping keys included, holds ``${{``.

    A quick test that lets the compiler pass over a task with no expression; it may say
    True where :func:`~flowbuilder.expressions.iter_expressions` then finds nothing (a key
    of ``env``), never the other way round.
    """
    if isinstance(value, str):
        return "${{" in value
    if isinstance(value, dict):
        for key, item in value.items():
            if type(item) is str:
                if "${{" in item:
                    return True
            elif item is not None and not isinstance(item, (int, float)) and _may_hold_expression(item):
                return True
            if isinstance(key, str) and "${{" in key:
                return True
        return False
    if isinstance(value, list):
        return any(_may_hold_expression(item) for item in value)
    return False


def _upstream_of(task_id: int, predecessors: Sequence[Sequence[int]]) -> set[int]:
    """Every task ``task_id`` depends on, directly or not (only computed for tasks that read others)."""
    seen: set[int] = set()
    stack = list(predecessors[task_id])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(predecessors[node])
    return seen


def _cached_tasks(workflow: Workflow) -> frozenset[int]:
    """Ids of the tasks whose results are cached (their own ``cache``, else ``defaults.cache``)."""
    tasks = workflow.tasks
    if workflow.defaults.cache is None:  # the common case: one attribute read per task
        return frozenset(task_id for task_id, task in enumerate(tasks) if task.cache is not None)
    return frozenset(task_id for task_id, task in enumerate(tasks) if workflow.cache_policy(task) is not None)


def _check_expressions(
    workflow: Workflow,
    index: Mapping[str, int],
    predecessors: Sequence[Sequence[int]],
    locator: Locator,
    problems: list[Diagnostic],
    omitted: Omitted,
    incomplete: set[int],
    secret_names: set[str],
) -> set[int]:
    """Parse every expression and check what it reads; return the ids of tasks that have any.

    The names of the secrets read (``secrets.NAME``) are added to ``secret_names``.
    """
    context = _ExpressionContext(
        workflow.params, index, predecessors, locator, problems, omitted, incomplete, secret_names
    )
    for key, value in workflow.env.items():
        for _, expression in iter_expressions(value):
            _check_one(expression, ("env", key), None, None, context)
    default_lock = workflow.defaults.lock
    if default_lock is not None:
        for _, expression in iter_expressions(default_lock.name):
            _check_one(expression, ("defaults", "lock", "name"), None, "lock", context)
    default_cache = workflow.defaults.cache
    if default_cache is not None and default_cache.key is not None:
        for _, expression in iter_expressions(default_cache.key):
            _check_one(expression, ("defaults", "cache", "key"), None, "cache", context)
    with_expressions: set[int] = set()
    for task_id, task in enumerate(workflow.tasks):
        when, env, outputs = task.when, task.env, task.outputs
        if (
            task.cache is None
            and task.lock is None
            and task.foreach is None
            and (when is None or "${{" not in when)
            and not (env and _may_hold_expression(env))
            and not (outputs and _may_hold_expression(outputs))
            and not _may_hold_expression(task.config)
        ):
            continue  # most tasks: nothing below would find an expression
        fields: list[tuple[tuple[Any, ...], Any, str]] = [
            (("config",), task.config, "config"),
            (("env",), task.env, "env"),
            (("when",), task.when, "when"),
            (("outputs",), task.outputs, "outputs"),
        ]
        if task.cache is not None and task.cache.key is not None:
            fields.append((("cache", "key"), task.cache.key, "cache"))
        if task.lock is not None:
            fields.append((("lock", "name"), task.lock.name, "lock"))
        fanout = task.fanout
        if fanout is not None:
            fields.extend(_fanout_fields(task, task_id, locator, problems))
        found_any = False
        for path, value, field_name in fields:
            if not _may_hold_expression(value):
                continue
            in_keys = list(_key_expressions(value)) if field_name == "config" else []
            if not (has_expression(value) or in_keys):
                continue
            found_any = True
            for inner, expression in (*iter_expressions(value), *in_keys):
                where = ("tasks", task_id, *path, *inner)
                _check_one(expression, where, task, field_name, context, task_id)
        if found_any:
            with_expressions.add(task_id)
    return with_expressions


class _ExpressionContext(FrozenRecord):
    """What checking one expression needs to know about the whole workflow."""

    __slots__ = ("params", "index", "predecessors", "locator", "problems", "omitted", "incomplete", "secret_names")
    params: Mapping[str, Any]
    index: Mapping[str, int]
    predecessors: Sequence[Sequence[int]]
    locator: Locator
    problems: list[Diagnostic]
    omitted: Omitted
    incomplete: set[int]
    secret_names: set[str]

    def __init__(self, params: Mapping[str, Any], index: Mapping[str, int], predecessors: Sequence[Sequence[int]],
                 locator: Locator, problems: list[Diagnostic], omitted: Omitted, incomplete: set[int],
                 secret_names: set[str]) -> None:  # fmt: skip
        set_field = object.__setattr__
        set_field(self, "params", params)
        set_field(self, "index", index)
        set_field(self, "predecessors", predecessors)
        set_field(self, "locator", locator)
        set_field(self, "problems", problems)
        set_field(self, "omitted", omitted)
        set_field(self, "incomplete", incomplete)
        set_field(self, "secret_names", secret_names)

    def upstream_is_complete(self, upstream: set[int], task_id: int) -> bool:
        """False when a dependency of the task (or of its upstream) was omitted by the loader."""
        return not self.incomplete or (task_id not in self.incomplete and not (upstream & self.incomplete))


def _check_one(
    expression: str,
    where: tuple[Any, ...],
    task: Task | None,
    field_name: str | None,
    context: _ExpressionContext,
    task_id: int | None = None,
) -> None:
    params, index, locator, problems = context.params, context.index, context.locator, context.problems
    omitted = context.omitted
    try:
        references = parse_references(expression)
    except ExpressionError as error:
        hint = error.hint or "expressions look like ${{ params.name }} or ${{ tasks.a.output }}"
        problems.append(locator.at(where, str(error), hint))
        return
    upstream: set[int] | None = None
    keyed_roots = {reference.root for reference in references if reference.key is not None}
    for reference in references:
        root = reference.root
        if reference.key is None:
            if root not in ROOT_NAMES:
                hint = suggest(root, ROOT_NAMES) or "use params.<name>, env.<NAME>, tasks.<name>.output, item or output"
                problems.append(locator.at(where, f"unknown name {root!r} in `{expression}`", hint))
            elif root == "item" and (task is None or task.foreach is None):
                problems.append(locator.at(where, f"`item` is only defined in a task with `foreach` (in `{expression}`)",
                                           "add foreach: to the task or remove `item`"))  # fmt: skip
            elif root == "item" and field_name in ("when", "foreach"):
                problems.append(locator.at(where, f"`item` is not defined in `{field_name}` (in `{expression}`)",
                                           "`when` is checked once for the whole task, before the fan-out;"
                                           " filter the list in `foreach` instead, e.g. ${{ xs | select('odd') | list }}"))  # fmt: skip
            elif root == "output" and field_name != "outputs":
                problems.append(locator.at(where, f"`output` is only defined inside `outputs` (in `{expression}`)",
                                           "read another task's result with tasks.<name>.output"))  # fmt: skip
            elif root == "tasks" and task is None and field_name == "lock":
                problems.append(locator.at(where, f"a lock name in defaults cannot read task results (in `{expression}`)",
                                           "give the task its own lock"))  # fmt: skip
            elif root == "secrets" and field_name == "lock":
                problems.append(locator.at(where, f"a lock name cannot hold a secret (in `{expression}`)",
                                           "lock names are recorded in the run's events and the store's lease names"))  # fmt: skip
            elif root == "tasks" and task is None:
                if field_name == "cache":
                    problems.append(locator.at(where, f"a cache key in defaults cannot read task results (in `{expression}`)",
                                               "give the task its own cache key"))  # fmt: skip
                else:
                    problems.append(locator.at(where, f"workflow env cannot read task results (in `{expression}`)",
                                               "move this value into the task's own env"))  # fmt: skip
            elif root == "secrets" and root not in keyed_roots:
                problems.append(locator.at(where, f"read a secret by its name, not `secrets` as a whole (in `{expression}`)",
                                           "write secrets.NAME, e.g. ${{ secrets.API_TOKEN }}"))  # fmt: skip
            continue
        if root == "secrets" and field_name == "lock":
            problems.append(locator.at(where, f"a lock name cannot hold a secret (in `{expression}`)",
                                       "lock names are recorded in the run's events and the store's lease names"))  # fmt: skip
            continue
        if root == "secrets":
            if SECRET_NAME.match(reference.key):
                context.secret_names.add(reference.key)
            else:
                problems.append(locator.at(where, f"secret name {reference.key!r} is not valid (in `{expression}`)",
                                           "secret names are letters, digits and _, not starting with a digit"))  # fmt: skip
            continue
        if root == "run":
            if reference.key not in RUN_FIELDS:
                hint = suggest(reference.key, RUN_FIELDS) or "use run.id or run.logical_time"
                problems.append(locator.at(where, f"unknown run field {reference.key!r} in `{expression}`", hint))
            continue
        if root == "params" and reference.key not in params:
            if omitted.all_params or reference.key in omitted.param_names:
                continue
            hint = suggest(reference.key, params) or "declare it under `params:`"
            problems.append(locator.at(where, f"unknown param {reference.key!r} in `{expression}`", hint))
        elif root == "tasks" and task is not None and task_id is not None:
            name = reference.key
            if name not in index and name in omitted.task_names:
                continue
            if name not in index:
                hint = suggest(name, index) or "check the task name"
                problems.append(locator.at(where, f"unknown task {name!r} in `{expression}`", hint))
                continue
            if index[name] == task_id:
                problems.append(locator.at(where, f"task {task.name!r} cannot read its own result via tasks.{name} (in `{expression}`)",
                                           "use `output` inside `outputs`"))  # fmt: skip
                continue
            # A direct dependency (the usual case) needs no walk of the graph: walking every
            # task's ancestors made compiling a 10,000-task workflow quadratic (bench/compile.py).
            if index[name] not in context.predecessors[task_id]:
                if upstream is None:
                    upstream = _upstream_of(task_id, context.predecessors)
                if index[name] not in upstream:
                    if not context.upstream_is_complete(upstream, task_id):
                        continue
                    problems.append(locator.at(where, f"task {task.name!r} reads tasks.{name} but does not depend on {name!r}",
                                               f"add {name!r} to depends_on"))  # fmt: skip
                    continue
            if reference.field is not None and reference.field not in _TASK_FIELDS:
                problems.append(locator.at(where, f"tasks.{name}.{reference.field} is not defined (in `{expression}`)",
                                           "use tasks.<name>.output, .outputs.<key> or .status"))  # fmt: skip


def _run_passes(plan: ExecutionPlan, passes: Sequence[CompilePass], locator: Locator) -> ExecutionPlan:
    if not passes:
        return plan
    metadata: dict[str, Any] = {}
    for compile_pass in passes:
        added = compile_pass(plan)
        if added:
            metadata.update(added)
    if not metadata:
        return plan
    from dataclasses import replace

    return replace(plan, metadata=MappingProxyType(metadata))


__all__ = [
    "ESTIMATED_DURATIONS_KEY",
    "CompilePass",
    "Omitted",
    "compile_workflow",
]


def _fanout_fields(
    task: Task, task_id: int, locator: Locator, problems: list[Diagnostic]
) -> list[tuple[tuple[Any, ...], Any, str]]:
    """The expression fields of a task's ``foreach``; reports a malformed one (both or neither of
    ``items`` and ``matrix``, text that is no expression, a matrix past its bound)."""
    from flowbuilder.limits import MAX_MATRIX_ITEMS, matrix_size

    fanout = task.fanout
    assert fanout is not None
    where = ("tasks", task_id, "foreach")
    if fanout.items is not None and fanout.matrix is not None:
        problems.append(locator.at((*where, "matrix"), "foreach takes `items` or `matrix`, not both",
                                   "keep one: a matrix already makes the items"))  # fmt: skip
        return []
    if fanout.items is None and fanout.matrix is None:
        problems.append(locator.at(where, "foreach needs `items` (a list) or `matrix` (named lists)",
                                   "write foreach: {items: [a, b]} or foreach: {matrix: {os: [linux, mac]}}"))  # fmt: skip
        return []
    if fanout.matrix == {}:
        problems.append(locator.at((*where, "matrix"), "foreach matrix has no lists",
                                   "name at least one list, like matrix: {os: [linux, mac]}"))  # fmt: skip
        return []
    if fanout.matrix is None:
        long_form = not isinstance(task.foreach, (list, str))
        lists: list[tuple[tuple[Any, ...], Any]] = [((*where, "items") if long_form else where, fanout.items)]
    else:
        lists = [((*where, "matrix", axis), values) for axis, values in fanout.matrix.items()]
    for path, values in lists:
        if isinstance(values, str) and whole_expression(values) is None:
            problems.append(
                locator.at(
                    path,
                    f"foreach: {values!r} is neither a list nor one ${{{{ }}}} expression",
                    "write a list like [a, b] or an expression that yields one, like ${{ params.items }}",
                )
            )
    if fanout.matrix is not None and all(isinstance(values, list) for values in fanout.matrix.values()):
        size = matrix_size([len(values) for values in fanout.matrix.values()])
        if size > MAX_MATRIX_ITEMS:
            problems.append(locator.at((*where, "matrix"), f"foreach matrix makes {size:,} items, more than {MAX_MATRIX_ITEMS:,}",
                                       "split the task, or shorten a list"))  # fmt: skip
    return [(path[2:], values, "foreach") for path, values in lists]
