"""``checksum`` passes the TaskType contract every task type must pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowbuilder_example import Checksum

from flowbuilder_contracts import TaskTypeContract


class TestChecksumContract(TaskTypeContract):
    @pytest.fixture
    def task_type(self) -> Checksum:
        return Checksum()

    @pytest.fixture
    def valid_config(self, tmp_path: Path) -> dict[str, Any]:
        target = tmp_path / "artifact.bin"
        target.write_bytes(b"\x00\x01payload")
        return {"paths": [str(target)], "algorithm": "sha256"}

    @pytest.fixture
    def invalid_config(self) -> dict[str, Any]:
        return {"paths": [], "algorithm": "rot13"}
