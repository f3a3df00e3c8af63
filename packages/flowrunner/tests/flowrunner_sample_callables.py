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


def make_table(rows: int):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.DataFrame({"id": list(range(rows)), "value": [i * 2 for i in range(rows)]})


def table_identity(table):  # type: ignore[no-untyped-def]
    """Returns the id() of the object it received, to show it was not copied."""
    return {"rows": table.height, "object_id": id(table)}


def _say_ready(ready: str | None) -> None:
    if ready is not None:
        with open(ready, "w") as marker:
            marker.write("running")


def never_returns(ready: str | None = None) -> None:
    """Blocks for ever (in short sleeps, as real code would, so signals are seen)."""
    _say_ready(ready)
    while True:
        time.sleep(0.05)


def swallows_interrupts(ready: str | None = None) -> None:
    """Blocks for ever and ignores every exception an interrupt raises in it."""
    _say_ready(ready)
    while True:
        try:
            time.sleep(0.05)
        except BaseException:
            pass
