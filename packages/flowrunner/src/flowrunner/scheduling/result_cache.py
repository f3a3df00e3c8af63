"""Task result caching for one run: look a cached task up before its attempt, store it after.

Part of the scheduling core, so every executor (inline, thread, process, a plugin's remote
one) gets the same rules from one place, and no task type knows about caching:

* **Before an attempt** of a task with ``cache:`` (:meth:`AttemptCache.serve`, called by the
  driver where it renders the attempt's inputs) the key is made from the attempt's inputs
  (:func:`flowbuilder.caching.default_cache_key`, or the rendered ``key:``), and the store's
  :class:`~flowbuilder.interfaces.result_cache.ResultCache` is asked. A hit ends the attempt
  at once through :meth:`RunStateMachine.succeeded <flowrunner.scheduling.state.RunStateMachine.succeeded>`
  with ``served``: its ``task_succeeded`` records ``cached: {key, run}`` and the output as
  the source run recorded it, so a table is the same blob reference, never a copy (the
  table is read back for dependents in this run, as a resume reads it).
* **After an attempt that succeeded** on a miss (:meth:`AttemptCache.succeeded`, which the
  driver calls instead of the machine's own) the recorded form of the result is stored
  with the key. Failed, retried, cancelled attempts store nothing.

What never happens: a cache problem failing a task. A store that cannot be read, a table
blob that is gone (its run was deleted), an entry in a newer format: the task runs, and a
``system`` log line of the attempt says why. A result holding a secret's value (the run's
masker would change it) is not stored at all, since the cache keeps outputs unmasked so
that a hit gives dependents the real value.

Runs with no cached task, runs without a store and ``use_cache=False`` runs build none of
this (:func:`attempt_cache_for`), so their attempts pay nothing for it. The lookup and the
store are synchronous store calls on the driver's thread: they happen only for cached
tasks, which are worth caching because they are slow; making them asynchronous would need
a "looking up" state in the machine, left for when a slow store makes it matter.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.errors import FlowBuilderError
from flowbuilder.events import EventKind
from flowbuilder.interfaces import LogLine

if TYPE_CHECKING:
    from flowbuilder.interfaces import RunRequest, Store
    from flowbuilder.model import CachePolicy
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.secrets import SecretMasker
    from flowrunner._event_writer import EventWriter
    from flowrunner.scheduling.inputs import AttemptInputs
    from flowrunner.scheduling.state import RunStateMachine


def attempt_cache_for(request: RunRequest, machine: RunStateMachine, inputs: AttemptInputs, writer: EventWriter,
                      masker: SecretMasker | None) -> AttemptCache | None:  # fmt: skip
    """The run's cache, or None when no task of it is cached, it has no store, or caching is off."""
    store = request.store
    if store is None or not request.use_cache:
        return None
    plan = request.plan
    if not plan.cached_tasks:
        return None  # the common case: flowbuilder.caching (its records, its hashing) is not imported
    workflow = plan.workflow
    policies: list[CachePolicy | None] = [None] * len(plan)
    for task_id in plan.cached_tasks:
        policies[task_id] = workflow.cache_policy(workflow.tasks[task_id])
    return AttemptCache(plan, store, policies, machine, inputs, writer, masker)


class AttemptCache:
    """The result cache of one run (see the module docstring); build it with :func:`attempt_cache_for`."""

    __slots__ = ("inputs", "machine", "masker", "misses", "plan", "policies", "store", "workflow", "writer")

    def __init__(self, plan: ExecutionPlan, store: Store, policies: list[CachePolicy | None],
                 machine: RunStateMachine, inputs: AttemptInputs, writer: EventWriter,
                 masker: SecretMasker | None):  # fmt: skip
        self.plan = plan
        self.workflow = plan.workflow.name
        self.store = store
        self.policies = policies
        """Each task's :class:`~flowbuilder.model.CachePolicy` (None: not cached)."""
        self.machine = machine
        self.inputs = inputs
        self.writer = writer
        self.masker = masker
        self.misses: dict[int, str] = {}
        """Task id -> the key its running attempt missed (stored when the attempt succeeds)."""
        for task_id, policy in enumerate(policies):
            if policy is not None:
                inputs.plain[task_id] = False  # its attempts go through serve(); plain ones skip it

    # -- before the attempt -----------------------------------------------------------------

    def serve(self, task_id: int, attempt: int) -> bool:
        """Serve the attempt from the cache if its key has a live entry; True when it did.

        On a miss the key is remembered for :meth:`succeeded`. Raises what rendering the key's
        inputs raises (the attempt's failure, as a bad config is).
        """
        key = self.key(task_id)
        name = self.machine.names[task_id]
        try:
            entry = self.store.get_cached_result(self.workflow, name, key)
            value = None if entry is None else self._value_of(name, entry.output)
        except Exception as error:  # any store's failure: the task runs (FlowBuilderError is the usual one)
            self._note(name, attempt, f"cache lookup failed, running the task: {_reason(error)}")
            entry = None
        if entry is None:
            self.misses[task_id] = key
            return False
        served = {"output": entry.output, "outputs": entry.outputs, "cached": {"key": key, "run": entry.run_id}}
        self.misses.pop(task_id, None)
        self.machine.succeeded(task_id, attempt, value, served=served)
        return True

    def key(self, task_id: int) -> str:
        """The cache key of the task's next attempt, from the run's state now."""
        inputs = self.inputs
        task = inputs.tasks[task_id]
        name = task.name
        scope = inputs.scope(task_id)
        from flowbuilder.caching import default_cache_key, explicit_cache_key

        policy = self.policies[task_id]
        assert policy is not None
        if policy.key is not None:
            from flowbuilder.expressions import as_text, render

            return explicit_cache_key(self.workflow, name, as_text(render(policy.key, scope)))
        machine = self.machine
        if task.foreach is not None:
            config: Any = {"config": task.config, "items": inputs.foreach_items(task_id, scope)}
        elif task_id in self.plan.expression_tasks:
            config = inputs.config(task_id, scope)
        else:
            config = self.plan.configs[task_id]
        names = machine.names
        dependencies = {names[p]: machine.outputs[p] for p in self.plan.predecessors[task_id]}
        if task.outputs:
            dependencies["$outputs"] = dict(task.outputs)  # what `outputs:` makes of the result is part of it
        return default_cache_key(self.workflow, name, task.type, config, inputs.env(task_id, scope), dependencies,
                                 inputs.params)  # fmt: skip

    def _value_of(self, name: str, recorded: Any) -> Any:
        """What dependents in this run receive: the recorded output, a table read back by its reference."""
        from flowbuilder.tables import is_table_reference

        if not is_table_reference(recorded):
            return recorded
        from flowrunner._outputs import restored_output

        return restored_output(self.store, name, recorded)

    # -- after the attempt ------------------------------------------------------------------

    def succeeded(self, task_id: int, attempt: int, output: Any) -> None:
        """The driver's ``succeeded``: the machine records the success, then a miss is stored."""
        machine = self.machine
        machine.succeeded(task_id, attempt, output)
        key = self.misses.pop(task_id, None) if self.misses else None
        if key is None:
            return
        name = machine.names[task_id]
        recorded = self._recorded(name, attempt)
        if recorded is None:
            return  # the success was refused (output limits, `outputs:` failed): recorded as a failure
        output_form = recorded.get("output")
        named = recorded.get("outputs") or {}
        masker = self.masker
        if masker is not None and (masker.mask_value(output_form) != output_form or masker.mask_value(named) != named):
            self._note(name, attempt, "result not cached: it holds a secret's value")
            return
        policy = self.policies[task_id]
        assert policy is not None
        from flowbuilder.caching import CachedResult

        now = time.time()
        entry = CachedResult(self.workflow, name, key, output_form, named, machine.run_id, now,
                             None if policy.ttl is None else now + policy.ttl)  # fmt: skip
        try:
            self.store.put_cached_result(entry)
        except Exception as error:  # the task succeeded; failing to cache it must not undo that
            self._note(name, attempt, f"result not cached: {_reason(error)}")

    def _recorded(self, name: str, attempt: int) -> Mapping[str, Any] | None:
        """The data of the ``task_succeeded`` just emitted (not flushed yet): the output as recorded.

        Read back rather than made again, because making it writes a table to the store: the
        cache keeps the very reference the run recorded.
        """
        for event in reversed(self.writer.pending):
            if event.kind is EventKind.TASK_SUCCEEDED and event.task == name and event.attempt == attempt:
                return event.data
        return None

    def _note(self, task: str, attempt: int, text: str) -> None:
        self.writer.log(LogLine(task, attempt, "system", text))


def _reason(error: Exception) -> str:
    """One line for a log: a FlowBuilderError's message as it is, anything else with its type."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if isinstance(error, FlowBuilderError) else f"{type(error).__name__}: {text}"


__all__ = ["AttemptCache", "attempt_cache_for"]
