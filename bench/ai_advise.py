"""What `flowbuilder advise` costs offline: reading a workflow's history and deriving its frames.

Real runs of a TASKS-task workflow (in-process ``python`` tasks, each returning a small list,
params cycling through 4 values) are recorded in a RocksDB store in a temporary directory;
then, median of ROUNDS:

* ``floor`` — the store's analytics export and ``json.loads`` of every line (plain Python: the
  least any reader of this history must do);
* ``export`` — :func:`flowbuilder_ai.history.export_runs` (the same, split into runs);
* ``attempts`` / ``results`` — :func:`~flowbuilder_ai.history.attempts_of` and
  :func:`~flowbuilder_ai.results.results_of` on those runs (``results``: the input and output
  digests of the cache rule);
* ``advise`` — every rule of :func:`flowbuilder_ai.advisor.advise` on the two frames. The
  tasks take microseconds, under the cache rule's 0.1 s floor; the bench lowers that floor
  to 0 so the rule does its whole work and proposes every task (each always gives the same
  output for the same params).

Each is printed per stored task execution and as a ratio to the floor. No run pays any of
this: the digests are computed here, offline, never by the runner.

    .venv/bin/python bench/ai_advise.py [--runs 200] [--tasks 20] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


def workflow_text(tasks: int) -> str:
    lines = ["name: advise-bench", "params:", "  n: {type: number, default: 0}", "tasks:"]
    for i in range(tasks):
        needs = f", depends_on: [t{i - 1}]" if i else ""
        lines.append(f"  - {{name: t{i}, type: python{needs}, config: {{callable: 'builtins:sorted',"
                     f" args: [[3, 1, '${{{{ params.n }}}}']]}}}}")  # fmt: skip
    return "\n".join(lines) + "\n"


def median_seconds(action: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from flowbuilder.config import Settings
    from flowbuilder.loader import load_workflow, plan_workflow
    from flowbuilder.plugins import build_plugin_host
    from flowbuilder.run_service import CompiledWorkflow, RunService
    from flowbuilder_ai import advisor
    from flowbuilder_ai.advisor import advise
    from flowbuilder_ai.history import attempts_of, export_runs
    from flowbuilder_ai.results import results_of

    advisor.CACHE_MIN_SECONDS = 0.0  # see the module docstring: microsecond tasks, the rule's whole work
    host = build_plugin_host(Settings(load_plugins=("core", "flowrunner", "storage")))
    text = workflow_text(args.tasks)
    plan = plan_workflow(load_workflow(text, filename="advise-bench.yaml"), host)
    with tempfile.TemporaryDirectory() as tmp:
        store = host.open_store(f"rocksdb://{Path(tmp) / 'store'}")
        try:
            service = RunService(host, store)
            compiled = CompiledWorkflow(plan, text.encode())
            for run in range(args.runs):
                result = service.run(service.prepare(compiled, {"n": run % 4}))
                assert result.succeeded, result
            name = plan.workflow.name

            def floor() -> int:
                _, raw = store.export_events(None)
                return sum(1 for line in bytes(raw).splitlines() if json.loads(line))

            runs = export_runs(store, name)
            executions = sum(1 for _, events in runs for e in events if e.get("k") == "task_succeeded")
            attempts = attempts_of(store, runs, name)
            results = results_of(store, runs, name)
            findings = advise(plan, attempts, results)
            measured = {
                "floor": median_seconds(floor, args.rounds),
                "export": median_seconds(lambda: export_runs(store, name), args.rounds),
                "attempts": median_seconds(lambda: attempts_of(store, runs, name), args.rounds),
                "results": median_seconds(lambda: results_of(store, runs, name), args.rounds),
                "advise": median_seconds(lambda: advise(plan, attempts, results), args.rounds),
            }
        finally:
            store.close()
    floor_s = measured["floor"]
    rows = {key: {"seconds": value, "us_per_execution": value / executions * 1e6, "ratio_to_floor": value / floor_s}
            for key, value in measured.items()}  # fmt: skip
    cached = sum(1 for f in findings if f.kind == "cache_candidate")
    if args.json:
        print(json.dumps({"runs": args.runs, "tasks": args.tasks, "executions": executions, "rounds": args.rounds,
                          "rows": rows, "cache_candidates": cached}, indent=2))  # fmt: skip
        return 0
    print(f"{args.runs} runs x {args.tasks} tasks = {executions} stored executions, RocksDB; median of {args.rounds}")
    print(f"{'step':<10} {'total ms':>10} {'us/execution':>13} {'x floor':>8}")
    for key, row in rows.items():
        print(f"{key:<10} {row['seconds'] * 1e3:>10.1f} {row['us_per_execution']:>13.1f} {row['ratio_to_floor']:>8.2f}")
    print(f"cache candidates proposed: {cached} of {args.tasks} tasks (the 0.1 s floor lowered to 0 here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
