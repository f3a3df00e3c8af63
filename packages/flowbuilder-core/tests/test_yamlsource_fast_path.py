"""The located YAML reader's event loop takes the same decisions as its full checks.

``_Builder.consume`` handles untagged, unanchored scalars, mappings and lists inline and
hands every other event to ``_Builder.feed``. Each case here is read twice from the same
events: once through ``consume`` and once with every event through ``feed``; the values,
every line and column, and every problem must be the same, with the events of libyaml and
of PyYAML's pure-Python parser alike. (Files the parsers cannot read to the end are left
out: their syntax error stops both paths at the same event.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from flowbuilder.yamlsource import LocatedList, LocatedMap, YamlLimits, _Builder

TESTS = Path(__file__).resolve().parent
REPOSITORY = TESTS.parents[2]
FILES = sorted(
    [*TESTS.glob("valid/*.yaml"), *TESTS.glob("invalid/*.yaml"), *REPOSITORY.glob("examples/**/*.yaml")],
    key=str,
)
TEXTS = [
    "a: 1\nb: [x, 'y', \"z\", 1.10, 007, true, ~]\nc: {d: {e: [[f]]}}\n",
    "base: &b {retry: 3, timeout: 5}\ntask:\n  <<: *b\n  timeout: 9\n",
    "a: &a 1\nb: [*a, *a, *a]\nc: &c [1, 2]\nd: *c\n",
    'a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: *a, "<<": *b, z: 3}\n',
    "a: 1\na: 2\n1: x\nnull: y\n? [k]\n: v\n<<: 3\n",
    "a: !!int '42'\nb: !!str 3\nc: ! 7\nd: !custom x\ne: !!map {f: 1}\ng: !!seq [1]\n",
    "a: " + "[" * 12 + "]" * 12 + "\n",
    "- [a, b]\n- {c: d}\n- plain\n",
    "one: 1\n---\ntwo: 2\n",
    "",
    "---\n",
    "a: *missing\n",
    # The loop resolves each plain text once: a quoted twin must stay text, and a plain one
    # after it must still be resolved (and a number that keeps its source text is never shared).
    "a: '1'\nb: 1\nc: 'true'\nd: true\ne: [007, 007, '007', 1.10, 1.10]\nf: ['', null, '~', ~]\n",
]
LIMITS = [YamlLimits(), YamlLimits(max_depth=5, max_aliases=2, max_expanded_nodes=12)]


PARSERS = {"C": getattr(yaml, "CSafeLoader", None), "pure-Python": yaml.SafeLoader}


def _events(text: str | bytes, parser: str = "pure-Python") -> list[Any]:
    loader = PARSERS[parser]
    if loader is None:
        pytest.skip("PyYAML was built without libyaml")
    try:
        return list(yaml.parse(text, Loader=loader))
    except yaml.YAMLError:
        pytest.skip("not YAML the parser can read to the end")


def _build(events: list[Any], limits: YamlLimits, *, one_by_one: bool, positions: bool = True) -> _Builder:
    builder = _Builder(limits, [], positions)
    if one_by_one:
        for event in events:
            builder.feed(event)
            if builder.fatal:
                break
    else:
        builder.consume(iter(events).__next__)
    return builder


def _shape(value: Any, seen: dict[int, int] | None = None) -> Any:
    """The value with every position it carries, comparable with ``==``.

    A container met again (an alias shares it) is shown as the order in which it was first
    met, so an alias bomb that stayed within the limits is compared without expanding it.
    """
    seen = {} if seen is None else seen
    if isinstance(value, (LocatedMap, LocatedList)):
        if id(value) in seen:
            return ("again", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, LocatedMap):
        entries = [(key, _shape(item, seen)) for key, item in value.items()]
        marks = {key: (value.key_mark(key), value.value_mark(key)) for key in value}
        return ("map", value.mark, marks, entries)
    if isinstance(value, LocatedList):
        return (
            "list",
            value.mark,
            [(value.item_mark(index), _shape(item, seen)) for index, item in enumerate(value)],
        )
    return (type(value).__name__, value, getattr(value, "source", None))


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("limits", LIMITS, ids=["default-limits", "low-limits"])
@pytest.mark.parametrize("source", [*FILES, *TEXTS], ids=lambda s: s.name if isinstance(s, Path) else repr(s)[:40])
def test_the_event_loop_builds_what_the_full_checks_build(source: Path | str, limits: YamlLimits, parser: str) -> None:
    events = _events(source.read_bytes() if isinstance(source, Path) else source, parser)
    quick = _build(events, limits, one_by_one=False)
    full = _build(events, limits, one_by_one=True)
    assert quick.problems == full.problems
    assert (quick.documents, quick.expanded, quick.alias_count) == (full.documents, full.expanded, full.alias_count)
    assert _shape(quick.root) == _shape(full.root)


def _values(value: Any) -> Any:
    """The value without positions, each scalar with its exact type and source text."""
    if isinstance(value, dict):
        return ("map", [(key, _values(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [_values(item) for item in value])
    return (type(value).__name__, value, getattr(value, "source", None))


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("source", [*FILES, *TEXTS], ids=lambda s: s.name if isinstance(s, Path) else repr(s)[:40])
def test_the_loop_without_positions_builds_the_same_values(source: Path | str, parser: str) -> None:
    """Reading no positions (what the loader does) changes no value and no check."""
    events = _events(source.read_bytes() if isinstance(source, Path) else source, parser)
    quick = _build(events, YamlLimits(), one_by_one=False, positions=False)
    full = _build(events, YamlLimits(), one_by_one=True)
    # (the messages may differ where they quote a position: parse_yaml reports them by reading again with positions)
    assert len(quick.problems) == len(full.problems)
    assert (quick.documents, quick.expanded, quick.alias_count) == (full.documents, full.expanded, full.alias_count)
    assert _values(quick.root) == _values(full.root)


def test_plain_and_quoted_twins_keep_their_own_values() -> None:
    """A quoted ``'1'`` read before a plain ``1`` (and the other way round) keeps its own type."""
    root = _build(_events(TEXTS[-1]), YamlLimits(), one_by_one=False).root
    assert [type(root[key]) for key in "abcd"] == [str, int, str, bool]
    assert [getattr(item, "source", item) for item in root["e"]] == ["007", "007", "007", "1.10", "1.10"]
    assert root["e"][0] is not root["e"][1]  # each keeps its own source text
    assert root["f"] == ["", None, "~", None]


def test_the_cases_reach_both_paths() -> None:
    """The corpus is only a check if it has documents the loop builds and problems it hands on."""
    built = [_build(_events(text), YamlLimits(), one_by_one=False) for text in TEXTS[:2]]
    assert all(isinstance(builder.root, LocatedMap) and not builder.problems for builder in built)
    refused = _build(_events("a: 1\na: 2\n1: x\nnull: y\n? [k]\n: v\n<<: 3\n"), YamlLimits(), one_by_one=False)
    assert len(refused.problems) == 5  # a duplicate, three keys that are not text, a merged scalar
