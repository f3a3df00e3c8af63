"""A bus node in a process of its own, for the multi-process tests (``python bus_node.py MODE URL NODE ...``).

Modes:

* ``responder URL NODE``: listen; answer each request with ``{"echo": body, "pid": PID}``.
* ``subscriber URL NODE TOPIC RECORD [hang|crash]``: subscribe to TOPIC and append one JSON
  line per message to RECORD (flushed and synced) *before* returning from the handler;
  ``hang`` then never returns (so never acknowledges), ``crash`` ends the process at once.

Each prints ``ready`` on stdout once subscribed, then runs until killed.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from flowbuilder.interfaces.message_bus import Message
from flowbuilder_distributed.bus import RedisMessageBus


def record(path: str, message: Message) -> None:
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps({"id": message.id, "body": dict(message.body), "pid": os.getpid()}) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def main(argv: list[str]) -> None:
    mode, url, node = argv[:3]
    bus = RedisMessageBus.open(url, node)
    if mode == "responder":
        bus.listen(lambda m: bus.reply(m, {"echo": dict(m.body), "pid": os.getpid()}) if m.kind == "request" else None)
    elif mode == "subscriber":
        topic, path = argv[3], argv[4]
        behaviour = argv[5] if len(argv) > 5 else "ack"

        def handle(message: Message) -> None:
            record(path, message)
            if behaviour == "hang":
                threading.Event().wait()
            elif behaviour == "crash":
                os._exit(9)

        bus.subscribe(topic, handle)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
