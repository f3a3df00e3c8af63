"""Sharing one RocksDB directory between processes: the owner serves, the others route.

RocksDB takes an exclusive lock on its directory, so one process at a time may open it.
Whichever process opens a ``rocksdb://`` store first becomes its *owner*: it opens the
database and serves every other process over a Unix socket (Linux abstract namespace,
named after the directory's real path, so a dead owner leaves no stale file; only the same
user id is served, checked with ``SO_PEERCRED``). Every later opener — the CLI, a second
``flowbuilder run``, a web server — connects and sends its calls to the owner. When the
owner closes the store it stops serving; when it dies the kernel drops its lock and its
socket. Either way clients notice the broken connection, and the first to reopen the
directory becomes the new owner (:func:`acquire`); the others connect to it.

Appends keep their meaning across such a hand-over: a call that broke mid-way is retried,
and :class:`flowbuilder_storage.rocksdb_store.RocksDBStore` recognises its own batch if
the first try had landed.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import platform
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from flowbuilder.errors import FlowBuilderError, RunNotFoundError, SequenceConflictError, StaleLeaderError, StoreError
from flowbuilder.events import RunEvent, RunState, RunStatus
from flowbuilder.interfaces.coordination import LeaseGrant
from flowbuilder.interfaces.store import LogLine, RunPage, RunSummary
from flowbuilder.leases import RunLease, decode_lease
from flowbuilder_storage._event_bytes import decode_events, events_bytes
from flowbuilder_storage._records import check_batch
from flowbuilder_storage._rocks_engine import RocksEngine, StoreLockedError
from flowbuilder_storage._rocks_errors import is_rocksdb_error, translate
from flowbuilder_storage._rocks_wire import ConnectionLost, recv_frame, send_frame
from flowbuilder_storage._sync import Durability

try:  # the interpreter's own SHA-256 (same digest): importing hashlib starts OpenSSL's, about 2 ms
    from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - CPython 3.12+ (``_sha2``), or another interpreter
    from hashlib import sha256

if TYPE_CHECKING:  # imported where used: a run neither annotates, nor requests control, nor fences
    from flowbuilder.annotations import Annotation
    from flowbuilder.control import ControlRequest
    from flowbuilder.fencing import Fence

_ABSTRACT_NAMESPACE = platform.system() == "Linux"
MAX_WAIT_SECONDS = 1.0
"""Longest ``wait_for_updates`` the owner serves in one call (a client wanting longer asks
again): closing the owner waits for calls in progress, so a long poll must end soon."""
ACQUIRE_TIMEOUT = 20.0
"""How long an opener keeps trying to reach or become the owner before giving up."""


def socket_address(path: Path) -> str | bytes:
    digest: str = sha256(str(path.resolve()).encode()).hexdigest()[:32]
    if _ABSTRACT_NAMESPACE:
        return "\0flowbuilder-rocksdb-" + digest
    return str(path / "owner.sock")  # other platforms: a socket file inside the store


def _line(line: LogLine) -> dict[str, Any]:
    return {"n": line.task, "a": line.attempt, "s": line.stream, "x": line.text, "t": line.time}


def _unline(data: dict[str, Any]) -> LogLine:
    return LogLine(task=data["n"], attempt=data["a"], stream=data["s"], text=data["x"], time=data["t"])


# -- the owner's side -------------------------------------------------------------------


def _dispatch(engine: RocksEngine, method: str, args: dict[str, Any], payload: bytes) -> tuple[Any, bytes]:
    """Run one client call on the engine; return (JSON result, payload)."""
    if method == "append_events":  # payload: the events' stored form, one per line (JSON has no raw newline)
        encoded = payload.split(b"\n") if payload else []
        fence = None
        if args.get("fence"):
            from flowbuilder.fencing import Fence

            fence = Fence(str(args["fence"][0]), int(args["fence"][1]))
        return engine.append_encoded(args["run_id"], encoded, args["expected_seq"], fence), b""
    if method == "read_events":
        return None, b"\n".join(engine.read_encoded(args["run_id"], args["after_seq"], args["limit"]))
    if method == "last_seq":
        return engine.last_seq(args["run_id"]), b""
    if method == "save_snapshot":
        engine.save_snapshot(RunState.from_dict(args["state"]))
        return None, b""
    if method == "load_snapshot":
        state = engine.load_snapshot(args["run_id"])
        return (state.to_dict() if state is not None else None), b""
    if method == "get_run":
        return engine.get_run(args["run_id"]).to_dict(), b""
    if method == "list_runs":
        status = RunStatus(args["status"]) if args.get("status") else None
        page = engine.list_runs(workflow=args.get("workflow"), status=status, since=args.get("since"),
                                until=args.get("until"), limit=args["limit"], cursor=args.get("cursor"))  # fmt: skip
        return {"runs": [s.to_dict() for s in page.runs], "next_cursor": page.next_cursor}, b""
    if method == "delete_run":
        engine.delete_run(args["run_id"])
        return None, b""
    if method == "save_definition":
        return engine.save_definition(payload), b""
    if method == "load_definition":
        return None, engine.load_definition(args["digest"])
    if method == "append_logs":
        engine.append_logs(args["run_id"], [_unline(line) for line in args["lines"]])
        return None, b""
    if method == "read_logs":
        return [_line(line) for line in engine.read_logs(args["run_id"], args.get("task"), args["after"])], b""
    if method == "put_blob":
        return engine.put_blob(args["run_id"], args["name"], payload), b""
    if method == "get_blob":
        return None, engine.get_blob(args["ref"])
    if method == "compact":
        engine.compact()
        return None, b""
    if method == "export_events":
        runs, raw = engine.export_events(args.get("run_ids"))
        return runs, raw
    if method == "wal_stats":
        return list(engine.wal_stats()), b""
    if method == "annotate":  # payload: the annotation's stored form
        return engine.annotate_encoded(args["run_id"], payload).number, b""
    if method == "read_annotations":
        from flowbuilder.annotations import encode_annotation

        notes = engine.read_annotations(args["run_id"], args["after"])
        return [a.number for a in notes], b"\n".join(encode_annotation(a) for a in notes)
    if method == "wait_for_updates":  # a long poll: answers as soon as a writer appends or annotates
        timeout = min(float(args["timeout"]), MAX_WAIT_SECONDS)
        events, notes = engine.wait_for_updates(args["run_id"], args["after_seq"], args["after_annotation"], timeout)
        lines = events_bytes(events)
        if notes:
            from flowbuilder.annotations import encode_annotation

            lines += [encode_annotation(a) for a in notes]
        return {"events": len(events), "numbers": [a.number for a in notes]}, b"\n".join(lines)
    if method == "request_control":  # payload: the request's stored form
        return engine.request_control_encoded(args["run_id"], payload).number, b""
    if method == "read_control_requests":
        from flowbuilder.control import encode_control_request

        found = engine.read_control_requests(args["run_id"], args["after"])
        return [r.number for r in found], b"\n".join(encode_control_request(r) for r in found)
    if method == "wait_for_control":  # a long poll: answers as soon as a request for one of the runs is recorded
        timeout = min(float(args["timeout"]), MAX_WAIT_SECONDS)
        waited = engine.wait_for_control({str(run): int(seen) for run, seen in args["after"]}, timeout)
        listed = [(run_id, request) for run_id, got in waited.items() for request in got]
        if not listed:
            return [], b""
        from flowbuilder.control import encode_control_request

        return ([[run_id, request.number] for run_id, request in listed],
                b"\n".join(encode_control_request(request) for _, request in listed))  # fmt: skip
    if method == "renew_leases":
        engine.renew_leases([decode_lease(json.dumps(lease)) for lease in args["leases"]])
        return None, b""
    if method == "read_lease":
        lease = engine.read_lease(args["run_id"])
        return (lease.to_dict() if lease is not None else None), b""
    if method == "get_cached_raw":
        return None, engine.get_cached_raw(args["workflow"], args["task"], args["key"]) or b""
    if method == "put_cached_raw":
        engine.put_cached_raw(args["workflow"], args["task"], args["key"], payload)
        return None, b""
    if method == "list_cached_raw":
        entries = engine.list_cached_raw(args.get("workflow"), args.get("task"))
        return len(entries), b"\n".join(entries)  # the stored form is JSON: no raw newline in it
    if method == "clear_cached":
        return engine.clear_cached(args.get("workflow"), args.get("task")), b""
    if method == "claim_key":
        return engine.claim_key(args["key"], args["value"]), b""
    if method == "read_record":
        return engine.read_record(args["key"]), b""
    if method == "write_record":
        engine.write_record(args["key"], args["value"])
        return None, b""
    if method == "acquire_lease":
        return list(engine.acquire_lease(args["name"], args["owner"], float(args["ttl"]))), b""
    if method == "acquire_lease_epoch":
        return list(engine.acquire_lease_epoch(args["name"], args["owner"], float(args["ttl"]))), b""
    if method == "release_lease":
        engine.release_lease(args["name"], args["owner"])
        return None, b""
    if method == "raise_fence":
        from flowbuilder.fencing import Fence

        return engine.raise_fence(Fence(str(args["scope"]), int(args["token"]))), b""
    if method == "read_fence":
        return engine.read_fence(args["scope"]), b""
    if method == "append_audit":
        return engine.append_audit_raw(payload, int(args["retention"])), b""
    if method == "read_audit":
        numbered = engine.read_audit_raw(args["after"], int(args["limit"]))
        return [seq for seq, _ in numbered], b"\n".join(raw for _, raw in numbered)  # compact JSON: no raw newline
    if method == "hello":
        return {"pid": os.getpid(), "path": str(engine.path)}, b""
    raise StoreError(f"unknown store call {method!r} (client and owner run different versions?)")


def _error_header(path: Path, error: BaseException) -> dict[str, Any]:
    if is_rocksdb_error(error):  # a fact about the disk (full, damaged), not a bug: one line for the user
        error = translate(path, error)
    if isinstance(error, SequenceConflictError):
        return {"error": "conflict", "run_id": error.run_id, "expected": error.expected_seq, "actual": error.actual_seq}
    if isinstance(error, RunNotFoundError):
        return {"error": "not_found", "run_id": error.run_id}
    if isinstance(error, StaleLeaderError):
        return {"error": "stale", "scope": error.scope, "token": error.token, "highest": error.highest}
    if isinstance(error, FlowBuilderError):
        return {"error": "store", "message": str(error)}
    return {"error": "store", "message": f"the store's owner process failed: {type(error).__name__}: {error}"}


def _raise_from_header(header: dict[str, Any]) -> None:
    kind = header["error"]
    if kind == "conflict":
        raise SequenceConflictError(header["run_id"], header["expected"], header["actual"])
    if kind == "not_found":
        raise RunNotFoundError(header["run_id"])
    if kind == "stale":
        raise StaleLeaderError(header["scope"], header["token"], header["highest"])
    raise StoreError(header["message"])


class OwnerServer:
    """Serves one engine to other processes of the same user until :meth:`stop`."""

    def __init__(self, engine: RocksEngine):
        self.engine = engine
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(socket_address(engine.path))
        self._listener.listen(64)
        self._connections: dict[socket.socket, threading.Lock] = {}
        self._threads: list[threading.Thread] = []
        self._guard = threading.Lock()
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept_loop, name="flowbuilder-rocksdb-owner", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            if not self._same_user(connection):
                connection.close()
                continue
            with self._guard:
                if self._stopping:
                    connection.close()
                    return
                self._threads = [t for t in self._threads if t.is_alive()]
                busy = threading.Lock()
                self._connections[connection] = busy
                thread = threading.Thread(target=self._serve, args=(connection, busy), daemon=True)
                self._threads.append(thread)
                thread.start()

    @staticmethod
    def _same_user(connection: socket.socket) -> bool:
        if not hasattr(socket, "SO_PEERCRED"):
            return True
        creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return bool(uid == os.getuid())

    def _serve(self, connection: socket.socket, busy: threading.Lock) -> None:
        try:
            while True:
                header, payload = recv_frame(connection)
                with busy:
                    try:
                        result, out = _dispatch(self.engine, header["m"], header.get("a", {}), payload)
                        send_frame(connection, {"ok": result}, out)
                    except ConnectionLost:
                        raise
                    except BaseException as error:  # every failure goes back to the caller
                        send_frame(connection, _error_header(self.engine.path, error))
        except (ConnectionLost, ValueError):
            pass
        finally:
            with self._guard:
                self._connections.pop(connection, None)
            connection.close()

    def close_inherited(self) -> None:
        """In a forked child: close the copies of the sockets (the parent keeps serving)."""
        self._listener.close()
        for connection in list(self._connections):
            connection.close()

    def stop(self) -> None:
        """Stop serving: finish calls in progress, close every connection (clients fail over)."""
        with self._guard:
            self._stopping = True
            connections = list(self._connections.items())
            threads = list(self._threads)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for connection, busy in connections:
            with busy:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for thread in threads:
            thread.join(timeout=5)
        self._acceptor.join(timeout=5)
        if not _ABSTRACT_NAMESPACE:  # a socket file (not Linux): remove it; abstract names vanish by themselves
            try:
                os.unlink(str(socket_address(self.engine.path)))
            except OSError:
                pass


# -- the clients' side ------------------------------------------------------------------


class RemoteEngine:
    """The engine's methods, called in the owner process over the socket."""

    def __init__(self, path: Path, sock: socket.socket):
        self.path = path
        self._sock = sock
        self._lock = threading.Lock()
        self.owner_pid = int(self._call("hello", {})[0]["pid"])

    def _call(self, method: str, args: dict[str, Any], payload: bytes = b"") -> tuple[Any, bytes]:
        with self._lock:
            send_frame(self._sock, {"m": method, "a": args}, payload)
            header, out = recv_frame(self._sock)
        if "error" in header:
            _raise_from_header(header)
        return header["ok"], out

    def append_events(self, run_id: str, events: Sequence[RunEvent], expected_seq: int,
                      fence: Fence | None = None) -> int:  # fmt: skip
        if any(e.run_id != run_id for e in events):  # the run id is not part of the stored form
            check_batch(run_id, events, expected_seq)
        payload = b"\n".join(events_bytes(events))
        args: dict[str, Any] = {"run_id": run_id, "expected_seq": expected_seq}
        if fence is not None:
            args["fence"] = [fence.scope, fence.token]
        return int(self._call("append_events", args, payload)[0])

    def raise_fence(self, fence: Fence) -> int:
        return int(self._call("raise_fence", {"scope": fence.scope, "token": fence.token})[0])

    def read_fence(self, scope: str) -> int | None:
        held = self._call("read_fence", {"scope": scope})[0]
        return None if held is None else int(held)

    def read_events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> list[RunEvent]:
        _, raw = self._call("read_events", {"run_id": run_id, "after_seq": after_seq, "limit": limit})
        return decode_events(run_id, raw.split(b"\n")) if raw else []

    def last_seq(self, run_id: str) -> int:
        return int(self._call("last_seq", {"run_id": run_id})[0])

    def save_snapshot(self, state: RunState) -> None:
        self._call("save_snapshot", {"state": state.to_dict()})

    def load_snapshot(self, run_id: str) -> RunState | None:
        data, _ = self._call("load_snapshot", {"run_id": run_id})
        return RunState.from_dict(data) if data is not None else None

    def get_run(self, run_id: str) -> RunSummary:
        return RunSummary.from_dict(self._call("get_run", {"run_id": run_id})[0])

    def list_runs(self, *, workflow: str | None = None, status: RunStatus | None = None, since: float | None = None,
                  until: float | None = None, limit: int = 50, cursor: str | None = None) -> RunPage:  # fmt: skip
        args = {"workflow": workflow, "status": status.value if status is not None else None, "since": since,
                "until": until, "limit": limit, "cursor": cursor}  # fmt: skip
        data, _ = self._call("list_runs", args)
        return RunPage(runs=[RunSummary.from_dict(s) for s in data["runs"]], next_cursor=data["next_cursor"])

    def delete_run(self, run_id: str) -> None:
        self._call("delete_run", {"run_id": run_id})

    def save_definition(self, content: bytes) -> str:
        return str(self._call("save_definition", {}, bytes(content))[0])

    def load_definition(self, digest: str) -> bytes:
        return self._call("load_definition", {"digest": digest})[1]

    def append_logs(self, run_id: str, lines: Sequence[LogLine]) -> None:
        self._call("append_logs", {"run_id": run_id, "lines": [_line(line) for line in lines]})

    def read_logs(self, run_id: str, task: str | None = None, after: int = 0) -> list[LogLine]:
        data, _ = self._call("read_logs", {"run_id": run_id, "task": task, "after": after})
        return [_unline(item) for item in data]

    def put_blob(self, run_id: str, name: str, data: bytes) -> str:
        return str(self._call("put_blob", {"run_id": run_id, "name": name}, bytes(data))[0])

    def get_blob(self, ref: str) -> bytes:
        return self._call("get_blob", {"ref": ref})[1]

    def compact(self) -> None:
        self._call("compact", {})

    def export_events(self, run_ids: Sequence[str] | None = None) -> tuple[list[str], bytes]:
        runs, raw = self._call("export_events", {"run_ids": list(run_ids) if run_ids is not None else None})
        return [str(run_id) for run_id in runs], raw

    def wal_stats(self) -> tuple[int, int]:
        writes, syncs = self._call("wal_stats", {})[0]
        return int(writes), int(syncs)

    def annotate(self, run_id: str, annotation: Annotation) -> Annotation:
        from flowbuilder.annotations import decode_annotation, encode_annotation

        raw = encode_annotation(annotation)
        return decode_annotation(raw, int(self._call("annotate", {"run_id": run_id}, raw)[0]))

    def read_annotations(self, run_id: str, after: int = 0) -> list[Annotation]:
        from flowbuilder.annotations import decode_annotation

        numbers, raw = self._call("read_annotations", {"run_id": run_id, "after": after})
        return (
            [decode_annotation(line, n) for n, line in zip(numbers, raw.split(b"\n"), strict=True)] if numbers else []
        )

    def wait_for_updates(self, run_id: str, after_seq: int, after_annotation: int,
                         timeout: float) -> tuple[list[RunEvent], list[Annotation]]:  # fmt: skip
        """A long poll the owner answers the moment a writer appends or annotates.

        It holds this connection for up to ``timeout``: use a connection of its own
        (:func:`connect_waiter`), not the one a store shares between its calls.
        """
        args = {"run_id": run_id, "after_seq": after_seq, "after_annotation": after_annotation, "timeout": timeout}
        result, raw = self._call("wait_for_updates", args)
        lines = raw.split(b"\n") if raw else []
        count = int(result["events"])
        events = decode_events(run_id, lines[:count])
        notes = []
        if result["numbers"]:
            from flowbuilder.annotations import decode_annotation

            notes = [decode_annotation(line, n) for n, line in zip(result["numbers"], lines[count:], strict=True)]
        return events, notes

    def request_control(self, run_id: str, request: ControlRequest) -> ControlRequest:
        from flowbuilder.control import decode_control_request, encode_control_request

        raw = encode_control_request(request)
        return decode_control_request(raw, int(self._call("request_control", {"run_id": run_id}, raw)[0]))

    def read_control_requests(self, run_id: str, after: int = 0) -> list[ControlRequest]:
        from flowbuilder.control import decode_control_request

        numbers, raw = self._call("read_control_requests", {"run_id": run_id, "after": after})
        return (
            [decode_control_request(line, n) for n, line in zip(numbers, raw.split(b"\n"), strict=True)]
            if numbers
            else []
        )

    def wait_for_control(self, after: Mapping[str, int], timeout: float) -> dict[str, list[ControlRequest]]:
        """A long poll the owner answers the moment a request for one of the runs is recorded
        (on a connection of its own, like :meth:`wait_for_updates`)."""
        listed, raw = self._call("wait_for_control", {"after": [[run, seen] for run, seen in after.items()],
                                                      "timeout": timeout})  # fmt: skip
        found: dict[str, list[ControlRequest]] = {}
        if not listed:
            return found
        from flowbuilder.control import decode_control_request

        for (run_id, number), line in zip(listed, raw.split(b"\n") if listed else [], strict=True):
            found.setdefault(str(run_id), []).append(decode_control_request(line, int(number)))
        return found

    def renew_leases(self, leases: Sequence[RunLease]) -> None:
        self._call("renew_leases", {"leases": [lease.to_dict() for lease in leases]})

    def read_lease(self, run_id: str) -> RunLease | None:
        data, _ = self._call("read_lease", {"run_id": run_id})
        return decode_lease(json.dumps(data)) if data is not None else None

    def get_cached_raw(self, workflow: str, task: str, key: str) -> bytes | None:
        _, raw = self._call("get_cached_raw", {"workflow": workflow, "task": task, "key": key})
        return raw or None  # a stored form is never empty

    def put_cached_raw(self, workflow: str, task: str, key: str, raw: bytes) -> None:
        self._call("put_cached_raw", {"workflow": workflow, "task": task, "key": key}, raw)

    def list_cached_raw(self, workflow: str | None, task: str | None) -> list[bytes]:
        count, raw = self._call("list_cached_raw", {"workflow": workflow, "task": task})
        return raw.split(b"\n") if count else []

    def clear_cached(self, workflow: str | None, task: str | None) -> int:
        return int(self._call("clear_cached", {"workflow": workflow, "task": task})[0])

    def claim_key(self, key: str, value: str) -> str:
        return str(self._call("claim_key", {"key": key, "value": value})[0])

    def read_record(self, key: str) -> str | None:
        held = self._call("read_record", {"key": key})[0]
        return None if held is None else str(held)

    def write_record(self, key: str, value: str) -> None:
        self._call("write_record", {"key": key, "value": value})

    def acquire_lease(self, name: str, owner: str, ttl: float) -> tuple[str, float]:
        holder, expires_at = self._call("acquire_lease", {"name": name, "owner": owner, "ttl": ttl})[0]
        return str(holder), float(expires_at)

    def acquire_lease_epoch(self, name: str, owner: str, ttl: float) -> LeaseGrant:
        holder, expires_at, epoch = self._call("acquire_lease_epoch", {"name": name, "owner": owner, "ttl": ttl})[0]
        return LeaseGrant(str(holder), float(expires_at), int(epoch))

    def release_lease(self, name: str, owner: str) -> None:
        self._call("release_lease", {"name": name, "owner": owner})

    def append_audit_raw(self, raw: bytes, retention: int) -> int:
        return int(self._call("append_audit", {"retention": retention}, raw)[0])

    def read_audit_raw(self, after: int | None, limit: int) -> list[tuple[int, bytes]]:
        seqs, raw = self._call("read_audit", {"after": after, "limit": limit})
        return list(zip((int(seq) for seq in seqs), raw.split(b"\n"), strict=False)) if seqs else []

    def wait_for_events(self, run_id: str, after_seq: int, timeout: float) -> list[RunEvent]:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            events = self.read_events(run_id, after_seq)
            if events or time.monotonic() >= deadline:
                return events
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.1)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


# -- choosing a role ---------------------------------------------------------------------


@dataclass
class _Owned:
    engine: RocksEngine
    server: OwnerServer
    refs: int = 0


@dataclass
class _Registry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    owned: dict[Path, _Owned] = field(default_factory=dict)


_registry = _Registry()


def _forget_after_fork() -> None:
    """A forked child owns nothing: the serving threads are gone, and the inherited
    listening socket must not keep answering for a parent that may exit."""
    global _registry
    for entry in _registry.owned.values():
        entry.server.close_inherited()
    _registry = _Registry()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _close_all_at_exit() -> None:
    """Stop serving and close every store this process owns (syncs the WAL; lets clients take over).

    Without it, an interpreter exiting with a store left open would tear down the serving
    and syncing threads while they sit in native calls.
    """
    registry = _registry
    with registry.lock:
        owned = list(registry.owned.values())
        registry.owned.clear()
    for entry in owned:
        entry.server.stop()
        try:
            entry.engine.close()
        except StoreError as error:  # at exit nobody is left to raise to (a traceback would say nothing more)
            logging.getLogger("flowbuilder_storage").error("%s", error)


atexit.register(_close_all_at_exit)


@dataclass
class Handle:
    """What a store instance holds: the local engine (owner) or a connection to the owner."""

    path: Path
    engine: Any
    local: bool
    release: Callable[[], None]


HANDSHAKE_TIMEOUT = 5.0
"""An owner that does not answer the first call this fast is treated as not there."""


def _try_connect(path: Path) -> RemoteEngine | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(HANDSHAKE_TIMEOUT)
        sock.connect(socket_address(path))
        remote = RemoteEngine(path, sock)
        sock.settimeout(None)
        return remote
    except (OSError, ConnectionLost):
        sock.close()
        return None


def connect_waiter(path: Path) -> RemoteEngine | None:
    """A connection of its own to the owner of ``path`` for long polls; None if no owner answers."""
    return _try_connect(path.absolute())


def acquire(path: Path, durability: Durability, max_log_bytes: int, timeout: float = ACQUIRE_TIMEOUT) -> Handle:
    """Become the owner of ``path`` or connect to its owner; StoreError with advice if neither works."""
    path = path.absolute()
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        registry = _registry
        with registry.lock:
            owned = registry.owned.get(path)
            if owned is not None:
                owned.refs += 1
                return Handle(path, owned.engine, True, partial(_release, registry, path))
        remote = _try_connect(path)
        if remote is not None:
            return Handle(path, remote, False, remote.close)
        with registry.lock:
            if path in registry.owned:
                continue
            try:
                engine = RocksEngine(path, durability, max_log_bytes)
            except StoreLockedError:
                engine = None
            if engine is not None:
                try:
                    server = OwnerServer(engine)
                except OSError:  # another owner bound the socket first: let it serve
                    engine.close()
                else:
                    registry.owned[path] = _Owned(engine, server, refs=1)
                    return Handle(path, engine, True, partial(_release, registry, path))
        if time.monotonic() >= deadline:
            raise StoreError(f"the store {path} is locked by another process that does not answer;"
                             " wait for it to finish, or stop it, then retry")  # fmt: skip
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _release(registry: _Registry, path: Path) -> None:
    with registry.lock:
        owned = registry.owned.get(path)
        if owned is None:
            return
        owned.refs -= 1
        if owned.refs > 0:
            return
        del registry.owned[path]
    owned.server.stop()
    owned.engine.close()
