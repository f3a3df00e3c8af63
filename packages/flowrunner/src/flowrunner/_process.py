"""Child processes in their own process groups, captured line by line, killed as a whole.

Every child starts with ``start_new_session=True``, so it leads a new process group that
holds it and everything it spawns. Ending an attempt (timeout, cancellation, or simply the
leader exiting) signals the whole group: SIGTERM, then SIGKILL after a grace period. The
module keeps the set of live groups so a second Ctrl-C, or the interpreter exiting, can
SIGKILL whatever is still shutting down — no orphans either way.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

LIVE_GROUPS: set[int] = set()
"""Process group ids started by this process and not yet confirmed gone."""

EXIT_POLL_SECONDS = 0.1
"""How often a running child's exit status is checked while its pipes stay open."""
STRAY_OUTPUT_GRACE = 0.5
"""Seconds a finished leader's stray children may keep writing before the group is killed."""

TRUNCATED_MARKER = "[flowrunner: log truncated after {limit} bytes; the process kept running]"


def kill_all_process_groups(sig: int = signal.SIGKILL) -> None:
    """Signal every live group (used by a second cancel request and at interpreter exit)."""
    for group in list(LIVE_GROUPS):
        _signal_group(group, sig)


atexit.register(kill_all_process_groups)


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to a group; False if the group no longer exists."""
    try:
        os.killpg(group, sig)
        return True
    except ProcessLookupError:
        LIVE_GROUPS.discard(group)
        return False
    except PermissionError:
        return False


def group_exists(group: int) -> bool:
    """Whether any process of the group is still alive (zombies of our own children excepted)."""
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@dataclass(slots=True)
class Completed:
    """How a child process ended."""

    exit_code: int
    stdout: list[str] = field(default_factory=list)
    stdout_truncated: bool = False
    stderr_tail: list[str] = field(default_factory=list)
    """The last few stderr lines, for the failure message."""


async def run_captured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | None,
    log: Callable[[str, str], None],
    max_log_bytes: int,
    kill_grace: float,
    stdin_data: bytes | None = None,
) -> Completed:
    """Run ``argv`` in a new process group, logging each line of stdout/stderr as it arrives.

    stdout lines are also kept (up to ``max_log_bytes``) for the output. On cancellation
    (a timeout is a cancellation too) the whole group gets SIGTERM, then SIGKILL after
    ``kill_grace`` seconds, and the CancelledError propagates once the group is gone.
    """
    # Creation is shielded: asyncio's own clean-up of a creation cancelled half-way kills only
    # the leader and then waits for pipes its children may hold open for ever.
    creation = asyncio.ensure_future(asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    ))
    try:
        process = await asyncio.shield(creation)
    except asyncio.CancelledError:
        creation.add_done_callback(_kill_new_group)
        with contextlib.suppress(BaseException):
            started = await asyncio.shield(creation)
            await asyncio.wait_for(asyncio.shield(started.wait()), 5.0)
        raise
    group = process.pid  # the leader of a new session leads its process group
    LIVE_GROUPS.add(group)
    budget = [max_log_bytes, False]
    completed = Completed(exit_code=-1)

    async def pump(stream: asyncio.StreamReader, name: str) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the reader's limit: take it in pieces
                raw = await stream.read(65536)
            if not raw:
                return
            if budget[1]:
                continue
            budget[0] -= len(raw)
            if budget[0] < 0:
                budget[1] = True
                completed.stdout_truncated = True
                log("system", TRUNCATED_MARKER.format(limit=max_log_bytes))
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log(name, line)
            if name == "stdout":
                completed.stdout.append(line)
            else:
                tail = completed.stderr_tail
                tail.append(line)
                if len(tail) > 5:
                    del tail[0]

    try:
        if stdin_data is not None and process.stdin is not None:
            process.stdin.write(stdin_data)
            await process.stdin.drain()
            process.stdin.close()
        assert process.stdout is not None and process.stderr is not None
        pumps = asyncio.ensure_future(asyncio.gather(pump(process.stdout, "stdout"), pump(process.stderr, "stderr")))
        try:
            # asyncio's Process.wait() also waits for the pipes to close, which background
            # children of the leader can hold open for ever: watch the leader's own exit
            # status, and once it has exited give stray output a moment, then end the group.
            exited_at: float | None = None
            while not pumps.done():
                await asyncio.wait({pumps}, timeout=EXIT_POLL_SECONDS)
                if pumps.done() or process.returncode is None:
                    continue
                now = time.monotonic()
                if exited_at is None:
                    exited_at = now
                elif now - exited_at >= STRAY_OUTPUT_GRACE:
                    _signal_group(group, signal.SIGKILL)
            await pumps
            completed.exit_code = await process.wait()
        finally:
            if not pumps.done():
                pumps.cancel()
                pumps.add_done_callback(_consume)
        return completed
    except BaseException:
        await _terminate(process, group, kill_grace)
        raise
    finally:
        # Nothing of the attempt outlives it: stray background children of a finished leader too.
        _signal_group(group, signal.SIGKILL)
        LIVE_GROUPS.discard(group)


def _kill_new_group(creation: asyncio.Future[asyncio.subprocess.Process]) -> None:
    """SIGKILL the group of a process whose attempt was cancelled while it was being started."""
    if not creation.cancelled() and creation.exception() is None:
        _signal_group(creation.result().pid, signal.SIGKILL)


def _consume(future: asyncio.Future[object]) -> None:
    """Mark a cancelled reader's outcome as seen (no "exception was never retrieved")."""
    if not future.cancelled():
        future.exception()


async def _terminate(process: asyncio.subprocess.Process, group: int, grace: float) -> None:
    """SIGTERM the group, wait up to ``grace`` for the leader, then SIGKILL the group."""
    _signal_group(group, signal.SIGTERM)
    try:
        await asyncio.shield(asyncio.wait_for(process.wait(), grace))
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
    _signal_group(group, signal.SIGKILL)
    try:
        await asyncio.shield(asyncio.wait_for(process.wait(), 5.0))
    except (asyncio.TimeoutError, asyncio.CancelledError):
        pass
