"""Values a task may hand the stores that UTF-8 or JSON cannot hold as they are: the run is
recorded (never exit 70), on RocksDB and Redis alike."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.events import EventKind
from flowbuilder_storage import RedisStore, RocksDBStore

CLI = str(Path(sys.executable).with_name("flowbuilder"))

MODULE = """
def lone_output():
    return {"text": "a\\ud800b", "k\\udfff": 1}

def lone_error():
    raise ValueError("bad \\udc80 value")
"""

WORKFLOW = """name: lone
defaults: {on_failure: continue}
tasks:
  - {name: output, type: python, config: {callable: "lone_values:lone_output"}}
  - {name: error, type: python, config: {callable: "lone_values:lone_error"}}
"""


@pytest.fixture(params=["rocksdb", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "rocksdb":
        return f"rocksdb://{tmp_path}/store"
    return str(request.getfixturevalue("redis_url"))


def test_a_lone_surrogate_in_an_output_or_an_error_is_recorded_as_u_fffd(tmp_path: Path, store_url: str) -> None:
    """A Python task's output or exception text may hold a lone surrogate, which has no UTF-8
    form: the run used to end in ``internal error: UnicodeEncodeError`` (exit 70) with
    nothing of it recorded. Now the run is recorded, the surrogates as U+FFFD."""
    (tmp_path / "lone_values.py").write_text(MODULE)
    (tmp_path / "lone.yaml").write_text(WORKFLOW)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([CLI, "run", "lone.yaml", "--store", store_url], capture_output=True, text=True,
                            errors="replace", cwd=tmp_path, env=env)  # fmt: skip
    assert result.returncode == 1, result.stderr  # the task that raised failed the run; nothing else
    assert "internal error" not in result.stderr
    with (RocksDBStore if store_url.startswith("rocksdb") else RedisStore).open(store_url) as store:
        (run,) = store.list_runs().runs
        events = store.read_events(run.run_id)
    done = {e.task: e.data for e in events if e.kind in (EventKind.TASK_SUCCEEDED, EventKind.TASK_FAILED)}
    assert done["output"]["output"] == {"text": "a\ufffdb", "k\ufffd": 1}
    assert "bad \ufffd value" in done["error"]["error"]
    assert events[-1].kind is EventKind.RUN_FINISHED


def test_reading_after_a_sequence_number_past_64_bits_finds_nothing(store_url: str) -> None:
    """As memory:// answers: RocksDB raised struct.error ("int too large to convert") building
    the key, Redis refused the index ("value is not an integer or out of range")."""
    from flowbuilder.events import RunEvent

    with (RocksDBStore if store_url.startswith("rocksdb") else RedisStore).open(store_url) as store:
        store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED, data={"workflow": "w"})], 0)
        for after in (2**63 - 1, 2**64, 2**70):
            assert store.read_events("r", after) == []
            assert store.read_events("r", after, limit=5) == []
        assert [e.seq for e in store.read_events("r", 0, limit=2**70)] == [1]
