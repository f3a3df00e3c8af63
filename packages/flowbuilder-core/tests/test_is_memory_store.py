"""``flowbuilder.stores.is_memory_store``: the runner's "no I/O to keep off the loop" check,
answered without importing the memory store for a run on another store (issue 10)."""

from __future__ import annotations

import subprocess
import sys

from flowbuilder.stores import is_memory_store
from flowbuilder.stores.memory import MemoryStore


class _MemorySubclass(MemoryStore):
    pass


def test_only_core_s_memory_store_itself_counts() -> None:
    assert is_memory_store(MemoryStore())
    assert not is_memory_store(_MemorySubclass())  # a subclass may do I/O of its own
    assert not is_memory_store(None)
    assert not is_memory_store(object())


def test_asking_about_another_store_does_not_import_the_memory_store() -> None:
    code = (
        "import sys\n"
        "from flowbuilder.stores import is_memory_store\n"
        "assert not is_memory_store(object())\n"
        "print('flowbuilder.stores.memory' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
