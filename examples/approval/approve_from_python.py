"""Start the release workflow and decide its approval from Python (docs/runner.md, "Python API").

    python examples/approval/approve_from_python.py

``Engine.signal`` sends what ``flowbuilder signal`` sends: it works for a run of this engine,
of another process, or an interrupted run (honoured when it is resumed).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from flowbuilder.events import EventKind
from flowrunner import Engine

WORKFLOW = Path(__file__).with_name("release.yaml")


async def main() -> None:
    engine = Engine(store="memory://")
    try:
        handle = await engine.submit(WORKFLOW, {"cool_off": "0.2s"})
        async for event in handle.events():  # follow the run until the approval waits
            if event.kind is EventKind.TASK_WAITING and event.task == "approve":
                print(f"waiting for {event.data['signal']!r} from {', '.join(event.data['approvers'])}")
                engine.signal(handle.run_id, "release", {"approved": True, "comment": "ship it"}, by="alice")
                break
        result = await handle.result()
        print(result.status.value, "approved by", result.tasks["approve"].output["by"])
    finally:
        engine.close()


if __name__ == "__main__":
    asyncio.run(main())
