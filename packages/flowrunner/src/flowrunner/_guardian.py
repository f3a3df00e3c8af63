"""A watchdog process that ends a dead runner's task processes.

Why: a runner killed by SIGKILL (or the OOM killer) runs no cleanup, and its task process
groups would run on and finish their side effects, which a resume then repeats. So the
first time a runner starts a task process it also starts a guardian: a small separate
process (this file run as a script, stdlib only, in a session of its own so a terminal's
Ctrl-C does not reach it) that reads the runner's live process groups from a pipe
(``+GROUP`` / ``-GROUP`` lines). When the pipe reaches end of file — the runner exited, in
whatever way — the guardian SIGKILLs every group still recorded, then every process whose
environment carries one of this runner's attempt tags (:data:`ATTEMPT_TAG`, which catches
processes that left their group), and exits.

The same tag scan, by run id, lets a resume kill whatever a dead runner's run left behind
(:func:`kill_tagged`), for the case where the guardian died with its runner.

This module imports only the standard library: the guardian runs it as a script with
``python -I -S``, which starts in a few milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

ATTEMPT_TAG = "FLOWRUNNER_ATTEMPT"
"""Environment variable every task process gets: ``<runner pid>:<run id>:<attempt serial>``."""
KILL_ROUNDS = 100
"""Scans of /proc while tagged processes keep appearing (a forking process may race the kill)."""
READ_PAUSE = 0.02
"""Seconds the guardian waits after each read, so the lines of many starts and ends arrive
together: woken for every line, it cost about 40 µs of CPU per task process, on the cores the
runner and its tasks share. Its cost: the guardian reacts to the runner's death up to this
much later. (64 KiB of pipe buffer is thousands of lines: a writer never waits for it.)"""


def tagged_processes(
    match: bytes, skip_prefix: bytes = b"", *, dead_runners_only: bool = False
) -> list[tuple[int, int]]:
    """(pid, process group) of live processes whose attempt tag contains ``match``.

    ``dead_runners_only``: leave out processes whose tag names a runner (``<runner pid>:...``)
    that is still alive: they are its live attempts, not leftovers.
    """
    prefix = ATTEMPT_TAG.encode() + b"="
    found = []
    own = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                variables = environ.read().split(b"\0")
        except OSError:
            continue
        for variable in variables:
            if variable.startswith(prefix):
                tag = variable[len(prefix) :]
                if match in tag and not (skip_prefix and tag.startswith(skip_prefix)):
                    if dead_runners_only and _runner_alive(tag.split(b":", 1)[0]):
                        break
                    try:
                        found.append((int(entry), os.getpgid(int(entry))))
                    except OSError:
                        pass
                break
    return found


def _runner_alive(runner_pid: bytes) -> bool:
    """Whether the process ``runner_pid`` exists and is not a zombie (Linux's /proc)."""
    try:
        with open(f"/proc/{int(runner_pid)}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in (b"Z", b"X")


def kill_tagged(match: bytes, skip_prefix: bytes = b"", *, dead_runners_only: bool = False) -> int:
    """SIGKILL every process (and its group) whose attempt tag contains ``match``; how many.

    ``dead_runners_only``: spare the processes of runners still alive (see :func:`tagged_processes`).
    """
    killed = 0
    own_group = os.getpgrp()
    for _ in range(KILL_ROUNDS):
        found = tagged_processes(match, skip_prefix, dead_runners_only=dead_runners_only)
        if not found:
            break
        for pid, group in found:
            if group != own_group:
                _kill(os.killpg, group)
            _kill(os.kill, pid)
        killed += len(found)
        time.sleep(0.01)
    return killed


def _kill(send: object, target: int) -> None:
    try:
        send(target, signal.SIGKILL)  # type: ignore[operator]
    except OSError:
        pass


def main() -> None:
    """The guardian process: follow the runner's groups on stdin; at end of file, kill what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    runner_pid = sys.argv[1].encode()
    live: set[int] = set()
    pending = b""
    while True:
        try:
            chunk = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        time.sleep(READ_PAUSE)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line[:1] == b"+":
                live.add(int(line[1:]))
            elif line[:1] == b"-":
                live.discard(int(line[1:]))
    for group in live:
        _kill(os.killpg, group)
    if os.path.isdir("/proc"):
        kill_tagged(runner_pid + b":")


class Guardian:
    """The runner's side: starts the guardian once and tells it which groups are live."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.descriptor = -1
        self.pid = 0

    def _ensure(self) -> None:
        if self.process is not None and self.pid == os.getpid():
            return
        with self.lock:
            if self.process is not None and self.pid == os.getpid():
                return
            env = {key: value for key, value in os.environ.items() if key != ATTEMPT_TAG}
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid())],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env=env, start_new_session=True,
                )  # fmt: skip
            except OSError:
                self.process = None
                return
            assert self.process.stdin is not None
            self.descriptor = self.process.stdin.fileno()
            self.pid = os.getpid()

    def _send(self, line: bytes) -> None:
        try:
            os.write(self.descriptor, line)
        except OSError:  # the guardian is gone: the group kill at attempt end still happens
            pass

    def watch(self, group: int) -> None:
        """Record a live group (call right after starting its leader)."""
        self._ensure()
        if self.process is not None:
            self._send(b"+%d\n" % group)

    def forget(self, group: int) -> None:
        """The group is gone (its attempt has ended)."""
        if self.process is not None:
            self._send(b"-%d\n" % group)


if __name__ == "__main__":
    main()
