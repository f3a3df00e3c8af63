"""Find and kill an attempt's processes that left its process group (Linux).

A task process can leave its attempt's process group: ``setsid`` (a new session), or a
daemon's double fork followed by ``setsid``. Killing the group misses it, and without help
it would be reparented to init and outlive its attempt, its run and a cancel.

The help: the runner's process makes itself a *child subreaper* (``prctl
PR_SET_CHILD_SUBREAPER``), so an orphaned descendant is reparented to the runner instead of
init. Every task process carries the attempt's tag in its environment
(:data:`ATTEMPT_TAG`), inherited by everything it starts. When an attempt ends,
:func:`sweep` looks at the runner's reparented children (one small ``/proc`` read), kills
those that belong to the attempt — same session, or the attempt's tag — together with their
process groups, and reaps them. It repeats while the attempt's group still has members, so
a process orphaned a moment later is caught too.

What is not caught: a process that both left the group and cleared its environment, or a
process that left before the subreaper was set. Off Linux nothing here does anything (the
group kill still happens). Only our own children are ever signalled or reaped, so the
embedding application's processes are never touched.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

from flowrunner._guardian import ATTEMPT_TAG

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SWEEP_ROUNDS = 200
"""At most this many passes (``SWEEP_PAUSE`` apart) while the attempt's group is still dying."""
SWEEP_PAUSE = 0.005

LISTING_READ = 1 << 16
"""Bytes of the children listing read at once (about 9,000 children)."""

IS_LINUX = sys.platform.startswith("linux")
_subreaper = False
_listing: tuple[int, int] = (0, -1)
"""(pid, descriptor) of the open children listing; a pid other than ours means not opened yet."""
_listing_lock = threading.Lock()


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (once; True if it is)."""
    global _subreaper
    if IS_LINUX and not _subreaper:
        _subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    return _subreaper


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; for worker processes)."""
    if IS_LINUX and _prctl(PR_SET_PDEATHSIG, signal.SIGKILL) and os.getppid() != parent_pid:
        os._exit(1)  # the parent died before the request took effect


def _adopted() -> list[int]:
    """Children of this process's main thread: reparented orphans land there.

    The listing is read with ``pread`` from a descriptor opened once per process: every
    attempt sweeps, and opening the file each time cost more than reading it.
    """
    listing = _children_listing()
    if listing is None:
        return []
    try:
        text = os.pread(listing, LISTING_READ, 0)
        if len(text) == LISTING_READ:  # more children than one read holds (thousands): read it whole
            with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children", "rb") as whole:
                text = whole.read()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def _children_listing() -> int | None:
    """The descriptor of ``/proc/<pid>/task/<pid>/children`` for this process (reopened after a fork)."""
    global _listing
    pid = os.getpid()
    if _listing[0] == pid:
        return _listing[1]
    with _listing_lock:
        if _listing[0] != pid:
            try:
                _listing = (pid, os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY))
            except OSError:
                return None
        return _listing[1]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, process group, session) of ``pid``, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2]), int(fields[3])


def _tag_of(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            variables = environ.read().split(b"\0")
    except OSError:
        return None
    prefix = ATTEMPT_TAG.encode() + b"="
    for variable in variables:
        if variable.startswith(prefix):
            return variable[len(prefix) :]
    return None


def _kill_adopted(pid: int, state: str, group: int) -> None:
    if state != "Z":
        if group not in (os.getpgrp(), 0):
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except OSError:
        return False


def sweep(session: int, tag: str) -> int:
    """Kill and reap the attempt's adopted escapees; return how many were found.

    ``session`` is the attempt's session (= process group) id, ``tag`` its
    :data:`ATTEMPT_TAG` value. Call after the group was SIGKILLed and its leader reaped.
    """
    if not _subreaper:
        return 0
    wanted = tag.encode()
    sessions = {session}  # the attempt's, and those its escapees started
    groups = {session}
    found = 0
    for _ in range(SWEEP_ROUNDS):
        caught = 0
        for pid in _adopted():
            info = _stat(pid)
            if info is None:
                continue
            state, group, sid = info
            if sid in sessions or group in groups or (state != "Z" and _tag_of(pid) == wanted):
                if group != os.getpgrp():
                    sessions.add(sid)
                    groups.add(group)
                _kill_adopted(pid, state, group)
                caught += 1
        found += caught
        if not caught and not any(_group_alive(group) for group in groups):
            return found
        time.sleep(SWEEP_PAUSE)
    return found
