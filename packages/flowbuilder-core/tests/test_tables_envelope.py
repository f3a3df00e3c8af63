"""The table reference envelope (flowbuilder.tables): one format, written by the runner, read by anyone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowbuilder.errors import StoreError
from flowbuilder.tables import (
    ENVELOPE_VERSION,
    TableReference,
    decode_table_reference,
    is_table_reference,
    table_reference_output,
    unkept_table_output,
)


def test_a_written_envelope_is_plain_json_and_decodes_to_the_same_reference() -> None:
    output = table_reference_output("run-1/load.arrow", 3, "pyarrow")
    assert json.loads(json.dumps(output)) == output
    assert output == {"$blob": "run-1/load.arrow", "format": "arrow-ipc", "rows": 3, "library": "pyarrow", "v": 1}
    assert decode_table_reference(output) == TableReference("run-1/load.arrow", 3, "pyarrow", ENVELOPE_VERSION)


def test_an_envelope_written_before_the_version_field_reads_as_version_one_and_polars() -> None:
    """Envelopes recorded by flowrunner 0.1 carry neither ``v`` nor ``library`` (stored-format fixture)."""
    recorded_by_0_1 = {"$blob": "r/t.arrow", "format": "arrow-ipc", "rows": 2}
    assert decode_table_reference(recorded_by_0_1) == TableReference("r/t.arrow", 2, "polars", 1)


def test_an_envelope_of_a_newer_version_is_refused_with_advice() -> None:
    newer = {**table_reference_output("r/t.arrow", 1, "polars"), "v": ENVELOPE_VERSION + 1}
    with pytest.raises(StoreError, match=r"newer FlowBuilder .* upgrade flowbuilder-core"):
        decode_table_reference(newer)


@pytest.mark.parametrize(
    "fields",
    [{"$blob": ""}, {"$blob": 7}, {"rows": "3"}, {"rows": True}, {"library": "pandas"}, {"v": 0}, {"v": "1"}],
)
def test_a_malformed_envelope_is_a_one_line_store_error(fields: dict[str, Any]) -> None:
    with pytest.raises(StoreError) as raised:
        decode_table_reference({**table_reference_output("r/t.arrow", 1, "polars"), **fields})
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "output",
    [None, 3, "text", [1], {"rows": 3}, {"$blob": "x", "format": "csv"}, unkept_table_output(3)],
)
def test_anything_else_is_not_a_table_reference(output: Any) -> None:
    assert not is_table_reference(output)
    assert decode_table_reference(output) is None


def test_a_run_without_a_store_records_that_a_table_was_made_but_not_kept() -> None:
    assert unkept_table_output(5) == {"$table": True, "format": "arrow-ipc", "rows": 5}
