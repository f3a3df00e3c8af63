"""The precise-timer selector (issue 10): a timed wait is handed to ``select()`` unrounded,
events still arrive as from the stock epoll selector, and a descriptor ``select()`` cannot
take falls back to the stock wait.

The spy below wraps the real ``select.select``, so every wait here really happens; what is
checked is the timeout the loop asks for, never how long anything took.
"""

from __future__ import annotations

import asyncio
import select
import selectors
import socket
from typing import Any

import pytest

from flowbuilder import _precise_wait

pytestmark = pytest.mark.skipif(not _precise_wait.AVAILABLE, reason="epoll only (Linux)")


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every timeout the selector hands to ``select()``, in order."""
    seen: list[float] = []

    def spy(readable: Any, writable: Any, errors: Any, timeout: float) -> Any:
        seen.append(timeout)
        return select.select(readable, writable, errors, timeout)

    monkeypatch.setattr(_precise_wait, "_wait_readable", spy)
    return seen


def test_a_timed_wait_is_not_rounded_to_the_millisecond(waits: list[float]) -> None:
    selector = _precise_wait.PreciseEpollSelector()
    try:
        assert selector.select(0.0013) == []
    finally:
        selector.close()
    assert waits == [0.0013]  # the stock selector would ask epoll for 2 ms


def test_no_deadline_and_no_wait_are_the_stock_calls(waits: list[float]) -> None:
    selector = _precise_wait.PreciseEpollSelector()
    left, right = socket.socketpair()
    try:
        selector.register(left, selectors.EVENT_READ, "left")
        right.send(b"x")
        assert [key.data for key, _ in selector.select(None)] == ["left"]
        assert [key.data for key, _ in selector.select(0)] == ["left"]
    finally:
        selector.close()
        left.close()
        right.close()
    assert waits == []


def test_a_ready_descriptor_ends_a_timed_wait_with_its_event(waits: list[float]) -> None:
    selector = _precise_wait.PreciseEpollSelector()
    left, right = socket.socketpair()
    try:
        selector.register(left, selectors.EVENT_READ, "left")
        selector.register(right, selectors.EVENT_WRITE, "right")
        right.send(b"x")
        ready = {key.data: events for key, events in selector.select(30.0)}
    finally:
        selector.close()
        left.close()
        right.close()
    assert ready == {"left": selectors.EVENT_READ, "right": selectors.EVENT_WRITE}
    assert waits == [30.0]


def test_a_descriptor_select_cannot_take_falls_back_to_the_stock_wait(
    waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_precise_wait, "FD_SETSIZE", 0)  # as if the epoll descriptor were above 1023
    selector = _precise_wait.PreciseEpollSelector()
    try:
        assert selector.select(0.0013) == []
    finally:
        selector.close()
    assert waits == []
    loop = asyncio.SelectorEventLoop(selector := _precise_wait.PreciseEpollSelector())
    try:
        assert not _precise_wait.is_precise(loop)
    finally:
        loop.close()
        selector.close()


def test_the_loop_asks_for_the_exact_time_left_to_its_next_timer(waits: list[float]) -> None:
    loop = _precise_wait.new_precise_loop()
    fired: list[str] = []
    try:
        assert _precise_wait.is_precise(loop)

        async def main() -> None:
            loop.call_later(0.0026, fired.append, "second")
            loop.call_later(0.0013, fired.append, "first")
            left, right = socket.socketpair()
            left.setblocking(False)
            with left, right:
                loop.call_later(0.004, right.send, b"ping")
                assert await loop.sock_recv(left, 4) == b"ping"

        loop.run_until_complete(main())
    finally:
        loop.close()
    assert fired == ["first", "second"]
    # The first timed wait is for what is left of 1.3 ms, not for 2 ms.
    assert waits and 0.0005 < waits[0] <= 0.0013
    assert all(timeout < 0.004 for timeout in waits)
