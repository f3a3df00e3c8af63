"""Building plans from YAML text with flowrunner's own task types, and running them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Mapping

from flowbuilder.compiler import compile_workflow
from flowbuilder.interfaces import RunRequest, RunResult
from flowbuilder.loader import load_workflow
from flowbuilder.params import resolve_params
from flowbuilder.plan import ExecutionPlan
from flowbuilder.stores.memory import MemoryStore
from flowrunner import LocalRunner
from flowrunner.tasktypes import BUILTIN_TASK_TYPES

TASK_TYPES = {cls.name: cls() for cls in BUILTIN_TASK_TYPES}


def plan_of(text: str) -> ExecutionPlan:
    source = load_workflow(text, filename="<test>")
    return compile_workflow(source.workflow, TASK_TYPES, locator=source.locator)


def run_text(text: str, params: Mapping[str, Any] | None = None, store: MemoryStore | None = None,
             **request: Any) -> RunResult:  # fmt: skip
    plan = plan_of(text)
    runner = LocalRunner(TASK_TYPES)
    try:
        return asyncio.run(asyncio.wait_for(
            runner.run_async(RunRequest(plan=plan, params=resolve_params(plan.workflow, params or {}), store=store, **request)), 60))  # fmt: skip
    finally:
        runner.close_workers()


def processes_with_env(token: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if token.encode() not in (entry / "environ").read_bytes():
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            found.append(int(entry.name))
    return found


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
