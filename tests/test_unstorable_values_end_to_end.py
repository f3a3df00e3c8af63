"""Values JSON has no form for, recorded by a real RocksDB store instead of stopping the run.

A ``foreach`` item's output is recorded as it is (measuring each item's output would cost
every item a fifth more: bench/README.md, review-night), so a dict with tuple keys, or a
list that holds itself, reaches the store's encoder. The encoder must store a readable
copy (keys as their ``repr``, a cycle as a marker), not raise out of the run's batch; the
task's own output (the items' outputs together) is measured, and fails the task with the
one-line reason every task output JSON cannot hold gets.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from flowbuilder.events import EventKind, RunStatus

pytest.importorskip("rocksdict")

CALLABLES = """
def keyed_by_pair(item):
    return {(item, item + 1): "pair"}


def holding_itself(item):
    values = [item]
    values.append(values)
    return values
"""


@pytest.mark.parametrize(("callable_name", "expected"), [
    ("keyed_by_pair", [{"(0, 1)": "pair"}, {"(1, 2)": "pair"}]),
    ("holding_itself", [[0, "<cycle>"], [1, "<cycle>"]]),
])  # fmt: skip
def test_a_foreach_item_output_json_cannot_hold_is_recorded_and_the_run_ends_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, callable_name: str, expected: list[object]
) -> None:
    from flowrunner.api import Engine

    (tmp_path / "unstorable_callables.py").write_text(CALLABLES)
    monkeypatch.syspath_prepend(str(tmp_path))
    workflow = textwrap.dedent(f"""\
        name: unstorable
        tasks:
          - name: each
            type: python
            foreach: [0, 1]
            config: {{callable: "unstorable_callables:{callable_name}", args: ["${{{{ item }}}}"]}}
        """)
    engine = Engine(store=f"rocksdb://{tmp_path / 'store'}")
    try:
        result = asyncio.run(engine.run(workflow))
        assert result.status is RunStatus.FAILED
        assert (result.tasks["each"].error or "").startswith("output cannot be recorded (")
        events = engine.store.read_events(result.run_id)
    finally:
        engine.close()
    outputs = [event.data["output"] for event in events if event.kind is EventKind.ITEM_SUCCEEDED]
    assert sorted(outputs, key=repr) == expected
