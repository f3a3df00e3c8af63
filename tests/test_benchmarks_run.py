"""The benchmarks keep working: each runs at a tiny size and reports what it promises.

No figure is asserted (times belong to bench/, never to tests); these only catch a
benchmark broken by a change elsewhere, long before someone needs its numbers.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, check=False)


def test_compile_benchmark_measures_every_phase_and_both_baselines() -> None:
    result = _run(str(BENCH / "compile.py"), "--sizes", "60", "--repeat", "1", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["results"]
    assert row["plan"]["tasks"] == 60
    for key in ("yaml", "graphlib", "parse", "validate", "compile", "total"):
        assert row[key]["seconds"] > 0
        assert row[key]["traced"] > 0
    assert row["ratio_total_to_yaml"] > 0


def test_compile_benchmark_workflow_is_a_valid_workflow_for_the_real_loader(tmp_path: Path) -> None:
    target = tmp_path / "generated.yaml"
    assert _run(str(BENCH / "compile.py"), "--sizes", "300", "--write", str(target)).returncode == 0
    spec = importlib.util.spec_from_file_location("_flowbuilder_bench_compile", BENCH / "compile.py")
    assert spec is not None and spec.loader is not None
    bench_compile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_compile)
    from flowbuilder import load_plan

    plan = load_plan(target, bench_compile._bench_host())
    assert len(plan) == 300
    assert plan.expression_tasks, "the generated workflow must exercise expressions"
    assert any(len(p) > 1 for p in plan.predecessors), "and fan-in"
    assert plan.max_width > 1, "and fan-out"


def test_startup_benchmark_times_the_cli_beside_python(tmp_path: Path) -> None:
    result = _run(str(BENCH / "startup.py"), "--runs", "1")
    assert result.returncode == 0, result.stderr
    for label in ("python -c pass", "flowbuilder --version", "flowbuilder validate seed.yaml"):
        assert label in result.stdout


def test_startup_benchmark_runs_another_checkout_in_the_same_rounds() -> None:
    result = _run(str(BENCH / "startup.py"), "--runs", "1", "--no-api", "--before", str(BENCH.parent))
    assert result.returncode == 0, result.stderr
    for label in (
        "flowbuilder run hello.yaml (before)",
        "--store memory:// (before)",
        "flowbuilder --version (before)",
    ):
        assert label in result.stdout
    assert "python -c pass (before)" not in result.stdout  # floors are measured once


def test_plugin_lookup_benchmark_compares_the_manifest_with_the_hooks_and_the_floor() -> None:
    result = _run(str(BENCH / "plugin_lookup.py"), "--rounds", "1")
    assert result.returncode == 0, result.stderr
    for label in ("manifest (default)", "hooks called (before)", "floor: import what the run uses"):
        assert label in result.stdout


def test_expressions_benchmark_compares_every_case_with_the_plain_sandbox() -> None:
    result = _run(str(BENCH / "expressions.py"), "--number", "20", "--rounds", "1")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert len(rows) >= 5 and all(row.rstrip().split()[-1].replace(".", "").isdigit() for row in rows)


def test_subscribe_latency_benchmark_reports_every_path_beside_its_floor() -> None:
    result = _run(str(BENCH / "subscribe_latency.py"), "20")
    assert result.returncode == 0, result.stderr
    for label in ("queue.Queue", "memory://", "rocksdb:// (owner)", "pipe from a child", "rocksdb:// (routed"):
        line = next(row for row in result.stdout.splitlines() if label in row)
        assert "P50" in line and "P99" in line


def test_cli_fanout_benchmark_compares_the_cli_with_the_api_and_the_floor() -> None:
    result = _run(str(BENCH / "cli_fanout.py"), "--sizes", "20", "--rounds", "1")
    assert result.returncode == 0, result.stderr
    for label in ("fan-out 20", "chain 20"):
        rows = {line.split()[2]: line for line in result.stdout.splitlines() if line.startswith(label)}
        assert set(rows) == {"cli", "cli-mem", "api", "api-mem"}, result.stdout
        assert "CLI/API" in result.stdout and ("met" in rows["cli"] or "missed" in rows["cli"])


def test_shell_benchmark_reports_throughput_and_cpu_per_command_beside_both_floors() -> None:
    result = _run(str(BENCH / "shell.py"), "--count", "10", "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    rows = {"flowbuilder", "popen", "asyncio"}
    assert set(figures["seconds"]) == set(figures["cpu_us_per_command"]) == rows
    for name in rows:
        assert figures["cpu_us_per_command"][name]["process"] > 0
    assert figures["ratio_vs_popen"] > 0 and figures["peak_at_once"] >= 1


def test_storage_fanout_benchmark_reports_every_store_and_the_floor_per_task() -> None:
    result = _run(str(BENCH / "storage_fanout.py"), "--tasks", "50", "--repeat", "1", "--cpu", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clock"] == "cpu"
    row = report["sizes"]["50"]
    assert set(row) == {"memory://", "rocksdb:// sync=batch", "rocksdb:// sync=always", "floor", "recording floor",
                        "rocksdict write"}  # fmt: skip
    assert all(per_task > 0 for per_task in row.values())
    assert row["recording floor"] > row["floor"]  # the same loop, doing more
    main = report["main_thread"]["50"]  # the best rounds' main-thread share: where RocksDB's extra lands
    assert set(main) == set(row) - {"floor", "recording floor", "rocksdict write"}
    assert all(0 < main[label] <= row[label] for label in main)


def test_storage_event_values_benchmark_reports_cpu_per_event() -> None:
    result = _run(str(BENCH / "storage_event_values.py"), "--events", "200", "--repeat", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("event_values: ") and "us per event (200 events, best of 1)" in result.stdout


def test_run_fixed_cost_benchmark_reports_every_row_and_the_floor() -> None:
    result = _run(str(BENCH / "run_fixed_cost.py"), "--runs", "3", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert set(rows) == {"memory://, fresh store", "rocksdb:// batch, fresh store", "rocksdb:// batch, one store",
                         "floor"}  # fmt: skip
    assert all(figures["process_cpu_ms"] > 0 and figures["main_thread_cpu_ms"] > 0 for figures in rows.values())
    assert all(figures["wall_ms"] > 0 for figures in rows.values())


def test_run_fixed_cost_benchmark_back_to_back_leaves_out_the_fresh_rocksdb_store() -> None:
    result = _run(str(BENCH / "run_fixed_cost.py"), "--runs", "3", "--back-to-back", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert set(rows) == {"memory://, fresh store", "rocksdb:// batch, one store", "floor"}


def test_real_dag_benchmark_reports_span_ideal_and_asyncio_floor() -> None:
    result = _run(str(BENCH / "real_dag.py"), "--sizes", "60", "--target", "0.2", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["shape"] for row in rows} == {"montage", "epigenomics"}
    for row in rows:
        assert abs(row["ideal"] - 0.2) < 1e-6  # runtimes scaled to the asked ideal schedule
        assert 0 < row["critical_path"] <= row["ideal"] + 1e-9
        assert row["span"] > 0 and row["asyncio_floor"] > 0 and row["ratio"] > 0


def test_real_dag_benchmark_reports_cpu_per_task_beside_the_floor() -> None:
    result = _run(str(BENCH / "real_dag.py"), "--cpu", "--sizes", "60", "--target", "0.05", "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {row["shape"] for row in rows} == {"montage", "epigenomics"}
    for row in rows:
        assert row["cpu_us_per_task"] > 0 and row["floor_cpu_us_per_task"] > 0
        assert row["own_us_per_task"] == row["cpu_us_per_task"] - row["floor_cpu_us_per_task"]


def test_real_dag_ideal_schedule_is_a_list_schedule() -> None:
    spec = importlib.util.spec_from_file_location("_flowbuilder_bench_real_dag", BENCH / "real_dag.py")
    assert spec is not None and spec.loader is not None
    real_dag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real_dag)
    # a -> (b, c) -> d with 2 slots: 1 + max(2, 3) + 1; with 1 slot: 1 + 2 + 3 + 1.
    preds, runtimes = [[], [0], [0], [1, 2]], [1.0, 2.0, 3.0, 1.0]
    assert real_dag.ideal_makespan(preds, runtimes, slots=2) == 5.0
    assert real_dag.ideal_makespan(preds, runtimes, slots=1) == 7.0


def test_memory_benchmark_reports_the_cli_rows_beside_their_floors() -> None:
    result = _run(str(BENCH / "memory.py"), "cli", "200")
    assert result.returncode == 0, result.stderr
    rows = {line[:40].strip(): line[40:].split() for line in result.stdout.splitlines()[2:] if line.strip()}
    assert set(rows) == {"floor: list of 200 task dicts", "floor: CLI after imports (1 task)", "flowbuilder validate",
                         "flowbuilder run --store memory://", "flowbuilder run (default RocksDB)"}  # fmt: skip
    assert all(float(figures[0]) > 0 for figures in rows.values())
    assert rows["flowbuilder validate"][1:3] == ["<=", "300"]


def test_failover_benchmark_reports_the_distribution_beside_the_election_timeout() -> None:
    result = _run(str(BENCH / "failover.py"), "--kills", "1", "--election-timeout", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kills"] == 1 and summary["floor_seconds"] == 0.5
    assert 0 < summary["min"] <= summary["p50"] <= summary["max"]


def test_failover_benchmark_times_a_scheduler_takeover() -> None:
    result = _run(str(BENCH / "failover.py"), "--schedulers", "--kills", "1", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["members"] == "schedulers" and summary["kills"] == 1 and summary["min"] > 0


def test_fencing_benchmark_reports_fenced_and_unfenced_rows_beside_their_floors() -> None:
    result = _run(str(BENCH / "fencing.py"), "--tasks", "50", "--events", "200", "--repeat", "1", "--json")
    report = json.loads(result.stdout)
    assert set(report["runs_us_per_task"]) == {"memory:// unfenced", "memory:// fenced", "rocksdb:// unfenced",
                                               "rocksdb:// fenced", "floor (in-degree loop)"}  # fmt: skip
    appends = report["appends_per_second"]
    assert {"memory://", "rocksdb:// sync=batch", "redis://", "floor (list.extend)"} == set(appends)
    assert all(rate > 0 for row in appends.values() for rate in row.values())


def test_takeover_benchmark_times_a_kill_of_the_leader_and_the_takeover() -> None:
    result = _run(str(BENCH / "takeover.py"), "--kills", "1", "--json")
    report = json.loads(result.stdout)
    assert len(report["elected"]) == len(report["taken_over"]) == 1 and report["runs_completed"] == 1


def test_distributed_benchmark_reports_workers_beside_the_local_runner_and_latency_beside_its_floor() -> None:
    result = _run(str(BENCH / "remote_workers.py"), "--tasks", "40", "--rounds", "10")
    for label in ("local runner (floor)", "1 worker(s)", "2 worker(s)", "4 worker(s)"):
        assert label in result.stdout and "tasks/s" in result.stdout, result.stdout
    for label in ("XADD/XREADGROUP floor", "RedisStreamsExecutor"):
        line = next(row for row in result.stdout.splitlines() if label in row)
        assert "P50" in line and "P99" in line


def test_ai_advise_benchmark_reports_every_step_beside_the_floor() -> None:
    result = _run(str(BENCH / "ai_advise.py"), "--runs", "8", "--tasks", "3", "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["executions"] == 24
    assert set(report["rows"]) == {"floor", "export", "attempts", "results", "advise"}
    assert all(row["ratio_to_floor"] > 0 for row in report["rows"].values())
    assert report["cache_candidates"] == 3


def test_foreach_items_benchmark_reports_cpu_per_item() -> None:
    result = _run(str(BENCH / "foreach_items_cpu.py"), "--items", "20", "--runs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("20 items: ") and "µs CPU per item" in result.stdout
