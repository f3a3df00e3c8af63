"""The TriggerSource contract: what every :class:`flowbuilder.interfaces.TriggerSource` must do.

Subclass :class:`TriggerSourceContract` and give it three fixtures:

* ``source_class``: the :class:`~flowbuilder.interfaces.TriggerSource` subclass under test;
* ``source_config``: a valid ``config:`` mapping for it (e.g. a folder under ``tmp_path``);
* ``cause_event``: a callable ``cause_event(n)`` that makes the ``n``-th new event happen
  outside (write a file, publish a message), ``n`` = 1, 2, ...

Each test runs the source's ``watch`` on its own event loop with a recording ``emit``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel, ValidationError

from flowbuilder.interfaces.trigger_source import TriggerEvent, TriggerSource
from flowbuilder.model import NAME_PATTERN
from flowbuilder.trigger_sources import MAX_EVENT_ID_CHARS, MAX_PAYLOAD_BYTES
from flowbuilder_contracts._audit import Contract, audit_implementation

TRIGGER_SOURCE_CONTRACT_VERSION = 1
"""Raised when the suite's rules change, so a trigger source plugin can say which version it passes."""
EVENT_TIMEOUT = 30.0
"""Seconds a caused event may take to be emitted (generous: shared, loaded machines)."""
CANCEL_TIMEOUT = 5.0
"""Seconds ``watch`` may take to end once cancelled."""

CauseEvent = Callable[[int], None]
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class Recorder:
    """An ``emit`` that records events; while ``gate`` is clear it holds each call (back-pressure)."""

    def __init__(self) -> None:
        self.events: list[TriggerEvent] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.arrived = asyncio.Event()

    async def __call__(self, event: TriggerEvent) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.events.append(event)
            self.arrived.set()
            await self.gate.wait()
        finally:
            self.in_flight -= 1

    async def wait_for(self, count: int, timeout: float = EVENT_TIMEOUT) -> None:
        async def enough() -> None:
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=CANCEL_TIMEOUT)
    assert task in done, f"watch() did not end within {CANCEL_TIMEOUT}s of being cancelled"


class TriggerSourceContract(Contract):
    """Abstract tests for a TriggerSource; provide ``source_class``, ``source_config`` and ``cause_event``."""

    __contract__ = True

    @pytest.fixture
    def source_class(self) -> type[TriggerSource]:
        raise NotImplementedError("a TriggerSourceContract subclass must define a `source_class` fixture")

    @pytest.fixture
    def source_config(self) -> Mapping[str, Any]:
        raise NotImplementedError("a TriggerSourceContract subclass must define a `source_config` fixture")

    @pytest.fixture
    def cause_event(self) -> CauseEvent:
        raise NotImplementedError("a TriggerSourceContract subclass must define a `cause_event` fixture")

    def _config(self, source_class: type[TriggerSource], source_config: Mapping[str, Any]) -> Any:
        return source_class.config_model.model_validate(dict(source_config))

    def test_implementation_keeps_every_contract_test(self) -> None:
        assert audit_implementation(type(self)) == []

    def test_is_a_trigger_source_named_like_a_dsl_type(self, source_class: type[TriggerSource]) -> None:
        assert issubclass(source_class, TriggerSource)
        assert isinstance(source_class.name, str) and re.fullmatch(NAME_PATTERN, source_class.name)
        assert isinstance(source_class(), TriggerSource)  # built with no arguments, as the scheduler does

    def test_config_model_accepts_the_valid_config_and_refuses_an_unknown_field(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any]
    ) -> None:
        assert issubclass(source_class.config_model, BaseModel)
        self._config(source_class, source_config)
        with pytest.raises(ValidationError):
            source_class.config_model.model_validate({**source_config, "no_such_setting_xq": 1})

    def test_a_caused_event_is_emitted_with_an_id_and_a_json_object_payload(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any], cause_event: CauseEvent
    ) -> None:
        async def scenario() -> TriggerEvent:
            recorder = Recorder()
            task = asyncio.ensure_future(source_class().watch(self._config(source_class, source_config), recorder))
            try:
                await asyncio.to_thread(cause_event, 1)
                await recorder.wait_for(1)
            finally:
                await stop(task)
            return recorder.events[0]

        event = run(scenario())
        assert isinstance(event, TriggerEvent)
        assert isinstance(event.id, str) and event.id.strip() and len(event.id) <= MAX_EVENT_ID_CHARS
        assert isinstance(event.payload, Mapping)
        assert len(json.dumps(dict(event.payload), allow_nan=False).encode()) <= MAX_PAYLOAD_BYTES

    def test_two_events_get_two_ids(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any], cause_event: CauseEvent
    ) -> None:
        async def scenario() -> list[TriggerEvent]:
            recorder = Recorder()
            task = asyncio.ensure_future(source_class().watch(self._config(source_class, source_config), recorder))
            try:
                await asyncio.to_thread(cause_event, 1)
                await asyncio.to_thread(cause_event, 2)
                await recorder.wait_for(2)
            finally:
                await stop(task)
            return recorder.events

        events = run(scenario())
        assert len({event.id for event in events}) >= 2

    def test_an_event_reported_again_after_a_restart_keeps_its_id(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any], cause_event: CauseEvent
    ) -> None:
        """A source that re-reports after a restart must use the same id: that is what keeps one run per event."""

        async def watch_once() -> list[TriggerEvent]:
            recorder = Recorder()
            task = asyncio.ensure_future(source_class().watch(self._config(source_class, source_config), recorder))
            try:
                await recorder.wait_for(1)
            except TimeoutError:
                pass  # a source that consumes its events need not report them again
            finally:
                await stop(task)
            return recorder.events

        cause_event(1)
        first = run(watch_once())
        assert first, "the event caused before watching started was never emitted"
        again = run(watch_once())
        assert {event.id for event in again} <= {event.id for event in first}

    def test_emit_is_awaited_one_event_at_a_time(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any], cause_event: CauseEvent
    ) -> None:
        """The scheduler's back-pressure: a source waits for each emit before the next."""

        async def scenario() -> Recorder:
            recorder = Recorder()
            recorder.gate.clear()
            task = asyncio.ensure_future(source_class().watch(self._config(source_class, source_config), recorder))
            try:
                await asyncio.to_thread(cause_event, 1)
                await asyncio.to_thread(cause_event, 2)
                await recorder.wait_for(1)
                await asyncio.sleep(1.0)
                assert len(recorder.events) == 1, "a second event was emitted while the first emit was pending"
                recorder.gate.set()
                await recorder.wait_for(2)
            finally:
                await stop(task)
            return recorder

        assert run(scenario()).most_in_flight == 1

    def test_cancel_ends_watch_promptly_while_idle(
        self, source_class: type[TriggerSource], source_config: Mapping[str, Any]
    ) -> None:
        async def scenario() -> None:
            task = asyncio.ensure_future(source_class().watch(self._config(source_class, source_config), Recorder()))
            await asyncio.sleep(0.3)
            assert not task.done() or task.exception() is None
            await stop(task)

        run(scenario())


__all__ = ["CANCEL_TIMEOUT", "EVENT_TIMEOUT", "TRIGGER_SOURCE_CONTRACT_VERSION", "TriggerSourceContract"]
