"""flowbuilder.caching: what a cache key covers and how an entry is stored (issue 11, item 5)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from flowbuilder.caching import (
    CACHE_FORMAT_VERSION,
    CachedResult,
    decode_cached_result,
    default_cache_key,
    encode_cached_result,
    explicit_cache_key,
)
from flowbuilder.errors import StoreError
from flowbuilder.model import NAME_PATTERN

BASE = {"workflow": "wf", "task": "t", "task_type": "shell", "config": {"command": "echo"}, "env": {"A": "1"},
        "inputs": {"up": [1, 2]}, "params": {"day": "mon"}}  # fmt: skip


def _key(**changes: object) -> str:
    return default_cache_key(**{**BASE, **changes})  # type: ignore[arg-type]


def test_the_name_rule_of_cache_entries_is_the_dsl_s() -> None:
    from flowbuilder import caching

    assert caching._NAME.pattern == NAME_PATTERN


def test_a_key_is_a_hex_digest_that_holds_none_of_its_inputs() -> None:
    key = _key(params={"token": "hunter2"})
    assert len(key) == 64 and set(key) <= set("0123456789abcdef") and "hunter2" not in key
    assert explicit_cache_key("wf", "t", "hunter2") != explicit_cache_key("wf", "t", "hunter3")


@pytest.mark.parametrize("change", [
    {"workflow": "other"}, {"task": "u"}, {"task_type": "script"}, {"config": {"command": "echo 2"}},
    {"env": {"A": "2"}}, {"inputs": {"up": [1, 3]}}, {"params": {"day": "tue"}},
])  # fmt: skip
def test_the_default_key_changes_with_every_input_it_covers(change: dict[str, object]) -> None:
    assert _key(**change) != _key()


def test_the_default_key_does_not_depend_on_mapping_order() -> None:
    assert _key(env={"A": "1", "B": "2"}) == _key(env={"B": "2", "A": "1"})


def test_tables_enter_a_key_by_their_content_not_their_preview() -> None:
    rows = list(range(1000))
    changed = [*rows[:500], -1, *rows[501:]]  # differs in the middle, which a repr does not show
    first = _key(inputs={"up": pl.DataFrame({"x": rows})})
    assert first == _key(inputs={"up": pl.DataFrame({"x": rows})})
    assert first != _key(inputs={"up": pl.DataFrame({"x": changed})})


def test_an_entry_round_trips_through_its_stored_form() -> None:
    entry = CachedResult("wf", "t", "a" * 64, {"n": [1, "二"]}, {"k": 1}, "run1", 5.0, 7.5)
    raw = encode_cached_result(entry)
    assert json.loads(raw)["v"] == CACHE_FORMAT_VERSION
    assert decode_cached_result(raw) == entry
    assert entry.expired(7.5) and not entry.expired(7.4)


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"v": 0}', b'{"v": 1, "task": "t"}',
                                 b'{"v": 1, "workflow": "w", "task": "t", "key": "k", "outputs": 5}'])  # fmt: skip
def test_a_stored_form_of_another_shape_is_a_one_line_store_error(raw: bytes) -> None:
    with pytest.raises(StoreError) as caught:
        decode_cached_result(raw)
    assert "\n" not in str(caught.value)


def test_an_entry_of_a_newer_format_asks_to_upgrade() -> None:
    raw = json.dumps({"v": CACHE_FORMAT_VERSION + 1, "workflow": "w", "task": "t", "key": "a" * 64}).encode()
    with pytest.raises(StoreError, match="newer FlowBuilder"):
        decode_cached_result(raw)
