"""The plugin author's testing kit (``flowbuilder.testing``) works as documented.

Each test writes a small test suite into a temporary directory, enables the kit exactly as
the docs say (``pytest_plugins = ["flowbuilder.testing"]`` in ``conftest.py``) and runs it
with pytest in a subprocess, so the kit is exercised the way a plugin author meets it.
Runs with a real runner need one installed, which core's own suite must not assume; the
example plugin's tests (examples/plugin-example, which declares flowrunner) cover them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = 'pytest_plugins = ["flowbuilder.testing"]\n'


def run_suite(tmp_path: Path, tests: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_kit.py").write_text(textwrap.dedent(tests))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "-W",
            "ignore::DeprecationWarning",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_the_kit_is_not_loaded_unless_a_suite_asks_for_it(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_no_kit(request):\n    request.getfixturevalue('plugin_host')\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1 and "fixture 'plugin_host' not found" in done.stdout


def test_plugin_host_loads_only_the_named_plugins(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        """
        import pytest

        @pytest.mark.flowbuilder_plugins("core")
        def test_only_core(plugin_host):
            assert [info.name for info in plugin_host.infos] == ["core"]
            assert set(plugin_host.store_classes()) == {"memory"}
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_named_plugin_that_is_not_installed_fails_the_test(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        """
        import pytest

        @pytest.mark.flowbuilder_plugins("core", "no-such-plugin")
        def test_missing(plugin_host):
            pass
    """,
    )
    assert done.returncode == 1 and "plugins not installed: no-such-plugin" in done.stdout


def test_memory_store_is_fresh_for_each_test(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        """
        from flowbuilder.events import EventKind, RunEvent

        def test_first(memory_store):
            assert memory_store.list_runs().runs == []
            memory_store.append_events("r", [RunEvent("r", 1, EventKind.RUN_CREATED)], 0)

        def test_second(memory_store):
            assert memory_store.list_runs().runs == []
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_compile_yaml_uses_in_process_plugins_and_reports_located_errors(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        """
        import pytest
        from pydantic import BaseModel
        from flowbuilder import TaskType, WorkflowError, hookimpl

        class GreetConfig(BaseModel):
            who: str

        class Greet(TaskType):
            name = "greet"
            config_model = GreetConfig
            def run(self, config, context):
                return f"hello {config.who}"

        class Plugin:
            @hookimpl
            def flowbuilder_task_types(self):
                return [Greet]

        @pytest.mark.flowbuilder_plugins("core")
        def test_compiles(plugin_host, compile_yaml):
            plugin_host.register(Plugin(), name="greeter")
            plan = compile_yaml("name: hi\\ntasks:\\n  - {name: a, type: greet, config: {who: you}}\\n")
            assert plan.names == ("a",) and plan.configs[0].who == "you"

        @pytest.mark.flowbuilder_plugins("core")
        def test_bad_config_is_located(plugin_host, compile_yaml):
            plugin_host.register(Plugin(), name="greeter")
            with pytest.raises(WorkflowError) as caught:
                compile_yaml("name: hi\\ntasks:\\n  - {name: a, type: greet, config: {whom: you}}\\n", filename="hi.yaml")
            assert str(caught.value).startswith("hi.yaml:3:")
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_run_workflow_without_a_runner_says_what_to_install(tmp_path: Path) -> None:
    done = run_suite(
        tmp_path,
        """
        import pytest
        from flowbuilder import NotInstalledError

        @pytest.mark.flowbuilder_plugins("core")
        def test_no_runner(run_workflow):
            with pytest.raises(NotInstalledError, match="pip install flowbuilder-runner"):
                run_workflow(_plan())

        def _plan():
            from flowbuilder.compiler import compile_workflow
            from flowbuilder.model import Workflow
            from flowbuilder_contracts.runner_tasks import contract_task_types

            workflow = Workflow.model_validate({"name": "w", "tasks": [{"name": "a", "type": "contract_value"}]})
            return compile_workflow(workflow, contract_task_types())
    """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
