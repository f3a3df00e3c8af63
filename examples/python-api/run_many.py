"""Many runs at once on one event loop, a live event stream, and a cancellation.

Run from the repository root: ``python examples/python-api/run_many.py``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from flowbuilder.events import EventKind  # noqa: E402
from flowbuilder.model import Task, Workflow  # noqa: E402
from flowrunner import Engine  # noqa: E402

# A workflow built in Python code with the same model the YAML files use.
SLOW = Workflow(name="slow", tasks=[Task(name="wait", type="shell", config={"command": "sleep 30"})])


async def main() -> None:
    engine = Engine(store="memory://")
    try:
        handles = [await engine.submit(HERE / "etl.yaml", params={"rows": n}) for n in range(1, 51)]
        async for event in handles[0].events():  # stream one run's events live
            print("run 1:", event.seq, event.kind.value, event.task or "")
        totals = [(await handle.result()).output("total") for handle in handles]
        print("50 runs done; totals of the first five:", totals[:5])

        slow = await engine.submit(SLOW)
        async for event in slow.events():
            if event.kind is EventKind.TASK_STARTED:
                slow.cancel()  # the shell's process group is terminated
        print("slow run:", (await slow.result()).status.value)
    finally:
        engine.close()


asyncio.run(main())
