"""The located YAML reader: positions, YAML 1.2 scalars, merge keys, tags and limits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from flowbuilder import yamlsource
from flowbuilder.errors import WorkflowError
from flowbuilder.yamlsource import (
    LocatedList,
    LocatedMap,
    YamlFloat,
    YamlInt,
    YamlLimits,
    mark_of,
    parse_yaml,
    resolve_plain,
    source_text,
)


def messages(text: str, limits: YamlLimits = YamlLimits()) -> list[str]:
    with pytest.raises(WorkflowError) as raised:
        parse_yaml(text, "f.yaml", limits)
    return [f"{d.line}:{d.column}: {d.message}" for d in raised.value.diagnostics]


# -- positions -----------------------------------------------------------------------------


def test_maps_and_lists_know_the_line_and_column_of_keys_values_and_items() -> None:
    root = parse_yaml("name: x\ntasks:\n  - name: a\n    type: shell\n  - {name: b}\n", "f")
    assert isinstance(root, LocatedMap) and root.mark == (1, 1)
    assert root.key_mark("tasks") == (2, 1)
    tasks = root["tasks"]
    assert isinstance(tasks, LocatedList)
    assert [tasks.item_mark(0), tasks.item_mark(1)] == [(3, 5), (5, 5)]
    assert tasks[0].key_mark("type") == (4, 5)
    assert tasks[0].value_mark("type") == (4, 11)
    assert tasks[1].key_mark("name") == (5, 6) and tasks[1].value_mark("name") == (5, 12)


def test_mark_of_walks_as_far_as_the_path_exists() -> None:
    root = parse_yaml("tasks:\n  - name: a\n    retry: {attempts: 0}\n", "f")
    assert mark_of(root, ("tasks", 0, "retry", "attempts")) == (3, 23)
    assert mark_of(root, ("tasks", 0, "retry", "attempts"), key=True) == (3, 13)
    assert mark_of(root, ("tasks", 0, "missing", "deeper")) == (2, 5)  # the task mapping
    assert mark_of(root, ("tasks", 7)) == (2, 3)  # the list


# -- scalars: the YAML 1.2 core schema -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
        ("true", True), ("False", False), ("null", None), ("~", None), ("", None),
        ("42", 42), ("-7", -7), ("3.5", 3.5), ("1e3", 1000.0), ("0x1f", 31), ("0o17", 15),
        (".inf", math.inf), ("-.Inf", -math.inf), ("12:30", "12:30"), ("0b101", "0b101"),
        ("1_000", "1_000"), ("2024-01-01", "2024-01-01"), ("hello", "hello"),
    ],
)  # fmt: skip
def test_plain_scalars_resolve_with_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    resolved = resolve_plain(text)
    assert resolved == value
    assert isinstance(resolved, type(value)) and isinstance(resolved, bool) == isinstance(value, bool)


@pytest.mark.parametrize(
    ("text", "kind"), [("1.10", YamlFloat), ("1.0e3", YamlFloat), ("007", YamlInt), ("+3", YamlInt), ("0x1f", YamlInt)]
)
def test_numbers_that_do_not_round_trip_keep_their_source_text(text: str, kind: type) -> None:
    resolved = resolve_plain(text)
    assert isinstance(resolved, kind)
    assert source_text(resolved) == text


def test_source_text_gives_the_written_text_of_any_scalar_but_not_booleans_or_null() -> None:
    assert source_text(resolve_plain("1.10")) == "1.10"
    assert source_text(3) == "3"
    assert source_text("x") == "x"
    assert source_text(True) is None and source_text(None) is None and source_text([1]) is None


def test_nan_is_a_float() -> None:
    assert math.isnan(resolve_plain(".nan"))


def test_quoted_scalars_are_always_strings() -> None:
    root = parse_yaml("a: 'true'\nb: \"1.10\"\nc: !!str 3\n", "f")
    assert root == {"a": "true", "b": "1.10", "c": "3"}


def test_core_tags_convert_or_report() -> None:
    assert parse_yaml("a: !!int '42'\nb: !!float 1\n", "f") == {"a": 42, "b": 1.0}
    assert messages("a: !!int nope\n") == ["1:4: 'nope' is not a valid int"]
    assert messages("a: !!bool 1\n") == ["1:4: '1' is not a valid bool"]


@pytest.mark.parametrize("positions", [True, False])
def test_an_integer_with_more_digits_than_python_reads_is_a_located_problem(positions: bool) -> None:
    """Not a ValueError (an internal error: exit 70 from the CLI, a 500 from the server)."""
    digits = "9" * 5000
    text = f"a: {digits}\nb: !!int {digits}\nc: &x {digits}\nd: '{digits}'\n"
    with pytest.raises(WorkflowError) as raised:
        parse_yaml(text, "f.yaml", positions=positions)
    found = [f"{d.line}:{d.column}: {d.message}" for d in raised.value.diagnostics]
    assert found == [
        f"{line}:4: the number 999999999999... has 5,000 digits, more than can be read" for line in (1, 2, 3)
    ]


# -- merge keys ------------------------------------------------------------------------------


def test_merge_keys_copy_what_the_mapping_does_not_set_itself() -> None:
    root = parse_yaml("base: &b {retry: 3, timeout: 5}\ntask:\n  <<: *b\n  timeout: 9\n", "f")
    assert root["task"] == {"retry": 3, "timeout": 9}
    assert root["task"].key_mark("retry") == (1, 11)  # located where it was written
    assert root["task"].value_mark("retry") == (1, 18)
    assert root["task"].key_mark("timeout") == (4, 3)  # its own, not the merged one


def test_a_list_of_merges_applies_the_first_mapping_first() -> None:
    root = parse_yaml("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n", "f")
    assert root["c"] == {"x": 1, "y": 2}


def test_merging_a_scalar_is_an_error() -> None:
    assert messages("a: &a 1\nb:\n  <<: *a\n") == ["3:7: `<<` merges only mappings"]


# -- structure -------------------------------------------------------------------------------


def test_duplicate_keys_are_errors_naming_the_first() -> None:
    assert messages("a: 1\nb: 2\na: 3\n") == ["3:1: duplicate key 'a' (first defined at line 1:1)"]


def test_every_duplicate_and_non_string_key_is_reported_not_only_the_first() -> None:
    assert messages("a: 1\na: 2\n1: x\nnull: y\na: 3\n") == [
        "2:1: duplicate key 'a' (first defined at line 1:1)",
        "3:1: mapping keys must be strings",
        "4:1: mapping keys must be strings",
        "5:1: duplicate key 'a' (first defined at line 1:1)",
    ]


def test_a_complex_key_is_not_a_string_key() -> None:
    assert messages("? [a, b]\n: 1\n") == ["1:3: mapping keys must be strings"]


def test_a_second_document_is_refused() -> None:
    assert messages("a: 1\n---\nb: 2\n") == ["2:1: a workflow file holds one YAML document, found a second"]


def test_an_empty_document_is_refused() -> None:
    assert messages("# only a comment\n") == ["1:1: file is empty"]


def test_an_explicit_empty_document_is_none_not_an_error() -> None:
    assert parse_yaml("---\n", "f") is None


# -- unsafe tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
        "!!python/module:os",
        "!custom",
    ],
)
def test_python_and_custom_tags_never_construct_anything(tag: str, tmp_path: Path) -> None:
    marker = tmp_path / "constructed"
    text = f"a: {tag} ['touch {marker}']\n"
    with pytest.raises(WorkflowError, match="is not allowed"):
        parse_yaml(text, "f")
    assert not marker.exists()


def test_a_tag_on_a_mapping_is_refused_and_located() -> None:
    found = messages("task: !!python/object:builtins.dict\n  a: 1\n")
    assert found == ["1:7: tag !!python/object:builtins.dict is not allowed"]


# -- limits ----------------------------------------------------------------------------------


def lol(levels: int, fan_out: int) -> str:
    lines = ["l0: &l0 [lol]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def test_the_billion_laughs_is_refused_with_default_limits_without_expanding_it() -> None:
    found = messages(lol(10, 9))  # 9**9 = 387 million nodes if expanded
    assert len(found) == 1 and "aliases expand this document past 10,000,000 nodes" in found[0]


def test_aliases_share_values_instead_of_copying_them() -> None:
    root = parse_yaml(lol(3, 2), "f")
    assert root["l2"][0] is root["l1"]


def test_max_expanded_nodes_counts_alias_expansion() -> None:
    text = lol(5, 3)  # 3**4 leaves under l4 alone
    parse_yaml(text, "f", YamlLimits(max_expanded_nodes=1000))
    assert "past 100 nodes" in messages(text, YamlLimits(max_expanded_nodes=100))[0]


def test_max_aliases_counts_every_alias_use() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 5) + "]\n"
    parse_yaml(text, "f", YamlLimits(max_aliases=5))
    assert messages(text, YamlLimits(max_aliases=4)) == ["2:21: more than 4 aliases"]


def test_an_alias_before_its_anchor_is_an_error() -> None:
    assert messages("a: *x\nb: &x 1\n") == ["1:4: alias *x refers to no anchor defined before it"]


def test_max_depth_bounds_nesting() -> None:
    parse_yaml("a: " + "[" * 9 + "]" * 9 + "\n", "f", YamlLimits(max_depth=10))
    assert messages("a: " + "[" * 10 + "]" * 10 + "\n", YamlLimits(max_depth=10)) == [
        "1:13: nesting is deeper than 10 levels"
    ]


def test_very_deep_nesting_is_refused_not_a_recursion_error() -> None:
    assert "nesting is deeper than 64 levels" in messages("a: " + "[" * 100_000 + "]" * 100_000 + "\n")[0]


@pytest.mark.parametrize("loader", ["C", "pure-Python"], indirect=True)
def test_deep_flow_nesting_gets_the_same_located_message_from_every_parser(loader: str) -> None:
    # PyYAML 6.0.4's libyaml stops at 1000 levels on its own, scanning ahead of the builder:
    # the message must still be core's, at the 65th bracket, as with older PyYAML.
    text = "a: " + "[" * 1500 + "]" * 1500 + "\n"
    assert messages(text) == ["1:67: nesting is deeper than 64 levels"]
    deep = parse_yaml(text, "f", YamlLimits(max_depth=2000))  # a raised limit is honoured beyond libyaml's
    for _ in range(1500):
        deep = deep[0] if isinstance(deep, list) else deep["a"]
    assert deep == []


def test_max_bytes_bounds_the_text() -> None:
    parse_yaml("a: 1\n", "f", YamlLimits(max_bytes=5))
    assert messages("a: 12\n", YamlLimits(max_bytes=5)) == ["1:1: file is 6 bytes, over the limit of 5"]


# -- syntax and encoding errors, with both of PyYAML's parsers --------------------------------


@pytest.fixture(params=["C", "pure-Python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "C":
        if not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML was built without libyaml")
        monkeypatch.setattr(yamlsource, "_Loader", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(yamlsource, "_Loader", yaml.SafeLoader)
    return str(request.param)


@pytest.mark.parametrize(
    ("text", "position", "phrase"),
    [
        ("a: 1\nb: 'open\n", "2:4", "this quoted string is never closed"),
        ('a: "open\n', "1:4", "this quoted string is never closed"),
        ("a:\n\tb: 1\n", "2:1", "that cannot start any token"),
        ("a: [1, 2\n", "2:1", "while parsing a flow sequence"),
        ("a: b: c\n", "1:5", "mapping values are not allowed"),
        ("a:\n  - x\n - y\n", "3:2", "expected <block end>"),
    ],
)
def test_syntax_errors_are_located_the_same_by_both_parsers(loader: str, text: str, position: str, phrase: str) -> None:
    # The two parsers word some errors differently; the position and the gist agree.
    with pytest.raises(WorkflowError) as raised:
        parse_yaml(text, "f.yaml")
    (diagnostic,) = raised.value.diagnostics
    assert f"{diagnostic.line}:{diagnostic.column}" == position
    assert diagnostic.message.startswith("YAML syntax error: ")
    assert phrase in diagnostic.message or (
        phrase == "expected <block end>" and "did not find expected" in diagnostic.message
    )
    assert diagnostic.hint


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a: ok\nb: caf\xe9\n", "2:7: the file is not valid UTF-8 text"),
        ("a: \u00e9\u00e9\nb: bell\x07\n".encode(), "2:8: control character #x0007 is not allowed in YAML"),
        ("a: \u00e9\u00e9\nb: bell\x07\n", "2:8: control character #x0007 is not allowed in YAML"),
    ],
)
def test_bad_bytes_are_located_by_line_and_character_with_both_parsers(
    loader: str, data: str | bytes, expected: str
) -> None:
    with pytest.raises(WorkflowError) as raised:
        parse_yaml(data, "f.yaml")
    diagnostic = raised.value.diagnostics[0]
    assert f"{diagnostic.line}:{diagnostic.column}: {diagnostic.message}".startswith(expected)


def test_diagnostics_are_sorted_in_line_order() -> None:
    found = messages("z: 1\nz: 2\nq: !!python/name:x 1\n1: 3\n")
    assert [line.split(":")[0] for line in found] == ["2", "3", "4"]


_SAMPLE = """
name: sample
defaults: &d {retry: {attempts: 2}}
tasks:
  - {name: a, type: shell, config: {command: "echo 1.10", args: [1.10, 007, no, ~]}}
  - name: b
    <<: *d
    depends_on: [a]
"""


def test_a_document_parsed_without_positions_holds_the_same_values_and_no_positions() -> None:
    located = parse_yaml(_SAMPLE, "f.yaml")
    plain = parse_yaml(_SAMPLE, "f.yaml", positions=False)
    assert plain == located
    assert source_text(plain["tasks"][0]["config"]["args"][0]) == "1.10"

    def containers(value: object) -> Iterator[object]:
        if isinstance(value, (dict, list)):
            yield value
            for item in value.values() if isinstance(value, dict) else value:
                yield from containers(item)

    found = list(containers(plain))
    assert len(found) == 10 and not any(isinstance(c, (LocatedMap, LocatedList)) for c in found)


@pytest.mark.parametrize(
    "text", ["x: 0\nb: {a: 1, a: 2}\n", "a: [1\n", "a: !!python/name:os.system x\n", "- *nowhere\n"]
)
def test_a_problem_found_without_positions_is_reported_as_a_located_parse_reports_it(text: str) -> None:
    with pytest.raises(WorkflowError) as located:
        parse_yaml(text, "f.yaml")
    with pytest.raises(WorkflowError) as plain:
        parse_yaml(text, "f.yaml", positions=False)
    assert plain.value.diagnostics == located.value.diagnostics
