"""Readers derive `interrupted` from the owner's lease; it is never stored (issue 9, item 4)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Iterator

import pytest

from flowbuilder.errors import ConfigurationError
from flowbuilder.events import EventKind, RunEvent, RunStatus, fold_events
from flowbuilder.leases import (
    RunLease,
    cap_lease_ttl,
    effective_status,
    lease_is_live,
    lease_timing,
    list_runs_live,
    mark_owned_here,
)
from flowbuilder.stores.memory import MemoryStore

HERE = socket.gethostname()


def _lease(host: str = "elsewhere", pid: int = 1, expires_in: float = 10.0, run_id: str = "r") -> RunLease:
    now = time.time()
    return RunLease(run_id, "owner", host, pid, now, now + expires_in)


def test_a_running_run_whose_lease_expired_reads_as_interrupted() -> None:
    assert effective_status(RunStatus.RUNNING, _lease(expires_in=-1.0)) is RunStatus.INTERRUPTED


def test_a_running_run_whose_lease_holds_reads_as_running() -> None:
    assert effective_status(RunStatus.RUNNING, _lease(expires_in=5.0)) is RunStatus.RUNNING


def test_a_run_without_a_lease_reads_as_recorded() -> None:
    assert effective_status(RunStatus.RUNNING, None) is RunStatus.RUNNING


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PENDING])
def test_a_run_that_is_not_running_never_reads_as_interrupted(status: RunStatus) -> None:
    assert effective_status(status, _lease(expires_in=-100.0)) is status


def test_an_owner_on_this_host_that_is_gone_ends_its_lease_before_the_ttl() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not lease_is_live(_lease(host=HERE, pid=gone.pid, expires_in=60.0))
    assert lease_is_live(_lease(host=HERE, pid=os.getppid(), expires_in=60.0))


def test_a_lease_of_this_process_holds_exactly_while_the_run_executes_here() -> None:
    lease = _lease(host=HERE, pid=os.getpid(), expires_in=60.0, run_id="mine")
    mark_owned_here("mine", True)
    assert lease_is_live(lease)
    mark_owned_here("mine", False)
    assert not lease_is_live(lease)


def test_lease_timing_reads_the_environment_and_refuses_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBUILDER_LEASE_RENEW_SECONDS", "0.5")
    monkeypatch.setenv("FLOWBUILDER_LEASE_TTL_SECONDS", "3")
    assert lease_timing() == (0.5, 3.0)
    monkeypatch.setenv("FLOWBUILDER_LEASE_TTL_SECONDS", "0.5")
    with pytest.raises(ConfigurationError, match="must be longer than its renewal"):
        lease_timing()
    monkeypatch.setenv("FLOWBUILDER_LEASE_TTL_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="must be a number of seconds"):
        lease_timing()


def test_a_scheduler_caps_its_runs_leases_and_the_cap_goes_when_lifted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new leader takes over a dead leader's runs once their leases lapse: they must not outlast the cap."""
    monkeypatch.delenv("FLOWBUILDER_LEASE_RENEW_SECONDS", raising=False)
    monkeypatch.delenv("FLOWBUILDER_LEASE_TTL_SECONDS", raising=False)
    try:
        cap_lease_ttl(1.0)
        assert lease_timing() == (0.25, 1.0)
        cap_lease_ttl(60.0)  # a cap above the TTL changes nothing
        assert lease_timing() == (2.0, 10.0)
        with pytest.raises(ConfigurationError):
            cap_lease_ttl(0)
    finally:
        cap_lease_ttl(None)
    assert lease_timing() == (2.0, 10.0)


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    url = f"memory://leases-{uuid.uuid4().hex}"
    yield MemoryStore.open(url)
    MemoryStore.forget(url)


def _running(store: MemoryStore, run_id: str, created_at: float) -> None:
    store.append_events(run_id, [RunEvent(run_id, 1, EventKind.RUN_CREATED, data={"workflow": "w"}, time=created_at),
                                 RunEvent(run_id, 2, EventKind.RUN_STARTED, time=created_at)], 0)  # fmt: skip


def test_listing_by_status_splits_running_from_interrupted(store: MemoryStore) -> None:
    for n in range(5):
        _running(store, f"run{n}", 100.0 + n)
        store.renew_leases([_lease(run_id=f"run{n}", expires_in=-1.0 if n % 2 else 10.0)])
    interrupted = list_runs_live(store, status=RunStatus.INTERRUPTED, limit=1)
    assert [s.run_id for s in interrupted.runs] == ["run3"] and interrupted.next_cursor is not None
    rest = list_runs_live(store, status=RunStatus.INTERRUPTED, limit=10, cursor=interrupted.next_cursor)
    assert [s.run_id for s in rest.runs] == ["run1"]
    assert [s.run_id for s in list_runs_live(store, status=RunStatus.RUNNING).runs] == ["run4", "run2", "run0"]
    assert [s.status for s in list_runs_live(store).runs][:2] == [RunStatus.RUNNING, RunStatus.INTERRUPTED]
    assert store.get_run("run1").status is RunStatus.RUNNING  # derived when read, never stored


def test_the_fold_follows_pause_unpause_and_the_requests_recorded() -> None:
    events = [RunEvent("r", 1, EventKind.RUN_CREATED), RunEvent("r", 2, EventKind.RUN_STARTED),
              RunEvent("r", 3, EventKind.RUN_PAUSED, data={"request": 1, "by": "ops"})]  # fmt: skip
    state = fold_events("r", events)
    assert state.paused and state.control_seen == 1
    state.apply(RunEvent("r", 4, EventKind.RUN_SIGNALLED, data={"request": 2, "name": "go"}))
    state.apply(RunEvent("r", 5, EventKind.RUN_UNPAUSED, data={"request": 3}))
    assert not state.paused and state.control_seen == 3
    again = type(state).from_dict(state.to_dict())
    assert (again.paused, again.control_seen) == (False, 3)


def test_a_snapshot_written_before_control_existed_still_loads() -> None:
    old = fold_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)]).to_dict()
    del old["paused"], old["control_seen"]
    state = type(fold_events("r", [])).from_dict(old)
    assert (state.paused, state.control_seen) == (False, 0)
