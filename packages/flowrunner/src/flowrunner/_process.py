"""Child processes in their own process groups, captured line by line, killed as a whole.

Every child starts with ``start_new_session=True``, so it leads a new process group that
holds it and everything it spawns. Ending an attempt (timeout, cancellation, or simply the
leader exiting) signals the whole group: SIGTERM, then SIGKILL after a grace period. The
module keeps the set of live groups so a second Ctrl-C, or the interpreter exiting, can
SIGKILL whatever is still shutting down — no orphans either way.

Why threads: starting a process (fork/exec) blocks its caller for a millisecond or more,
and asyncio's subprocess support does that on the event loop thread, one process at a
time, plus a watcher thread per child. Here each attempt's process is started, read and
reaped by a thread of a shared pool, so starts overlap like the plain ``Popen`` baseline's;
the event loop only receives finished batches of log lines and the outcome.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import os
import select
import signal
import subprocess
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from flowrunner._daemon_threads import daemon_threads
from flowrunner._escapees import become_subreaper, sweep
from flowrunner._guardian import ATTEMPT_TAG, Guardian
from flowrunner._log_handoff import hand_lines_to_loop
from flowrunner._run_owner import RUN_OWNER
from flowrunner._runner_environ import runner_environment

LIVE_GROUPS: dict[int, object] = {}
"""Process group ids started by this process and not yet confirmed gone, with their owner run."""

EXIT_POLL_MILLISECONDS = 100
"""How often a running child's exit status is checked while its pipes stay open."""
STRAY_OUTPUT_GRACE = 0.5
"""Seconds a finished leader's stray children may keep writing before the group is killed."""
ESCAPED_HOLDER_WAIT = 2.0
"""Seconds more to wait, after killing the group, for pipes held by a process that left it."""
TRUNCATED_MARKER = "[flowrunner: log truncated after {limit} bytes; the process kept running]"
GUARDIAN = Guardian()
"""Kills this process's live groups and tagged processes if it dies without cleaning up."""
_attempt_serial = itertools.count(1)
OVERLONG_MARKER = "[flowrunner: a {stream} line longer than {limit} bytes was dropped]"
MIN_LINE_LIMIT = 16 << 20
"""The longest line kept whole is max(max_log_bytes, this): past the log cap, stdout is still
read for a final JSON output line, and a longer line must not be buffered without end."""


def kill_process_groups(owner: object = None, sig: int = signal.SIGKILL) -> None:
    """Signal the live groups of one run (``owner``), or every live group when None.

    Used by a second cancel request of a run, and with no owner at interpreter exit.
    """
    for group, started_by in list(LIVE_GROUPS.items()):
        if owner is None or started_by is owner:
            _signal_group(group, sig)


atexit.register(kill_process_groups)


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to a group; False if the group no longer exists."""
    try:
        os.killpg(group, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


class Completed:
    """How a child process ended.

    A plain class with slots, not a dataclass: defining a dataclass compiles its generated
    methods when the module is imported (about 0.5 ms), on the first run of every process
    that starts a shell task; nothing here needs more than its fields.

    Fields: ``exit_code``; ``stdout``, the stdout lines as long as the log cap allowed (a
    prefix of the whole stream); ``stdout_truncated``, lines of stdout were read past the cap
    and are not in ``stdout``; ``late_json``, the value of the last stdout line past the cap
    that parsed as a JSON object or array (at most one element: the output when present, as
    the full stream's last JSON line); ``late_json_dropped``, a stdout line past the cap that
    may have been JSON was too long to keep and no JSON line came after it (the output cannot
    be known); ``stderr_tail``, the last few stderr lines, for the failure message.
    """

    __slots__ = ("exit_code", "late_json", "late_json_dropped", "stderr_tail", "stdout", "stdout_truncated")

    def __init__(self, exit_code: int, stdout: list[str] | None = None, stdout_truncated: bool = False,
                 late_json: list[Any] | None = None, late_json_dropped: bool = False,
                 stderr_tail: list[str] | None = None) -> None:  # fmt: skip
        self.exit_code = exit_code
        self.stdout: list[str] = [] if stdout is None else stdout
        self.stdout_truncated = stdout_truncated
        self.late_json: list[Any] = [] if late_json is None else late_json
        self.late_json_dropped = late_json_dropped
        self.stderr_tail: list[str] = [] if stderr_tail is None else stderr_tail

    def __repr__(self) -> str:
        fields = ("exit_code", "stdout", "stdout_truncated", "late_json", "late_json_dropped", "stderr_tail")
        return f"Completed({', '.join(f'{name}={getattr(self, name)!r}' for name in fields)})"


class _ProcessJob:
    """One child process, run by a pool thread; the event loop side only signals it."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None,
                 log: Callable[[str, str], None], max_log_bytes: int, loop: asyncio.AbstractEventLoop):  # fmt: skip
        self.argv = list(argv)
        self.env = dict(env) if env is not None else runner_environment()
        self.cwd = cwd
        self.log = log
        self.budget = max_log_bytes
        self.limit = max_log_bytes
        self.line_limit = max(max_log_bytes, MIN_LINE_LIMIT)
        self.loop = loop
        self.group: int | None = None
        self.cancelled = False
        self.lock = threading.Lock()
        self.completed = Completed(exit_code=-1)
        self.outcome: asyncio.Future[Completed] = loop.create_future()
        """Awaited by the attempt; cancelled with it (no shield: one loop turn less per process)."""
        self.ended = False
        """The pool thread is done with the process (set on the loop, by :meth:`_settle`)."""
        self.finished: asyncio.Future[None] | None = None
        """Made by :meth:`terminate` to wait for the pool thread after ``outcome`` was cancelled."""
        self.owner = RUN_OWNER.get()
        # Inherited by everything the process starts: how escapees and a dead runner's
        # leftovers are recognised (see _escapees and _guardian).
        self.tag = f"{os.getpid()}:{getattr(self.owner, 'run_id', '')}:{next(_attempt_serial)}"
        self.env[ATTEMPT_TAG] = self.tag

    # -- the pool thread ----------------------------------------------------------------

    def run(self) -> Completed:
        with self.lock:
            if self.cancelled:  # cancelled while queued: never start
                return self.completed
            become_subreaper()
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
                                       start_new_session=True)  # fmt: skip
            self.group = process.pid  # the leader of a new session leads its process group
            LIVE_GROUPS[process.pid] = self.owner
            GUARDIAN.watch(process.pid)
        try:
            self._read(process)
            self.completed.exit_code = process.wait()
            return self.completed
        finally:
            # Nothing of the attempt outlives it: stray background children of a finished leader too.
            _signal_group(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait()
            sweep(process.pid, self.tag)  # and whatever left the group (setsid, daemons)
            LIVE_GROUPS.pop(process.pid, None)
            GUARDIAN.forget(process.pid)

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        # select.poll, not a selectors.DefaultSelector: epoll would cost an epoll descriptor
        # and its set-up per process (about 17 µs of this thread, holding the GIL).
        assert process.stdout is not None and process.stderr is not None
        poller = select.poll()
        partial = {process.stdout.fileno(): b"", process.stderr.fileno(): b""}
        overlong: set[int] = set()  # descriptors in the middle of a line too long to keep
        names = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
        for descriptor in partial:
            poller.register(descriptor, select.POLLIN)
        open_pipes = len(partial)
        exited_at: float | None = None
        try:
            while open_pipes:
                batch: list[tuple[str, str]] = []
                ready = poller.poll(EXIT_POLL_MILLISECONDS)
                for descriptor, _ in ready:
                    chunk = os.read(descriptor, 65536)
                    if not chunk:
                        poller.unregister(descriptor)
                        open_pipes -= 1
                        if partial[descriptor] and descriptor not in overlong:
                            self._line(names[descriptor], partial[descriptor], batch)
                        continue
                    lines = (partial[descriptor] + chunk).split(b"\n")
                    partial[descriptor] = lines.pop()
                    if descriptor in overlong and len(lines):
                        del lines[0]  # the end of the line that was too long
                        overlong.discard(descriptor)
                    for raw in lines:
                        self._line(names[descriptor], raw, batch)
                    if len(partial[descriptor]) > self.line_limit and descriptor not in overlong:
                        self._overlong(names[descriptor], partial[descriptor], batch)
                        overlong.add(descriptor)
                    if descriptor in overlong:
                        partial[descriptor] = b""
                if batch:
                    self._deliver(batch)
                if not ready and process.poll() is not None:
                    # The leader exited but something still holds the pipes open.
                    now = time.monotonic()
                    if exited_at is None:
                        exited_at = now
                    elif now - exited_at >= STRAY_OUTPUT_GRACE + ESCAPED_HOLDER_WAIT:
                        # Whatever holds the pipes left our process group (it called setsid
                        # itself): stop reading rather than wait for it for ever.
                        batch.append(
                            (
                                "system",
                                "[flowrunner: output pipes held open by a process outside the task's group; stopped reading]",
                            )
                        )
                        self._deliver(batch)
                        return
                    elif now - exited_at >= STRAY_OUTPUT_GRACE:
                        _signal_group(process.pid, signal.SIGKILL)
                        sweep(process.pid, self.tag)
        finally:
            process.stdout.close()
            process.stderr.close()

    def _line(self, stream: str, raw: bytes, batch: list[tuple[str, str]]) -> None:
        completed = self.completed
        if self.budget >= 0:
            self.budget -= len(raw) + 1
            if self.budget < 0:
                batch.append(("system", TRUNCATED_MARKER.format(limit=self.limit)))
        if self.budget < 0:
            if stream == "stdout":
                completed.stdout_truncated = True
                self._late_stdout(raw)
            return
        line = raw.decode("utf-8", "replace").rstrip("\r")
        batch.append((stream, line))
        if stream == "stdout":
            completed.stdout.append(line)
        else:
            tail = completed.stderr_tail
            tail.append(line)
            if len(tail) > 5:
                del tail[0]

    def _late_stdout(self, raw: bytes) -> None:
        """Past the log cap: keep only what the output rule needs, the last JSON line."""
        text = raw.strip()
        if text[:1] in (b"{", b"[") and text[-1:] in (b"}", b"]"):
            try:
                value = json.loads(text)
            except ValueError:
                return
            self.completed.late_json[:] = [value]
            self.completed.late_json_dropped = False

    def _overlong(self, stream: str, head: bytes, batch: list[tuple[str, str]]) -> None:
        """A line past ``line_limit`` is dropped (never buffered whole); if it may have been
        the output's JSON line, the output is unknown until a later JSON line replaces it."""
        if stream == "stdout":
            self.completed.stdout_truncated = True
            if head.lstrip()[:1] in (b"{", b"["):
                self.completed.late_json.clear()
                self.completed.late_json_dropped = True
        if self.budget >= 0:
            self.budget = -1
            batch.append(("system", TRUNCATED_MARKER.format(limit=self.limit)))
        batch.append(("system", OVERLONG_MARKER.format(stream=stream, limit=self.line_limit)))

    def _deliver(self, batch: list[tuple[str, str]]) -> None:
        hand_lines_to_loop(self.loop, self.log, batch)

    def report(self, completed: Completed | None, error: BaseException | None) -> None:
        """Hand the outcome to the loop (the pool thread calls this once :meth:`run` is over)."""
        try:
            self.loop.call_soon_threadsafe(self._settle, completed, error)
        except RuntimeError:  # the loop is closed: nobody awaits this attempt any more
            pass

    def _settle(self, completed: Completed | None, error: BaseException | None) -> None:
        self.ended = True
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)
        if self.outcome.done():  # cancelled: the attempt has stopped waiting for it
            return
        if error is not None:
            self.outcome.set_exception(error)
        else:
            assert completed is not None
            self.outcome.set_result(completed)

    # -- the event loop side --------------------------------------------------------------

    async def terminate(self, grace: float) -> None:
        """SIGTERM the group, wait up to ``grace`` for the thread to finish, then SIGKILL it."""
        with self.lock:
            self.cancelled = True
            group = self.group
        if group is None or self.ended:
            return
        future = self.finished = self.loop.create_future()
        _signal_group(group, signal.SIGTERM)
        for wait, sig in ((grace, signal.SIGKILL), (5.0, None)):
            try:
                await asyncio.wait_for(asyncio.shield(future), wait)
                return
            except BaseException:  # timeout, a second cancellation, or the process failing
                if future.done():
                    return
            if sig is not None:
                _signal_group(group, sig)


async def run_captured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | None,
    log: Callable[[str, str], None],
    max_log_bytes: int,
    kill_grace: float,
) -> Completed:
    """Run ``argv`` in a new process group, logging each line of stdout/stderr as it arrives.

    stdout lines are also kept (up to ``max_log_bytes`` of log in all) for the output. On
    cancellation (a timeout is a cancellation too) the whole group gets SIGTERM, then
    SIGKILL after ``kill_grace`` seconds, and the CancelledError propagates once the group's
    leader has been reaped. ``FileNotFoundError`` etc. from starting the process propagate.
    """
    loop = asyncio.get_running_loop()
    job = _ProcessJob(argv, env, cwd, log, max_log_bytes, loop)
    daemon_threads().start(job.run, job.report)
    future = job.outcome
    try:
        return await future
    except asyncio.CancelledError:
        await job.terminate(kill_grace)
        if future.done() and not future.cancelled():
            future.exception()  # seen: a failure to start after cancellation is not news
        raise
