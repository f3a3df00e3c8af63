"""The error hierarchy of FlowBuilder.

Errors are part of the interface: every error a user can cause carries a message that says
what is wrong and what to do, and the CLI prints it on one line without a traceback.
Plugins raise these types (or subclasses) so the CLI and the API can tell user errors from
bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from flowbuilder.expressions import ExpressionError
    from flowbuilder.interfaces.tasktype import TaskFailure
    from flowbuilder.params import ParamError


QUOTED_CHARACTERS = 200
"""How much of a user's value an error message quotes (see :func:`quoted`): enough for a deep
path or a long store URL whole, not a 100 KB argument."""


def quoted(value: object, limit: int = QUOTED_CHARACTERS) -> str:
    """A user's value (a run id, a task name, a store URL, a param) as an error quotes it.

    ``repr`` of the text, cut to its first ``limit`` characters and then saying how long it
    was: ``'aaaa'… (100,000 characters)``. Why: errors quoted arguments in full, so a 100 KB
    run id made a 100 KB "one-line" error. Every message that quotes a user's value uses
    this, so the cap and its wording are the same everywhere.
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    return cut(repr(value), limit)


def cut(text: str, limit: int = QUOTED_CHARACTERS) -> str:
    """``text`` as :func:`quoted` shows a value, without the quotes: for a value shown bare
    (``there is no store at URL``) and for a reason that repeats one (an ``OSError`` naming
    a 100 KB path)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


class FlowBuilderError(Exception):
    """Base class of every error FlowBuilder reports to a user.

    ``exit_status`` is the process exit status the CLI uses when this error ends a command
    (not ``exit_code``: :class:`~flowbuilder.interfaces.TaskFailure` uses that name for the
    exit code of a task's process).
    """

    exit_status: int = 1


class ConfigurationError(FlowBuilderError):
    """Bad configuration: ``flowbuilder.toml``, an environment variable or a command-line flag."""


class PluginError(FlowBuilderError):
    """A plugin broke the contract (duplicate names, wrong return types, import failures)."""


class NotInstalledError(FlowBuilderError):
    """A feature needs a package that is not installed; the message names the package."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a workflow file, located to the line and column (both 1-based)."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None

    def format(self) -> str:
        """``FILE:LINE:COL: message (hint)`` on one line."""
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text.replace("\n", " ")


class WorkflowError(FlowBuilderError):
    """A workflow file is invalid. Holds every problem found, in line order.

    The CLI exits with status 2 for these, so scripts can tell an invalid workflow (2) from a
    failed run (1).
    """

    exit_status = 2

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics: list[Diagnostic] = sorted(diagnostics, key=lambda d: (d.file, d.line, d.column, d.message))
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class StoreError(FlowBuilderError):
    """A store could not be opened, read or written; the message says what to do."""


def unreadable_record(what: str, error: BaseException) -> StoreError:
    """The one-line error for a stored record a decoder cannot read (damaged bytes, or a
    value a newer release added), instead of the bare ``ValueError``/``KeyError`` that the
    CLI reports as an internal error (exit 70)."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
    return StoreError(f"{what} cannot be read ({type(error).__name__}: {reason}): the store is damaged or was"
                      " written by a newer release; upgrade FlowBuilder, or restore the store from a backup")  # fmt: skip


UNREADABLE_RECORD = (ValueError, KeyError, TypeError, AttributeError, RecursionError)
"""What decoding a stored record raises when its bytes are not what this release wrote."""


class SequenceConflictError(StoreError):
    """An append was refused because another writer advanced the run first.

    Raised by :meth:`flowbuilder.Store.append_events` when ``expected_seq`` is not the run's
    last sequence number. Nothing of the refused batch was written.
    """

    def __init__(self, run_id: str, expected_seq: int, actual_seq: int):
        self.run_id = run_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq
        super().__init__(
            f"run {run_id}: expected last event {expected_seq} but the store has {actual_seq};"
            " another writer advanced this run"
        )


class StaleLeaderError(StoreError):
    """A fenced append was refused: a newer leader has written to the same fence scope.

    Raised by :meth:`flowbuilder.Store.append_fenced_events` (and
    :meth:`~flowbuilder.interfaces.event_log.EventLog.raise_fence`) when ``token`` is lower
    than the highest token the store has seen for ``scope``. Nothing of the refused batch was
    written. The writer was deposed (its leadership ended and another node took over): it
    must stop writing for that scope, not retry (see :mod:`flowbuilder.fencing`).
    """

    def __init__(self, scope: str, token: int, highest: int):
        self.scope = scope
        self.token = token
        self.highest = highest
        super().__init__(f"the store refused a write fenced with token {token} in {scope!r}: a newer leader holds"
                         f" token {highest}, so this process was deposed and stops writing")  # fmt: skip


class RunNotFoundError(StoreError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str, where: str = "in this store (list runs with `flowbuilder runs list`)"):
        self.run_id = run_id
        super().__init__(f"no run {quoted(run_id)} {where}")


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs of every package
    (store, bus, registry and workers URLs); even a URL ``urlsplit`` refuses, whose error
    message would otherwise print the password in clear."""
    import re
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # e.g. "Invalid IPv6 URL": hide whatever stands between "//" and "@"
        return re.sub(r"//[^/?#]*@", "//***@", url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, parts.fragment))


class NoStoreError(StoreError):
    """A command that only reads found no store at the URL it would read (and created none)."""

    def __init__(self, url: str):
        self.url = url
        super().__init__(f"there is no store at {cut(shown_url(url))}")


class DuplicateRunError(FlowBuilderError):
    """A run was refused because its idempotency key already names a run (issue 11.1).

    ``existing_run_id`` is that run: a scheduled logical time that already ran, or a
    backfill repeated over a range. Callers that only want the run to exist use it.
    """

    def __init__(self, key: str, existing_run_id: str):
        super().__init__(f"{key} already has run {existing_run_id}; a logical time never gets two runs")
        self.key = key
        self.existing_run_id = existing_run_id


class RunCancelledError(FlowBuilderError):
    """A run was cancelled (by a signal or a cancel request)."""

    exit_status = 130


# Errors defined beside what raises them, also importable from here (where users look
# for errors); loaded on first use so that importing this module stays cheap.
_DEFINED_ELSEWHERE = {
    "ExpressionError": "flowbuilder.expressions",
    "ParamError": "flowbuilder.params",
    "TaskFailure": "flowbuilder.interfaces.tasktype",
}


def __getattr__(name: str) -> Any:
    module_name = _DEFINED_ELSEWHERE.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowbuilder.errors' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "ConfigurationError",
    "Diagnostic",
    "DuplicateRunError",
    "ExpressionError",
    "FlowBuilderError",
    "NoStoreError",
    "NotInstalledError",
    "ParamError",
    "PluginError",
    "QUOTED_CHARACTERS",
    "RunCancelledError",
    "RunNotFoundError",
    "SequenceConflictError",
    "StaleLeaderError",
    "StoreError",
    "TaskFailure",
    "WorkflowError",
    "cut",
    "quoted",
    "shown_url",
]
