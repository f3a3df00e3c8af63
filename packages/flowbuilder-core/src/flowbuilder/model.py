"""The workflow model: what a workflow file means, as pydantic v2 models.

The same models serve YAML files, workflows built in Python code and the JSON Schema that
``flowbuilder schema`` exports for editors. They are strict about shape (unknown fields are
errors, so a typo never silently does nothing) and forgiving about YAML's scalar quirks
where a string is meant (``version: 1.10`` stays ``"1.10"``).

A task's ``config`` is free-form here; the plugin that registers the task's ``type``
validates it with its own model (see :class:`flowbuilder.interfaces.TaskType`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from flowbuilder._model_sharing import share_model_parts
from flowbuilder._scalar_text import source_text
from flowbuilder.errors import quoted
from flowbuilder.limits import (
    DEFAULT_MAX_CATCHUP,
    MAX_CACHE_TTL_SECONDS,
    MAX_CATCHUP_LIMIT,
    MAX_INTERVAL_SECONDS,
    MAX_MATRIX_ITEMS,
    matrix_size,
)

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$"
"""Workflow, task, param and pool names. A leading digit is allowed (``1000genome``), as in
Airflow and Argo; such a name, like one holding ``-``, is read in expressions as
``tasks['1000genome']``, since ``tasks.1000genome`` is not an attribute name."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _as_text(value: Any) -> Any:
    """Accept any YAML scalar where text is meant, using the text it was written as.

    Booleans are refused with a quoting hint rather than turned into text: ``name: true``
    is far more likely a slip than a wish to call something "true".
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        shown = "true" if value else "false"
        raise ValueError(f'YAML reads {shown} as a boolean, not text; write "{shown}" in quotes if you mean the text')
    text = source_text(value)
    if text is None:
        return value  # let pydantic report the wrong type
    return text


def parse_duration(value: Any) -> Any:
    """Seconds from ``30``, ``2.5``, ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like '30s', '5m', '1h'")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration; write seconds (30) or '500ms', '30s', '5m', '1h', '1d'")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


# The JSON Schema must accept what the models accept, read the way an editor reads YAML 1.2
# (``version: 1.10`` is a number there, ``timeout: 5m`` a string).
_TEXT_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "number"}]}
_NAME_SCHEMA = {"type": "string", "pattern": NAME_PATTERN}
_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": _DURATION.pattern},
    ],
    "description": "Seconds (30, 2.5) or text with a unit: '500ms', '30s', '5m', '1h', '1d'.",
}

Text = Annotated[str, BeforeValidator(_as_text), WithJsonSchema(_TEXT_SCHEMA)]
Name = Annotated[str, BeforeValidator(_as_text), Field(pattern=NAME_PATTERN)]
Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0), WithJsonSchema(_DURATION_SCHEMA)]
"""A positive duration in seconds; YAML may say ``30``, ``"30s"``, ``"5m"``."""


class _Model(BaseModel):
    # defer_build: a model's schema is built by its first validation, not when this module is
    # imported, so that a run whose workflow comes from the start-up cache
    # (flowbuilder._workflow_form_cache, which rebuilds models without validating) builds none.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class RetryPolicy(_Model):
    """How often and how patiently a failed task is tried again.

    The delay before attempt ``n+1`` is ``min(max_delay, backoff * multiplier**(n-1))``,
    then spread by up to ``jitter`` (a fraction) either way so that retries of many tasks do
    not arrive together.
    """

    attempts: int = Field(1, ge=1, le=1000, description="Total attempts, including the first.")
    backoff: Duration = Field(1.0, description="Delay before the first retry, in seconds.")
    multiplier: float = Field(2.0, ge=1.0, le=100.0, description="Factor applied to the delay after each retry.")
    max_delay: Duration = Field(300.0, description="Upper bound of any single delay, in seconds.")
    jitter: float = Field(0.1, ge=0.0, le=1.0, description="Random spread of each delay, as a fraction of it.")
    retry_on: list[Text] = Field(
        default_factory=list,
        description=(
            "Which failures are retried; empty means every failure. Conditions: 'error' (any failure),"
            " 'timeout', 'exit:N' (a process exit code), 'status:N' or 'status:5xx' (an HTTP status)."
        ),
    )

    @field_validator("retry_on")
    @classmethod
    def _known_conditions(cls, conditions: list[str]) -> list[str]:
        for condition in conditions:
            if not re.fullmatch(r"error|timeout|exit:-?\d+|status:(\d{3}|[1-5]xx)", condition):
                raise ValueError(
                    f"unknown retry condition {condition!r}; use 'error', 'timeout', 'exit:N', 'status:N' or 'status:5xx'"
                )
        return conditions


OnItemFailure = Literal["fail_fast", "continue"]
"""What a ``foreach`` task does when one item fails for good (its retries used up)."""


class Foreach(_Model):
    """Fan a task out over a list known only at run time (one dynamic task per item).

    Give exactly one of ``items`` (a list) or ``matrix`` (named lists whose cartesian
    product are the items, each a mapping of axis name to value); the compiler reports a
    file with both or neither.
    """

    items: Text | list[Any] | None = Field(None, description="A list, or an expression that yields one.")
    matrix: dict[Name, Text | list[Any]] | None = Field(
        None,
        description=(
            "Named lists (or expressions yielding lists) whose cartesian product are the items;"
            " each item maps every name to one value; the last name varies fastest."
        ),
    )
    max_parallel: int | None = Field(None, ge=1, description="How many items run at once (default: no extra limit).")
    on_item_failure: OnItemFailure = Field(
        "fail_fast",
        description=(
            "fail_fast: the first item that fails for good cancels the others and fails the task;"
            " continue: every item runs, and the task fails at the end if any item failed."
        ),
    )


ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]
_PARAM_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class Param(_Model):
    """A typed workflow parameter, overridable from the CLI (``--param k=v``) and the API."""

    type: ParamType = "string"
    default: Any = None
    description: Text | None = None
    required: bool = Field(False, description="A run must supply it (implied when there is no default).")
    choices: list[Any] | None = Field(None, description="The only values allowed.")
    secret: bool = Field(
        False,
        description="A secret value: masked as *** in every event, log, output and error, and not kept"
        " in the run's record (give it again to resume). Prefer ${{ secrets.NAME }} for credentials.",
    )

    @model_validator(mode="after")
    def _default_fits_type(self) -> Param:
        if self.secret and self.default is not None:
            raise ValueError(
                "a secret param cannot have a default: the workflow file is stored with each run;"
                " pass the value with --param, or read it with ${{ secrets.NAME }}"
            )
        if self.default is not None:
            self.check(self.default, "default")
        return self

    def check(self, value: Any, what: str = "value") -> Any:
        """Return ``value`` converted to this param's type, or raise ``ValueError`` saying why.

        The reason never quotes the value of a ``secret`` param.
        """
        shown = "(secret value)" if self.secret else quoted(value)
        if self.type == "string":
            text = source_text(value) if not isinstance(value, (list, dict)) else None
            if text is None:
                raise ValueError(f"{what} {shown} is not a string")
            value = text
        elif self.type in ("integer", "number") and isinstance(value, str):
            try:
                value = int(value) if self.type == "integer" else float(value)
            except ValueError:
                raise ValueError(
                    f"{what} {shown} is not {'an integer' if self.type == 'integer' else 'a number'}"
                ) from None
        elif self.type == "boolean" and isinstance(value, str):
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise ValueError(f"{what} {shown} is not a boolean (true or false)")
            value = lowered == "true"
        elif self.type in ("array", "object") and isinstance(value, str):
            value = _json_param(value, self.type, what, shown)
        allowed = _PARAM_PYTHON_TYPES[self.type]
        if not isinstance(value, allowed) or (self.type != "boolean" and isinstance(value, bool)):
            raise ValueError(f"{what} {shown} is not of type {self.type}")
        if self.type == "number" and isinstance(value, float) and not math.isfinite(value):
            # 'nan' and 'inf' parse as floats but are no numbers a task can use (and read as
            # variable names in shell arithmetic); a number param is a finite number. An int is
            # always finite: math.isfinite raised OverflowError on one past a float's range (a
            # 400-digit JSON number was a 500 from POST /api/v1/runs).
            raise ValueError(f"{what} {shown} is not a finite number")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{what} {shown} is not one of {self.choices}")
        return value

    @property
    def is_required(self) -> bool:
        return self.required or self.default is None


def _json_param(text: str, kind: str, what: str, shown: str) -> Any:
    """An ``array`` or ``object`` param given as text (``--param regions='["eu", "us"]'``), read as JSON.

    Why: the command line has only text, and these two types had no way in from it (``'["eu"]'
    is not of type array``). JSON's ``NaN`` and ``Infinity`` are refused as a ``number`` param's
    are; the reason never quotes the text (it may be a secret).
    """
    import json

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(text, parse_constant=no_constant)
    except (ValueError, RecursionError):
        example = '\'["a", "b"]\'' if kind == "array" else '\'{"key": "value"}\''
        raise ValueError(f"{what} {shown} is not a JSON {kind}; write it as JSON, e.g. {example}") from None


class CachePolicy(_Model):
    """Serve the task from an earlier run's result when its key matches (docs/dsl.md, "cache").

    ``cache: true`` is this with its defaults: the key covers the task's definition and
    rendered inputs, and entries never expire.
    """

    key: Text | None = Field(
        None,
        description=(
            "Text (usually an expression) whose rendered value alone decides, within the workflow and task,"
            " e.g. '${{ params.day }}'. Default: a hash of the task's type, rendered config and env, its"
            " dependencies' outputs and the run's params."
        ),
    )
    ttl: Duration | None = Field(
        None,
        le=MAX_CACHE_TTL_SECONDS,
        description="How long an entry serves ('30m', '1h', '7d'); default: until cleared.",
    )

    @field_validator("key")
    @classmethod
    def _key_not_blank(cls, key: str | None) -> str | None:
        if key is not None and not key.strip():
            raise ValueError("an empty key would give every run the same entry; omit `key` for the default key")
        return key


def _cache_setting(value: Any) -> Any:
    """``cache: true`` is the default policy, ``cache: false`` none; a mapping is validated as a policy."""
    if value is True:
        return CachePolicy()
    if value is False:
        return None
    if value is None or isinstance(value, (str, int, float, list)):
        raise ValueError(f"cache must be true, false or a mapping like {{key: ..., ttl: 1h}}, not {value!r}")
    return value


_CACHE_SCHEMA = {
    "anyOf": [
        {"type": "boolean"},
        {
            "type": "object",
            "properties": {"key": _TEXT_SCHEMA, "ttl": _DURATION_SCHEMA},
            "additionalProperties": False,
        },
    ],
    "description": "true, false, or {key: TEXT, ttl: DURATION}.",
}
CacheSetting = Annotated[CachePolicy | None, BeforeValidator(_cache_setting), WithJsonSchema(_CACHE_SCHEMA)]
"""``cache:`` of a task or of ``defaults``: ``true`` (the default policy), ``false`` (None) or ``{key, ttl}``."""


LOCK_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,199}$"
"""A task lock's name: one word of letters, digits and ``_ . : / -`` (``deploy-prod``, ``db/main``)."""
DEFAULT_LOCK_TTL = 30.0
"""Seconds a lock outlives a holder that stopped renewing it (a killed process), unless ``ttl`` says."""
MIN_LOCK_TTL = 1.0
MAX_LOCK_TTL = 86400.0
_LOCK_NAME = re.compile(LOCK_NAME_PATTERN)


def _lock_name(value: Any) -> Any:
    value = _as_text(value)
    if isinstance(value, str) and "${{" in value:
        return value  # rendered when the task starts, and checked then (flowrunner._locks)
    if isinstance(value, str) and not _LOCK_NAME.match(value):
        raise ValueError(f"a lock name is 1 to 200 letters, digits and _ . : / - (not starting with . : / -),"
                         f" e.g. deploy-prod; not {value!r}")  # fmt: skip
    return value


LockName = Annotated[str, BeforeValidator(_lock_name), WithJsonSchema({"type": "string"})]
"""A lock name (:data:`LOCK_NAME_PATTERN`), or text with expressions (``deploy-${{ params.env }}``)."""


class TaskLock(_Model):
    """A distributed lock a task's attempt holds while it runs (docs/dsl.md, "lock").

    ``lock: NAME`` is this with the default ``ttl``. Every process whose runs share the store
    (``--store``) shares the lock: one attempt holds it at a time, and the holder's fencing
    token reaches the task as ``FLOWBUILDER_LOCK_TOKEN``.
    """

    name: LockName = Field(description="The lock shared by every run on the store, e.g. 'deploy-prod'.")
    ttl: Duration = Field(
        DEFAULT_LOCK_TTL,
        ge=MIN_LOCK_TTL,
        le=MAX_LOCK_TTL,
        description="How long the lock outlives a holder that died (renewed every ttl/3 while it lives).",
    )


def _lock_setting(value: Any) -> Any:
    """``lock: NAME`` is a lock with the default ttl; a mapping is validated as ``{name, ttl}``."""
    if isinstance(value, str):
        return {"name": value}
    if value is None or isinstance(value, (bool, int, float, list)):
        raise ValueError(f"lock must be a name like deploy-prod or a mapping {{name: ..., ttl: 30s}}, not {value!r}")
    return value


_LOCK_NAME_SCHEMA = {"type": "string", "description": "deploy-prod, or with expressions: deploy-${{ params.env }}"}
_LOCK_SCHEMA = {
    "anyOf": [
        _LOCK_NAME_SCHEMA,
        {
            "type": "object",
            "properties": {"name": _LOCK_NAME_SCHEMA, "ttl": _DURATION_SCHEMA},
            "required": ["name"],
            "additionalProperties": False,
        },
    ],
    "description": "A lock name (deploy-prod) or {name: NAME, ttl: DURATION}.",
}
LockSetting = Annotated[TaskLock | None, BeforeValidator(_lock_setting), WithJsonSchema(_LOCK_SCHEMA)]
"""``lock:`` of a task or of ``defaults``: a name or ``{name, ttl}``."""


FailurePolicy = Literal["stop", "continue"]
RunIf = Literal["all_succeeded", "all_done", "any_failed", "always"]
"""A task's trigger rule: which ends of its dependencies let it start (docs/dsl.md, "run_if")."""


class TaskDefaults(_Model):
    """Settings every task inherits unless it sets its own."""

    retry: RetryPolicy | None = None
    timeout: Duration | None = None
    pool: Name | None = None
    priority: int | None = None
    on_failure: FailurePolicy | None = None
    cache: CacheSetting = Field(None, description="Cache every task's result (a task's own `cache` wins, `false` too).")
    lock: LockSetting = Field(None, description="The lock every task holds while it runs (a task's own `lock` wins).")


class WorkerPlacement(_Model):
    """Where a task's attempts may run when the run sends attempts to remote workers.

    Read by a remote attempt executor (``flowbuilder run --workers redis://...``): an attempt
    goes only to a live worker of ``group`` whose labels include every one of ``labels``.
    Without remote workers the field changes nothing: every attempt runs locally.
    """

    labels: list[Name] = Field(
        default_factory=list, max_length=32, description="Labels the worker must all have (linux, gpu, ...)."
    )
    group: Name | None = Field(None, description="The worker group (default: the group named 'default').")


class Task(_Model):
    """One node of the workflow graph."""

    name: Name = Field(description="Unique within the workflow; other tasks refer to it by this name.")
    type: Text = Field(description="The task type, registered by a plugin (shell, http, script, python, ...).")
    description: Text | None = None
    depends_on: Annotated[
        list[Name], WithJsonSchema({"anyOf": [_NAME_SCHEMA, {"type": "array", "items": _NAME_SCHEMA}]})
    ] = Field(default_factory=list, description="Tasks that must succeed before this one starts (a name or a list).")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the task type; checked by its own model."
    )
    retry: RetryPolicy | None = None
    timeout: Duration | None = Field(None, description="Per-attempt limit in seconds (or '30s', '5m').")
    deadline: Duration | None = Field(None, description="Limit over all attempts together, in seconds.")
    when: Text | None = Field(None, description="An expression; the task (and what needs it) is skipped when false.")
    priority: int | None = Field(None, ge=-1000, le=1000, description="Higher runs first among ready tasks.")
    pool: Name | None = Field(None, description="A named concurrency pool (see the workflow's `pools`).")
    foreach: Foreach | Text | list[Any] | None = Field(None, description="Fan out over a list at run time.")
    env: dict[Text, Text] = Field(default_factory=dict, description="Environment variables for this task.")
    outputs: dict[Name, Text] = Field(
        default_factory=dict,
        description="Named values derived from the result, e.g. {count: '${{ output.count }}'}.",
    )
    on_failure: FailurePolicy | None = Field(None, description="'stop' the run or 'continue' with other branches.")
    worker: WorkerPlacement | None = Field(
        None, description="Which remote workers may run it: {labels: [...], group: ...} (with --workers)."
    )
    cache: CacheSetting = Field(
        None, description="Serve the result from an earlier run with the same key: true, false or {key, ttl}."
    )
    lock: LockSetting = Field(
        None,
        description=(
            "Hold this distributed lock while an attempt runs: one holder at a time among all runs on the store;"
            " a name or {name, ttl}."
        ),
    )
    run_if: RunIf = Field(
        "all_succeeded",
        description=(
            "When the task starts, once its dependencies ended: 'all_succeeded' (default), 'all_done' (whatever"
            " their outcome), 'any_failed' (at least one failed, else skipped) or 'always' (also after a stop"
            " or a cancel: cleanup). Needs depends_on."
        ),
    )

    @field_validator("run_if")
    @classmethod
    def _run_if_needs_dependencies(cls, rule: str, info: ValidationInfo) -> str:
        # A rule about how dependencies ended means nothing without any: say so rather than ignore it.
        if rule != "all_succeeded" and not info.data.get("depends_on"):
            raise ValueError(f"{rule!r} needs depends_on: the rule says which ends of the dependencies start the task")
        return rule

    @field_validator("depends_on", mode="before")
    @classmethod
    def _single_dependency(cls, value: Any) -> Any:
        # Any scalar is one name: `depends_on: 123` names the task "123", as `[123]` does.
        return [value] if isinstance(value, (str, int, float)) else value

    @model_validator(mode="after")
    def _share_equal_parts(self) -> Task:
        # A wide workflow has 100,000s of tasks whose field sets and empty env/outputs are
        # alike: share them (flowbuilder._model_sharing; ~0.4 KB less per task).
        share_model_parts(self)
        return self

    @property
    def fanout(self) -> Foreach | None:
        """``foreach`` in its long form, whichever form the file used."""
        if self.foreach is None or isinstance(self.foreach, Foreach):
            return self.foreach
        return Foreach(items=self.foreach)


# -- schedule (issue 11.1): when a `flowbuilder scheduler` starts runs of the workflow -----

CatchupPolicy = Literal["none", "latest", "all"]
"""What a scheduler does with the logical times it missed while no scheduler ran."""


class Schedule(_Model):
    """``schedule:`` — either ``cron`` (with an optional ``timezone``) or ``every``.

    Checked when the file is loaded (a bad cron expression, an unknown timezone or a zero
    interval is a located error); croniter is imported only for workflows that have a cron
    schedule. See docs/dsl.md, "Schedules", and :mod:`flowbuilder.schedules`.
    """

    cron: Text | None = Field(
        None, description="Five fields (minute hour day month weekday), or six with seconds first."
    )
    every: Duration | None = Field(None, description="An interval in whole seconds ('15m', '1h', '30s').")
    timezone: Text | None = Field(None, description="IANA name the cron fields are read in (default UTC).")
    catchup: CatchupPolicy = Field(
        "latest", description="After downtime: run no missed time, only the latest, or all (up to max_catchup)."
    )
    max_catchup: int = Field(
        DEFAULT_MAX_CATCHUP, ge=1, le=MAX_CATCHUP_LIMIT, description="The most missed times `catchup: all` runs."
    )

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is not None:
            from flowbuilder.schedules import check_cron

            check_cron(value)
        return value

    @field_validator("every")
    @classmethod
    def _whole_seconds(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if value < 1 or value != int(value):
            raise ValueError(f"an interval is whole seconds, at least 1s (got {value:g}s); write '30s', '15m', '1h'")
        if value > MAX_INTERVAL_SECONDS:
            raise ValueError(f"an interval is at most {MAX_INTERVAL_SECONDS // 86400}d; use cron for longer periods")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            from flowbuilder.schedules import check_timezone

            check_timezone(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.every is None):
            raise ValueError(
                "a schedule has exactly one of `cron` and `every`, e.g. {cron: '0 2 * * *'} or {every: 15m}"
            )
        if self.every is not None and self.timezone is not None:
            raise ValueError("`timezone` applies to `cron` only: an interval counts seconds since 1970-01-01T00:00Z")
        return self


# -- triggers (issue 11.2, run-finished only): `flowbuilder scheduler` starts runs on events --

FinishedStatus = Literal["succeeded", "failed", "cancelled"]
TRIGGER_PAYLOAD_PARAMS = ("upstream_run_id", "upstream_workflow", "upstream_status")
"""What a ``run_finished`` trigger hands the run it starts: the params of these names that
the workflow declares receive the finished run's id, workflow name and status."""


class RunFinishedTrigger(_Model):
    """``on: {run_finished: {workflow: NAME, status: [...]}}``: start when a run of NAME ends so."""

    workflow: Name = Field(description="The workflow whose finished runs start this one.")
    status: list[FinishedStatus] = Field(
        default_factory=lambda: ["succeeded"],  # type: ignore[arg-type]
        min_length=1,
        description="Which endings count (default: succeeded).",
    )


# -- plugin and webhook triggers (issue 11.2): see flowbuilder.trigger_sources, flowbuilder.webhooks --

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class SourceTrigger(_Model):
    """``on: {source: {type: NAME, config: {...}}}``: a plugin's trigger source starts runs.

    ``type`` names a :class:`~flowbuilder.interfaces.TriggerSource` (core ships ``file``);
    ``config`` is checked by that source's ``config_model`` when the file is loaded.
    """

    type: Name = Field(description="The trigger source, e.g. 'file' (installed by a plugin).")
    config: dict[str, Any] = Field(default_factory=dict, description="Settings of the source; checked by its model.")


class WebhookTrigger(_Model):
    """``on: {webhook: {...}}``: a delivery (``flowbuilder trigger``, later the UI's server) starts a run."""

    secret_env: Annotated[str, Field(pattern=ENV_NAME_PATTERN)] | None = Field(
        None,
        description=(
            "The environment variable holding the HMAC-SHA256 secret a server checks each delivery's"
            " signature with (docs/dsl.md, Triggers); none: deliveries are not signed."
        ),
    )


class Triggers(_Model):
    """``on:`` — events that start runs of the workflow (handled by ``flowbuilder scheduler``)."""

    run_finished: RunFinishedTrigger | None = Field(None, description="Another workflow's run finished.")
    source: SourceTrigger | None = Field(None, description="A plugin's trigger source fired (e.g. type: file).")
    webhook: WebhookTrigger | None = Field(None, description="A webhook delivery (`flowbuilder trigger`).")

    @model_validator(mode="after")
    def _at_least_one(self) -> Triggers:
        if self.run_finished is None and self.source is None and self.webhook is None:
            raise ValueError("`on:` needs a trigger: run_finished, source or webhook")
        return self


# -- state machines (issue 11 item 9) -------------------------------------------------------
# A workflow with ``states:`` is a state machine whose entry and compensation actions are its
# tasks; flowbuilder.state_machines checks the whole (targets, reachability, guards) with
# located errors and compiles it for the runner.

SIGNAL_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$"
"""A signal a transition waits for: the names ``flowbuilder signal`` accepts."""
ActionOutcome = Literal["succeeded", "failed"]
"""How a state's entry actions ended: every one succeeded (or was skipped), or one failed."""


class Transition(_Model):
    """A way out of a state: on a signal, or on how the state's entry actions ended."""

    signal: Annotated[str, BeforeValidator(_as_text), Field(pattern=SIGNAL_NAME_PATTERN)] | None = Field(
        None, description="Taken when the run receives this signal (`flowbuilder signal RUN_ID NAME --data JSON`)."
    )
    outcome: ActionOutcome | None = Field(
        None, description="Taken when the state's on_enter actions have ended: 'succeeded' or 'failed'."
    )
    to: Name = Field(description="The state entered.")
    guard: Text | None = Field(
        None,
        description=(
            "An expression (${{ ... }}) that must be true for the transition to be taken; it reads signal.name,"
            " signal.payload, state.name, context, params and tasks."
        ),
    )
    compensate: bool = Field(
        False,
        description="Run the compensate actions of the states completed so far (newest first) before entering `to`.",
    )


class State(_Model):
    """One named state of a state-machine workflow."""

    name: Name
    description: Text | None = None
    on_enter: list[Name] = Field(
        default_factory=list, description="Tasks run when the state is entered (a small DAG of this workflow's tasks)."
    )
    compensate: list[Name] = Field(
        default_factory=list,
        description="Tasks that undo what on_enter did; run by a compensating transition or when the run fails.",
    )
    transitions: list[Transition] = Field(default_factory=list, description="Ways out of the state, tried in order.")
    final: bool = Field(False, description="The run ends successfully when it enters this state.")


class Workflow(_Model):
    """A whole workflow file."""

    name: Name
    version: Text = "1"
    description: Text | None = None
    params: dict[Name, Param] = Field(default_factory=dict)
    defaults: TaskDefaults = Field(default_factory=TaskDefaults)
    env: dict[Text, Text] = Field(default_factory=dict, description="Environment variables for every task.")
    pools: dict[Name, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="Named concurrency limits that tasks join with `pool`."
    )
    concurrency: int | None = Field(None, ge=1, description="At most this many tasks at once (default: the runner's).")
    on_failure: FailurePolicy = Field("stop", description="What a failed task does to the run (tasks may override).")
    sla: Duration | None = Field(
        None,
        description="How long a run may take ('30m'); flowbuilder-ai warns as soon as its predicted finish misses it.",
    )
    tasks: list[Task] = Field(min_length=1)
    schedule: Schedule | None = Field(None, description="When `flowbuilder scheduler` starts runs (docs/dsl.md).")
    on: Triggers | None = Field(
        None, description="Events that start runs: `run_finished`, `source`, `webhook` (docs/dsl.md, Triggers)."
    )

    def cache_policy(self, task: Task) -> CachePolicy | None:
        """The caching that applies to ``task``: its own ``cache`` when set (``false`` turns it off),
        else ``defaults.cache``. None: the task is not cached."""
        return task.cache if "cache" in task.model_fields_set else self.defaults.cache

    states: list[State] | None = Field(
        None, description="Make the workflow a state machine whose actions are its tasks (see `initial`)."
    )
    initial: Name | None = Field(None, description="With `states`: the state a run starts in.")

    def task(self, name: str) -> Task:
        """The task called ``name`` (``KeyError`` if there is none)."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)


def build_models() -> None:
    """Build the validators of every DSL model now rather than at their first validation.

    They are declared with ``defer_build`` (see ``_Model``); a long-lived process calls this
    up front (``RunService.warm``) so that its first run pays nothing for them.
    """
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, _Model) and value is not _Model:
            value.model_rebuild()


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema of the DSL, for editor autocompletion (``flowbuilder schema``)."""
    schema = Workflow.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "FlowBuilder workflow"
    return schema


__all__ = [
    "CachePolicy",
    "CacheSetting",
    "ActionOutcome",
    "DEFAULT_LOCK_TTL",
    "Duration",
    "FailurePolicy",
    "LOCK_NAME_PATTERN",
    "LockSetting",
    "Foreach",
    "MAX_MATRIX_ITEMS",
    "NAME_PATTERN",
    "Name",
    "OnItemFailure",
    "Param",
    "ParamType",
    "RetryPolicy",
    "RunIf",
    "CatchupPolicy",
    "FinishedStatus",
    "RunFinishedTrigger",
    "Schedule",
    "SourceTrigger",
    "WebhookTrigger",
    "TRIGGER_PAYLOAD_PARAMS",
    "Triggers",
    "SIGNAL_NAME_PATTERN",
    "State",
    "Task",
    "TaskLock",
    "TaskDefaults",
    "Text",
    "Transition",
    "WorkerPlacement",
    "Workflow",
    "build_models",
    "matrix_size",
    "parse_duration",
    "workflow_json_schema",
]
