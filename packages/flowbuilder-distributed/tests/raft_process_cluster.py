"""Raft nodes as real processes on 127.0.0.1, watched through their status lines.

Used by test_raft_processes.py and bench/failover.py. Each node is
``raft_node_process.py`` in its own process; a reader thread keeps every status line it
printed (time, leading, token, leader), so a test can ask what each node claimed and when.
Every wait is bounded; :meth:`ProcessCluster.close` kills what is left (SIGCONT first, so a
stopped process can die).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_SCRIPT = Path(__file__).with_name("raft_node_process.py")
SECRET = "raft-test-secret"  # noqa: S105 - the test cluster's own secret


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


@dataclass
class Status:
    at: float
    leading: bool
    token: int | None
    leader: str | None


@dataclass
class NodeProcess:
    address: str
    process: subprocess.Popen[str]
    statuses: list[Status] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def latest(self) -> Status | None:
        return self.statuses[-1] if self.statuses else None

    def alive(self) -> bool:
        return self.process.poll() is None


class ProcessCluster:
    """``size`` members on free ports; :meth:`start` launches any subset of them."""

    def __init__(self, size: int, *, election_timeout: float = 1.0, secret: str = SECRET):
        self.addresses = [f"127.0.0.1:{port}" for port in free_ports(size)]
        self.election_timeout = election_timeout
        self.secret = secret
        self.nodes: dict[str, NodeProcess] = {}

    def start(self, address: str, *, secret: str | None = None) -> NodeProcess:
        env = {**os.environ, "FLOWBUILDER_CLUSTER_SECRET": self.secret if secret is None else secret}
        process = subprocess.Popen(
            [sys.executable, str(NODE_SCRIPT), "--node", address, "--cluster", ",".join(self.addresses),
             "--election-timeout", str(self.election_timeout)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        node = NodeProcess(address, process)
        threading.Thread(target=self._read, args=(node,), daemon=True).start()
        threading.Thread(target=self._read_errors, args=(node,), daemon=True).start()
        self.nodes[address] = node
        return node

    def start_all(self) -> None:
        for address in self.addresses:
            self.start(address)

    @staticmethod
    def _read(node: NodeProcess) -> None:
        assert node.process.stdout is not None
        try:
            for line in node.process.stdout:
                data: dict[str, Any] = json.loads(line)
                node.statuses.append(Status(data["at"], data["leading"], data["token"], data["leader"]))
        except (OSError, ValueError):  # the harness closed the pipe
            return

    @staticmethod
    def _read_errors(node: NodeProcess) -> None:
        try:
            node.stderr.extend(node.process.stderr or [])
        except (OSError, ValueError):
            return

    def leaders(self, *, fresher_than: float = 1.0) -> list[NodeProcess]:
        """Live nodes whose latest status (at most ``fresher_than`` s old: a loaded machine delays the
        20 ms status lines) says they lead."""
        now = time.monotonic()
        found = []
        for node in self.nodes.values():
            status = node.latest()
            if node.alive() and status is not None and status.leading and now - status.at < fresher_than:
                found.append(node)
        return found

    def wait_for_leader(self, timeout: float, *, other_than: str | None = None) -> NodeProcess:
        """The one live node that leads (and is not ``other_than``), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leaders = [node for node in self.leaders() if node.address != other_than]
            if len(leaders) == 1:
                return leaders[0]
            time.sleep(0.02)
        states = {a: (n.alive(), n.latest(), "".join(n.stderr)[-300:]) for a, n in self.nodes.items()}
        raise AssertionError(f"no single leader within {timeout} s: {states}")

    def first_leading_after(self, moment: float, *, other_than: str, timeout: float) -> tuple[NodeProcess, Status]:
        """The first status after ``moment`` (monotonic) in which a node other than ``other_than`` leads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [
                (status.at, node, status)
                for node in self.nodes.values()
                if node.address != other_than
                for status in list(node.statuses)
                if status.at > moment and status.leading
            ]
            if found:
                _, node, status = min(found, key=lambda item: item[0])
                return node, status
            time.sleep(0.02)
        raise AssertionError(f"no new leader within {timeout} s of the old one's end")

    def kill(self, node: NodeProcess) -> float:
        """SIGKILL ``node`` and wait for it; returns the monotonic time of the kill."""
        moment = time.monotonic()
        node.process.kill()
        node.process.wait(timeout=10)
        return moment

    def close(self) -> None:
        for node in self.nodes.values():
            if node.alive():
                try:
                    node.process.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
                node.process.kill()
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (node.process.stdout, node.process.stderr):
                if stream is not None:
                    stream.close()


__all__ = ["NodeProcess", "ProcessCluster", "SECRET", "Status", "free_ports"]
