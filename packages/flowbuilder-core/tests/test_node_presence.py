"""NodePresence: announce, heartbeat with the current role, leave — and never stop the node's work."""

from __future__ import annotations

import asyncio

from flowbuilder.interfaces.node_announcer import NodeAnnouncement, RegistryUnavailableError
from flowbuilder.node_presence import NodePresence
from flowbuilder.noop_announcer import NoopNodeAnnouncer


def scheduler_node() -> NodeAnnouncement:
    return NodeAnnouncement("s1", "scheduler", "standby", address="127.0.0.1:7001")


class FlakyAnnouncer(NoopNodeAnnouncer):
    """Heartbeats fail while ``down`` (a registry that went away)."""

    down = False

    def heartbeat(self, role: str | None = None) -> None:
        if self.down:
            raise RegistryUnavailableError("cannot reach the node registry at redis://127.0.0.1:1/0: refused")
        super().heartbeat(role)


def test_a_role_change_is_heartbeaten_at_once_not_at_the_next_interval() -> None:
    async def main() -> str:
        announcer, role = NoopNodeAnnouncer(), ["standby"]
        presence = NodePresence(announcer, scheduler_node(), lambda: role[0], interval=60)
        await presence.start()
        role[0] = "leader"
        presence.role_changed()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if presence.heartbeats:
                break
        (node,) = announcer.nodes()
        await presence.stop()
        return node.announcement.role

    assert asyncio.run(main()) == "leader"


def test_stop_right_after_a_role_change_ends_the_heartbeats_and_leaves() -> None:
    """Python 3.11's wait_for drops a cancel that meets a set event: stopping must not rely on cancel."""

    async def main() -> tuple[list[object], int, int]:
        announcer = NoopNodeAnnouncer()
        presence = NodePresence(announcer, scheduler_node(), lambda: "leader", interval=0.05)
        await presence.start()
        await asyncio.sleep(0)
        presence.role_changed()
        stopping = asyncio.ensure_future(presence.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)  # a hang detector, not a timing
        assert done, "stop() hung: the heartbeat loop swallowed its cancellation"
        stopped_at = presence.heartbeats
        await asyncio.sleep(0.3)
        return list(announcer.nodes()), stopped_at, presence.heartbeats

    nodes, beats_at_stop, beats_later = asyncio.run(main())
    assert nodes == []
    assert beats_later == beats_at_stop, "the heartbeat loop outlived stop()"


def test_failing_heartbeats_are_logged_once_and_recovery_once_and_never_raise() -> None:
    lines: list[str] = []

    async def main() -> None:
        announcer = FlakyAnnouncer()
        presence = NodePresence(announcer, scheduler_node(), lambda: "standby", interval=0.02, log=lines.append)
        await presence.start()
        announcer.down = True
        await asyncio.sleep(0.2)
        announcer.down = False
        await asyncio.sleep(0.2)
        await presence.stop()

    asyncio.run(main())
    assert len(lines) == 2, lines
    assert lines[0].startswith("registry: heartbeat failed, retrying every 0.02s: cannot reach the node registry")
    assert lines[1] == "registry: heartbeats recorded again"
