"""A separate process for the multi-process tests: ``python store_worker.py COMMAND URL ...``.

* ``race URL RUN NAME ROUNDS`` — race to append one event per seq; print won seqs as JSON.
* ``hold URL SECONDS`` — open the store (becoming its owner if first), print ``ready``,
  keep it open for SECONDS or until stdin closes.
* ``owner`` — for each URL read on stdin, close the store held so far, open the URL (becoming
  its owner) and print ``ready``; exit when stdin closes. One process owns each test's fresh
  store in turn: starting Python and importing the store costs about a second per test on a
  loaded 2-core machine, which a process per test paid for every contract test.
* ``append URL RUN COUNT`` — append COUNT events to RUN one by one; print ``done``.
* ``audit URL NAME COUNT`` — print ``ready``, wait for a line on stdin, append COUNT audit
  records by actor NAME; print their numbers as JSON.
"""

from __future__ import annotations

import json
import sys
import time

from flowbuilder.errors import SequenceConflictError
from flowbuilder.events import EventKind, RunEvent
from flowbuilder.plugins import build_plugin_host


def serve_owners() -> None:
    """The ``owner`` command: own the store of each URL read on stdin, one after another."""
    host = build_plugin_host()
    held = None
    try:
        while url := sys.stdin.readline().strip():
            if held is not None:
                held.close()
            held = host.open_store(url)
            print("ready", flush=True)
    finally:
        if held is not None:
            held.close()


def main(argv: list[str]) -> None:
    if argv[0] == "owner":
        serve_owners()
        return
    command, url = argv[0], argv[1]
    store = build_plugin_host().open_store(url)
    try:
        if command == "race":
            run_id, name, rounds = argv[2], argv[3], int(argv[4])
            won: list[int] = []
            print("ready", flush=True)
            sys.stdin.readline()  # the test starts every writer at once
            for _ in range(rounds):
                seq = store.last_seq(run_id)
                try:
                    store.append_events(run_id, [RunEvent(run_id, seq + 1, EventKind.TASK_ANNOTATED, task=name)], seq)
                    won.append(seq + 1)
                except SequenceConflictError:
                    pass
            print(json.dumps(won), flush=True)
        elif command == "hold":
            print("ready", flush=True)
            deadline = time.monotonic() + float(argv[2])
            while time.monotonic() < deadline and sys.stdin.readline():
                pass
        elif command == "append":
            run_id, count = argv[2], int(argv[3])
            for _ in range(count):
                seq = store.last_seq(run_id)
                store.append_events(run_id, [RunEvent(run_id, seq + 1, EventKind.TASK_ANNOTATED, task="w")], seq)
            print("done", flush=True)
        elif command == "audit":
            from flowbuilder.audit import AuditRecord

            name, count = argv[2], int(argv[3])
            print("ready", flush=True)
            sys.stdin.readline()  # the test starts every writer at once
            seqs = [store.append_audit(AuditRecord(actor=name, action="POST /x", outcome="200", detail=str(index))).seq
                    for index in range(count)]  # fmt: skip
            print(json.dumps(seqs), flush=True)
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
