"""``flowbuilder scheduler --consensus raft``: three scheduler processes sharing a Redis store.

The Raft leader starts the scheduled runs; the others stand by. Killed with SIGKILL, the
leader is replaced by one of them, which takes the schedule over: no logical time gets two
runs (the store's idempotency keys), none after the takeover is missed (catchup: all).
Bad cluster options end in one line and exit 1, before any port is opened.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from test_schedules_cli import WAIT, Scheduler, assert_no_duplicate, logical_times, write_workflow

SECRET = "e2e-cluster-secret"  # noqa: S105 - the test cluster's own secret


def free_addresses(count: int) -> list[str]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{probe.getsockname()[1]}" for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def wait_for_one(schedulers: list[Scheduler], text: str, timeout: float = WAIT) -> Scheduler:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        saying = [scheduler for scheduler in schedulers if scheduler.said(text)]
        if saying:
            assert len(saying) == 1, f"{len(saying)} schedulers said {text!r}"
            return saying[0]
        time.sleep(0.05)
    raise AssertionError(f"no scheduler said {text!r}:\n" + "\n---\n".join("\n".join(s.lines) for s in schedulers))


def test_three_raft_schedulers_have_one_leader_and_another_takes_the_schedule_over_when_it_dies(
    scratch_dir: Path, redis_server: str
) -> None:
    workflow = write_workflow(scratch_dir, "raft_tick", "{every: 1s, catchup: all}")
    secret_file = scratch_dir / "cluster.secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    addresses = free_addresses(3)
    common = (str(workflow), "--store", redis_server, "--consensus", "raft", "--cluster", ",".join(addresses),
              "--cluster-secret-file", str(secret_file))  # fmt: skip
    schedulers = [Scheduler(scratch_dir, *common, "--node", address) for address in addresses]
    try:
        leader = wait_for_one(schedulers, "leading since")
        leader.wait_for("started run", 3)
        standbys = [scheduler for scheduler in schedulers if scheduler is not leader]
        for standby in standbys:
            standby.wait_for("standby: waiting for leadership")
            assert standby.said("started run") == 0
        leader.kill()
        successor = wait_for_one(standbys, "leading since")
        successor.wait_for("started run", 2)
        for scheduler in standbys:
            assert scheduler.terminate() == 0
    finally:
        for scheduler in schedulers:
            scheduler.ensure_dead()
    times = logical_times(redis_server, "raft_tick", scratch_dir)
    assert_no_duplicate(times)
    assert len(times) >= 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "--node", "127.0.0.1:1"],
         "needs a shared secret"),
        (["--consensus", "raft"], "raft consensus needs its cluster: --cluster"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2"], "say which one this process is"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--node", "127.0.0.1:3"],
         "is not one of the cluster's members"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:1", "--node", "127.0.0.1:1"], "listed twice"),
        (["--consensus", "raft", "--cluster", "nohost", "--node", "nohost"], "bad cluster address"),
        (["--consensus", "store", "--cluster", "127.0.0.1:1"], "does not take --cluster"),
        (["--node", "127.0.0.1:1"], "--node needs --cluster"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--node", "127.0.0.1:1",
          "--cluster-secret-file", "missing.secret"], "cannot read the cluster secret file"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--node", "127.0.0.1:1",
          "--cluster-secret-file", "empty.secret"], "is empty"),
        (["--consensus", "raft", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--node", "127.0.0.1:1",
          "--cluster-secret-file", "huge.secret"], "is over 4096 bytes"),
    ],
)  # fmt: skip
def test_bad_cluster_options_are_refused_in_one_line(run_cli, scratch_dir: Path, args: list[str],  # type: ignore[no-untyped-def]
                                                     message: str) -> None:  # fmt: skip
    (scratch_dir / "empty.secret").write_text("\n", encoding="utf-8")
    (scratch_dir / "huge.secret").write_bytes(b"\x00" * 100_000)
    workflow = write_workflow(scratch_dir, "hourly", "{every: 1h}")
    done = run_cli("scheduler", workflow, "--store", "memory://", *args, "--once", timeout=WAIT)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_secret_never_travels_on_the_command_line(run_cli) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("scheduler", "--help")
    assert done.returncode == 0
    assert "--cluster-secret-file" in done.stdout and "--cluster-secret " not in done.stdout


def test_a_node_address_in_use_is_refused_in_one_line(run_cli, scratch_dir: Path) -> None:  # type: ignore[no-untyped-def]
    workflow = write_workflow(scratch_dir, "hourly", "{every: 1h}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = run_cli("scheduler", workflow, "--store", "memory://", "--consensus", "raft", "--cluster", address,
                       "--once", timeout=WAIT)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"raft cannot listen on {address}" in done.stderr and "Traceback" not in done.stderr
