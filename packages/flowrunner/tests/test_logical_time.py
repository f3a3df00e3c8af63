"""A scheduled run's logical time: in expressions, in ``run_started``, kept by a resume; its key is claimed once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from flowbuilder.config import Settings
from flowbuilder.errors import DuplicateRunError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.plugins import build_plugin_host
from flowbuilder.run_service import RunService
from flowbuilder.stores.memory import MemoryStore

WORKFLOW = """\
name: nightly
schedule: {cron: "0 2 * * *"}
env:
  STAMP: "${{ run.logical_time }}"
tasks:
  - name: show
    type: shell
    config: {command: 'echo "$STAMP|${{ run.logical_time is none }}|${{ run.id | length }}"'}
"""
MOMENT = "2026-12-05T02:00:00Z"


@pytest.fixture
def service() -> Iterator[RunService]:
    url = f"memory://logical-{uuid.uuid4().hex}"
    store = MemoryStore.open(url)
    run_service = RunService(build_plugin_host(Settings()), store)
    yield run_service
    run_service.close()
    MemoryStore.forget(url)


def started_data(service: RunService, run_id: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in service.store.read_events(run_id) if e.kind is EventKind.RUN_STARTED]


def test_a_scheduled_run_sees_its_logical_time_and_records_it_in_run_started(service: RunService) -> None:
    prepared = service.prepare(WORKFLOW, logical_time=MOMENT, idempotency_key=f"schedule:nightly:{MOMENT}")
    result = service.run(prepared)
    assert result.succeeded
    assert str(result.output("show")).strip() == f"{MOMENT}|false|32"
    assert started_data(service, prepared.run_id) == [
        {"runner": "local", "resumed": False, "idempotency_key": f"schedule:nightly:{MOMENT}", "logical_time": MOMENT}
    ]
    assert service.store.load_state(prepared.run_id).logical_time == MOMENT


def test_an_unscheduled_run_has_no_logical_time(service: RunService) -> None:
    result = service.run(service.prepare(WORKFLOW))
    assert str(result.output("show")).strip() == "|true|32"
    assert "logical_time" not in started_data(service, result.run_id)[0]


def test_a_second_run_with_the_same_key_is_refused_naming_the_first(service: RunService) -> None:
    key = f"schedule:nightly:{MOMENT}"
    first = service.run(service.prepare(WORKFLOW, logical_time=MOMENT, idempotency_key=key))
    with pytest.raises(DuplicateRunError, match=first.run_id) as refused:
        service.run(service.prepare(WORKFLOW, logical_time=MOMENT, idempotency_key=key))
    assert refused.value.existing_run_id == first.run_id
    assert [summary.run_id for summary in service.store.list_runs().runs] == [first.run_id]


def test_a_resumed_run_keeps_its_logical_time(service: RunService) -> None:
    """The run was cut short after run_started: the resume reads the time back from it."""
    store = service.store
    digest = store.save_definition(WORKFLOW.encode())
    run_id = "cut-short"
    store.append_events(run_id, [
        RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "nightly", "version": "1",
                                                          "definition_hash": digest, "params": {}}),
        RunEvent(run_id, 2, EventKind.RUN_STARTED, data={"runner": "local", "resumed": False,
                                                          "logical_time": MOMENT}),
    ], 0)  # fmt: skip
    prepared = service.prepare_resume(run_id)
    assert prepared.logical_time == MOMENT
    result = service.run(prepared)
    assert str(result.output("show")).strip() == f"{MOMENT}|false|9"
    assert [data.get("logical_time") for data in started_data(service, run_id)] == [MOMENT, MOMENT]
