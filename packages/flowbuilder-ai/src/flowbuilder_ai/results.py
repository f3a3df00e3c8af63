"""Task results of stored runs: for each execution that succeeded, a digest of its inputs and of its output.

The advisor's cache rule (:mod:`flowbuilder_ai.advisor`, ``cache_candidate``) groups a task's
executions by what went in and checks that the same inputs always gave the same output.
Both digests are computed offline, from what the store keeps anyway, so no run pays for
them and history recorded before this module existed counts too:

* **inputs** — the task as the run's stored definition writes it (``type``, ``config`` and
  ``env`` as written, ``foreach``, ``outputs``), the workflow's ``env``, the run's params
  (its ``run_created``), and the outputs its direct dependencies recorded earlier in the
  run (``depends_on``);
* **output** — the ``output`` and named ``outputs`` its ``task_succeeded`` recorded.

A table output (kept as a blob, :mod:`flowbuilder.tables`) enters both by the SHA-256 of its
blob's bytes, so two runs that produced the same table agree although their references
differ; a blob that is gone stands for a value no other execution shares.

What the input digest cannot see, compared with the runner's cache key
(:func:`flowbuilder.caching.default_cache_key`, made from the *rendered* config and env):
secret values (never stored) and ``run.id`` / ``run.logical_time``. There the digest is the
coarser one (it puts together runs the key tells apart), so "the same inputs gave the same
output" is a stricter test than the cache will apply; the advisor leaves out tasks whose
expressions read ``run.``, whose key would change every run. It is finer only where a
definition edit renders to the same value (fewer repeats, never a wrong proposal). What
neither sees (a file the command reads, the clock, a remote service) is why a proposal is
evidence, not proof.

Executions served from the cache (their ``task_succeeded`` records ``cached``) are kept but
marked ``served``: they did not run, so they are no evidence of determinism.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, Iterable

import polars as pl

if TYPE_CHECKING:
    from flowbuilder.interfaces import Store
    from flowbuilder_ai.history import ExportedRun

RESULT_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "workflow": pl.Utf8,
    "task": pl.Utf8,
    "attempt": pl.Int64,
    "finished_at": pl.Float64,
    "duration": pl.Float64,
    "input_digest": pl.Utf8,  # null when the run's definition is gone or does not name the task
    "output_digest": pl.Utf8,
    "output_empty": pl.Boolean,  # null, "", [] or {}: the task is run for what it does
    "served": pl.Boolean,  # served from the result cache: did not run
}
"""The columns of :func:`results_of`: one row per ``task_succeeded``, in the order they were recorded."""

_TASK_FIELDS = ("type", "config", "env", "foreach", "outputs")
"""What of a task's definition goes into its input digest (what the cache key covers, as written)."""


class _Definition:
    """What the digests need of one stored definition: the workflow's env and each task's fields."""

    __slots__ = ("env", "tasks", "upstream")

    def __init__(self, document: Any):
        document = document if isinstance(document, dict) else {}
        self.env = document.get("env") or {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.upstream: dict[str, list[str]] = {}
        tasks = document.get("tasks")
        for task in tasks if isinstance(tasks, list) else []:
            if isinstance(task, dict) and isinstance(task.get("name"), str):
                self.tasks[task["name"]] = {key: task.get(key) for key in _TASK_FIELDS}
                needs = task.get("depends_on") or []
                self.upstream[task["name"]] = [needs] if isinstance(needs, str) else [str(n) for n in needs]


_NO_DEFINITION = _Definition(None)


def _definition(store: Store, digest: Any, cache: dict[str, _Definition]) -> _Definition:
    if not isinstance(digest, str) or not digest:
        return _NO_DEFINITION
    found = cache.get(digest)
    if found is None:
        try:
            import yaml

            found = _Definition(yaml.safe_load(store.load_definition(digest)))
        except Exception:  # a definition that is gone or unreadable: no input digests for that run
            found = _NO_DEFINITION
        cache[digest] = found
    return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class _Tables:
    """Table references replaced by the digest of their blob's bytes, each blob read once."""

    def __init__(self, store: Store):
        self.store = store
        self.digests: dict[str, str] = {}

    def content(self, value: Any) -> Any:
        """``value`` with every table reference in it replaced by ``{"$table": sha256}``."""
        if isinstance(value, dict):
            from flowbuilder.tables import is_table_reference

            if is_table_reference(value):
                return {"$table": self._digest(str(value["$blob"]))}
            return {key: self.content(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.content(item) for item in value]
        return value

    def _digest(self, reference: str) -> str:
        found = self.digests.get(reference)
        if found is None:
            try:
                found = hashlib.sha256(self.store.get_blob(reference)).hexdigest()
            except Exception:  # gone (its run was deleted) or unreadable: equal to nothing else
                found = f"missing:{reference}"
            self.digests[reference] = found
        return found

    def canonical(self, value: Any) -> str:
        """The canonical JSON of ``value``, tables by content (walked only when one may be inside)."""
        text = _canonical(value)
        return _canonical(self.content(value)) if '"$blob"' in text else text


def _is_empty(output: Any) -> bool:
    return output is None or (isinstance(output, (str, list, dict)) and not output)


class RunResults:
    """Builds result rows from one run's events, in sequence order (:meth:`add`)."""

    def __init__(self, store: Store, run_id: str, definitions: dict[str, _Definition], tables: _Tables):
        self.store = store
        self.run_id = run_id
        self.workflow = ""
        self.params: Any = {}
        self.definition = _NO_DEFINITION
        self.outputs: dict[str, Any] = {}
        """Each task's latest recorded output in this run (its dependents' inputs)."""
        self._definitions = definitions
        self._tables = tables

    def add(self, kind: str, task: Any, attempt: Any, data: Any, when: float) -> dict[str, Any] | None:
        """Feed one event; returns the row of a ``task_succeeded``, None for any other event."""
        data = data if isinstance(data, dict) else {}
        if kind == "run_created":
            self.workflow = str(data.get("workflow") or "")
            self.params = data.get("params") or {}
            self.definition = _definition(self.store, data.get("definition_hash"), self._definitions)
            return None
        if kind != "task_succeeded" or not isinstance(task, str):
            return None
        output = data.get("output")
        named = data.get("outputs") or {}
        row = {
            "run_id": self.run_id, "workflow": self.workflow, "task": task,
            "attempt": attempt if isinstance(attempt, int) else 1, "finished_at": when,
            "duration": float(data["duration"]) if isinstance(data.get("duration"), (int, float)) else None,
            "input_digest": self._input_digest(task),
            "output_digest": _sha256(self._tables.canonical({"output": output, "outputs": named})),
            "output_empty": _is_empty(output) and not named, "served": "cached" in data,
        }  # fmt: skip
        self.outputs[task] = output
        return row

    def _input_digest(self, task: str) -> str | None:
        definition = self.definition
        spec = definition.tasks.get(task)
        if spec is None:
            return None
        inputs = {name: self.outputs.get(name) for name in definition.upstream.get(task, ())}
        document = {"task": spec, "workflow_env": definition.env, "params": self.params, "inputs": inputs}
        return _sha256(self._tables.canonical(document))


def results_of(store: Store, runs: Iterable[ExportedRun], workflow: str | None = None) -> pl.DataFrame:
    """The result rows (:data:`RESULT_SCHEMA`) of exported ``runs``, of ``workflow`` only if given.

    Reads each distinct stored definition once and each table blob an output refers to once.
    """
    rows: list[dict[str, Any]] = []
    definitions: dict[str, _Definition] = {}
    tables = _Tables(store)
    for run_id, events in runs:
        builder = RunResults(store, run_id, definitions, tables)
        for event in events:
            row = builder.add(str(event.get("k")), event.get("n"), event.get("a"), event.get("d"),
                              float(event.get("t") or 0.0))  # fmt: skip
            if row is not None:
                rows.append(row)
    frame = pl.DataFrame(rows, schema=RESULT_SCHEMA)
    return frame.filter(pl.col("workflow") == workflow) if workflow is not None else frame


def load_results(store: Store, workflow: str | None = None) -> pl.DataFrame:
    """:func:`results_of` the stored runs of ``workflow`` (or all runs), read through the analytics export."""
    from flowbuilder_ai.history import export_runs

    return results_of(store, export_runs(store, workflow), workflow)


def empty_results() -> pl.DataFrame:
    """A frame with the columns of :func:`results_of` and no rows."""
    return pl.DataFrame(schema=RESULT_SCHEMA)


__all__ = ["RESULT_SCHEMA", "RunResults", "empty_results", "load_results", "results_of"]
