"""Benchmark: what ``flowbuilder run`` of hello asks the plugin host, with and without the plugin manifest.

    python bench/plugin_lookup.py             # 30 interleaved rounds, medians
    python bench/plugin_lookup.py --rounds 60

Each figure is the CPU time (``time.process_time``) of one fresh process doing what ``run``
of examples/hello asks of the plugins, after the imports every variant shares:
``build_plugin_host()``, the ``shell`` and ``python`` task types, the ``local`` runner
(which reads every type's ``default_concurrency``) and the default store's class. Rows:

* **manifest**: the plugin manifest filled by an earlier process (the default);
* **hooks called**: the same with the manifest off for the host (``use_manifest=False``),
  which is what every process did before it: each plugin's named hooks import everything
  they provide (every installed task type, both stores' modules);
* **floor**: the same process importing, by hand, just the modules of what the run uses
  (the ``shell`` and ``python`` types, the local runner, the RocksDB store): the least any
  plugin lookup must pay.

Rounds are interleaved (each round runs every row once) so that load on a shared machine
hits every row alike; the scratch cache directory is private. Whole-process start-up on a
loaded machine swings by more than the difference measured here, which is why this one
isolates it (bench/startup.py has the whole-process rows).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import sys, time
from flowbuilder.config import load_settings
from flowbuilder.plugins import PluginHost, build_plugin_host
import flowbuilder.plugins as plugins
mode = sys.argv[1]
settings = load_settings()
start = time.process_time()
if mode == "floor":
    import flowrunner.runner, flowrunner.tasktypes.python, flowrunner.tasktypes.shell
    try:
        import flowbuilder_storage.rocksdb_store
    except ImportError:  # flowbuilder-storage not installed: the default store is core's memory://
        import flowbuilder.stores.memory
else:
    if mode == "hooks":
        real = plugins.PluginHost
        plugins.PluginHost = lambda **kw: real(**{**kw, "use_manifest": False})
    host = build_plugin_host(settings)
    types = host.task_types()
    types["shell"], types["python"]
    host.make_runner()
    host.store_classes()[host.default_store_url().partition(":")[0]]
print((time.process_time() - start) * 1000)
"""

ROWS = (
    ("manifest (default)", "manifest"),
    ("hooks called (before)", "hooks"),
    ("floor: import what the run uses", "floor"),
)


def measure(mode: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWBUILDER_")}
        env["FLOWBUILDER_CACHE_DIR"] = scratch
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for _, mode in ROWS:  # warm-up: fills the caches and __pycache__
            measure(mode, env)
        times: dict[str, list[float]] = {mode: [] for _, mode in ROWS}
        for _ in range(args.rounds):
            for _, mode in ROWS:
                times[mode].append(measure(mode, env))
    floor = statistics.median(times["floor"])
    print(f"{args.rounds} interleaved rounds, CPU ms in a fresh process after the shared imports (medians)")
    print(f"  {'what run of hello asks the plugin host':<40} {'median':>8} {'fastest':>8} {'x floor':>8}")
    for label, mode in ROWS:
        median = statistics.median(times[mode])
        print(f"  {label:<40} {median:6.1f} ms {min(times[mode]):5.1f} ms {median / floor:7.2f}x")


if __name__ == "__main__":
    main()
