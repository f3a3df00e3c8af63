"""Whole-process time of `flowbuilder run` on the seed example, beside `python -c pass`.

The seed workflow (examples/seed/data-pipeline.yaml: an HTTP fetch, a Python script, a
shell command) runs against the example's local data server, started here on a free port
(the workflow text is the example's with that port). Each command runs REPEAT times; the
median wall time is printed for both, with their difference (what FlowBuilder adds on top
of starting an interpreter) and ratio.

Run: ``python bench/run_seed.py [REPEAT]`` (default 7).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(repeat: int) -> None:
    sys.path.insert(0, str(REPO / "examples" / "seed"))
    from data_server import make_server

    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            workflow = Path(folder) / "data-pipeline.yaml"
            text = (REPO / "examples" / "seed" / "data-pipeline.yaml").read_text()
            workflow.write_text(text.replace("127.0.0.1:8000", f"127.0.0.1:{server.server_address[1]}"))
            flowbuilder = str(Path(sys.executable).with_name("flowbuilder"))
            run = timed([flowbuilder, "run", "--store", "memory://", str(workflow)], repeat)
            bare = timed([sys.executable, "-c", "pass"], repeat)
    finally:
        server.shutdown()
    print(f"median of {repeat} runs, whole process:")
    print(f"  flowbuilder run seed   {run * 1000:8.0f} ms")
    print(f"  python -c pass         {bare * 1000:8.0f} ms")
    print(f"  added by flowbuilder   {(run - bare) * 1000:8.0f} ms   (ratio {run / bare:.1f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
