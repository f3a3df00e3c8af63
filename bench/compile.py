"""Benchmark: load + validate + compile generated workflows of 1,000 / 10,000 / 100,000 tasks.

    python bench/compile.py                      # all three sizes (about a minute)
    python bench/compile.py --sizes 1000,10000   # a quicker run
    python bench/compile.py --json               # machine-readable results

For each size the same generated YAML file goes through, each in a fresh subprocess:

* baseline ``yaml_events``: libyaml's event stream alone (``CSafeLoader(text).get_event()``
  until the stream ends), building nothing: the floor of any loader on PyYAML that sees
  every node with its line and column, as a located loader must;
* baseline ``yaml_compose``: libyaml's composer alone (``yaml.compose(text, CSafeLoader)``),
  the node tree with marks that a loader built on the composer would start from;
* baseline ``yaml``: PyYAML's C loader alone (``yaml.load(text, Loader=CSafeLoader)``),
  which builds plain dicts and lists and checks nothing;
* baseline ``graphlib``: ``graphlib.TopologicalSorter(graph).static_order()`` on the same
  dependency graph (built beforehand, not timed);
* flowbuilder, phase by phase: ``parse`` (located, hardened YAML parse), ``validate``
  (the pydantic DSL model), ``compile`` (task types and configs, dependencies, cycles,
  expressions, levels, critical path) — and ``total``, the three together: load-to-plan.

Times are the best of ``--repeat`` runs after a warm-up that imports everything and
compiles a tiny workflow, so they measure work on the file, not imports (bench/startup.py
measures those). Memory: ``peak RSS +`` is how far the operation raised the process's
high-water mark above what it held before (every allocation, libyaml's included), and
``traced`` is tracemalloc's peak of Python allocations during a separate, untimed run.
Ratios put each figure beside its baseline from the same run, so they survive a noisy
machine where absolute times do not. Issue 10's goals: load-to-plan of 10,000 tasks in at
most 0.15 s and of 100,000 in at most 1.5 s (printed last, with the libyaml floor beside
them); issue 2's aims: 10,000 tasks under 1 s, and no more than 3x ``yaml.load`` alone.

The task type is an in-process plugin registered on a plugin host built with no entry
points, so the benchmark needs neither flowrunner nor any other installed plugin.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

DEFAULT_SIZES = (1_000, 10_000, 100_000)
AIM_SECONDS_10K = 1.0
AIM_RATIO_TO_YAML = 3.0
GOAL_SECONDS = {10_000: 0.15, 100_000: 1.5}  # issue 10: load + validate + plan


# ---------------------------------------------------------------------------------------
# The generated workflow
# ---------------------------------------------------------------------------------------


def generate_workflow(tasks: int, seed: int = 7) -> str:
    """YAML text of a layered DAG with fan-out and fan-in, params and some expressions.

    Layers hold 10 to 200 tasks; each task depends on 1-3 tasks of the previous layer
    (every so often on 6-12 of them: a join), so the graph has both wide fan-out and
    fan-in. About a fifth of the tasks read a dependency's output in an expression, a
    tenth have a ``when`` condition, some have retries, timeouts, pools and env.
    """
    rng = random.Random(seed)
    lines = [
        f"name: generated-{tasks}",
        'version: "1.0"',
        f"description: a generated layered workflow of {tasks} tasks",
        "params:",
        "  region: {type: string, default: eu-west}",
        "  batch_size: {type: integer, default: 500}",
        "  full_refresh: {type: boolean, default: false}",
        "defaults:",
        "  retry: {attempts: 2, backoff: 1s}",
        "  timeout: 10m",
        "pools:",
        "  database: 4",
        "  api: 16",
        "env:",
        '  REGION: "${{ params.region }}"',
        "tasks:",
    ]
    previous: list[str] = []
    current: list[str] = []
    width = rng.randint(10, 200)
    for number in range(tasks):
        name = f"t{number:06d}_{rng.choice(('extract', 'clean', 'join', 'score', 'load', 'report'))}"
        lines.append(f"  - name: {name}")
        lines.append("    type: bench")
        depends: list[str] = []
        if previous:
            fan_in = rng.randint(6, 12) if rng.random() < 0.05 else rng.randint(1, 3)
            depends = rng.sample(previous, min(fan_in, len(previous)))
            lines.append(f"    depends_on: [{', '.join(depends)}]")
        roll = rng.random()
        if depends and roll < 0.2:
            command = f'"process --input ${{{{ tasks.{depends[0]}.output }}}} --batch ${{{{ params.batch_size }}}}"'
        else:
            command = f"process --shard {number % 64} --region eu-west"
        lines.append("    config:")
        lines.append(f"      command: {command}")
        lines.append(f"      weight: {rng.randint(1, 5)}")
        if 0.2 <= roll < 0.3:
            lines.append('    when: "${{ params.full_refresh or params.batch_size > 100 }}"')
        if 0.3 <= roll < 0.4:
            lines.append("    retry: {attempts: 4, backoff: 2s, max_delay: 1m, retry_on: [timeout, 'exit:75']}")
        if 0.4 <= roll < 0.45:
            lines.append(f"    pool: {rng.choice(('database', 'api'))}")
            lines.append("    timeout: 90s")
        if 0.45 <= roll < 0.5:
            lines.append("    env: {MODE: incremental, SHARD: " + f'"{number % 64}"' + "}")
        current.append(name)
        if len(current) >= width:
            previous, current, width = current, [], rng.randint(10, 200)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Operations, run inside a worker subprocess
# ---------------------------------------------------------------------------------------


def _bench_host() -> Any:
    """A plugin host with only an in-process ``bench`` task type (no entry points loaded)."""
    from pydantic import BaseModel, ConfigDict

    from flowbuilder import ExecutionMode, TaskType, build_plugin_host, hookimpl
    from flowbuilder.config import Settings

    class BenchConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        command: str
        weight: int = 1

    class BenchTask(TaskType):
        name = "bench"
        config_model = BenchConfig
        mode = ExecutionMode.INLINE

        def run(self, config: Any, context: Any) -> Any:
            return None

    class BenchPlugin:
        @hookimpl
        def flowbuilder_task_types(self) -> list[type[TaskType]]:
            return [BenchTask]

    host = build_plugin_host(Settings(), entry_points=[])
    host.register(BenchPlugin(), name="bench")
    return host


def _max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _forget_caches() -> None:
    """Drop flowbuilder's caches keyed by expression text, so that a repeat is not faster than a first run."""
    expressions = sys.modules.get("flowbuilder.expressions")
    for name in ("_parse_references", "compile_expression"):
        cached = getattr(expressions, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


_clock = time.perf_counter  # --cpu: time.process_time, for a machine shared with other work


def _timed(operation: Callable[[], Any]) -> tuple[float, Any]:
    _forget_caches()
    gc.collect()
    started = _clock()
    result = operation()
    return _clock() - started, result


def _measure(operation: Callable[[], Any], repeat: int) -> tuple[dict[str, Any], Any]:
    """Figures of one operation, and the result of its first run.

    ``seconds``: best of ``repeat`` runs, garbage collector on (what a user gets);
    ``seconds_gc_off``: best of ``repeat`` runs with the collector off (the work itself);
    ``rss``: how far the first run raised the process's peak RSS; ``traced``: tracemalloc's
    peak during one more run.
    """
    rss_before = _max_rss_bytes()
    best, result = _timed(operation)
    rss_raise = _max_rss_bytes() - rss_before
    for _ in range(repeat - 1):
        best = min(best, _timed(operation)[0])
    gc.disable()
    try:
        best_gc_off = min(_timed(operation)[0] for _ in range(repeat))
    finally:
        gc.enable()
    _forget_caches()
    tracemalloc.start()
    operation()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": best, "seconds_gc_off": best_gc_off, "rss": rss_raise, "traced": traced}, result


def _libyaml_events(content: bytes) -> int:
    """Every event of libyaml's parse, made into PyYAML's event objects and dropped."""
    import yaml

    parser = yaml.CSafeLoader(content)
    next_event, stream_end = parser.get_event, yaml.StreamEndEvent
    count = 1
    try:
        while type(next_event()) is not stream_end:
            count += 1
    finally:
        parser.dispose()
    return count


def worker(kind: str, path: Path, repeat: int) -> dict[str, Any]:
    """Measure one family of operations on one file; runs in its own process."""
    import yaml

    content = path.read_bytes()
    results: dict[str, Any] = {}
    if kind == "yaml":
        results["yaml_events"], _ = _measure(lambda: _libyaml_events(content), repeat)
        results["yaml_compose"], _ = _measure(lambda: yaml.compose(content, Loader=yaml.CSafeLoader), repeat)
        results["yaml"], _ = _measure(lambda: yaml.load(content, Loader=yaml.CSafeLoader), repeat)
    elif kind == "graphlib":
        from graphlib import TopologicalSorter

        document = yaml.load(content, Loader=yaml.CSafeLoader)
        graph = {task["name"]: task.get("depends_on", []) for task in document["tasks"]}
        del document
        results["graphlib"], _ = _measure(lambda: list(TopologicalSorter(graph).static_order()), repeat)
    elif kind == "flowbuilder":
        from flowbuilder.compiler import compile_workflow
        from flowbuilder.diagnostics import Locator
        from flowbuilder.loader import load_plan, validate_document
        from flowbuilder.yamlsource import parse_yaml

        host = _bench_host()
        load_plan(generate_workflow(30), host)  # warm-up: imports, pydantic schemas, Jinja2
        # First the whole of load_plan, as a user calls it: its first run sets the peak RSS.
        results["total"], _ = _measure(lambda: load_plan(content, host), repeat)
        # Then phase by phase; the phases must add up to about the total.
        filename = str(path)
        results["parse"], document = _measure(lambda: parse_yaml(content, filename), repeat)
        locator = Locator(filename, document)
        results["validate"], workflow = _measure(lambda: validate_document(document, locator), repeat)
        task_types = host.task_types()
        passes = host.compile_passes()
        results["compile"], plan = _measure(
            lambda: compile_workflow(workflow, task_types, locator=locator, passes=passes), repeat
        )
        results["plan"] = {"tasks": len(plan), "levels": len(plan.levels), "max_width": plan.max_width,
                           "edges": sum(len(s) for s in plan.successors)}  # fmt: skip
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")
    results["max_rss"] = _max_rss_bytes()
    return results


# ---------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------


def _run_worker(kind: str, path: Path, repeat: int, cpu: bool = False) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path), "--repeat", str(repeat), *(["--cpu"] if cpu else [])],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"worker {kind} on {path.name} failed:\n{completed.stderr}")
    return json.loads(completed.stdout)


def _repeats_for(size: int, requested: int | None) -> int:
    if requested is not None:
        return requested
    return 5 if size <= 1_000 else 3 if size <= 10_000 else 1


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def _mb(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def run(sizes: list[int], repeat: int | None, as_json: bool, cpu: bool = False) -> int:
    report: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="flowbuilder-bench-") as scratch:
        for size in sizes:
            path = Path(scratch) / f"workflow-{size}.yaml"
            path.write_text(generate_workflow(size))
            count = _repeats_for(size, repeat)
            row: dict[str, Any] = {"tasks": size, "bytes": path.stat().st_size, "repeat": count}
            for kind in ("yaml", "graphlib", "flowbuilder"):
                figures = _run_worker(kind, path, count, cpu)
                row[f"process_peak_rss_{kind}"] = figures.pop("max_rss")
                row.update(figures)
            row["ratio_total_to_yaml"] = row["total"]["seconds"] / row["yaml"]["seconds"]
            row["ratio_total_to_events"] = row["total"]["seconds"] / row["yaml_events"]["seconds"]
            row["ratio_parse_to_events"] = row["parse"]["seconds"] / row["yaml_events"]["seconds"]
            row["ratio_compile_to_graphlib"] = row["compile"]["seconds"] / row["graphlib"]["seconds"]
            report.append(row)
            if not as_json:
                _print_row(row)
    if as_json:
        print(json.dumps({"python": sys.version.split()[0], "results": report}, indent=2))
    else:
        _print_aims(report)
    return 0


def _print_row(row: dict[str, Any]) -> None:
    plan = row["plan"]
    print(f"\n{row['tasks']:,} tasks ({row['bytes'] / 1e6:,.1f} MB of YAML; {plan['edges']:,} edges,"
          f" {plan['levels']} levels, max width {plan['max_width']}; best of {row['repeat']})")  # fmt: skip
    print(f"  {'operation':<38}{'time':>12}{'gc off':>12}{'peak RSS +':>13}{'traced':>11}")
    labels = [
        ("yaml_events", "floor: libyaml events alone"),
        ("yaml_compose", "baseline: libyaml compose (nodes)"),
        ("yaml", "baseline: PyYAML CSafeLoader parse"),
        ("graphlib", "baseline: graphlib topological order"),
        ("parse", "flowbuilder parse (located YAML)"),
        ("validate", "flowbuilder validate (DSL model)"),
        ("compile", "flowbuilder compile (plan)"),
        ("total", "flowbuilder load-to-plan (load_plan)"),
    ]
    for key, label in labels:
        figures = row[key]
        rss = _mb(figures["rss"]) if key in ("yaml_events", "yaml", "graphlib", "total") else "-"
        print(
            f"  {label:<38}{_ms(figures['seconds']):>12}{_ms(figures['seconds_gc_off']):>12}"
            f"{rss:>13}{_mb(figures['traced']):>11}"
        )
    print(
        f"  whole-process peak RSS: PyYAML worker {_mb(row['process_peak_rss_yaml'])},"
        f" flowbuilder worker {_mb(row['process_peak_rss_flowbuilder'])} (interpreter and imports included)"
    )
    phases = sum(row[key]["seconds"] for key in ("parse", "validate", "compile"))
    yaml_seconds = row["yaml"]["seconds"]
    print(f"  ratios: load-to-plan / YAML parse = {row['ratio_total_to_yaml']:.2f}x"
          f" (parse {row['parse']['seconds'] / yaml_seconds:.2f}x, validate"
          f" {row['validate']['seconds'] / yaml_seconds:.2f}x, compile {row['compile']['seconds'] / yaml_seconds:.2f}x;"
          f" phases sum {phases / yaml_seconds:.2f}x);"
          f" compile / graphlib = {row['ratio_compile_to_graphlib']:.1f}x")  # fmt: skip
    print(f"  beside the floor: load-to-plan / libyaml events = {row['ratio_total_to_events']:.2f}x,"
          f" located parse / libyaml events = {row['ratio_parse_to_events']:.2f}x")  # fmt: skip


def _print_aims(report: list[dict[str, Any]]) -> None:
    print("\ngoals (issue 10): load + validate + plan")
    for row in report:
        goal = GOAL_SECONDS.get(row["tasks"])
        if goal is None:
            continue
        seconds, floor = row["total"]["seconds"], row["yaml_events"]["seconds"]
        verdict = "met" if seconds <= goal else "MISSED"
        print(f"  {row['tasks']:,} tasks: {_ms(seconds)} (goal <= {_ms(goal)}) -> {verdict};"
              f" libyaml's events alone took {_ms(floor)} in this run ({seconds / floor:.2f}x)")  # fmt: skip
    print("\naims (issue 2):")
    for row in report:
        if row["tasks"] == 10_000:
            seconds = row["total"]["seconds"]
            verdict = "met" if seconds < AIM_SECONDS_10K else "MISSED"
            print(f"  10,000 tasks load-to-plan under {AIM_SECONDS_10K:g} s: {_ms(seconds)} -> {verdict}")
    for row in report:
        ratio = row["ratio_total_to_yaml"]
        verdict = "met" if ratio <= AIM_RATIO_TO_YAML else "MISSED"
        print(f"  {row['tasks']:,} tasks load-to-plan <= {AIM_RATIO_TO_YAML:g}x YAML parse: {ratio:.2f}x -> {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated task counts")
    parser.add_argument("--repeat", type=int, help="runs per measurement, best kept (default: 5/3/1 by size)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--cpu", action="store_true", help="time with the process's CPU time, not the wall clock (a busy machine)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="FILE", help="only write the generated workflow of the first size to FILE")
    options = parser.parse_args(argv)
    if options.cpu:
        global _clock
        _clock = time.process_time
    if options.worker:
        kind, path = options.worker
        print(json.dumps(worker(kind, Path(path), options.repeat or 1)))
        return 0
    sizes = [int(size.replace("_", "")) for size in options.sizes.split(",") if size.strip()]
    if options.write:
        Path(options.write).write_text(generate_workflow(sizes[0]))
        return 0
    return run(sizes, options.repeat, options.json, options.cpu)


if __name__ == "__main__":
    sys.exit(main())
