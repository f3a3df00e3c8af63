"""Run the seed workflow end to end, offline: start the local data server, then `flowbuilder run`.

Usage: ``python examples/seed/run_seed.py [extra flowbuilder run options]``. The workflow
file is the design brief's seed example unchanged, so the server listens on 127.0.0.1:8000;
if that port is taken by something else, the run's fetch fails and says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from data_server import make_server  # noqa: E402


def main(argv: list[str]) -> int:
    server = make_server("127.0.0.1", 8000)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flowbuilder = shutil.which("flowbuilder") or str(Path(sys.executable).with_name("flowbuilder"))
        return subprocess.call([flowbuilder, "run", str(HERE / "data-pipeline.yaml"), *argv])
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
