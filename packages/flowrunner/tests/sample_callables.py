"""Callables the tests' python tasks call (importable by worker processes through sys.path)."""

from __future__ import annotations

import asyncio
import time


def join(*parts: str, sep: str = ",") -> str:
    return sep.join(parts)


async def async_double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


def blocking_double(value: int) -> int:
    time.sleep(0.01)
    return value * 2


def noop() -> None:
    return None
