"""Core's ``file`` trigger source passes the TriggerSource contract, with real files in a real folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from flowbuilder.file_trigger import FileArrival
from flowbuilder.interfaces import TriggerSource
from flowbuilder_contracts import TriggerSourceContract
from flowbuilder_contracts.trigger_source import CauseEvent


class TestFileArrival(TriggerSourceContract):
    @pytest.fixture
    def source_class(self) -> type[TriggerSource]:
        return FileArrival

    @pytest.fixture
    def source_config(self, tmp_path: Path) -> Mapping[str, Any]:
        (tmp_path / "inbox").mkdir()
        return {"directory": str(tmp_path / "inbox"), "pattern": "*.csv", "poll": 0.05}

    @pytest.fixture
    def cause_event(self, tmp_path: Path) -> CauseEvent:
        def cause(n: int) -> None:
            (tmp_path / "inbox" / f"arrived-{n}.csv").write_text(f"row {n}\n", encoding="utf-8")

        return cause
