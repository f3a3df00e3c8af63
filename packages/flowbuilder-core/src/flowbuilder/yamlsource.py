"""Parse YAML safely into plain values that remember where each node came from.

Why not ``yaml.safe_load``: it forgets locations, silently keeps the last of two duplicate
keys, resolves ``no`` to ``False`` and ``1.10`` to ``1.1`` (YAML 1.1), and expands aliases
without a bound (the "billion laughs"). This module reads PyYAML's event stream (from the
libyaml C parser when available) and builds the values itself, so that:

* every mapping and sequence is a :class:`LocatedMap` / :class:`LocatedList` that knows the
  1-based line and column of itself, of each key and of each value;
* plain scalars are resolved with the YAML 1.2 core schema (only ``true``/``false`` are
  booleans, only ``null``/``~`` is null); a number whose text does not round-trip (``1.10``)
  keeps its source text in ``.source`` so a field that wants a string gets ``"1.10"``;
* duplicate keys, non-string keys, explicit tags other than the core ones, several
  documents, deep nesting, too many aliases, alias expansion blow-ups and oversized input
  are rejected with a located :class:`~flowbuilder.errors.Diagnostic` before any value is
  used. Nothing is ever constructed from a ``!!python/...`` tag.

Positions are kept compactly, because a 100,000-task file has millions of them and the
document is alive while it is validated and planned: a position is one int
(``line << 32 | column``, :func:`pack_mark`); a mapping keeps its keys' and values'
positions in one ``array`` in key order, a list its items' positions; and equal texts are
shared (the same field names and values repeat on every task). Before, with a tuple per
position and two dicts per mapping, the document of a 20,000-task fan-out took 78 MB; now
about a third of that (bench/memory.py). Callers read
positions as ``(line, column)`` through the accessors (:meth:`LocatedMap.key_mark`,
:meth:`LocatedMap.value_mark`, :meth:`LocatedList.item_mark`, :func:`mark_of`).
"""

from __future__ import annotations

import re
from array import array
from collections import deque
from typing import Any, Callable

import yaml

from flowbuilder._scalar_text import YamlFloat, YamlInt, source_text
from flowbuilder.errors import Diagnostic, WorkflowError
from flowbuilder.gc_pause import gc_paused
from flowbuilder.limits import YamlLimits

try:  # the C parser is ~10x faster; fall back to the pure-Python one when libyaml is absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
from yaml import SafeLoader as _PureLoader

Mark = tuple[int, int]
"""A 1-based ``(line, column)``."""

_COLUMN_BITS = 32
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


def pack_mark(line: int, column: int) -> int:
    """A position as one int (columns stay below 2**32: files are far smaller than 4 GiB)."""
    return line << _COLUMN_BITS | column


def unpack_mark(packed: int) -> Mark:
    """The ``(line, column)`` of a :func:`pack_mark` int."""
    return (packed >> _COLUMN_BITS, packed & _COLUMN_MASK)


__all__ = [
    "LocatedList",
    "LocatedMap",
    "YamlFloat",
    "YamlInt",
    "YamlLimits",
    "mark_of",
    "pack_mark",
    "parse_yaml",
    "resolve_plain",
    "source_text",
    "unpack_mark",
]


class LocatedMap(dict[Any, Any]):
    """A ``dict`` that knows the position of itself, of each key and of each value."""

    __slots__ = ("packed", "marks")

    def __init__(self, packed: int):
        super().__init__()
        self.packed = packed
        """Its own position (:func:`pack_mark`)."""
        self.marks = array("Q")
        """Key position, value position, for each key in the dict's order (:func:`pack_mark`)."""

    @property
    def mark(self) -> Mark:
        return unpack_mark(self.packed)

    def _index(self, key: str) -> int:
        """Where ``key`` is in the dict's order (a walk: positions are read only to report)."""
        for index, present in enumerate(self):
            if present == key:
                return index
        raise KeyError(key)

    def key_mark(self, key: str) -> Mark:
        return unpack_mark(self.marks[2 * self._index(key)])

    def value_mark(self, key: str) -> Mark:
        """Where the value of ``key`` starts."""
        return unpack_mark(self.marks[2 * self._index(key) + 1])


class LocatedList(list[Any]):
    """A ``list`` that knows the position of itself and of each item."""

    __slots__ = ("packed", "item_marks")

    def __init__(self, packed: int):
        super().__init__()
        self.packed = packed
        self.item_marks = array("Q")
        """Each item's position (:func:`pack_mark`), in item order."""

    @property
    def mark(self) -> Mark:
        return unpack_mark(self.packed)

    def item_mark(self, index: int) -> Mark:
        return unpack_mark(self.item_marks[index])


_NO_MARKS: deque[int] = deque(maxlen=0)
"""Where an unlocated container's positions go: nowhere, at the cost of a C call (see
:func:`parse_yaml`, ``positions``)."""


class _UnlocatedMap(dict[Any, Any]):
    """A mapping of a document parsed without positions: a plain dict the builder can fill
    the same way as a :class:`LocatedMap` (its positions are dropped)."""

    __slots__ = ()
    packed = 0
    marks = _NO_MARKS

    def __init__(self, packed: int):
        pass

    def key_mark(self, key: str) -> Mark:
        return (1, 1)


class _UnlocatedList(list[Any]):
    """A sequence of a document parsed without positions (see :class:`_UnlocatedMap`)."""

    __slots__ = ()
    packed = 0
    item_marks = _NO_MARKS

    def __init__(self, packed: int):
        pass


_INT = re.compile(r"[-+]?[0-9]+\Z")
_INT_OCT = re.compile(r"0o[0-7]+\Z")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_SPECIAL = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}  # fmt: skip
_NUMERIC_START = frozenset("0123456789+-.")
_CORE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq", "!",
}  # fmt: skip


def resolve_plain(text: str) -> Any:
    """Resolve an untagged plain scalar with the YAML 1.2 core schema."""
    if not text or text[0] not in _NUMERIC_START:
        special = _SPECIAL.get(text, _SPECIAL)
        return text if special is _SPECIAL else special
    special = _SPECIAL.get(text, _SPECIAL)
    if special is not _SPECIAL:
        return special
    if _INT.match(text):
        number = int(text)
        if str(number) == text:
            return number
        located = YamlInt(number)
        located.source = text
        return located
    if _INT_OCT.match(text):
        located = YamlInt(int(text[2:], 8))
        located.source = text
        return located
    if _INT_HEX.match(text):
        located = YamlInt(int(text[2:], 16))
        located.source = text
        return located
    if _FLOAT.match(text):
        real = float(text)
        if repr(real) == text:
            return real
        located_float = YamlFloat(real)
        located_float.source = text
        return located_float
    return text


_TAG_TYPES: dict[str, type | tuple[type, ...]] = {
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": (int, float),
    "tag:yaml.org,2002:bool": bool,
    "tag:yaml.org,2002:null": type(None),
}


def _too_many_digits(text: str, mark: int, problems: list[tuple[Mark, str, str | None]]) -> str:
    """A located problem for a plain integer with more digits than Python converts
    (``sys.get_int_max_str_digits()``: :func:`resolve_plain` raises ValueError), and its text.

    Without it such a file was an internal error (exit 70, a 500 from the server)."""
    problems.append((unpack_mark(mark), f"the number {text[:12]}... has {len(text):,} digits, more than can be read",
                     "quote it if it is text, or shorten it"))  # fmt: skip
    return text


def _resolve_tagged(text: str, tag: str, mark: int, problems: list[tuple[Mark, str, str | None]]) -> Any:
    if tag in ("tag:yaml.org,2002:str", "!"):
        return text
    try:
        value: Any = resolve_plain(text)
    except ValueError:
        return _too_many_digits(text, mark, problems)
    expected = _TAG_TYPES[tag]
    fits = isinstance(value, expected) and not (tag != "tag:yaml.org,2002:bool" and isinstance(value, bool))
    if not fits:
        kind = tag.rsplit(":", 1)[-1]
        problems.append(
            (unpack_mark(mark), f"{text!r} is not a valid {kind}", f"remove the !!{kind} tag or fix the value")
        )
        return text
    return float(value) if tag == "tag:yaml.org,2002:float" else value


def _mark(event: Any) -> int:
    """Where ``event`` starts, packed (:func:`pack_mark`)."""
    start = event.start_mark
    return pack_mark(int(start.line) + 1, int(start.column) + 1)


class _Frame:
    """A mapping or sequence being built, with its anchor and expanded size so far."""

    __slots__ = ("container", "anchor", "size", "pending_key", "merges")

    def __init__(self, container: Any, anchor: str | None):
        self.container = container
        self.anchor = anchor
        self.size = 1
        self.pending_key: Any = _NO_KEY
        self.merges: list[tuple[Any, int]] | None = None
        """``<<`` values to merge at the end, with their positions; None until the first
        (a list per mapping would be made for nothing: merges are rare)."""

    def add_merge(self, value: Any, mark: int) -> None:
        if self.merges is None:
            self.merges = []
        self.merges.append((value, mark))


_NO_KEY = object()
_MERGE_KEY = "<<"
_UNRESOLVED = object()
_UNCHANGEABLE = frozenset({str, int, float, bool, type(None)})
"""The types of resolved plain scalars that one value may stand for at every place."""


def parse_yaml(text: str | bytes, filename: str, limits: YamlLimits = YamlLimits(), *, positions: bool = True) -> Any:
    """Parse one YAML document into located plain values.

    Raises :class:`WorkflowError` carrying every problem found (syntax errors stop at the
    first, since the parser cannot go on; structural problems are all collected).

    ``positions=False`` builds the same values, with every check, into dicts and lists that
    keep no positions: about a third of the memory of a located document (bench/memory.py).
    The loader validates such a document and parses the text again with positions only to
    report a problem (:class:`flowbuilder.diagnostics.Locator`). A problem found while
    parsing it is reported by parsing again with positions, so its messages are the same.
    """
    size = len(text)
    if size > limits.max_bytes:
        raise WorkflowError([
            Diagnostic(filename, 1, 1, f"file is {size:,} bytes, over the limit of {limits.max_bytes:,}",
                       "raise [limits] max_bytes in flowbuilder.toml if this file is meant to be this large")
        ])  # fmt: skip
    if isinstance(text, bytes) and text[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # PyYAML would decode it: the docs promise UTF-8 only, and every other tool (the
        # store, `git diff`, the CLI's own messages) expects it, so refuse rather than guess.
        raise WorkflowError([Diagnostic(filename, 1, 1, "the file is UTF-16 text; workflow files are UTF-8",
                                        "save the file as UTF-8")])  # fmt: skip
    problems: list[tuple[Mark, str, str | None]] = []
    builder = _Builder(limits, problems, positions)
    # The builder makes many dicts and lists and no reference cycles: pausing the cyclic
    # garbage collector meanwhile spares it re-walking the growing document, about a fifth
    # of a 10,000-task load and two fifths at 100,000 (bench/compile.py).
    with gc_paused():
        if _read_events(text, _Loader, builder) and not issubclass(_Loader, _PureLoader):
            # The libyaml of newer PyYAML wheels (6.0.4) has its own nesting limit of 1000, and its
            # scanner reads far enough ahead on a line of `[[[[` to hit it before the builder
            # sees the 65th level. The pure-Python parser has no such limit: read again with
            # it, so that every PyYAML gives the builder's located message (error path only).
            problems.clear()
            builder = _Builder(limits, problems, positions)
            _read_events(text, _PureLoader, builder)
    if problems and not positions:  # report them as a located parse does (the error path only)
        return parse_yaml(text, filename, limits)
    if problems:
        raise WorkflowError(Diagnostic(filename, l, c, m, h) for (l, c), m, h in problems)
    if builder.documents == 0:
        raise WorkflowError(
            [Diagnostic(filename, 1, 1, "file is empty", "a workflow needs at least `name` and `tasks`")]
        )
    return builder.root


def _read_events(text: str | bytes, loader: Any, builder: _Builder) -> bool:
    """Feed the parser's events to ``builder``; True if the parser stopped at its own nesting limit."""
    problems = builder.problems
    parser = None
    try:
        parser = loader(text)  # the pure-Python reader decodes bytes here, so it may raise
        builder.consume(parser.get_event)
    except yaml.MarkedYAMLError as error:
        problems.append(_syntax_problem(error))
        return "maximum nesting depth" in (error.problem or "")
    except yaml.reader.ReaderError as error:  # bad encoding, control characters
        problems.append(_reader_problem(text, error, loader))
    except yaml.YAMLError as error:  # pragma: no cover - PyYAML raises only the two above
        problems.append(((1, 1), f"cannot read YAML: {error}", "save the file as UTF-8 text"))
    finally:
        if parser is not None:
            parser.dispose()
    return False


_SYNTAX_HINTS = (
    ("tab character", "indent with spaces; YAML does not allow tabs for indentation"),
    ("mapping values are not allowed", "check this line's indentation, or quote a value that contains ': '"),
    ("could not find expected ':'", "a key needs `: ` after it; quote text that holds `:` or `#`"),
    ("cannot start any token", "indent with spaces, not tabs; quote text that starts with @ or `"),
)


def _syntax_problem(error: yaml.MarkedYAMLError) -> tuple[Mark, str, str | None]:
    """A located, actionable message for a YAML syntax error."""
    problem, context = error.problem or "", error.context or ""
    if "quoted scalar" in context and "end of stream" in problem and error.context_mark is not None:
        # Pointing at the end of the file helps nobody: point at the opening quote.
        mark = error.context_mark
        return (
            (mark.line + 1, mark.column + 1),
            "YAML syntax error: this quoted string is never closed",
            "add the closing quote",
        )
    problem_mark = error.problem_mark or error.context_mark
    line, column = (problem_mark.line + 1, problem_mark.column + 1) if problem_mark is not None else (1, 1)
    message = f"YAML syntax error: {problem or context}"
    if context and problem:
        message += f" ({context})"
    hint = next(
        (h for needle, h in _SYNTAX_HINTS if needle in problem), "check indentation, quotes and brackets near here"
    )
    return (line, column), message, hint


def _reader_problem(text: str | bytes, error: yaml.reader.ReaderError, loader: Any) -> tuple[Mark, str, str | None]:
    """Locate a bad byte or character; libyaml counts bytes, the pure-Python reader characters."""
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    position = max(0, int(error.position))
    if loader.__name__.startswith("C") or error.encoding != "unicode":
        before = raw[:position]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
    else:
        decoded = raw.decode("utf-8", "replace")[:position]
        line = decoded.count("\n") + 1
        column = len(decoded) - (decoded.rfind("\n") + 1) + 1
    if "characters are not allowed" not in str(error.reason):  # a decoding error
        return (line, column), f"the file is not valid UTF-8 text ({error.reason})", "save the file as UTF-8"
    character = error.character if isinstance(error.character, int) and error.character >= 0 else None
    shown = f"#x{character:04x}" if character is not None else "a special character"
    hint = 'remove it, or write it as an escape inside double quotes (e.g. "\\t")'
    return (line, column), f"control character {shown} is not allowed in YAML", hint


def _shown_tag(tag: str) -> str:
    """``!!python/name:x`` as the user wrote it, not PyYAML's expanded ``tag:yaml.org,2002:...``."""
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


class _Builder:
    """Turns parser events into located values, enforcing :class:`YamlLimits`."""

    def __init__(self, limits: YamlLimits, problems: list[tuple[Mark, str, str | None]], positions: bool = True):
        self.limits = limits
        self.map_type: type[LocatedMap] | type[_UnlocatedMap] = LocatedMap if positions else _UnlocatedMap
        self.list_type: type[LocatedList] | type[_UnlocatedList] = LocatedList if positions else _UnlocatedList
        self.problems = problems
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.alias_count = 0
        self.expanded = 0
        self.documents = 0
        self.root: Any = None
        self.fatal = False

    def fail(self, mark: int, message: str, hint: str | None = None) -> None:
        self.problems.append((unpack_mark(mark), message, hint))
        self.fatal = True

    def consume(self, next_event: Callable[[], Any]) -> None:
        """Build from ``next_event()`` until the stream ends or a problem is fatal.

        Most events of a workflow are untagged, unanchored scalars, mappings and lists:
        those are handled here, in one loop with no call per event beyond the parser's own
        and the containers' constructors (bench/compile.py: this loop took the cost of
        building on top of libyaml's events from about 1.6 to about 0.9 times the events'
        own). Every other event, and any value that could pass a limit, goes through
        :meth:`feed` and :meth:`_add`, which do every check. Without positions (the loader's
        parse) no event's position is read at all: about a fifth of the loop's own time.
        """
        scalar_event, stream_end = yaml.ScalarEvent, yaml.StreamEndEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        stack = self.stack
        max_depth = self.limits.max_depth
        max_expanded = self.limits.max_expanded_nodes
        # Plain scalars repeat (every task's keys, its type, small numbers): each distinct
        # text is resolved once and its value shared, which also shares equal texts. Only
        # values that cannot be changed are kept (a YamlInt/YamlFloat carries its own
        # ``source``). A quoted scalar is never resolved: it shares a plain twin's text
        # if one came first, else the text of an earlier equal quoted scalar.
        resolved: dict[str, Any] = {}
        lookup = resolved.get
        quoted: dict[str, str] = {}
        share_quoted = quoted.setdefault
        map_type, list_type = self.map_type, self.list_type
        located = map_type is LocatedMap  # unlocated containers drop positions: skip reading them
        mark = 0
        expanded = self.expanded  # a local while in this loop; self.expanded around every slow path
        while True:
            event = next_event()
            kind = type(event)
            if kind is scalar_event and event.tag is None and event.anchor is None:
                text = event.value
                if event.implicit[0]:
                    value = lookup(text, _UNRESOLVED)
                    if value is _UNRESOLVED:
                        try:
                            value = resolve_plain(text)
                        except ValueError:
                            value = _too_many_digits(text, _mark(event), self.problems)
                        if type(value) in _UNCHANGEABLE:
                            resolved[text] = value
                else:
                    value = lookup(text)  # the plain twin's text, if one came first
                    if type(value) is not str:
                        value = share_quoted(text, text)
                if located:
                    start = event.start_mark
                    mark = (start.line + 1) << 32 | (start.column + 1)
                size = 1
            elif kind is mapping_end or kind is sequence_end:
                frame = stack[-1]
                if frame.anchor is not None or frame.merges:
                    self.expanded = expanded
                    self._end()
                    expanded = self.expanded
                    if self.fatal:
                        return
                    continue
                stack.pop()
                value = frame.container
                mark = value.packed
                size = frame.size
            elif (
                (kind is mapping_start or kind is sequence_start)
                and event.tag is None
                and event.anchor is None
                and len(stack) < max_depth
            ):
                if located:
                    start = event.start_mark
                    mark = (start.line + 1) << 32 | (start.column + 1)
                stack.append(_Frame(map_type(mark) if kind is mapping_start else list_type(mark), None))
                continue
            elif kind is stream_end:
                self.expanded = expanded
                return
            else:
                self.expanded = expanded
                self.feed(event)
                expanded = self.expanded
                if self.fatal:
                    return
                continue
            # What _add does for a value with no anchor, inline.
            if not stack or expanded + size > max_expanded:
                self.expanded = expanded
                self._add(value, mark, size, None)
                expanded = self.expanded
                if self.fatal:
                    return
                continue
            expanded += size
            frame = stack[-1]
            frame.size += size
            container = frame.container
            if type(container) is list_type:
                container.append(value)
                if located:
                    container.item_marks.append(mark)
                continue
            key = frame.pending_key
            if key is _NO_KEY:
                if type(value) is str and value != _MERGE_KEY and value not in container:
                    frame.pending_key = value
                    if located:
                        container.marks.append(mark)
                else:
                    self._take_key(frame, value, mark)
                continue
            frame.pending_key = _NO_KEY
            if key is None:  # a rejected key: its problem is already recorded
                continue
            if key == _MERGE_KEY:
                frame.add_merge(value, mark)
                continue
            container[key] = value
            if located:
                container.marks.append(mark)

    def feed(self, event: Any) -> None:
        """Handle any one event with every check (the slow path of :meth:`consume`)."""
        kind = type(event)
        if kind is yaml.ScalarEvent:
            self._scalar(event)
        elif kind is yaml.MappingStartEvent:
            self._start(event, self.map_type(_mark(event)))
        elif kind is yaml.SequenceStartEvent:
            self._start(event, self.list_type(_mark(event)))
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self._end()
        elif kind is yaml.AliasEvent:
            self._alias(event)
        elif kind is yaml.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                self.fail(_mark(event), "a workflow file holds one YAML document, found a second",
                          "remove the `---` line or split the file")  # fmt: skip

    def _check_tag(self, event: Any) -> str | None:
        tag: str | None = event.tag
        if tag is None or tag in _CORE_TAGS:
            return tag
        self.problems.append((unpack_mark(_mark(event)), f"tag {_shown_tag(tag)} is not allowed",
                              "workflow files use plain YAML, nothing is ever constructed from a tag; remove it"))  # fmt: skip
        return "!"

    def _scalar(self, event: Any) -> None:
        mark = _mark(event)
        tag = self._check_tag(event)
        if tag is not None and tag != "!":
            value = _resolve_tagged(event.value, tag, mark, self.problems)
        elif tag is None and event.implicit[0]:
            try:
                value = resolve_plain(event.value)
            except ValueError:
                value = _too_many_digits(event.value, mark, self.problems)
        else:
            value = event.value
        self._add(value, mark, 1, event.anchor)

    def _start(self, event: Any, container: Any) -> None:
        tag = self._check_tag(event)
        wanted = "tag:yaml.org,2002:map" if isinstance(container, dict) else "tag:yaml.org,2002:seq"
        if tag not in (None, "!", wanted):
            self.problems.append(
                (unpack_mark(container.packed), f"tag {_shown_tag(str(tag))} does not fit this node", "remove the tag")
            )
        if len(self.stack) >= self.limits.max_depth:
            self.fail(container.packed, f"nesting is deeper than {self.limits.max_depth} levels",
                      "flatten the structure or raise [limits] max_depth")  # fmt: skip
            return
        self.stack.append(_Frame(container, event.anchor))

    def _end(self) -> None:
        frame = self.stack.pop()
        container = frame.container
        if type(container) is self.map_type and frame.merges is not None:
            for merged, mark in frame.merges:
                self._merge(container, merged, mark)
        self._add(container, container.packed, frame.size, frame.anchor)

    def _merge(self, target: Any, merged: Any, mark: int) -> None:
        sources = merged if isinstance(merged, list) else [merged]
        for source in sources:
            if type(source) is not self.map_type:
                self.problems.append((unpack_mark(mark), "`<<` merges only mappings", "use `<<: *anchor` of a mapping"))
                continue
            for index, (key, value) in enumerate(source.items()):
                if key not in target:
                    target[key] = value
                    marks: Any = source.marks
                    if marks is not _NO_MARKS:
                        target.marks.extend(marks[2 * index : 2 * index + 2])

    def _alias(self, event: Any) -> None:
        mark = _mark(event)
        self.alias_count += 1
        if self.alias_count > self.limits.max_aliases:
            self.fail(mark, f"more than {self.limits.max_aliases} aliases",
                      "a workflow rarely needs many aliases; raise [limits] max_aliases if it does")  # fmt: skip
            return
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            self.fail(mark, f"alias *{event.anchor} refers to no anchor defined before it")
            return
        value, size = anchored
        self._add(value, mark, size, None)

    def _add(self, value: Any, mark: int, size: int, anchor: str | None) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_expanded_nodes:
            self.fail(mark, f"aliases expand this document past {self.limits.max_expanded_nodes:,} nodes",
                      "this looks like an alias bomb; remove the nested aliases")  # fmt: skip
            return
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        container = frame.container
        if type(container) is self.list_type:
            container.append(value)
            container.item_marks.append(mark)
            return
        key = frame.pending_key
        if key is _NO_KEY:
            self._take_key(frame, value, mark)
            return
        frame.pending_key = _NO_KEY
        if key is None:  # a rejected key: its problem is already recorded
            return
        if key == _MERGE_KEY:
            frame.add_merge(value, mark)
            return
        container[key] = value
        container.marks.append(mark)

    def _take_key(self, frame: _Frame, key: Any, mark: int) -> None:
        container = frame.container
        if not isinstance(key, str):
            shown = source_text(key)
            hint = f'quote it: "{shown}"' if shown is not None else "use a plain text key"
            if isinstance(key, bool):
                hint = f'quote it: "{"true" if key else "false"}"'
            self.problems.append((unpack_mark(mark), "mapping keys must be strings", hint))
            frame.pending_key = None
            return
        if key in container:
            first_line, first_col = container.key_mark(key)
            self.problems.append((unpack_mark(mark), f"duplicate key {key!r} (first defined at line {first_line}:{first_col})",
                                  "remove one of them; YAML would silently keep only the last"))  # fmt: skip
            frame.pending_key = None
            return
        frame.pending_key = key
        if key != _MERGE_KEY:
            container.marks.append(mark)


def mark_of(document: Any, path: tuple[Any, ...], *, key: bool = False) -> Mark:
    """The position of the node at ``path`` in a parsed document (or of its key).

    Walks as far as the path exists and returns the deepest position found, so an error
    about a missing field points at the mapping that should have held it.
    """
    node = document
    best: Mark = getattr(document, "mark", (1, 1))
    for index, step in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, LocatedMap) and isinstance(step, str) and step in node:
            best = node.key_mark(step) if (key and last) else node.value_mark(step)
            node = node[step]
        elif isinstance(node, LocatedList) and isinstance(step, int) and 0 <= step < len(node):
            best = node.item_mark(step)
            node = node[step]
        else:
            break
    return best
