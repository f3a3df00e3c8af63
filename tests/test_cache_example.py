"""The cache example (examples/cache/) across processes on the embedded RocksDB store.

Here rather than in flowrunner's own tests: it needs flowbuilder-storage, which the contract
matrix's flowrunner cells do not install (they run flowrunner with core alone).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run_cache_example(store: str, *args: str) -> list[dict[str, Any]]:
    flowbuilder = str(Path(sys.executable).with_name("flowbuilder"))
    done = subprocess.run([flowbuilder, "run", "--json", "--store", store, str(EXAMPLES / "cache" / "cache.yaml"), *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _served(events: list[dict[str, Any]]) -> dict[str, str | None]:
    """Task -> the run whose cached result served it (None: it ran)."""
    return {e["task"]: e["data"].get("cached", {}).get("run") for e in events if e["kind"] == "task_succeeded"}


def test_the_cache_example_serves_a_second_process_from_the_first_ones_results(tmp_path: Path) -> None:
    store = f"rocksdb://{tmp_path / 'store'}"
    first = _run_cache_example(store)
    first_run = first[0]["run_id"]
    assert _served(first) == {"extract": None, "report": None}
    report = next(e["data"]["output"] for e in first if e["kind"] == "task_succeeded" and e["task"] == "report")
    assert report == "Daily report: 42 rows on 2026-01-31"
    assert _served(_run_cache_example(store)) == {"extract": first_run, "report": first_run}
    assert _served(_run_cache_example(store, "--param", "title=Weekly")) == {"extract": first_run, "report": None}
    assert _served(_run_cache_example(store, "--param", "day=2026-02-01")) == {"extract": None, "report": None}


def test_the_dsl_page_shows_the_cache_example_as_it_is_tested() -> None:
    example = (EXAMPLES / "cache" / "cache.yaml").read_text(encoding="utf-8")
    assert example in (EXAMPLES.parent / "docs" / "dsl.md").read_text(encoding="utf-8")
