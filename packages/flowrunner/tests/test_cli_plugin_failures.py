"""`flowbuilder run` with a plugin whose code raises: named in one line, never exit 70 (issue #7 C)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))


def _run(tmp_path: Path, plugin_source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "fb_raising_plugin.py").write_text(textwrap.dedent(plugin_source))
    workflow = tmp_path / "one.yaml"
    workflow.write_text('name: one\ntasks:\n  - {name: a, type: shell, config: {command: "echo hi"}}\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    env["FLOWBUILDER_PLUGIN_MODULES"] = "fb_raising_plugin"
    return subprocess.run([FLOWBUILDER, "run", *args, str(workflow)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)  # fmt: skip


def test_a_sink_hook_that_raises_is_warned_about_and_the_run_succeeds(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_event_sinks(settings, run_id):
            raise RuntimeError("cannot reach the collector")
    """, "--store", "memory://")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning: plugin 'fb_raising_plugin' failed in flowbuilder_event_sinks" in done.stderr
    assert "RuntimeError: cannot reach the collector" in done.stderr
    assert "internal error" not in done.stderr


def test_a_store_hook_that_raises_ends_the_run_command_with_one_line_and_exit_1(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_stores():
            raise RuntimeError("store hook exploded")
    """, "--store", "memory://")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "error: plugin 'fb_raising_plugin' failed in flowbuilder_stores: RuntimeError: store hook exploded\n"
    )
