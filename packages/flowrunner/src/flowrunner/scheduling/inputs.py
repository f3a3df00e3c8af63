"""What an attempt receives: its config, env and context, rendered from the run's state.

A *plain* task (no ``${{ }}`` expression, no ``foreach``) gets the plan's validated config
and the workflow's env as they are, computed once per task: that is the hot path, and it
renders nothing. Any other task's attempt renders its expressions against a scope of
``params``, ``env``, ``secrets``, ``run`` (``id``, ``logical_time``), ``tasks.<name>`` (a read-only view over the state
machine's lists) and, inside ``foreach``, ``item``; the rendered config is validated with the
type's ``config_model``. A render or validation error is the attempt's failure (not
retryable), reported like any other.
"""

from __future__ import annotations

from itertools import islice, repeat
from operator import is_
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from flowbuilder.interfaces import Attempt, ExecutionMode, LogLine, TaskContext, TaskFailure
from flowrunner._scope import TaskResultsView, render_workflow_env
from flowrunner.scheduling.task_columns import task_columns

if TYPE_CHECKING:
    from flowbuilder.interfaces import TaskType
    from flowbuilder.plan import ExecutionPlan
    from flowrunner._event_writer import EventWriter
    from flowrunner.scheduling.state import RunStateMachine


class AttemptLog:
    """The ``log(stream, line)`` callable of one attempt: appends to the run's log batch.

    Called on the run's loop thread (an attempt on another thread gets a forwarder, see
    :meth:`LocalRunner.call_in_thread <flowrunner.LocalRunner.call_in_thread>`). The first
    line after a flush arms the writer's timed flush, so a line of a long task is stored
    while the task still runs.
    """

    __slots__ = ("writer", "task", "attempt")

    def __init__(self, writer: EventWriter, task: str, attempt: int):
        self.writer = writer
        self.task = task
        self.attempt = attempt

    def __call__(self, stream: str, line: str) -> None:
        writer = self.writer
        writer.logs.append(LogLine(self.task, self.attempt, stream, line))
        if writer.log_timer is None:
            writer.arm_log_flush()


class AttemptInputs:
    """Renders the inputs of the attempts of one run.

    Args:
        plan: the compiled plan.
        types: each task's :class:`TaskType`, by task id.
        machine: the run's state machine (outputs and statuses that expressions read).
        params: the run's resolved params.
        secrets: the run's secrets (``secrets.<name>`` in expressions).
        run: ``run.id`` and ``run.logical_time`` (None for an unscheduled run).

    Raises :class:`~flowbuilder.expressions.ExpressionError` at construction when the
    workflow's ``env`` cannot be rendered: the run stops before any task starts.
    """

    __slots__ = ("machine", "modes", "params", "plain", "plain_env", "plan", "results_view", "run", "secrets", "static_env", "stretches", "tasks", "types", "workflow_env")  # fmt: skip

    def __init__(self, plan: ExecutionPlan, types: list[TaskType], machine: RunStateMachine,
                 params: Mapping[str, Any], secrets: Mapping[str, str],
                 run: Mapping[str, Any] | None = None):  # fmt: skip
        workflow = plan.workflow
        self.run: Mapping[str, Any] = run or {}
        self.plan = plan
        self.tasks = workflow.tasks
        self.types = types
        self.machine = machine
        self.params = params
        self.secrets = secrets
        self.results_view = TaskResultsView(plan.index, machine.task_result)
        self.workflow_env: dict[str, str] = render_workflow_env(workflow.env, params, secrets, self.run)
        self.static_env: dict[int, dict[str, str]] = {}
        expression_tasks = plan.expression_tasks
        tasks = self.tasks
        count = len(tasks)
        # Every run pays these per task: the usual case (no expression, foreach or own env) takes one pass each.
        columns = task_columns(workflow)
        foreach = columns.foreach
        if not expression_tasks and foreach.count(None) == count:
            self.plain = [True] * count
        else:
            self.plain = [task_id not in expression_tasks and each is None for task_id, each in enumerate(foreach)]
        """Whether each task takes the hot path: static config, no expressions, no fan-out."""
        envs = columns.env
        self.plain_env: list[dict[str, str] | None] = (
            [None if env else self.workflow_env for env in envs] if any(envs) else [self.workflow_env] * count
        )
        self.stretches = same_stretches(types, plan.configs)
        """Runs of tasks with the same type and config object (:func:`same_stretches`), for the driver too."""
        self.modes: list[ExecutionMode | None] = _plain_modes(types, plan.configs, self.plain, self.stretches)
        """Each plain task's execution mode (its config never changes); None for rendered tasks."""

    # -- plain tasks (the hot path) ---------------------------------------------------------

    def plain_inputs(self, task_id: int) -> tuple[Any, dict[str, str], ExecutionMode]:
        """Config, env and mode of a plain task (the env merged on its first attempt, then kept)."""
        config = self.plan.configs[task_id]
        env = self.plain_env[task_id]
        if env is None:
            env = self.plain_env[task_id] = self.env(task_id, None)
        mode = self.modes[task_id]
        if mode is None:
            mode = self.modes[task_id] = self.types[task_id].execution_mode(config)
        return config, env, mode

    # -- rendered tasks ---------------------------------------------------------------------

    def rendered_inputs(self, task_id: int, scope: Mapping[str, Any]) -> tuple[Any, dict[str, str], ExecutionMode]:
        """Config, env and mode of an attempt rendered in ``scope``; raises TaskFailure when invalid."""
        config = self.config(task_id, scope)
        return config, self.env(task_id, scope), self.types[task_id].execution_mode(config)

    def scope(self, task_id: int, item: Any = None, has_item: bool = False) -> dict[str, Any]:
        """The names the task's expressions see (``item`` only inside ``foreach``)."""
        task = self.tasks[task_id]
        env: Mapping[str, str] = self.workflow_env
        if task.env:
            own: Mapping[str, str] = task.env
            if any("${{" in value for value in own.values()):
                from flowbuilder.expressions import as_text, render

                base = {"params": self.params, "env": {}, "tasks": self.results_view, "secrets": self.secrets,
                        "run": self.run}  # fmt: skip
                own = {key: as_text(render(value, base)) for key, value in own.items()}
            env = {**env, **own}
        scope: dict[str, Any] = {"params": self.params, "env": env, "tasks": self.results_view, "secrets": self.secrets,
                                 "run": self.run}  # fmt: skip
        if has_item:
            scope["item"] = item
        return scope

    def env(self, task_id: int, scope: Mapping[str, Any] | None) -> dict[str, str]:
        """The attempt's env: the workflow's (rendered once per run) overlaid with the task's."""
        env = self.static_env.get(task_id)
        if env is not None:
            return env
        task = self.tasks[task_id]
        if not task.env and scope is None:
            env = self.static_env[task_id] = self.workflow_env  # shared: tasks never mutate it
            return env
        if scope is not None:
            from flowbuilder.expressions import as_text, render

            # The workflow's part is rendered already (once per run): rendering it again
            # would evaluate any `${{` that a param's value happens to contain.
            own = {key: as_text(render(value, scope)) for key, value in task.env.items()}
            return {**self.workflow_env, **own}
        merged = self.static_env[task_id] = {**self.workflow_env, **task.env}
        return merged

    def config(self, task_id: int, scope: Mapping[str, Any] | None) -> Any:
        """The validated config of an attempt (rendered first when ``scope`` is given)."""
        if scope is None:
            return self.plan.configs[task_id]
        from pydantic import ValidationError

        task_type = self.types[task_id]
        raw = self.tasks[task_id].config
        rendered = task_type.render_config(raw, scope)
        try:
            return task_type.config_model.model_validate(rendered)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(step) for step in first["loc"]) or "config"
            raise TaskFailure(
                f"config after expressions is invalid at {where}: {first['msg']}", retryable=False
            ) from None

    def foreach_items(self, task_id: int, scope: Mapping[str, Any]) -> list[Any] | tuple[Any, ...]:
        """The items of a ``foreach`` task; a non-list is the task's (non-retryable) failure.

        A ``matrix`` gives its cartesian product in the order written: the first list
        varies slowest, the last fastest (``{os: [l, m], py: [1, 2]}`` gives l/1, l/2, m/1,
        m/2); each item maps every name to one value. A product past
        :data:`~flowbuilder.model.MAX_MATRIX_ITEMS` fails the task (not retried).
        """
        from flowbuilder.expressions import render

        fanout = self.tasks[task_id].fanout
        assert fanout is not None
        if fanout.matrix is None:
            return _as_list(
                "foreach items", render(fanout.items, scope) if isinstance(fanout.items, str) else fanout.items
            )
        from itertools import product

        from flowbuilder.model import MAX_MATRIX_ITEMS, matrix_size

        axes = {
            name: _as_list(f"foreach matrix {name!r}", render(values, scope) if isinstance(values, str) else values)
            for name, values in fanout.matrix.items()
        }
        size = matrix_size([len(values) for values in axes.values()])
        if size > MAX_MATRIX_ITEMS:
            raise TaskFailure(f"foreach matrix makes {size:,} items, more than {MAX_MATRIX_ITEMS:,}", retryable=False)
        names = list(axes)
        return [dict(zip(names, values, strict=True)) for values in product(*axes.values())]

    # -- hooks of the state machine ---------------------------------------------------------

    def when(self, task_id: int) -> bool:
        """The task's ``when`` condition, evaluated now."""
        from flowbuilder.expressions import is_truthy, render

        condition = self.tasks[task_id].when
        return condition is None or is_truthy(render(condition, self.scope(task_id)))

    def named_outputs(self, task_id: int, output: Any) -> dict[str, Any]:
        """The task's ``outputs:`` evaluated with ``output`` as the attempt's result."""
        from flowbuilder.expressions import render

        scope = self.scope(task_id)
        scope["output"] = output
        return {key: render(value, scope) for key, value in self.tasks[task_id].outputs.items()}

    # -- the attempt ------------------------------------------------------------------------

    def context(self, task_id: int, name: str, attempt: int, env: Mapping[str, str], item: Any,
                deadline: float | None, writer: EventWriter) -> TaskContext:  # fmt: skip
        """The :class:`TaskContext` of one attempt (``name`` is ``task[i]`` for a foreach item)."""
        machine = self.machine
        predecessors = self.plan.predecessors[task_id]
        names = machine.names
        outputs = machine.outputs
        inputs = {names[p]: outputs[p] for p in predecessors} if predecessors else {}
        return TaskContext(machine.run_id, machine.names[task_id], attempt, inputs, self.params, env, item, deadline,
                           AttemptLog(writer, name, attempt))  # fmt: skip

    def attempt(self, task_id: int, name: str, number: int, config: Any, mode: ExecutionMode, context: TaskContext,
                timeout: float | None, item_index: int | None = None) -> Attempt:  # fmt: skip
        """The :class:`Attempt` handed to an executor."""
        return Attempt(self.machine.run_id, name, task_id, number, self.types[task_id], config, mode, context,
                       timeout, item_index, self.plan.workflow.tasks[task_id].worker)  # fmt: skip


def same_stretches(types: Sequence[Any], configs: Sequence[Any]) -> list[tuple[int, int]]:
    """The plan cut into stretches of consecutive tasks whose type and config objects are their
    predecessor's, as ``(start, end)`` ranges that cover every task in order.

    The compiler gives tasks with equal configs one shared validated config, so a generated
    fan-out is one stretch: what depends only on the type and config (the execution mode, the
    context-free call) is asked once per stretch. Worked out once per run and shared; with one
    type (checked at C speed) only the configs are compared, in a loop of one identity test.
    """
    count = len(configs)
    if not count:
        return []
    starts: list[int] = []
    append = starts.append
    last_config: Any = _NOTHING
    if all(map(is_, repeat(types[0], count), types)):
        for index, config in enumerate(configs):
            if config is not last_config:
                append(index)
                last_config = config
    else:
        last_type: Any = _NOTHING
        for index, (task_type, config) in enumerate(zip(types, configs, strict=True)):
            if config is not last_config or task_type is not last_type:
                append(index)
                last_type, last_config = task_type, config
    return list(zip(starts, [*starts[1:], count], strict=True))


_NOTHING: Any = object()
"""No type or config seen yet (:func:`same_stretches`)."""


def _plain_modes(types: Sequence[TaskType], configs: Sequence[Any], plain: list[bool],
                 stretches: list[tuple[int, int]]) -> list[ExecutionMode | None]:  # fmt: skip
    """Each plain task's execution mode, None for the others.

    Asked once per stretch of tasks with the same type and config object (:func:`same_stretches`):
    a generated fan-out asks its type once instead of once per task (about 0.4 µs each).
    """
    count = len(types)
    all_plain = plain.count(True) == count
    modes: list[ExecutionMode | None] = []
    for start, end in stretches:
        if all_plain or any(islice(plain, start, end)):  # never asked for a stretch of rendered tasks only
            modes += [types[start].execution_mode(configs[start])] * (end - start)
        else:
            modes += [None] * (end - start)
    return modes if all_plain else [mode if is_plain else None for mode, is_plain in zip(modes, plain, strict=True)]


def _as_list(what: str, value: Any) -> list[Any] | tuple[Any, ...]:
    """``value`` if it is a list; otherwise the task's non-retryable failure, naming ``what``."""
    if not isinstance(value, (list, tuple)):
        raise TaskFailure(f"{what} must be a list, got {type(value).__name__}", retryable=False)
    return value
