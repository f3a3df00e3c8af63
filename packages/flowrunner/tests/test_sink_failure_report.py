"""A sink that raises is dropped with one line on stderr that says which sink (its module names
the plugin that gave it), which run, and what it raised — once, whatever its message holds."""

from __future__ import annotations

from typing import Any, Sequence

import pytest
from flowrunner_helpers import run_text

from flowbuilder.interfaces.sink import EventSink


class ExplodingSink(EventSink):
    def handle(self, events: Sequence[Any]) -> None:
        raise RuntimeError("collector\nunreachable")


def test_a_raising_sink_is_reported_once_in_one_line_naming_its_module_and_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_text("name: s\ntasks:\n  - {name: a, type: shell, config: {command: 'true'}}\n",
                      sinks=[ExplodingSink()])  # fmt: skip
    assert result.succeeded
    assert capsys.readouterr().err == (
        f"flowrunner: event sink {__name__}.ExplodingSink failed and was dropped from run {result.run_id}:"
        " RuntimeError: collector unreachable\n"
    )
