"""Rules of plugin trigger sources that need no process: a failing source, event shapes, keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from flowbuilder.interfaces.trigger_source import Emit, TriggerEvent, TriggerSource
from flowbuilder.trigger_sources import MAX_PAYLOAD_BYTES, SourceWatcher, event_key, event_problem


class NoConfig(BaseModel):
    pass


class FailsTwiceThenEmits(TriggerSource):
    """Raises on its first two watches, then reports one event and idles."""

    name = "flaky"
    config_model = NoConfig
    watches = 0

    async def watch(self, config: Any, emit: Emit) -> None:
        type(self).watches += 1
        if type(self).watches <= 2:
            raise RuntimeError(f"broker unreachable (try {type(self).watches})")
        await emit(TriggerEvent("evt-1", {"n": 1}))
        await asyncio.Event().wait()


def test_a_source_that_raises_is_logged_and_watched_again_until_it_emits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher never lets a plugin's exception end the scheduler: it logs and retries."""
    monkeypatch.setattr("flowbuilder.trigger_sources.asyncio.sleep", _no_wait)
    lines: list[str] = []
    handled: list[TriggerEvent] = []

    async def handle(event: TriggerEvent) -> None:
        handled.append(event)

    async def scenario() -> None:
        watcher = SourceWatcher("wf", FailsTwiceThenEmits(), NoConfig(), handle, lines.append)
        watcher.start()
        for _ in range(200):
            if handled:
                break
            await _real_sleep(0.01)
        await watcher.close()

    asyncio.run(scenario())
    assert [event.id for event in handled] == ["evt-1"]
    assert lines == [
        "wf: trigger source flaky failed: broker unreachable (try 1); watching again in 1s",
        "wf: trigger source flaky failed: broker unreachable (try 2); watching again in 2s",
    ]


_real_sleep = asyncio.sleep


async def _no_wait(_: float) -> None:
    await _real_sleep(0)


def _deep(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = _deep(100_000)


@pytest.mark.parametrize(
    ("event_id", "payload", "reason"),
    [
        ("", {}, "non-empty text"),
        ("  ", {}, "non-empty text"),
        (7, {}, "non-empty text"),
        ("x" * 513, {}, "at most 512"),
        ("a\nb", {}, "control character"),
        ("ok", [1], "must be a JSON object"),
        ("ok", {"v": float("nan")}, "not JSON data"),
        ("ok", {"v": "\ud800"}, "lone surrogate"),  # no store can encode it: refused before the claim
        ("ok", {"\udc80": 1}, "lone surrogate"),
        ("id-\udc80", {}, "lone surrogate"),
        ("ok", {"v": object()}, "not JSON data"),
        ("ok", {"v": DEEP}, "not JSON data"),  # a plugin's (or a server's) payload nested past recursion
        ("ok", {"v": "x" * MAX_PAYLOAD_BYTES}, "at most 1048576"),
    ],
)
def test_an_event_of_the_wrong_shape_is_refused_with_the_reason(event_id: Any, payload: Any, reason: str) -> None:
    problem = event_problem(event_id, payload)
    assert problem is not None and reason in problem


def test_a_well_formed_event_passes_and_its_key_names_workflow_source_and_id() -> None:
    assert event_problem("batch-1.csv@17", {"path": "/in/batch-1.csv"}) is None
    assert event_key("inbox", "file", "batch-1.csv@17") == "trigger:inbox:file:batch-1.csv@17"
