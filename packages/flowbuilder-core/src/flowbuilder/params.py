"""Checking the parameters a run is given against the workflow's ``params``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from flowbuilder.errors import FlowBuilderError, quoted

if TYPE_CHECKING:
    from flowbuilder.model import Workflow


class ParamError(FlowBuilderError):
    """A run was given a parameter the workflow does not declare, or a value of the wrong type."""

    exit_status = 2


def parse_param_assignments(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["n=3", "name=x"]`` (from ``--param``) as a dict; values stay text until checked."""
    given: dict[str, str] = {}
    for assignment in assignments:
        try:
            assignment.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 reach argv as lone surrogates
            raise ParamError(
                f"--param '{shown_argument(assignment)}': not valid UTF-8 text; pass it as UTF-8"
            ) from None
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"--param {quoted(assignment)}: write NAME=VALUE")
        given[name.strip()] = value
    return given


def shown_argument(text: str) -> str:
    """``p=\\xff\\xfe`` for the argument ``p=`` followed by two bytes that are not UTF-8."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        return text.encode("utf-8", "backslashreplace").decode("ascii")
    return raw.decode("utf-8", "backslashreplace")


def _refuse_lone_surrogates(given: Mapping[str, Any]) -> None:
    """A ParamError for a name or value holding text that is not valid Unicode.

    JSON may spell a lone surrogate (``"\\ud800"``) and Python decodes it, but no store,
    log or answer can encode it as UTF-8: left in, it failed the run's first write (an API
    start answered 500) and an error quoting the name could not be sent either.
    """
    import json

    for name, value in given.items():
        try:
            json.dumps([name, value], ensure_ascii=False, default=str).encode("utf-8")
        except UnicodeEncodeError:
            shown = str(name).encode("utf-8", "backslashreplace").decode("utf-8")
            raise ParamError(
                f"param {shown!r}: holds text that is not valid Unicode (a lone surrogate); send UTF-8 text"
            ) from None
        except (TypeError, ValueError):  # not JSON-like (a circular value): param.check says why
            continue


def resolve_params(workflow: Workflow, given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``given``, each converted to its declared type."""
    _refuse_lone_surrogates(given)
    declared = workflow.params
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ParamError(f"unknown param {quoted(unknown[0])} for workflow {workflow.name!r} (declared: {known})")
    resolved: dict[str, Any] = {}
    for name, param in declared.items():
        if name in given:
            try:
                resolved[name] = param.check(given[name], f"param {name!r}:")
            except ValueError as error:
                raise ParamError(str(error)) from None
        elif param.default is not None:
            resolved[name] = param.default
        elif param.is_required:
            raise ParamError(f"param {name!r} of workflow {workflow.name!r} is required; pass --param {name}=VALUE")
    return resolved


def resume_params(workflow: Workflow, stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The params of a resumed run: what it stored, with its ``secret: true`` params given again.

    A run's record never holds a secret param's value (it stores ``***``), so resuming needs
    each such value again; every other param keeps the value the run started with, and
    giving one is an error rather than a silent change of what the run means.
    """
    from flowbuilder.secrets import MASK

    _refuse_lone_surrogates(given)
    declared = workflow.params
    secret = {name for name, param in declared.items() if param.secret}
    changed = sorted(set(given) - secret)
    if changed:
        raise ParamError(
            f"param {changed[0]!r}: a resumed run keeps the params it started with; only secret params are given again"
        )
    resolved = dict(stored)
    for name in sorted(secret):
        if name in given:
            try:
                resolved[name] = declared[name].check(given[name], f"param {name!r}:")
            except ValueError as error:
                raise ParamError(str(error)) from None
        elif stored.get(name) == MASK:
            raise ParamError(
                f"param {name!r} is secret, so the run's record does not hold it;"
                f" pass it again with --param {name}=VALUE"
            )
    return resolved


__all__ = [
    "ParamError",
    "parse_param_assignments",
    "resolve_params",
    "resume_params",
    "shown_argument",
]
