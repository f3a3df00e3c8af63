"""The plugin: what it registers, and that loading it imports no driver (the CLI must start fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from worker_processes import run_cli_process


def test_loading_the_plugin_and_its_commands_imports_neither_redis_nor_the_runner() -> None:
    code = ("import sys, flowbuilder_distributed.plugin, flowbuilder_distributed.cli;"
            " print(sorted(m for m in ('redis', 'flowrunner.runner', 'pysyncobj') if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_flowbuilder_plugins_lists_the_redis_streams_and_dask_executors_and_the_commands(scratch: Path) -> None:
    done = run_cli_process(scratch, "plugins", "--json")
    provided = {row["name"]: row["provides"] for row in json.loads(done.stdout)["plugins"]}
    assert sorted(provided["distributed"]["attempt_executors"]) == ["dask", "redis-streams"]
    help_text = run_cli_process(scratch, "--help").stdout
    assert "worker" in help_text and "cluster" in help_text
