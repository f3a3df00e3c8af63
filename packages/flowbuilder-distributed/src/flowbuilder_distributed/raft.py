"""``raft``: the scheduler that leads is the Raft leader of a pysyncobj cluster.

pysyncobj (an existing, tested Raft; we do not write our own) elects the leader; this module
only decides what "this node leads" may claim, because pysyncobj's own answer can be stale:
a leader that was paused (SIGSTOP, a long GC, a frozen VM) still reads ``LEADER`` until its
tick thread runs again, and by then the others may have elected someone else.

So a node counts itself leader only while a *fresh confirmation* holds: after each tick,
pysyncobj has checked (``leaderFallbackTimeout``) that a majority acknowledged its
append-entries within :attr:`RaftTiming.quorum_window`; the tick records that moment, and
:meth:`RaftConsensus.is_leader` accepts it for :attr:`RaftTiming.confirmation_ttl` more.
A leader that loses its quorum therefore stops counting itself leader at most
:attr:`RaftTiming.step_down_bound` after the last majority acknowledgement, which is less
than the election timeout: no other node can have been elected by then (unless a vote was
already under way, which fencing tokens cover: the new leader's term is greater).

Security: pysyncobj unpickles what arrives on its port, so every cluster is encrypted with
pysyncobj's ``password`` (Fernet, via ``cryptography``). A multi-node cluster refuses to
start without a shared secret; a one-node cluster encrypts with a random one, so no other
process can talk to it. The port is bound to the node's own address only (pysyncobj would
bind every interface otherwise).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.consensus import CLUSTER_SECRET_ENV, ClusterConfig, ConsensusEngine

if TYPE_CHECKING:
    from flowbuilder.interfaces.store import Store

DEFAULT_ELECTION_TIMEOUT = 1.0
"""Seconds a follower waits without hearing from a leader before it stands (at random up to twice that)."""
TICK_SECONDS = 0.05
"""The longest pysyncobj's event loop waits for network events between two ticks."""
IDLE_CONNECTION_SECONDS = 24 * 3600.0
"""pysyncobj's ``connectionTimeout``: effectively never (see :meth:`RaftTiming.syncobj_settings`)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RaftTiming:
    """Every timeout of a Raft node, derived from one: the election timeout ``T``.

    * a follower stands for election after ``T`` to ``2T`` without a leader's heartbeat;
    * the leader sends heartbeats (append-entries) every ``T/10``;
    * it falls back to follower when no majority acknowledged one within ``0.4 T``
      (:attr:`quorum_window`, pysyncobj's ``leaderFallbackTimeout``: four heartbeats);
    * a confirmation of leadership is believed for ``0.4 T`` (:attr:`confirmation_ttl`),
      long enough that a tick thread slowed by a busy process does not make the leader
      flap, short enough that the step-down bound stays under ``T``.
    """

    election_timeout: float = DEFAULT_ELECTION_TIMEOUT

    def __post_init__(self) -> None:
        if not 0.2 <= self.election_timeout <= 60:
            raise ConfigurationError(
                f"the raft election timeout must be 0.2 to 60 seconds (got {self.election_timeout!r})"
            )

    @property
    def heartbeat(self) -> float:
        return self.election_timeout / 10

    @property
    def quorum_window(self) -> float:
        return 0.4 * self.election_timeout

    @property
    def confirmation_ttl(self) -> float:
        return 0.4 * self.election_timeout

    @property
    def step_down_bound(self) -> float:
        """The longest a leader that lost its quorum still counts itself leader, counted from
        the last acknowledgement by a majority: ``0.8 T`` + one tick (< ``T``)."""
        return self.quorum_window + TICK_SECONDS + self.confirmation_ttl

    def syncobj_settings(self) -> dict[str, Any]:
        """The matching pysyncobj ``SyncObjConf`` keywords."""
        return {
            "raftMinTimeout": self.election_timeout,
            "raftMaxTimeout": 2 * self.election_timeout,
            "appendEntriesPeriod": self.heartbeat,
            "leaderFallbackTimeout": self.quorum_window,
            # pysyncobj closes a connection on the first *send* after connectionTimeout without a
            # read, dropping that message. Followers do not talk while a leader lives, so with a
            # timeout of a few T the first vote request of every election was dropped, and the
            # election took a second round (kill -> new leader 2.3-3 s instead of 1-2 s). Dead
            # peers are noticed otherwise: a killed process's socket is closed by its kernel, and
            # TCP keepalive probes an idle connection after T (3 lost probes, one per T).
            "connectionTimeout": IDLE_CONNECTION_SECONDS,
            "tcp_keepalive": self.keepalive(),
            "connectionRetryTime": self.election_timeout / 2,
        }

    def keepalive(self) -> tuple[int, int, int]:
        """pysyncobj's ``tcp_keepalive``: (idle seconds, seconds between probes, probes), whole seconds."""
        probe = max(1, round(self.election_timeout))
        return (probe, probe, 3)


@dataclass(frozen=True, slots=True)
class _Observation:
    """What the tick thread last saw, replaced whole (so readers never see half of it)."""

    leading_term: int | None  # the term this node leads in, None when it does not lead
    leader: str | None  # the leader it knows of
    seen_at: float  # monotonic


_NOTHING_SEEN = _Observation(None, None, float("-inf"))


def parse_address(text: str) -> str:
    """``HOST:PORT`` checked and returned as given; a one-line error otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ConfigurationError(f"bad cluster address {text!r}: write HOST:PORT, e.g. 127.0.0.1:7001")
    return text


class RaftConsensus(ConsensusEngine):
    """Leads while it is the Raft leader of its pysyncobj cluster and a majority confirms it.

    Args:
        node_id: this node's address ``HOST:PORT`` (its id, and the only address it binds).
        cluster: the members (``node_id`` among them), the shared secret and the state
            folder; None means a one-node cluster of ``node_id``.
        timing: the election timeout and what follows from it.

    A multi-node cluster without a secret is refused with a
    :class:`~flowbuilder.errors.ConfigurationError`. The fencing token is the Raft term in
    which this node became leader: every new leader's term is greater than every earlier
    leader's. With ``cluster.state_dir`` the term survives a restart of the whole cluster;
    without it, terms start again at 1 when every member restarts.
    """

    name: ClassVar[str] = "raft"

    def __init__(self, node_id: str, cluster: ClusterConfig | None = None, *, timing: RaftTiming | None = None):
        address = parse_address(node_id)
        if cluster is None:
            cluster = ClusterConfig(node=address, members=(address,))
        elif parse_address(cluster.node) != address:
            raise ConfigurationError(f"the node id {node_id!r} is not the cluster's node {cluster.node!r}")
        super().__init__(address)
        self.members = tuple(parse_address(member) for member in cluster.members)
        self.peers = tuple(member for member in self.members if member != address)
        if self.peers and not cluster.secret:
            raise ConfigurationError(
                f"a raft cluster of {len(self.members)} members needs a shared secret (its members unpickle what"
                f" reaches their port): set ${CLUSTER_SECRET_ENV} or --cluster-secret-file on every member"
            )
        # A lone node needs no peer to agree on a secret: a random one keeps everyone else out.
        self._secret = cluster.secret or os.urandom(32).hex()
        self.state_dir = cluster.state_dir
        self.timing = timing or RaftTiming()
        self._observed = _NOTHING_SEEN
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._syncobj: Any = None

    @classmethod
    def for_store(cls, node_id: str, store: Store, *, lease_seconds: float | None = None,
                  cluster: ClusterConfig | None = None) -> ConsensusEngine:  # fmt: skip
        """Raft elects over its own network: ``cluster`` is required, ``store`` and ``lease_seconds`` unused."""
        if cluster is None:
            raise ConfigurationError(
                "raft consensus needs its cluster: --cluster HOST:PORT,HOST:PORT,... --node HOST:PORT"
            )
        return cls(cluster.node, cluster)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bind this node's address and start the tick thread; raises ConfigurationError when
        the address cannot be bound (in use, not this machine's)."""
        if self._thread is not None:
            return
        syncobj = self._make_syncobj()
        self._stopping.clear()
        self._syncobj = syncobj
        self._thread = threading.Thread(target=self._tick_loop, args=(syncobj,), name=f"raft-{self.node_id}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def stop(self) -> None:
        """Leave the cluster: stop ticking, close the port and connections (idempotent)."""
        thread, self._thread = self._thread, None
        self._observed = _NOTHING_SEEN
        if thread is None:
            return
        self._stopping.set()
        thread.join()
        syncobj, self._syncobj = self._syncobj, None
        self._observed = _NOTHING_SEEN
        if syncobj is not None:
            syncobj.destroy()  # with autoTick off, this closes the port and the journal at once

    def _make_syncobj(self) -> Any:
        from pysyncobj import SyncObj, SyncObjConf, SyncObjException

        journal = None
        if self.state_dir is not None:
            try:
                Path(self.state_dir).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ConfigurationError(f"cannot create the raft state folder {str(self.state_dir)!r}:"
                                         f" {error.strerror}") from None  # fmt: skip
            journal = str(Path(self.state_dir) / f"raft-{self.node_id.replace(':', '-')}.journal")
        conf = SyncObjConf(
            password=self._secret,
            bindAddress=self.node_id,  # only this address: pysyncobj binds 0.0.0.0 by default
            autoTick=False,  # our own thread ticks, so we see every tick's outcome at once
            dynamicMembershipChange=False,
            maxBindRetries=1,
            journalFile=journal,
            onStateChanged=self._on_state_changed,
            **self.timing.syncobj_settings(),
        )
        # pysyncobj logs a bind failure with its traceback before raising: our one-line error says it.
        quiet = logging.getLogger("pysyncobj.syncobj")
        was_disabled, quiet.disabled = quiet.disabled, True
        try:
            return SyncObj(self.node_id, list(self.peers), conf)
        except SyncObjException:
            raise ConfigurationError(f"raft cannot listen on {self.node_id}: the port is in use or the address"
                                     " is not this machine's (see --node)") from None  # fmt: skip
        except OSError as error:
            raise ConfigurationError(f"raft cannot start on {self.node_id}: {error.strerror or error}") from None
        finally:
            quiet.disabled = was_disabled

    def _tick_loop(self, syncobj: Any) -> None:
        while not self._stopping.is_set():
            try:
                syncobj.doTick(TICK_SECONDS)
            except Exception:  # pysyncobj's own loop logs and carries on too
                log.exception("raft tick failed on %s", self.node_id)
                time.sleep(TICK_SECONDS)
                continue
            self._observe(syncobj)

    def _observe(self, syncobj: Any) -> None:
        """Record what this tick decided (called on the tick thread only).

        The tick began with pysyncobj's check that a majority acknowledged this leader
        within the quorum window; a leader that failed it is a follower by now.
        """
        if self._stopping.is_set():
            return
        leader = syncobj._getLeader()
        term = syncobj.raftCurrentTerm
        self._observed = _Observation(
            leading_term=term if syncobj._isLeader() else None,
            leader=leader.id if leader is not None else None,
            seen_at=time.monotonic(),
        )

    def _on_state_changed(self, old_state: int, new_state: int) -> None:
        """pysyncobj's callback, on the tick thread, the moment the Raft state changes."""
        if self._syncobj is not None:
            self._observe(self._syncobj)

    # -- what the scheduler asks -------------------------------------------------------------

    def _fresh(self) -> _Observation | None:
        observed = self._observed
        if time.monotonic() - observed.seen_at < self.timing.confirmation_ttl:
            return observed
        return None

    def is_leader(self) -> bool:
        observed = self._fresh()
        return observed is not None and observed.leading_term is not None

    def fencing_token(self) -> int | None:
        observed = self._fresh()
        return observed.leading_term if observed is not None else None

    def leader(self) -> str | None:
        observed = self._observed
        if observed.leader == self.node_id:
            return self.node_id if self.is_leader() else None
        # A follower's knowledge is as old as its last tick; a stalled node knows nothing.
        if time.monotonic() - observed.seen_at < self.timing.election_timeout:
            return observed.leader
        return None


__all__ = ["DEFAULT_ELECTION_TIMEOUT", "RaftConsensus", "RaftTiming", "parse_address"]
