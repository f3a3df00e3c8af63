"""``DaskExecutor``: the attempt executor that sends ``isolation: process`` attempts to a Dask cluster.

For users who already run Dask: ``flowbuilder run --workers dask://HOST:PORT`` connects
Dask's own client (``distributed.Client``) to the scheduler at ``tcp://HOST:PORT`` and the
runner hands this executor its PROCESS attempts (``python`` tasks with ``isolation:
process``, and any task type that asks for a process). Every other mode (inline calls,
async, threads, and so shell and script tasks, which start their own processes) stays the
local runner's: a Dask task is a Python function call, and a trip to the cluster is not
worth it for the rest. The scheduling rules stay the runner's too; this class only carries
attempts out and outcomes back.

How an attempt travels:

1. :meth:`submit` (scheduler thread) calls ``client.submit(run_attempt, task_type, config,
   context)``, which queues the graph on the client's own event loop thread and returns at
   once. The context travels without its log writer and deadline
   (:func:`~flowbuilder_distributed.dask_attempts.travelling_context`).
2. The future's done-callback queues it for the executor's *collector* thread, which fetches
   the results of every attempt that finished meanwhile with one ``client.gather`` (a round
   trip per batch, not per attempt) and posts them to the scheduler's loop with
   ``call_soon_threadsafe``; there the log lines are written and the outcome,
   rebuilt from the tuple :func:`~flowbuilder_distributed.dask_attempts.run_attempt`
   returned (a TaskFailure with its fields), reaches ``on_done``.
3. ``timeout`` is enforced here, from submission (time queued on the cluster counts): the
   attempt fails ``timed_out`` and its future is cancelled. :meth:`cancel` reports the
   attempt cancelled at once and cancels the future.

What Dask cannot do: stop a Python function already running on a worker thread. A timed-out
or cancelled attempt is released (its outcome is reported, its result dropped), but the call
runs on inside the Dask worker until it returns, as with Dask's own ``Future.cancel``.
Dask runs a task at least once (a worker lost mid-task has its task rerun elsewhere), so
``isolation: process`` functions sent to Dask should be safe to repeat, as for any retry.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pickle
import queue
import threading
import uuid
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from flowbuilder.errors import ConfigurationError, quoted
from flowbuilder.interfaces import Attempt, AttemptExecutor, AttemptOutcome, TaskFailure
from flowbuilder_distributed.dask_attempts import Finished, run_attempt, travelling_context

if TYPE_CHECKING:
    from flowbuilder.config import Settings
    from flowbuilder.interfaces.executor import OnDone

log = logging.getLogger("flowbuilder_distributed.dask_executor")

SETTINGS_SECTION = "dask"
DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds :meth:`DaskExecutor.from_url` waits for the scheduler before the run is refused."""
FETCH_TIMEOUT = 300.0
"""Seconds the collector waits for one attempt's result when a batch's gather failed."""
COLLECT_BATCH = 1024
"""Finished attempts whose results one ``gather`` fetches at most."""
DEFAULT_LOG_LEVEL = "CRITICAL"
"""Dask's client logs a lost scheduler as a traceback; the attempts it concerns already fail
with a one-line reason in the run's record, so its logs are muted unless ``[dask] log_level``
says otherwise (``WARNING`` shows them)."""
DASK_LOGGERS = ("distributed", "distributed.client")
INSTALL_HINT = "pip install 'flowbuilder-distributed[dask]'"


class _InFlight:
    """What the executor remembers of one submitted attempt until its outcome is reported."""

    __slots__ = ("attempt", "on_done", "loop", "future", "timer")

    def __init__(self, attempt: Attempt, on_done: OnDone, loop: asyncio.AbstractEventLoop, future: Any):
        self.attempt = attempt
        self.on_done = on_done
        self.loop = loop
        self.future = future
        self.timer: asyncio.TimerHandle | None = None


class DaskExecutor(AttemptExecutor):
    """Runs PROCESS attempts on an existing Dask cluster, through Dask's own client.

    Args:
        client: a connected ``distributed.Client`` (synchronous: it runs its own loop thread).
            The executor closes it in :meth:`close` only if it built it (:meth:`from_url`).
        owns_client: whether :meth:`close` closes ``client``.
    """

    name: ClassVar[str] = "dask"
    url_schemes: ClassVar[tuple[str, ...]] = ("dask",)
    modes: ClassVar[frozenset[str]] = frozenset({"process"})

    def __init__(self, client: Any, *, owns_client: bool = False):  # a distributed.Client
        self.client = client
        self.owns_client = owns_client
        self.executor_id = uuid.uuid4().hex[:12]
        self._serial = itertools.count(1)
        self._in_flight: dict[Attempt, _InFlight] = {}
        self._lock = threading.Lock()
        self._finished: queue.SimpleQueue[tuple[Attempt, Any] | None] = queue.SimpleQueue()
        self._collector: threading.Thread | None = None

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DaskExecutor:
        """Connect to the scheduler of ``dask://HOST:PORT``; ``[dask] connect_timeout`` (seconds,
        default 10) bounds the wait. A missing extra or an unreachable scheduler is a one-line
        :class:`~flowbuilder.errors.ConfigurationError`."""
        address = scheduler_address(url)
        section = settings.section(SETTINGS_SECTION)
        timeout = _connect_timeout(section.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        log_level = _log_level(section.get("log_level", DEFAULT_LOG_LEVEL))
        try:
            import distributed
        except ImportError as error:
            raise ConfigurationError(
                f"workers URL {quoted(url)} needs Dask's distributed client, which is not installed ({error}): {INSTALL_HINT}"
            ) from None
        for name in DASK_LOGGERS:
            logging.getLogger(name).setLevel(log_level)
        try:
            connect: Any = distributed.Client  # typed only in part: held as Any
            client = connect(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConfigurationError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g}s ({reason});"
                " is it running? (`dask scheduler`, or a LocalCluster's scheduler_address)"
            ) from None
        return cls(client, owns_client=True)

    # -- the scheduler's side ----------------------------------------------------------------

    def submit(self, attempt: Attempt, on_done: OnDone) -> None:
        loop = asyncio.get_running_loop()
        key = f"flowbuilder-{attempt.task}-{attempt.number}-{self.executor_id}-{next(self._serial)}"
        try:
            future = self.client.submit(
                run_attempt, attempt.task_type, attempt.config, travelling_context(attempt.context),
                key=key, pure=False,
            )  # fmt: skip
        except Exception as error:  # arguments Dask cannot serialize, a closed client
            failure = TaskFailure(f"cannot send the attempt to the Dask cluster: {error}", retryable=False)
            on_done(attempt, AttemptOutcome.failed(failure))
            return
        held = _InFlight(attempt, on_done, loop, future)
        with self._lock:
            self._in_flight[attempt] = held
        if attempt.timeout is not None:
            held.timer = loop.call_later(attempt.timeout, self._timed_out, attempt)
        self._start_collector()
        future.add_done_callback(lambda done: self._finished.put((attempt, done)))

    def cancel(self, attempt: Attempt) -> None:
        held = self._take(attempt)
        if held is None:
            return
        self._release(held.future)
        held.loop.call_soon(held.on_done, attempt, AttemptOutcome.cancelled())

    def close(self) -> None:
        """Release the futures still in flight and close the client if this executor opened it."""
        with self._lock:
            left = list(self._in_flight.values())
            self._in_flight.clear()
        for held in left:
            if held.timer is not None:
                held.timer.cancel()
            self._release(held.future)
        with self._lock:
            collector, self._collector = self._collector, None
        if collector is not None:
            self._finished.put(None)
            collector.join(timeout=10)
        if self.owns_client:
            try:
                self.client.close()
            except Exception:  # a client whose scheduler died: nothing left to release
                pass

    # -- outcomes --------------------------------------------------------------------------------

    def _take(self, attempt: Attempt) -> _InFlight | None:
        with self._lock:
            held = self._in_flight.pop(attempt, None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        return held

    def _timed_out(self, attempt: Attempt) -> None:
        held = self._take(attempt)
        if held is None:
            return
        self._release(held.future)
        timeout = attempt.timeout or 0.0
        failure = TaskFailure(f"timed out after {timeout:g}s on the Dask cluster", timed_out=True)
        held.on_done(attempt, AttemptOutcome.failed(failure))

    def _start_collector(self) -> None:
        if self._collector is not None:
            return
        with self._lock:
            if self._collector is None:
                self._collector = threading.Thread(target=self._collect_forever, name="flowbuilder-dask-results",
                                                   daemon=True)  # fmt: skip
                self._collector.start()

    def _collect_forever(self) -> None:
        """Fetch finished attempts' results in batches (one ``gather`` for all that finished
        meanwhile, instead of a round trip each) and post them to their loops, until :meth:`close`."""
        finished = self._finished
        while True:
            first = finished.get()
            batch = [first]
            while first is not None and len(batch) < COLLECT_BATCH:
                try:
                    batch.append(finished.get_nowait())
                except queue.Empty:
                    break
            done = [entry for entry in batch if entry is not None]
            if done:
                self._post(done)
            if None in batch:
                return

    def _post(self, done: list[tuple[Attempt, Any]]) -> None:
        with self._lock:
            current = [(attempt, future, held) for attempt, future in done
                       if (held := self._in_flight.get(attempt)) is not None and held.future is future]  # fmt: skip
        gathered: dict[int, Finished] = {}
        ready = [future for _, future, _ in current if future.status == "finished"]
        if ready:
            try:
                gathered = {id(future): value for future, value in zip(ready, self.client.gather(ready), strict=True)}
            except Exception:  # one result lost or unreadable: fetch each below, so only that one fails
                gathered = {}
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Attempt, Any, Finished]]] = {}
        for attempt, future, held in current:
            outcome = gathered.get(id(future)) or _fetch(future)
            by_loop.setdefault(held.loop, []).append((attempt, future, outcome))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(self._deliver_all, items)
            except RuntimeError:  # the loop closed: its run is over
                pass

    def _deliver_all(self, items: list[tuple[Attempt, Any, Finished]]) -> None:
        for attempt, future, finished in items:
            self._deliver(attempt, future, finished)

    def _deliver(self, attempt: Attempt, future: Any, finished: Finished) -> None:
        held = self._take(attempt)
        if held is None or held.future is not future:
            return
        kind, detail, lines = finished
        write = attempt.context.log
        for stream, line in lines:
            write(stream, line)
        held.on_done(attempt, _outcome_of(kind, detail))  # the key is released with the future

    def _release(self, future: Any) -> None:
        try:
            future.cancel()  # the cluster drops the task (if not started) and its result
        except Exception:  # the client closed or lost its scheduler: nothing to release
            pass


def _fetch(future: Any) -> Finished:
    """What :func:`run_attempt` returned, or an ``error`` naming why the cluster has nothing."""
    if future.status == "cancelled":
        return (
            "error",
            "the Dask cluster dropped the attempt (the connection to its scheduler was lost, or the"
            " scheduler restarted)",
            [],
        )
    try:
        finished: Finished = future.result(timeout=FETCH_TIMEOUT)
    except Exception as error:  # the task erred inside Dask (its result would not pickle), the worker was lost
        text = str(error).splitlines()[0] if str(error) else ""
        return ("error", f"the Dask cluster could not run the attempt: {type(error).__name__}: {text}", [])
    return finished


def _outcome_of(kind: str, detail: Any) -> AttemptOutcome:
    """Rebuild the outcome from :func:`run_attempt`'s tuple: a TaskFailure keeps its fields."""
    if kind == "ok":
        try:
            # pickled by run_attempt on a worker of the cluster the user named: what Dask itself would unpickle
            return AttemptOutcome.succeeded(pickle.loads(detail))  # noqa: S301
        except Exception as error:  # a class the worker has and this process cannot import
            message = f"the output of the Dask worker cannot be read here: {type(error).__name__}: {error}"
            return AttemptOutcome(AttemptOutcome.FAILED, None, TaskFailure(message, retryable=False), message)
    if kind == "failure":
        message, exit_code, status, timed_out, retryable = detail
        failure = TaskFailure(message, exit_code=exit_code, status=status, timed_out=timed_out, retryable=retryable)
        return AttemptOutcome(AttemptOutcome.FAILED, None, failure, message)
    return AttemptOutcome(AttemptOutcome.FAILED, None, TaskFailure(detail), detail)


def scheduler_address(url: str) -> str:
    """``dask://HOST:PORT`` -> ``tcp://HOST:PORT``; anything else is a one-line ConfigurationError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is no number, "Invalid IPv6 URL"
        raise ConfigurationError(f"workers URL {quoted(url)}: a Dask scheduler is given as dask://HOST:PORT") from None
    if parts.scheme != "dask" or not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise ConfigurationError(f"workers URL {quoted(url)}: a Dask scheduler is given as dask://HOST:PORT")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


def _log_level(value: Any) -> int:
    level = logging.getLevelName(str(value).upper())
    if not isinstance(level, int):
        raise ConfigurationError(f"[dask] log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
    return level


def _connect_timeout(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"[dask] connect_timeout must be seconds, not {value!r}") from None
    if not 0 < seconds <= 3600:
        raise ConfigurationError(f"[dask] connect_timeout must be positive seconds (at most 3600), not {value!r}")
    return seconds


__all__ = ["DaskExecutor", "scheduler_address"]
