"""Callables the tests' python tasks call (importable by worker processes through sys.path)."""

from __future__ import annotations

import asyncio
import threading
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


_MEETINGS: dict[str, threading.Barrier] = {}
_MEETINGS_LOCK = threading.Lock()


def meet(name: str, parties: int) -> int:
    """Block until ``parties`` calls with this ``name`` are waiting at once, then return.

    Proves that many calls really run at the same time; if fewer can, the barrier breaks
    after 30 s (a hang guard) and the call raises ``BrokenBarrierError``.
    """
    with _MEETINGS_LOCK:
        barrier = _MEETINGS.setdefault(name, threading.Barrier(parties, timeout=30))
    return barrier.wait()


_RUNNING = {"now": 0, "peak": 0}


def count_overlap(seconds: float) -> None:
    """Record how many of these calls run at once (read with :func:`overlap_peak`)."""
    with _MEETINGS_LOCK:
        _RUNNING["now"] += 1
        _RUNNING["peak"] = max(_RUNNING["peak"], _RUNNING["now"])
    time.sleep(seconds)
    with _MEETINGS_LOCK:
        _RUNNING["now"] -= 1


def overlap_peak() -> int:
    return _RUNNING["peak"]


def wait_for_file(path: str) -> str:
    """Return once ``path`` exists (a gate another process opens); give up after 60 s."""
    import os

    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.005)
    return path


def append_line(path: str, line: str) -> str:
    """Append ``line`` to the file at ``path`` (jobs in worker processes record their order)."""
    with open(path, "a") as file:
        file.write(line + "\n")
    return line


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


CALLS: dict[str, int] = {}
"""Calls of :func:`count_call` per key (the store-thread tests read how far a run got)."""


def count_call(key: str) -> None:
    CALLS[key] = CALLS.get(key, 0) + 1


async def running_loop_module() -> str:
    """Which loop runs this (FLOWBUILDER_EVENT_LOOP): ``uvloop``, ``asyncio`` (stock) or
    ``asyncio precise`` (asyncio's loop on flowbuilder's precise-timer selector)."""
    from flowbuilder._precise_wait import is_precise

    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    module = type(loop).__module__.split(".")[0]
    return f"{module} precise" if is_precise(loop) else module


def log_then_wait(path: str, context):  # type: ignore[no-untyped-def]
    """Log one line, then block until ``path`` exists (the live-log tests open that gate)."""
    context.log("stdout", "first line")
    return wait_for_file(path)


async def async_log_then_wait(path: str, context):  # type: ignore[no-untyped-def]
    """:func:`log_then_wait` as a coroutine on the runner's loop."""
    context.log("stdout", "first line")
    return await _wait_async(path)


async def async_log_from_own_thread_then_wait(path: str, context):  # type: ignore[no-untyped-def]
    """:func:`async_log_then_wait`, but the line is written by a thread of the task's own."""
    writer = threading.Thread(target=context.log, args=("stdout", "first line"))
    writer.start()
    writer.join()
    return await _wait_async(path)


async def _wait_async(path: str) -> str:
    import os

    deadline = time.monotonic() + 60
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        await asyncio.sleep(0.01)
    return path


def append_to(items: list, value: int) -> int:  # type: ignore[type-arg]
    """Appends ``value`` to ``items`` (the config's own list) and returns how long it is now."""
    items.append(value)
    return len(items)


def context_seen(context) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """What an attempt's context holds (``pass_context: true``)."""
    return {"task": context.task, "attempt": context.attempt, "inputs": dict(context.inputs)}


def returns_awaitable():  # type: ignore[no-untyped-def]
    """A plain function whose result is a coroutine: the runner awaits it."""
    return async_double(21)


def control_threads() -> list[int]:
    """The idents of this process's live store control threads (what runs have started by the
    time this task runs; threads of earlier runs in the same process may still be alive)."""
    return sorted(thread.ident or 0 for thread in threading.enumerate() if thread.name == "flowbuilder-control")


def new_control_threads(known: list[int], seconds: float) -> list[int]:
    """The control threads not in ``known`` once at least one is alive, waiting up to ``seconds``
    without yielding (an inline task holds its run's loop all along, as a long computation does)."""
    deadline = time.monotonic() + seconds
    while True:
        new = sorted(set(control_threads()) - set(known))
        if new or time.monotonic() >= deadline:
            return new
        time.sleep(0.001)


def give_context(context):  # type: ignore[no-untyped-def]
    """Returns the task's own context (whose log leads back to the run's events)."""
    return context


def give_dict() -> dict[str, list[int]]:
    return {"values": [1, 2]}


def give_float(text: str) -> float:
    """``float(text)``: "nan", "inf" and "-inf" give the values JSON has no literal for."""
    return float(text)


def give_text(length: int) -> str:
    return "x" * length


async def async_task_failure(message: str) -> None:
    """Fails as a task does on purpose: a non-retryable :class:`TaskFailure` with an exit code."""
    from flowbuilder.interfaces import TaskFailure

    await asyncio.sleep(0)
    raise TaskFailure(message, exit_code=3, retryable=False)


async def async_value_error(message: str) -> None:
    """Fails as a bug does: any other exception."""
    await asyncio.sleep(0)
    raise ValueError(message)


async def async_swallow_cancel(seconds: float) -> str:
    """Sleeps; a cancel ends the sleep, and the function returns anyway (as asyncio allows)."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return "kept going"
    return "slept"


def sleep_later(seconds: float):  # type: ignore[no-untyped-def]
    """A plain function that returns a coroutine (``asyncio.sleep``'s): an INLINE task whose
    attempt the driver then awaits (``RunExecution._await``)."""
    return asyncio.sleep(seconds)


class Unprintable:
    """An output no store can record: its ``repr`` (what event encoders fall back on) raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def tuple_keyed() -> dict[tuple[int, int], str]:
    """A dict JSON cannot hold (its keys are tuples): no store can record it."""
    return {(1, 2): "x"}


async def async_tuple_keyed() -> dict[tuple[int, int], str]:
    await asyncio.sleep(0)
    return tuple_keyed()


def unprintable() -> Unprintable:
    return Unprintable()


async def async_unprintable() -> Unprintable:
    await asyncio.sleep(0)
    return Unprintable()


def self_containing() -> list[object]:
    """A list that holds itself: measuring its JSON text recurses without end."""
    looped: list[object] = []
    looped.append(looped)
    return looped


async def async_make_table(rows: int):  # type: ignore[no-untyped-def]
    await asyncio.sleep(0)
    return make_table(rows)


class PluginAbort(BaseException):
    """What a plugin's code might raise: a ``BaseException`` that is not an ``Exception``."""


def raise_base_exception(kind: str) -> None:
    raise PluginAbort("gave up") if kind == "own" else GeneratorExit("closed")
