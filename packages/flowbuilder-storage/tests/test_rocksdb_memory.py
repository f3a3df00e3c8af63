"""A batch RocksDB has no memory for is refused with one line before RocksDB allocates anything.

Without the check the allocation fails inside RocksDB's C++ code, the exception cannot cross
rocksdict's Rust layer, and the process aborts (exit 134) with nothing reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TIGHT_APPEND = """
import resource, sys
from flowbuilder.errors import StoreError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder_storage import RocksDBStore

def mapped():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))

store = RocksDBStore.open(sys.argv[1])
store.append_events("r", [RunEvent("r", 1, EventKind.TASK_ANNOTATED, task="t")], 0)
batch = [RunEvent("r", seq, EventKind.TASK_SUCCEEDED, task=f"t{seq}", attempt=1, data={"output": "x" * 1_000_000})
         for seq in range(2, 130)]
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (mapped() + 160 * 1024 * 1024, hard))  # room for one copy, not two
try:
    store.append_events("r", batch, 1)
    print("appended")
except StoreError as error:
    print(error)
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
del batch
print("last_seq", store.last_seq("r"))
store.close()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to measure the address space")
def test_a_batch_without_memory_for_rocksdb_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    result = subprocess.run([sys.executable, "-c", TIGHT_APPEND, f"rocksdb://{tmp_path}/db"], capture_output=True,
                            text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    message, last = result.stdout.strip().splitlines()
    assert message.startswith(f"not enough memory to write 128 events to the store {tmp_path}/db (122 MB;")
    assert "nothing of the batch was written" in message
    assert last == "last_seq 1"
