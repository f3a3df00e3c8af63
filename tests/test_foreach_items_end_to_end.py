"""Events per ``foreach`` item, with real processes on RocksDB and Redis (issue 11, item 8).

Every item records ``item_started`` and ``item_succeeded``/``item_failed``/``item_cancelled``,
so ``runs show`` lists the items, and a run that is resumed (after SIGKILL) or retried
keeps the output of each item that succeeded and runs only the others. Each item appends
a line to ``ran.log`` when it runs, so the tests count real executions, not events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable

CONTINUE = """\
name: items
tasks:
  - name: each
    type: shell
    foreach:
      items: [0, 1, 2, 3, 4, 5]
      on_item_failure: continue
    config: {command: "echo ran-${{ item }} >> ran.log; test ! -f broken-${{ item }} && echo out-${{ item }}"}
"""

GATED = """\
name: gated_items
tasks:
  - name: each
    type: shell
    foreach: [0, 1, 2, 3, 4, 5]
    config:
      command: >-
        echo ran-${{ item }} >> ran.log;
        if [ ${{ item }} -ge 3 ]; then for i in $(seq 600); do test -f go && break; sleep 0.05; done; fi;
        echo out-${{ item }}
"""

FROM_FILE = """\
name: from_file
on_failure: continue
tasks:
  - name: listing
    type: shell
    config: {command: "cat items.json"}
  - name: each
    type: shell
    depends_on: [listing]
    foreach: {items: "${{ tasks.listing.output }}", on_item_failure: continue}
    config: {command: "echo ran-${{ item }} >> ran.log; test ! -f broken-${{ item }} && echo out-${{ item }}"}
"""


def _ran(scratch_dir: Path) -> list[str]:
    """The items that ran, in the order they ran, and the file emptied for the next count."""
    log = scratch_dir / "ran.log"
    lines = log.read_text().split() if log.exists() else []
    log.write_text("")
    return sorted(lines)


def _show(run_cli: Callable[..., Any], store_url: str, run_id: str) -> dict[str, Any]:
    shown = run_cli("runs", "show", run_id, "--json", "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout)["state"]["tasks"]["each"])


def _run_id(stdout: str) -> str:
    return str(json.loads(stdout.splitlines()[0])["run_id"])


def test_runs_show_lists_the_items_and_retry_reruns_only_the_failed_ones(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    (scratch_dir / "items.yaml").write_text(CONTINUE)
    (scratch_dir / "broken-2").touch()
    (scratch_dir / "broken-4").touch()
    failed = run_cli("run", "--json", "--store", store_url, "items.yaml")
    assert failed.returncode == 1, failed.stderr
    run_id = _run_id(failed.stdout)
    kinds = [json.loads(line)["kind"] for line in failed.stdout.splitlines()]
    assert kinds.count("item_started") == 6 and kinds.count("item_succeeded") == 4 and kinds.count("item_failed") == 2
    assert _ran(scratch_dir) == [f"ran-{i}" for i in range(6)]

    items = _show(run_cli, store_url, run_id)["items"]
    assert {position: item["status"] for position, item in items.items()} == {
        "0": "succeeded", "1": "succeeded", "2": "failed", "3": "succeeded", "4": "failed", "5": "succeeded"}  # fmt: skip
    assert items["3"]["output"] == "out-3" and items["2"]["error"] == "command exited with 1"
    text = run_cli("runs", "show", run_id, "--store", store_url).stdout
    assert "items   6: 2 failed, 4 succeeded" in text
    assert text.index("each[2]") < text.index("each[4]") < text.index("each[0]")  # failed ones first

    (scratch_dir / "broken-2").unlink()
    (scratch_dir / "broken-4").unlink()
    retried = run_cli("retry", run_id, "--json", "--store", store_url)
    assert retried.returncode == 0, retried.stderr
    assert _ran(scratch_dir) == ["ran-2", "ran-4"]  # the four that succeeded kept their outputs
    each = _show(run_cli, store_url, run_id)
    assert each["status"] == "succeeded" and each["output"] == [f"out-{i}" for i in range(6)]


def test_a_retry_choosing_a_succeeded_foreach_task_runs_every_item_again(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    (scratch_dir / "items.yaml").write_text(CONTINUE)
    (scratch_dir / "broken-5").touch()
    run_id = _run_id(run_cli("run", "--json", "--store", store_url, "items.yaml").stdout)
    (scratch_dir / "broken-5").unlink()
    assert run_cli("retry", run_id, "--store", store_url).returncode == 0
    _ran(scratch_dir)
    again = run_cli("retry", run_id, "--only", "each", "--store", store_url)
    assert again.returncode == 0, again.stderr
    assert _ran(scratch_dir) == [f"ran-{i}" for i in range(6)]


def test_an_item_whose_value_changed_runs_again_on_retry(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    """Outputs are kept by position only while the item there is the same value."""
    (scratch_dir / "from_file.yaml").write_text(FROM_FILE)
    (scratch_dir / "items.json").write_text('["a", "b", "c"]')
    (scratch_dir / "broken-c").touch()
    failed = run_cli("run", "--json", "--store", store_url, "from_file.yaml")
    assert failed.returncode == 1, failed.stderr
    run_id = _run_id(failed.stdout)
    assert _ran(scratch_dir) == ["ran-a", "ran-b", "ran-c"]
    (scratch_dir / "broken-c").unlink()
    (scratch_dir / "items.json").write_text('["a", "x", "c"]')
    retried = run_cli("retry", run_id, "--from", "listing", "--store", store_url)
    assert retried.returncode == 0, retried.stderr
    assert _ran(scratch_dir) == ["ran-c", "ran-x"]  # 'a' is the same value at the same place: kept
    assert _show(run_cli, store_url, run_id)["output"] == ["out-a", "out-x", "out-c"]


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("flowbuilder")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


def _read_until(stream: IO[str], kind: str, count: int) -> str:
    """Read JSON event lines until the ``count``-th of ``kind``; the run id."""
    seen = 0
    while True:
        line = stream.readline()
        assert line, f"the run ended before {count} {kind} events"
        record = json.loads(line)
        seen += record.get("kind") == kind
        if seen == count:
            return str(record["run_id"])


def test_a_resumed_foreach_runs_only_the_items_that_had_not_succeeded(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    (scratch_dir / "gated.yaml").write_text(GATED)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    runner = subprocess.Popen([*_cli(), "run", "--json", "--store", store_url, "gated.yaml"], cwd=scratch_dir,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert runner.stdout is not None
        run_id = _read_until(runner.stdout, "item_succeeded", 3)  # items 0-2 are done; 3-5 wait for 'go'
        log = scratch_dir / "ran.log"
        give_up = time.monotonic() + 30
        while len(log.read_text().split()) < 6 and time.monotonic() < give_up:  # 3-5 are in their shells
            time.sleep(0.02)
        runner.send_signal(signal.SIGKILL)
        runner.communicate(timeout=30)
        assert _ran(scratch_dir) == [f"ran-{i}" for i in range(6)]
        (scratch_dir / "go").touch()
        resumed = run_cli("resume", run_id, "--store", store_url)
        assert resumed.returncode == 0, resumed.stderr
        assert _ran(scratch_dir) == ["ran-3", "ran-4", "ran-5"]
        each = _show(run_cli, store_url, run_id)
        assert each["output"] == [f"out-{i}" for i in range(6)]
        assert {item["status"] for item in each["items"].values()} == {"succeeded"}
    finally:
        (scratch_dir / "go").touch()
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)


def test_logs_of_a_foreach_task_show_every_items_lines_and_annotate_knows_its_tasks(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    """``logs RUN each`` showed nothing: the items write under ``each[N]``."""
    (scratch_dir / "items.yaml").write_text(CONTINUE)
    done = run_cli("run", "--json", "--store", store_url, "items.yaml")
    assert done.returncode == 0, done.stderr
    run_id = _run_id(done.stdout)
    shown = run_cli("logs", run_id, "each", "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert sorted(shown.stdout.splitlines()) == [f"[each[{i}]#1] out-{i}" for i in range(6)]
    one = run_cli("logs", run_id, "each[3]", "--store", store_url)
    assert one.stdout.splitlines() == ["[each[3]#1] out-3"]
    refused = run_cli("runs", "annotate", run_id, "-t", "eahc", "--store", store_url)
    assert (refused.returncode, refused.stderr) == (1, f"error: run {run_id} has no task 'eahc' (its tasks: each)\n")
    assert run_cli("runs", "annotate", run_id, "-t", "each[3]", "--store", store_url).returncode == 0
