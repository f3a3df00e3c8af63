"""Run a workflow file from synchronous code and read its result.

Run from the repository root: ``python examples/python-api/run_sync.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # so the `tasks:` callables import

from flowrunner import run_workflow  # noqa: E402

result = run_workflow(
    HERE / "etl.yaml", params={"rows": 10}, on_event=lambda e: print(e.seq, e.kind.value, e.task or "")
)
print(result.status.value, "total =", result.output("total"), "report =", result.output("report"))
