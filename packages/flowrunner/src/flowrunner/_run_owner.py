"""The run on whose behalf this context starts processes (one context variable, nothing else).

Every run sets it before it starts attempts (:meth:`flowrunner._scheduler.RunExecution.execute`),
so that the attempts' tasks inherit it; :mod:`flowrunner._process` reads it when it starts a
process. It lives apart from that module so that a run with no process task never imports
the process machinery (threads, ``ctypes``, the guardian): a first ``python``-only run in a
fresh process skips several milliseconds of imports (issue 10).
"""

from __future__ import annotations

import contextvars

RUN_OWNER: contextvars.ContextVar[object] = contextvars.ContextVar("flowrunner_run_owner", default=None)
"""The run on whose behalf processes start: set by the scheduler for the run's tasks, so a
forced cancel kills that run's process groups and not those of other runs in this process."""
