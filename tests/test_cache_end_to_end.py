"""Task result caching through the CLI, across processes, on RocksDB and Redis (issue 11, item 5).

Each ``flowbuilder run`` is its own process; a task that appends a line to ``calls`` each
time it really runs shows whether the second process was served from the cache.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

WORKFLOW = """\
name: cached
params:
  day: {default: "2026-01-01"}
  note: {default: "a"}
tasks:
  - name: extract
    type: shell
    config: {command: "echo run >> calls; echo '{\\"rows\\": 3}'"}
    cache: {key: "${{ params.day }}", ttl: 1h}
  - name: report
    type: shell
    depends_on: [extract]
    config: {command: "echo report >> calls; echo rows=${{ tasks.extract.output.rows }}"}
    cache: true
"""


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _succeeded(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["task"]: e["data"] for e in _events(stdout) if e["kind"] == "task_succeeded"}


def _calls(folder: Path) -> list[str]:
    path = folder / "calls"
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def cached_folder(scratch_dir: Path) -> Path:
    (scratch_dir / "wf.yaml").write_text(WORKFLOW)
    return scratch_dir


def test_a_second_process_is_served_from_the_cache_and_says_so(
    cached_folder: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    first = run_cli("run", "--json", "--store", store_url, "wf.yaml")
    assert first.returncode == 0, first.stderr
    first_run = _events(first.stdout)[0]["run_id"]
    assert "cached" not in _succeeded(first.stdout)["extract"]
    second = run_cli("run", "--json", "--store", store_url, "wf.yaml")
    assert second.returncode == 0, second.stderr
    served = _succeeded(second.stdout)
    assert served["extract"]["cached"]["run"] == first_run and served["extract"]["output"] == {"rows": 3}
    assert served["report"]["cached"]["run"] == first_run and served["report"]["output"] == "rows=3"
    assert _calls(cached_folder) == ["run", "report"]
    shown = run_cli("runs", "show", "--store", store_url, _events(second.stdout)[0]["run_id"])
    assert shown.returncode == 0 and f"cached  the result of run {first_run}" in shown.stdout
    plain = run_cli("run", "--progress", "--store", store_url, "wf.yaml")
    assert plain.returncode == 0, plain.stderr
    assert "extract succeeded: cached" in plain.stdout and "2 served from the cache" in plain.stdout


def test_the_key_expression_alone_decides_and_the_default_key_follows_inputs(
    cached_folder: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    assert run_cli("run", "--store", store_url, "wf.yaml").returncode == 0
    other_note = run_cli("run", "--json", "--store", store_url, "-p", "note=b", "wf.yaml")
    served = _succeeded(other_note.stdout)
    # extract's key is the day only: a hit; report's default key covers every param: a miss
    assert "cached" in served["extract"] and "cached" not in served["report"]
    other_day = run_cli("run", "--json", "--store", store_url, "-p", "day=2026-01-02", "wf.yaml")
    assert "cached" not in _succeeded(other_day.stdout)["extract"]
    assert _calls(cached_folder) == ["run", "report", "report", "run", "report"]


def test_no_cache_runs_everything_and_cache_clear_empties_the_cache(
    cached_folder: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    assert run_cli("run", "--store", store_url, "wf.yaml").returncode == 0
    bypass = run_cli("run", "--json", "--no-cache", "--store", store_url, "wf.yaml")
    assert bypass.returncode == 0 and not any("cached" in data for data in _succeeded(bypass.stdout).values())
    listed = run_cli("cache", "list", "--json", "--store", store_url)
    assert sorted(entry["task"] for entry in json.loads(listed.stdout)) == ["extract", "report"]
    cleared = run_cli("cache", "clear", "--workflow", "cached", "--task", "report", "--store", store_url)
    assert cleared.returncode == 0 and "removed 1 cached result" in cleared.stdout
    again = run_cli("run", "--json", "--store", store_url, "wf.yaml")
    served = _succeeded(again.stdout)
    assert "cached" in served["extract"] and "cached" not in served["report"]
    assert run_cli("cache", "clear", "--store", store_url).stdout.startswith("removed 2 cached results")
    assert json.loads(run_cli("cache", "list", "--json", "--store", store_url).stdout) == []
    assert _calls(cached_folder) == ["run", "report", "run", "report", "report"]


def test_an_entry_past_its_ttl_is_a_miss(scratch_dir: Path, run_cli: Callable[..., Any], store_url: str) -> None:
    (scratch_dir / "short.yaml").write_text(
        "name: short\ntasks:\n  - {name: t, type: shell, config: {command: 'echo x >> calls'}, cache: {ttl: 1s}}\n"
    )
    assert run_cli("run", "--store", store_url, "short.yaml").returncode == 0
    time.sleep(1.5)
    later = run_cli("run", "--json", "--store", store_url, "short.yaml")
    assert later.returncode == 0 and "cached" not in _succeeded(later.stdout)["t"]
    assert _calls(scratch_dir) == ["x", "x"]


def test_a_failed_task_is_never_cached(scratch_dir: Path, run_cli: Callable[..., Any], store_url: str) -> None:
    (scratch_dir / "flaky.yaml").write_text(
        "name: flaky\ntasks:\n  - {name: t, type: shell, config: {command: 'echo x >> calls; test -f ok'}, cache: true}\n"
    )
    assert run_cli("run", "--store", store_url, "flaky.yaml").returncode == 1
    (scratch_dir / "ok").touch()
    assert run_cli("run", "--store", store_url, "flaky.yaml").returncode == 0
    assert run_cli("run", "--store", store_url, "flaky.yaml").returncode == 0
    assert _calls(scratch_dir) == ["x", "x"]


@pytest.mark.parametrize(("cache", "message"), [
    ("{ttl: -1}", "6:18: cache.ttl: input should be greater than 0"),
    ("{ttl: forever}", "6:18: cache.ttl: 'forever' is not a duration"),
    ("{ttl: 999999999999d}", "6:18: cache.ttl: input should be less than or equal to"),
    ("{key: 7, kee: 1}", "6:21: unknown field 'kee' in cache (hint: did you mean 'key'?)"),
    ("[1, 2]", "6:12: cache: cache must be true, false or a mapping"),
    ("{key: '${{ params.nope }}'}", "6:18: unknown param 'nope'"),
    ("{key: '${{ secrets }}'}", "6:18: read a secret by its name"),
])  # fmt: skip
def test_a_bad_cache_setting_is_a_located_error(scratch_dir: Path, run_cli: Callable[..., Any], cache: str,
                                                message: str) -> None:  # fmt: skip
    (scratch_dir / "bad.yaml").write_text(
        f"name: bad\ntasks:\n  - name: t\n    type: shell\n    config: {{command: 'true'}}\n    cache: {cache}\n"
    )
    for command in (("validate", "bad.yaml"), ("run", "bad.yaml")):
        result = run_cli(*command)
        assert result.returncode == 2, result.stderr
        assert f"bad.yaml:{message}" in result.stderr and "Traceback" not in result.stderr


def test_cache_commands_refuse_bad_names_in_one_line(run_cli: Callable[..., Any], store_url: str) -> None:
    result = run_cli("cache", "clear", "--workflow", "no/such\x01name", "--store", store_url)
    assert result.returncode == 2 and "invalid workflow name" in result.stderr and "Traceback" not in result.stderr


def test_a_process_killed_mid_run_loses_no_cached_result_and_caches_nothing_half_done(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    import os
    import signal
    import subprocess
    import sys

    (scratch_dir / "killed.yaml").write_text("""\
name: killed
tasks:
  - {name: quick, type: shell, config: {command: "echo quick >> calls; echo q"}, cache: true}
  - name: slow
    type: shell
    depends_on: [quick]
    cache: true
    config: {command: "echo slow >> calls; touch started; while [ ! -f go ]; do sleep 0.05; done; echo s"}
""")
    flowbuilder = Path(sys.executable).with_name("flowbuilder")
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    process = subprocess.Popen([str(flowbuilder), "run", "--store", store_url, "killed.yaml"], cwd=scratch_dir,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (scratch_dir / "started").exists():
            assert process.poll() is None and time.monotonic() < deadline, "the slow task never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    listed = json.loads(run_cli("cache", "list", "--json", "--store", store_url).stdout)
    assert [entry["task"] for entry in listed] == ["quick"]
    (scratch_dir / "go").touch()
    again = run_cli("run", "--json", "--store", store_url, "killed.yaml")
    assert again.returncode == 0, again.stderr
    served = _succeeded(again.stdout)
    assert "cached" in served["quick"] and "cached" not in served["slow"]
    assert _calls(scratch_dir) == ["quick", "slow", "slow"]


def test_a_cached_table_is_served_by_reference_to_another_process(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    (scratch_dir / "tablemaker.py").write_text(
        "import polars as pl\n\n"
        "def make(rows):\n"
        "    open('calls', 'a').write('make\\n')\n"
        "    return pl.DataFrame({'id': list(range(rows)), 'twice': [2 * i for i in range(rows)]})\n\n"
        "def total(table):\n"
        "    return int(table['twice'].sum())\n"
    )
    (scratch_dir / "tables.yaml").write_text("""\
name: tables
tasks:
  - {name: load, type: python, config: {callable: "tablemaker:make", args: [20000]}, cache: true}
  - name: total
    type: python
    depends_on: [load]
    config: {callable: "tablemaker:total", args: ["${{ tasks.load.output }}"]}
""")
    env = {"PYTHONPATH": str(scratch_dir)}
    first = run_cli("run", "--json", "--store", store_url, "tables.yaml", env=env)
    assert first.returncode == 0, first.stderr
    second = run_cli("run", "--json", "--store", store_url, "tables.yaml", env=env)
    assert second.returncode == 0, second.stderr
    before, after = _succeeded(first.stdout), _succeeded(second.stdout)
    assert after["load"]["output"] == before["load"]["output"]  # the first run's blob, not a copy
    assert after["load"]["output"]["$blob"].startswith(_events(first.stdout)[0]["run_id"])
    assert after["load"]["cached"]["run"] == _events(first.stdout)[0]["run_id"]
    assert after["total"]["output"] == before["total"]["output"] == 2 * sum(range(20000))
    assert _calls(scratch_dir) == ["make"]


def test_retry_from_a_cached_task_is_served_unless_no_cache(
    scratch_dir: Path, run_cli: Callable[..., Any], store_url: str
) -> None:
    (scratch_dir / "retried.yaml").write_text("""\
name: retried
tasks:
  - {name: a, type: shell, config: {command: "echo a >> calls; echo A"}, cache: true}
  - {name: b, type: shell, depends_on: [a], config: {command: "echo b >> calls; test -f ok"}}
""")
    first = run_cli("run", "--json", "--store", store_url, "retried.yaml")
    assert first.returncode == 1
    run_id = _events(first.stdout)[0]["run_id"]
    (scratch_dir / "ok").touch()
    served = run_cli("retry", "--json", "--from", "a", "--store", store_url, run_id)
    assert served.returncode == 0, served.stderr
    assert _succeeded(served.stdout)["a"]["cached"]["run"] == run_id
    forced = run_cli("retry", "--json", "--from", "a", "--no-cache", "--store", store_url, run_id)
    assert forced.returncode == 0, forced.stderr
    assert "cached" not in _succeeded(forced.stdout)["a"]
    assert _calls(scratch_dir) == ["a", "b", "b", "a", "b"]
