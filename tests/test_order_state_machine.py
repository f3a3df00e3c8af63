"""The order state machine of examples/order driven through the CLI (issue 11, item 9).

``flowbuilder run`` executes the run in one process, where it waits for signals;
``flowbuilder signal`` sends them from others, as a user would. One run ends in
``delivered``, others in ``refunded`` (cancelled after payment, and a failed shipment), and
one is killed with SIGKILL while waiting and resumed in the state it was in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Iterator

import pytest

ORDER = Path(__file__).resolve().parents[1] / "examples" / "order" / "order.yaml"


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}


def _flowbuilder(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_cli(), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60)


def _read_until(stream: IO[str], kind: str) -> dict[str, Any]:
    while True:
        line = stream.readline()
        assert line, f"the run ended before a {kind} event"
        record = json.loads(line)
        if record.get("kind") == kind:
            return dict(record)


class Order:
    """``flowbuilder run --json`` of examples/order in the background, and the commands that steer it."""

    def __init__(self, store: str, cwd: Path, *params: str):
        self.store = store
        self.cwd = cwd
        self.process = subprocess.Popen([*_cli(), "run", "--json", "--store", store, str(ORDER), *params], cwd=cwd,
                                        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert self.process.stdout is not None
        self.run_id = str(_read_until(self.process.stdout, "state_entered")["run_id"])

    def signal(self, name: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = ["--data", data] if data is not None else []
        done = _flowbuilder("signal", self.run_id, name, *extra, "--wait", "--store", self.store, cwd=self.cwd)
        assert done.returncode == 0, done.stderr
        return done

    def wait_until(self, kind: str, **data: Any) -> dict[str, Any]:
        """The next event of ``kind`` (whose data holds ``data``) in the run's JSON stream."""
        assert self.process.stdout is not None
        while True:
            event = _read_until(self.process.stdout, kind)
            if all(event.get("data", {}).get(key) == value for key, value in data.items()):
                return event

    def finish(self) -> int:
        self.process.communicate(timeout=60)
        return self.process.returncode

    def show(self) -> str:
        return _flowbuilder("runs", "show", self.run_id, "--store", self.store, cwd=self.cwd).stdout

    def state(self) -> dict[str, Any]:
        shown = _flowbuilder("runs", "show", self.run_id, "--json", "--store", self.store, cwd=self.cwd)
        return dict(json.loads(shown.stdout)["state"])


@pytest.fixture
def rocksdb_url(tmp_path: Path) -> str:
    return f"rocksdb://{tmp_path / 'store'}"


@pytest.fixture
def orders() -> Iterator[list[Order]]:
    started: list[Order] = []
    yield started
    for order in started:  # a failed test leaves no run waiting for ever
        if order.process.poll() is None:
            order.process.kill()
            order.process.communicate(timeout=30)


def test_an_order_is_paid_shipped_and_delivered(store_url: str, scratch_dir: Path, orders: list[Order]) -> None:
    order = Order(store_url, scratch_dir)
    orders.append(order)
    order.signal("pay", '{"amount": 1}')  # below the order's amount: the guard refuses it
    ignored = order.wait_until("signal_ignored")
    assert ignored["data"]["reason"].startswith("guard is false")
    order.signal("pay", '{"amount": 42.5, "card": "visa"}')
    order.wait_until("state_entered", state="paid")
    order.signal("ship")
    order.wait_until("state_entered", state="shipped")
    order.signal("delivered")
    assert order.finish() == 0
    state = order.state()
    assert state["status"] == "succeeded" and state["machine"]["current"] == "delivered"
    assert state["machine"]["context"] == {"amount": 42.5, "card": "visa"}
    assert state["tasks"]["book_carrier"]["output"] == {"tracking": "TRK-A-1001"}
    assert state["tasks"]["refund_payment"]["status"] == "skipped"
    shown = order.show()
    assert "state      delivered" in shown
    for step in ("entered created", "ignored signal pay (request 1)", "created -> paid on signal pay (request 2)",
                 "shipping -> shipped on actions succeeded", "shipped -> delivered on signal delivered"):  # fmt: skip
        assert step in shown, shown


def test_an_order_cancelled_after_payment_is_refunded(rocksdb_url: str, scratch_dir: Path,
                                                      orders: list[Order]) -> None:  # fmt: skip
    order = Order(rocksdb_url, scratch_dir)
    orders.append(order)
    order.signal("pay", '{"amount": 50}')
    order.wait_until("state_entered", state="paid")
    order.signal("cancel")
    assert order.finish() == 0
    state = order.state()
    assert state["machine"]["current"] == "refunded"
    assert state["tasks"]["refund_payment"]["output"] == {"refunded": 42.5}
    assert state["tasks"]["notify_refund"]["output"] == "order A-1001 refunded"
    assert "paid -> refunded on signal cancel (request 2), compensating paid" in order.show()


def test_a_failed_shipment_is_refunded_by_compensation(rocksdb_url: str, scratch_dir: Path,
                                                       orders: list[Order]) -> None:  # fmt: skip
    order = Order(rocksdb_url, scratch_dir, "--param", "fail_shipping=true")
    orders.append(order)
    order.signal("pay", '{"amount": 50}')
    order.wait_until("state_entered", state="paid")
    order.signal("ship")
    assert order.finish() == 0
    state = order.state()
    assert state["machine"]["current"] == "refunded"
    assert state["tasks"]["book_carrier"]["status"] == "failed"
    assert state["tasks"]["refund_payment"]["status"] == "succeeded"
    assert "shipping -> refunded on actions failed, compensating paid" in order.show()


def test_an_order_cancelled_before_payment_needs_no_refund(rocksdb_url: str, scratch_dir: Path,
                                                           orders: list[Order]) -> None:  # fmt: skip
    order = Order(rocksdb_url, scratch_dir)
    orders.append(order)
    order.signal("cancel")
    assert order.finish() == 0
    state = order.state()
    assert state["machine"]["current"] == "cancelled"
    assert "refund_payment" not in state["tasks"] or state["tasks"]["refund_payment"]["status"] == "skipped"
    late = _flowbuilder("signal", order.run_id, "pay", "--store", rocksdb_url, cwd=scratch_dir)
    assert late.returncode not in (0, 70) and "already finished" in late.stderr and "Traceback" not in late.stderr


def test_a_run_killed_while_waiting_resumes_in_its_state_without_rerunning_its_entry_actions(
    rocksdb_url: str, scratch_dir: Path, orders: list[Order]
) -> None:
    order = Order(rocksdb_url, scratch_dir)
    orders.append(order)
    order.signal("pay", '{"amount": 50}')
    order.wait_until("task_succeeded")  # charge_card, paid's entry action
    order.process.send_signal(signal.SIGKILL)
    order.process.communicate(timeout=30)
    shown = order.show()
    assert "interrupted" in shown and "state      paid" in shown
    ship = _flowbuilder("signal", order.run_id, "ship", "--store", rocksdb_url, cwd=scratch_dir)
    assert ship.returncode == 0 and "takes effect when it is resumed" in ship.stderr
    resumed = subprocess.Popen([*_cli(), "resume", order.run_id, "--store", rocksdb_url], cwd=scratch_dir,
                               env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        polls = 0
        while order.state()["machine"]["current"] != "shipped":  # the ship signal was honoured on resume
            polls += 1
            assert polls < 300 and resumed.poll() is None, "the resumed run did not reach shipped"
            time.sleep(0.1)
        order.signal("delivered")
        _, err = resumed.communicate(timeout=60)
    finally:
        if resumed.poll() is None:
            resumed.kill()
            resumed.communicate(timeout=30)
    assert resumed.returncode == 0, err
    state = order.state()
    assert state["machine"]["current"] == "delivered" and state["status"] == "succeeded"
    events = [json.loads(line)["event"] for line in _flowbuilder(
        "runs", "watch", order.run_id, "--json", "--store", rocksdb_url, cwd=scratch_dir).stdout.splitlines()
        if '"event"' in line]  # fmt: skip
    started = [e["task"] for e in events if e["kind"] == "task_started"]
    assert started.count("charge_card") == 1 and started.count("record_order") == 1  # not run again
    assert state["tasks"]["charge_card"]["attempts"] == 1
    entered = [e["data"]["state"] for e in events if e["kind"] == "state_entered"]
    assert entered == ["created", "paid", "shipping", "shipped", "delivered"]  # paid is not entered twice
