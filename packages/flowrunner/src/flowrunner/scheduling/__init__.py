"""flowrunner's scheduling core: the rules of a run, apart from where its attempts execute.

Three parts, each usable on its own (a remote runner drives them the way
:mod:`flowrunner._scheduler` does on one asyncio loop):

* :class:`RunStateMachine` (:mod:`.state`) — synchronous, no asyncio: the countdown of
  dependencies, ``when``, skip propagation, outcomes, retry and deadline decisions, stop,
  cancel, pause, and waits (a started task that waits for a signal or a time holds no slot). Time comes from an injectable clock; retries come back as "retry task T
  at monotonic instant X" for the driver to time.
* :class:`ReadyQueue` (:mod:`.ready_queue`) — priority with ageing, the critical path,
  pools; one priority key (:func:`priority_key`), one pop.
* :class:`AttemptInputs` (:mod:`.inputs`) — an attempt's config, env and context, rendered
  from the run's state; the :class:`~flowbuilder.interfaces.Attempt` an executor receives.

Attempts run behind :class:`flowbuilder.interfaces.AttemptExecutor` (flowrunner's own are in
:mod:`flowrunner.executors`). docs/runner.md, "The scheduling core", shows how they fit.
"""

from __future__ import annotations

from flowrunner.scheduling.inputs import AttemptInputs
from flowrunner.scheduling.ready_queue import AGEING_SECONDS, RETRY_PENALTY, ReadyQueue, priority_key
from flowrunner.scheduling.state import STATUS, Clock, EventLog, RunStateMachine

__all__ = [
    "AGEING_SECONDS",
    "RETRY_PENALTY",
    "STATUS",
    "AttemptInputs",
    "Clock",
    "EventLog",
    "ReadyQueue",
    "RunStateMachine",
    "priority_key",
]
