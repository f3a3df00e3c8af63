"""The owner's side of the control channel: honouring requests for its runs, and renewing their leases.

Each open store gets one daemon thread (a :class:`_ControlHub`, like the store's append
thread: not one per run, since a process may hold ten thousand runs at once), taken from
flowrunner's service threads (:func:`~flowrunner._daemon_threads.service_threads`) rather
than started for it, and given back when the hub has no run left. It blocks in
:meth:`~flowbuilder.interfaces.Store.wait_for_control` on every run of the process that uses
that store — woken by the store's push (a condition in this process, the RocksDB owner's
socket, Redis pub/sub) or, for a store without push, by its polling default — and hands the
requests to each run on its event loop, where :class:`RunControl` applies them:

* ``cancel`` → the run's cancel path, the reason naming who asked;
* ``pause`` → no new attempts start (those running go on), recorded as ``run_paused``;
* ``unpause`` → dispatch resumes, recorded as ``run_unpaused``;
* ``signal`` → recorded as ``run_signalled`` (name, payload), then handed to the task waiting for
  that name, if any (an ``approval``: :mod:`flowrunner._waits`), and to a state-machine run's
  driver (:mod:`flowrunner._workflow_states`), whose transitions wait for it.

Every one is recorded with the request's number, who asked and when (``request``, ``by``,
``requested_at``, ``reason``), so the history says who asked and a requester can wait for
its number. The same thread renews the leases of the process's runs in one call every
``renew`` seconds (:func:`flowbuilder.leases.lease_timing`); a run's first lease is written
before its first event, so a run is never recorded running without a lease from this
runner. Each wait lasts at most :data:`TURN_SECONDS`, which bounds how late the watch takes
in a run that started meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Mapping, Sequence

from flowbuilder.events import EventKind
from flowbuilder.leases import lease_timing, mark_owned_here, new_lease
from flowbuilder.stores import is_memory_store
from flowrunner._daemon_threads import service_threads, start_service

if TYPE_CHECKING:
    from flowbuilder.control import ControlRequest
    from flowbuilder.interfaces import Store
    from flowrunner._scheduler import RunExecution

TURN_SECONDS = 0.5
"""Longest single wait of a hub: a run started during a wait is watched from the next one."""
IN_MEMORY_START_SECONDS = 0.05
"""How long a run on an in-memory store runs before its hub's thread is started, if none runs.

Starting a thread inside a run costs the run tens of µs on an idle machine and several ms on
a loaded one (the new thread must be scheduled and takes the GIL): most of a fresh process's
first short run (issue 10). A store in this process's memory can wait: its leases are read
only here, where :func:`~flowbuilder.leases.lease_is_live` asks the runs owned here and not
the clock, and a request reaches a run that started during a hub's wait up to
:data:`TURN_SECONDS` late anyway. So a run shorter than this never starts the thread. Other
stores start it at once: their leases are read by other processes, and must be renewed even
while an inline task holds the run's loop."""
_LOG = logging.getLogger("flowrunner.control")
_REGISTRY_LOCK = threading.Lock()
_HUBS: dict[int, _ControlHub] = {}


class RunControl:
    """One run's end of its store's hub: applies the requests on the run's loop (use once)."""

    __slots__ = ("hub", "run", "after", "loop", "active", "starter")

    def __init__(self, hub: _ControlHub, run: RunExecution, after: int, loop: asyncio.AbstractEventLoop):
        self.hub = hub
        self.run = run
        self.after = after
        self.loop = loop
        self.active = True
        self.starter: asyncio.TimerHandle | None = None
        """The deferred start of the hub's thread (in-memory store), until it fires or the run ends."""

    def close(self) -> None:
        """Stop applying requests (before the run records ``run_finished``); idempotent."""
        if self.active:
            self.active = False
            if self.starter is not None:
                self.starter.cancel()
            self.hub.forget(self.run.run_id)
            mark_owned_here(self.run.run_id, False)

    def apply(self, requests: Sequence[ControlRequest]) -> None:
        """Honour ``requests`` in number order (called on the run's loop)."""
        run = self.run
        for request in requests:
            if not self.active:
                return
            data = request.history_data()
            action = request.action
            if action == "cancel":
                reason = f"requested by {request.by or 'another process'}"
                if request.reason:
                    reason += f": {request.reason}"
                run._request_cancel(reason, data)
            elif action == "pause":
                run.pause(data)
            elif action == "unpause":
                run.unpause(data)
            elif action == "signal":
                signal = {**data, "name": request.name, "payload": request.payload}
                run.writer.emit(EventKind.RUN_SIGNALLED, data=signal)
                run.signalled(signal)  # a task waiting for it (an approval) takes it
                if run.states is not None:  # a state machine's transitions wait for signals
                    run.states.signalled()
                run._wake()
            else:  # a newer requester's action: record that it was seen, do nothing
                _LOG.warning("run %s: ignored control request %d with unknown action %r", run.run_id,
                             request.number, action)  # fmt: skip


async def start_control(run: RunExecution, after: int) -> RunControl | None:
    """Write (or arrange) the run's first lease and watch its control requests; None without a store.

    Where the first lease is written, always before the run's first event:

    * in memory: here (no I/O to keep off the loop);
    * a store this process owns (``store.is_owner``: RocksDB's owning process) writes to
      the local disk: the run's store thread writes it, as the first write of the run's
      first batch (:meth:`~flowrunner._event_writer.EventWriter.lease_first`). Written from
      a service thread of its own and awaited here, it cost each run two thread hand-offs
      (the job out, the result back) while the loop sat idle: about a quarter of a short
      RocksDB run's CPU time (issue 10). What would refuse it (a full disk) refuses the
      batch too; the run then stops with the store's error, with nothing of it stored;
    * any other store (Redis, a RocksDB directory owned by another process) may be out of
      reach when the run begins: the lease is written on a service thread and awaited, so
      an unreachable store stops the run before any of its tasks runs.
    """
    store = run.request.store
    if store is None:
        return None
    hub = _hub_for(store)
    mark_owned_here(run.run_id, True)
    make_lease = partial(new_lease, run.run_id, hub.owner, hub.ttl)
    try:
        if is_memory_store(store):
            store.renew_leases([make_lease()])
        elif getattr(store, "is_owner", False) is True:
            run.writer.lease_first(make_lease)
        else:  # on flowrunner's service threads: asyncio's default executor would start a thread
            # in every run's fresh loop, and another to shut it down when the loop closes
            await asyncio.get_running_loop().run_in_executor(service_threads(), store.renew_leases, [make_lease()])
    except BaseException:
        mark_owned_here(run.run_id, False)
        raise
    control = RunControl(hub, run, after, asyncio.get_running_loop())
    hub.watch(control, defer_thread=is_memory_store(store))
    return control


def _hub_for(store: Store) -> _ControlHub:
    with _REGISTRY_LOCK:
        hub = _HUBS.get(id(store))
        if hub is None or hub.store is not store:
            hub = _HUBS[id(store)] = _ControlHub(store)
        return hub


class _ControlHub:
    """One daemon thread per store: waits for the requests of every watched run, renews their leases."""

    def __init__(self, store: Store):
        self.store = store
        self.renew, self.ttl = lease_timing()
        # 12 random hex digits tell hubs of one process apart, as uuid4().hex[:12] did at a
        # tenth of its cost: a short run on memory:// builds a hub of its own (see forget).
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(6).hex()}"
        self.lock = threading.Lock()
        self.runs: dict[str, RunControl] = {}
        self.serving = False
        """Whether the hub's loop runs (on a service thread) or is about to."""
        self.next_renew = time.monotonic() + self.renew

    def watch(self, control: RunControl, *, defer_thread: bool = False) -> None:
        """Serve ``control``'s run; start the thread now, or (``defer_thread``) if the run still
        runs after :data:`IN_MEMORY_START_SECONDS` (called on the run's loop)."""
        with self.lock:
            self.runs[control.run.run_id] = control
            if self.serving:
                return
            if not defer_thread:
                self._start_thread()
                return
        control.starter = control.loop.call_later(IN_MEMORY_START_SECONDS, self._start_deferred, control)

    def _start_deferred(self, control: RunControl) -> None:
        control.starter = None
        with self.lock:
            if not self.serving and control.run.run_id in self.runs:
                self._start_thread()

    def _start_thread(self) -> None:
        """Start serving (call under the lock): the runs' first leases were written a moment ago.

        The loop runs on a service thread (:func:`~flowrunner._daemon_threads.start_service`),
        not a thread of its own: an idle one takes it, where starting a thread cost a RocksDB
        run 0.1-0.3 ms (issue 10)."""
        self.next_renew = time.monotonic() + self.renew
        self.serving = True
        start_service("flowbuilder-control", self._serve)

    def forget(self, run_id: str) -> None:
        with self.lock:
            self.runs.pop(run_id, None)
            if not self.runs and not self.serving:  # never served (short in-memory runs): unregister
                with _REGISTRY_LOCK:
                    if _HUBS.get(id(self.store)) is self:
                        del _HUBS[id(self.store)]

    def _serve(self) -> None:
        failing = False
        while True:
            with self.lock:
                if not self.runs:
                    self.serving = False
                    with _REGISTRY_LOCK:
                        if _HUBS.get(id(self.store)) is self:
                            del _HUBS[id(self.store)]
                    return
                watched = {run_id: control.after for run_id, control in self.runs.items()}
            try:
                if time.monotonic() >= self.next_renew:
                    self.next_renew = time.monotonic() + self.renew
                    self.store.renew_leases([new_lease(run_id, self.owner, self.ttl) for run_id in watched])
                turn = min(TURN_SECONDS, max(self.next_renew - time.monotonic(), 0.0))
                found = self.store.wait_for_control(watched, turn)
                failing = False
            except Exception as error:  # a broken store: the runs' own writes report it; keep trying
                if not failing:
                    _LOG.debug("control requests and leases of %d run(s) not reachable: %s", len(watched), error)
                failing = True
                time.sleep(TURN_SECONDS)
                continue
            if found:
                self._hand_over(found)

    def _hand_over(self, found: Mapping[str, Sequence[ControlRequest]]) -> None:
        with self.lock:
            for run_id, requests in found.items():
                control = self.runs.get(run_id)
                if control is None:
                    continue
                fresh = [request for request in requests if request.number > control.after]
                if not fresh:
                    continue
                control.after = fresh[-1].number
                try:
                    control.loop.call_soon_threadsafe(control.apply, fresh)
                except RuntimeError:  # the run's loop closed under it
                    self.runs.pop(run_id, None)
