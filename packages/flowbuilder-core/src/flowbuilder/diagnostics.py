"""Turning validation failures into located, actionable diagnostics.

A :class:`Locator` maps a path inside the workflow (``("tasks", 3, "retry", "attempts")``)
to the file, line and column where it was written; :func:`pydantic_diagnostics` turns
pydantic's errors into one-line messages with a hint ("did you mean ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from flowbuilder.errors import Diagnostic
from flowbuilder.gc_pause import gc_paused
from flowbuilder.limits import YamlLimits


@dataclass(frozen=True)
class Locator:
    """Where things are in one workflow source (a parsed file, or Python code without positions).

    A locator holds either a parsed ``document`` with positions or only the file's
    ``content`` (and the ``limits`` it was read with): the located document of a
    100,000-task file is over 100 MB and is needed only to place a problem or a lint
    warning, so the loader validates a document parsed without positions and keeps none.
    Such a locator parses ``content`` again the first time a position is asked for, and keeps
    that document for the next ones (bench/memory.py).
    """

    filename: str
    document: Any = None
    task_positions: tuple[int, ...] | None = None
    """When only some tasks of the document were compiled: the document index of each."""
    content: bytes | None = field(default=None, repr=False)
    """The source to parse again when a position is asked for and ``document`` is None."""
    limits: YamlLimits | None = field(default=None, repr=False)
    parsed: list[Any] = field(default_factory=list, repr=False, compare=False)
    """The document parsed from ``content`` once asked for (shared by ``dataclasses.replace`` copies)."""

    def at(self, path: tuple[Any, ...], message: str, hint: str | None = None, *, key: bool = False) -> Diagnostic:
        positions = self.task_positions
        if positions is not None and len(path) >= 2 and path[0] == "tasks" and isinstance(path[1], int):
            path = ("tasks", positions[path[1]], *path[2:])
        document = self._document()
        if document is None:
            return Diagnostic(self.filename, 1, 1, message, hint)
        from flowbuilder.yamlsource import mark_of  # PyYAML only once a problem is placed

        line, column = mark_of(document, path, key=key)
        return Diagnostic(self.filename, line, column, message, hint)

    def _document(self) -> Any:
        if self.document is not None or self.content is None:
            return self.document
        if not self.parsed:
            from flowbuilder.yamlsource import parse_yaml

            with gc_paused():  # it parsed before, with these limits: it parses again
                self.parsed.append(parse_yaml(self.content, self.filename, self.limits or YamlLimits()))
        return self.parsed[0]


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest choice, or None when nothing is close.

    ``difflib`` is imported here: only a finding needs it, and a run of a valid file never does.
    """
    import difflib

    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


def _describe_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def pydantic_diagnostics(
    error: Any,
    locator: Locator,
    prefix: tuple[Any, ...] = (),
    field_names: Iterable[str] = (),
    skip: Any = None,
    owner: str | None = "workflow",
    model: Any = None,
) -> list[Diagnostic]:
    """Diagnostics for a ``pydantic.ValidationError`` raised validating the node at ``prefix``.

    ``field_names`` feeds "did you mean" for unknown fields; ``skip(path)`` returning True
    drops an error (used for config values that are expressions, checked at run time);
    ``owner`` names the validated node in "... is missing the required field" (None: say
    only "missing the required field"); ``model`` is the validated model class, so that an
    unknown field is told which fields its mapping takes.
    """
    known = list(field_names)
    found: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for item in _fitting_union_members(error.errors(include_url=False)):
        # Union members add their type names to the location; keep only real keys and indexes.
        loc = tuple(step for step in item["loc"] if isinstance(step, int) or not _is_type_tag(step))
        path = (*prefix, *loc)
        if skip is not None and skip(path):
            continue
        kind = item["type"]
        if path in seen:
            continue
        seen.add(path)
        where = _describe_path(loc)
        if kind == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            mapping = _describe_path(loc[:-1])
            allowed = _fields_at(model, item["loc"][:-1]) if model is not None else None
            # Suggest among the fields this mapping takes, never the word itself: `foreach`
            # inside foreach's long form is a real field, only not there.
            hint = suggest(name, [field for field in (allowed or known) if field != name])
            if hint is None:
                takes = f"{mapping or owner or 'this mapping'} takes only: {', '.join(allowed)}" if allowed else None
                hint = f"remove it; {takes}" if takes and name not in known else (takes or "remove it")
            text = f"unknown field {name!r}" + (f" in {mapping}" if mapping else "")
            found.append(locator.at(path, text, hint, key=True))
        elif kind == "missing":
            name = str(loc[-1]) if loc else "?"
            parent = path[:-1]
            holder = _describe_path(loc[:-1]) or owner
            text = (
                f"{holder} is missing the required field {name!r}" if holder else f"missing the required field {name!r}"
            )
            found.append(locator.at(parent, text, f"add `{name}:`"))
        elif kind == "model_type":  # "should be a valid dictionary or instance of Task"
            text = (
                f"{where}: should be a mapping of fields"
                if where
                else f"a {owner or 'value'} must be a mapping of fields"
            )
            shown = _shown_input(item.get("input"))
            hint = None if where else _MAPPING_HINTS.get(owner or "")
            found.append(locator.at(path, f"{text}, not {shown}" if shown else text, hint))
        elif kind == "too_short" and isinstance(item.get("ctx"), dict):
            least = item["ctx"].get("min_length")
            text = f"needs at least {least} item{'s' if least != 1 else ''}, got {item['ctx'].get('actual_length')}"
            found.append(locator.at(path, f"{where}: {text}" if where else text))
        elif kind == "string_pattern_mismatch" and _is_name_pattern(item):
            text = f"{where}: {item.get('input')!r} is not a valid name" if where else "not a valid name"
            found.append(
                locator.at(
                    path,
                    text,
                    "names hold only letters, digits, _ and -, at most 128 of them, and do not start with -",
                )
            )
        else:
            message = str(item["msg"])
            for prefix_text in ("Value error, ", "Assertion failed, "):
                message = message.removeprefix(prefix_text)
            if message[:1].isupper() and not message[1:2].isupper():  # "Input should" but not "YAML"
                message = message[0].lower() + message[1:]
            shown = _shown_input(item.get("input"))
            text = f"{where}: {message}" if where else message
            if shown is not None and kind not in ("value_error", "assertion_error"):
                text += f" (got {shown})"
            found.append(locator.at(path, text))
    return found


def _union_split(loc: tuple[Any, ...]) -> int | None:
    """Where the first union member tag is in an error's location, if it has one."""
    for index, step in enumerate(loc):
        if not isinstance(step, int) and _is_type_tag(step):
            return index
    return None


def _fitting_union_members(items: list[Any]) -> list[Any]:
    """Drop the union members the input did not even fit, when another member it did fit failed.

    pydantic reports every member of ``foreach: Foreach | Text | list``: a mapping with a
    bad field gets "should be a valid string" and "should be a valid list" beside the real
    problem inside the mapping. A member whose error lies inside the value is the one the
    input was meant for; the type mismatches of the others only mislead.
    """
    meant: set[tuple[Any, ...]] = set()
    for item in items:
        split = _union_split(item["loc"])
        if split is not None and len(item["loc"]) > split + 1:
            meant.add(tuple(item["loc"][:split]))
    if not meant:
        return items
    kept = []
    for item in items:
        split = _union_split(item["loc"])
        if split is not None and len(item["loc"]) == split + 1 and tuple(item["loc"][:split]) in meant:
            continue
        kept.append(item)
    return kept


def _members(annotation: Any) -> list[Any]:
    """The types an annotation allows: unions and ``Annotated`` unwrapped."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    return [annotation]


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str] | None:
    """The fields of the model that validates the mapping at ``loc`` (None if not one model)."""
    import typing

    from pydantic import BaseModel

    def is_model(kind: Any) -> bool:
        return isinstance(kind, type) and issubclass(kind, BaseModel)

    candidates: list[Any] = [model]
    for step in loc:
        following: list[Any] = []
        for kind in (member for candidate in candidates for member in _members(candidate)):
            origin = typing.get_origin(kind)
            if is_model(kind):
                if isinstance(step, str) and step in kind.model_fields:
                    following.append(kind.model_fields[step].annotation)
                elif step == kind.__name__:  # a union member's tag: stay on this model
                    following.append(kind)
            elif origin is list and isinstance(step, int):
                following.append(typing.get_args(kind)[0])
            elif origin is dict and isinstance(step, str):
                following.append(typing.get_args(kind)[1])
        candidates = following
    models = {kind for candidate in candidates for kind in _members(candidate) if is_model(kind)}
    return list(next(iter(models)).model_fields) if len(models) == 1 else None


_TYPE_TAGS = frozenset(
    {"str", "int", "float", "bool", "list", "dict", "none", "Foreach", "RetryPolicy", "Param", "TaskDefaults"}
)


def _is_type_tag(step: Any) -> bool:
    """Whether a location step names a union member (``list[any]``, ``Foreach``) rather than a key."""
    text = str(step)
    return "[" in text or "(" in text or text in _TYPE_TAGS


_MAPPING_HINTS = {"task": "write each task as `- name: fetch` with `type: http` (and more fields) indented below it"}


def _is_name_pattern(item: Any) -> bool:
    from flowbuilder.model import NAME_PATTERN

    return bool(item.get("ctx", {}).get("pattern") == NAME_PATTERN)


def _shown_input(value: Any) -> str | None:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
