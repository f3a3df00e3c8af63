"""Task locks (``lock:``): a named lease of the run's store held while an attempt runs.

A lock is a named lease of the store's coordination role
(:meth:`~flowbuilder.interfaces.CoordinationStore.acquire_lease_epoch`), so it is shared by
every process whose runs use that store: the processes of one machine on ``rocksdb://``, a
cluster on ``redis://`` (``memory://`` and runs without a store: the process itself). The
lease's epoch grows with every new holding, so it is the holder's *fencing token*: the task
gets it as ``FLOWBUILDER_LOCK_TOKEN`` (in its environment; ``context.env`` for python tasks)
and hands it to the system it protects, which refuses a token lower than one it has seen.

How it fits the scheduling core (:mod:`flowrunner.scheduling.state`): the machine asks
:meth:`LockKeeper.gate` before it starts a task with a lock. Taken: the attempt starts, its
``task_started`` carries ``lock: {name, token}``. Held elsewhere: the task is parked (no slot,
no thread, other ready tasks go on) and a loop timer puts it back into the ready queue after a
poll delay that doubles up to :data:`MAX_POLL_SECONDS` and never passes the holder's expiry.
Every end of the attempt (success, failure, timeout, cancel) releases the lease.

While attempts hold locks one daemon thread per process (:class:`_Renewer`) renews every
holding every ttl/3. A holding that is lost -- another holder took the lease after it expired
(this process was stopped or cut off for longer than the ttl), or renewals kept failing until
its expiry -- has its attempt cancelled and recorded as *failed* with the reason (retried as
the task's ``retry`` says, under a new token): the task must not go on believing it holds the
lock. A killed holder renews nothing: its lease expires after the ttl and a waiter takes it
with a greater token.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    import asyncio

    from flowbuilder.interfaces import Store
    from flowbuilder.model import TaskLock
    from flowrunner._scheduler import RunExecution

LEASE_PREFIX = "lock:"
"""Task locks' lease names in the store: ``lock:<name>`` (apart from schedulers' leases)."""
TOKEN_ENV = "FLOWBUILDER_LOCK_TOKEN"  # noqa: S105 (the name of a variable, not a secret)
NAME_ENV = "FLOWBUILDER_LOCK_NAME"
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0
"""A parked task asks again at least this often, so a lock released early is taken soon."""

_log = logging.getLogger("flowrunner.locks")


@dataclass(eq=False)
class Holding:
    """One attempt's holding of a lock (what the renewer renews)."""

    task_id: int
    name: str
    owner: str
    ttl: float
    token: int
    expires_at: float
    store: Store
    lost: Callable[[Holding, str], None]

    @property
    def lease(self) -> str:
        return LEASE_PREFIX + self.name


class LockKeeper:
    """The locks of one run's tasks (use on the run's loop)."""

    __slots__ = ("run", "locks", "store", "owner_prefix", "held", "refused", "lost_reasons", "polls", "timers")

    def __init__(self, run: RunExecution, locks: Mapping[int, TaskLock]):
        self.run = run
        self.locks = locks
        """Task id -> its lock, for the tasks of the run that take one."""
        store = run.request.store
        self.store: Store = store if store is not None else _process_store()
        self.owner_prefix = f"{socket.gethostname()}:{os.getpid()}:{run.run_id}"
        self.held: dict[int, Holding] = {}
        self.refused: dict[int, str] = {}
        """Task id -> why its lock could not be asked for (the store failed): the attempt fails so."""
        self.lost_reasons: dict[int, str] = {}
        """Task id -> why its running attempt lost its lock: its cancel is recorded as this failure."""
        self.polls: dict[int, int] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}

    def gate(self, task_id: int) -> bool:
        """May ``task_id`` start now? Takes its lock if it has one; False parks it (the lock is taken)."""
        lock = self.locks.get(task_id)
        if lock is None:
            return True
        run = self.run
        machine = run.machine
        task = machine.names[task_id]
        name = self._name(task_id, lock)
        if name is None:
            return True  # refused: the attempt starts and fails with the reason
        owner = f"{self.owner_prefix}:{task}:{uuid.uuid4().hex[:12]}"
        try:
            grant = self.store.acquire_lease_epoch(LEASE_PREFIX + name, owner, lock.ttl)
        except Exception as error:  # a dead store: the attempt starts and fails with the reason
            self.refused[task_id] = f"could not take lock {name!r}: {type(error).__name__}: {error}"
            return True
        if grant.holder == owner:
            self.polls.pop(task_id, None)
            holding = Holding(task_id, name, owner, lock.ttl, grant.epoch, grant.expires_at, self.store,
                              self._lost_from_thread)  # fmt: skip
            self.held[task_id] = holding
            shared = machine.type_data[task_id]
            machine.type_data[task_id] = {**shared, "lock": {"name": name, "token": grant.epoch}}
            _renewer().add(holding)
            return True
        polls = self.polls[task_id] = self.polls.get(task_id, 0) + 1
        until_expiry = grant.expires_at - time.time()
        delay = min(FIRST_POLL_SECONDS * 2 ** min(polls - 1, 16), MAX_POLL_SECONDS, lock.ttl / 3)
        delay = max(FIRST_POLL_SECONDS, min(delay, until_expiry)) if until_expiry > 0 else FIRST_POLL_SECONDS
        machine.lock_wait(task_id)
        loop = run.loop
        assert loop is not None
        self.timers[task_id] = loop.call_later(delay, self._poll_due, task_id)
        return False

    def _name(self, task_id: int, lock: TaskLock) -> str | None:
        """The lock's name, its expressions rendered in the task's scope; None (and refused) when bad."""
        name = lock.name
        if "${{" not in name:
            return name
        from flowbuilder.expressions import as_text, render
        from flowbuilder.model import LOCK_NAME_PATTERN

        try:
            name = as_text(render(name, self.run.inputs.scope(task_id)))
        except Exception as error:
            self.refused[task_id] = f"lock name {lock.name!r}: {error}"
            return None
        if re.match(LOCK_NAME_PATTERN, name) is None:
            self.refused[task_id] = (f"lock name {lock.name!r} became {name[:200]!r}: a lock name is 1 to 200 letters,"
                                     " digits and _ . : / - (not starting with . : / -)")  # fmt: skip
            return None
        return name

    def _poll_due(self, task_id: int) -> None:
        self.timers.pop(task_id, None)
        self.run.machine.lock_retry_due(task_id)

    def env(self, task_id: int) -> Mapping[str, str] | None:
        """What the attempt's environment gets: the lock's name and its fencing token."""
        holding = self.held.get(task_id)
        if holding is None:
            return None
        return {NAME_ENV: holding.name, TOKEN_ENV: str(holding.token)}

    def release(self, task_id: int) -> None:
        """An attempt of ``task_id`` ended: give its lock back (nothing when it held none)."""
        self.refused.pop(task_id, None)
        holding = self.held.pop(task_id, None)
        if holding is None:
            return
        machine = self.run.machine
        data = machine.type_data[task_id]
        machine.type_data[task_id] = {key: value for key, value in data.items() if key != "lock"}
        _renewer().remove(holding)
        try:
            holding.store.release_lease(holding.lease, holding.owner)
        except Exception as error:  # it expires after its ttl instead
            _log.warning("could not release lock %r (it expires in %.0f s): %s", holding.name, holding.ttl, error)

    def _lost_from_thread(self, holding: Holding, reason: str) -> None:
        loop = self.run.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._lost, holding, reason)
            except RuntimeError:  # the loop closed meanwhile: the run is over
                pass

    def _lost(self, holding: Holding, reason: str) -> None:
        """On the loop: the holding of a running attempt was lost; cancel it, to be recorded as failed."""
        task_id = holding.task_id
        if self.held.get(task_id) is not holding:
            return  # the attempt ended meanwhile
        self.lost_reasons[task_id] = reason
        inflight = self.run.inflight.get(task_id)
        if inflight is not None:
            executor, attempt = inflight
            executor.cancel(attempt)
        else:  # an awaitable a plain function returned, awaited by the driver itself
            self.run.cancel_awaited(task_id)

    def close(self) -> None:
        """The run ends: stop polling; give back what is still held (a drained run holds nothing)."""
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task_id in list(self.held):
            self.release(task_id)


class _Renewer:
    """The one daemon thread of a process that renews every holding at a third of its ttl."""

    def __init__(self) -> None:
        self.holdings: set[Holding] = set()
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def add(self, holding: Holding) -> None:
        with self.changed:
            self.holdings.add(holding)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._renew_forever, name="flowbuilder-lock-renewer",
                                               daemon=True)  # fmt: skip
                self.thread.start()
            self.changed.notify()

    def remove(self, holding: Holding) -> None:
        with self.changed:
            self.holdings.discard(holding)

    def _renew_forever(self) -> None:
        while True:
            with self.changed:
                while not self.holdings:
                    self.changed.wait()
                period = min(holding.ttl for holding in self.holdings) / 3
                self.changed.wait(period)
                holdings = list(self.holdings)
            for holding in holdings:
                self._renew(holding)

    def _renew(self, holding: Holding) -> None:
        reason: str | None = None
        try:
            grant = holding.store.acquire_lease_epoch(holding.lease, holding.owner, holding.ttl)
        except Exception as error:
            if time.time() < holding.expires_at:
                return  # try again next round; the holding is good until it expires
            reason = f"lost lock {holding.name!r} (token {holding.token}): renewals failed until it expired: {error}"
        else:
            if grant.holder == holding.owner and grant.epoch == holding.token:
                holding.expires_at = grant.expires_at
                return
            reason = (f"lost lock {holding.name!r} (token {holding.token}): it expired and was taken with token"
                      f" {grant.epoch} (this process could not renew it within its ttl of {holding.ttl:g} s)")  # fmt: skip
            if grant.holder == holding.owner:  # re-taken by this very renewal after expiry: give it back
                try:
                    holding.store.release_lease(holding.lease, holding.owner)
                except Exception:
                    pass
        with self.changed:
            if holding not in self.holdings:
                return  # released meanwhile
            self.holdings.discard(holding)
        holding.lost(holding, reason)


_RENEWER: _Renewer | None = None
_RENEWER_LOCK = threading.Lock()
_PROCESS_STORE: Any = None


def _renewer() -> _Renewer:
    global _RENEWER
    with _RENEWER_LOCK:
        if _RENEWER is None:
            _RENEWER = _Renewer()
        return _RENEWER


def _process_store() -> Store:
    """Where the locks of runs without a store live: this process (they exclude nothing elsewhere)."""
    global _PROCESS_STORE
    with _RENEWER_LOCK:
        if _PROCESS_STORE is None:
            from flowbuilder.stores.memory import MemoryStore

            _PROCESS_STORE = MemoryStore()
        store: Store = _PROCESS_STORE
        return store


def task_locks(run: RunExecution) -> LockKeeper | None:
    """The run's :class:`LockKeeper` when a task (or ``defaults``) takes a lock, else None."""
    workflow = run.plan.workflow
    default = workflow.defaults.lock
    locks = {task_id: task.lock or default for task_id, task in enumerate(workflow.tasks) if task.lock or default}
    if not locks:
        return None
    return LockKeeper(run, {task_id: lock for task_id, lock in locks.items() if lock is not None})
