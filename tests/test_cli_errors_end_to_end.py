"""One-line errors of the installed CLI with every package's plugins, for what core's tests cannot reach.

Core's own tests install no runner, store package or workers: the messages about those are
checked here, through the real executable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

WORKFLOW = "name: w\ntasks:\n  - {name: a, type: shell, config: {command: 'echo hi'}}\n"
HUGE = "x" * 100_000


@pytest.mark.parametrize(
    "args",
    [
        ("--runner", HUGE),
        ("--workers", "nope://" + HUGE),
        ("--workers", "redis://" + HUGE),
        ("--workers", "dask://" + HUGE),
        ("--store", "rocksdb:///" + HUGE),
        ("--store", "redis://127.0.0.1:1/" + HUGE),
        ("--store", "redis://127.0.0.1:1/0?retry_seconds=" + HUGE),
        ("--store", "rocksdb://store?max_log_bytes=" + HUGE),
    ],
    ids=[
        "runner",
        "workers-scheme",
        "workers-redis",
        "workers-dask",
        "store-rocksdb",
        "store-redis-db",
        "store-redis-option",
        "store-rocksdb-option",
    ],
)
def test_an_error_quotes_a_huge_argument_cut_to_80_characters(scratch_dir: Path, run_cli: Callable[..., Any],
                                                              args: tuple[str, ...]) -> None:  # fmt: skip
    """A 100 KB URL or name gave a 100 KB "one-line" error (the store's OSError repeated the path too)."""
    (scratch_dir / "w.yaml").write_text(WORKFLOW)
    done = run_cli("run", "w.yaml", *args, *(() if "--store" in args else ("--store", "memory://")))
    assert done.returncode == 1, done.stderr[:300]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr[:300]
    assert len(done.stderr) < 1000 and "characters)" in done.stderr, done.stderr[:300]
