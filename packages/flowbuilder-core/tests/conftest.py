"""Fixtures for flowbuilder-core's tests.

Core has no task types of its own, and its tests must not import flowrunner. The fake
``http``/``shell``/``script``/``sleep`` types of ``fakeplugin/flowbuilder_core_fakes.py``
stand in for them:

* ``host``: a :class:`~flowbuilder.plugins.PluginHost` with core's entry point only
  (``load_plugins=("core",)``, so an installed flowrunner cannot clash) and the fakes
  registered in-process with ``PluginHost.register``;
* ``cli``: runs the real CLI entry point (``flowbuilder.cli.main.main``) in this process
  and returns its exit code and output — fast enough to run once per test file;
* ``run_cli``: runs the installed ``flowbuilder`` console script in a subprocess, with the
  fakes enabled through ``FLOWBUILDER_PLUGIN_MODULES`` and ``PYTHONPATH``.

Both CLI fixtures start from an environment without any ``FLOWBUILDER_*`` variable and a
temporary working directory, so a developer's ``flowbuilder.toml`` cannot leak in.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Mapping

import pytest

TESTS_DIR = Path(__file__).resolve().parent
FAKE_PLUGIN_DIR = TESTS_DIR / "fakeplugin"
FAKE_PLUGIN_MODULE = "flowbuilder_core_fakes"
VALID_DIR = TESTS_DIR / "valid"
INVALID_DIR = TESTS_DIR / "invalid"


def load_fake_plugin() -> ModuleType:
    """The fake task type plugin module, imported once under its own name."""
    module = sys.modules.get(FAKE_PLUGIN_MODULE)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(FAKE_PLUGIN_MODULE, FAKE_PLUGIN_DIR / f"{FAKE_PLUGIN_MODULE}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[FAKE_PLUGIN_MODULE] = module
    spec.loader.exec_module(module)
    return module


def cli_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without FLOWBUILDER_* settings, plus the fakes and ``extra``.

    A value of ``""`` in ``extra`` removes that variable (e.g. to drop the fakes).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKE_PLUGIN_DIR), os.environ.get("PYTHONPATH", "")]))
    env["FLOWBUILDER_LOAD_PLUGINS"] = "core"
    env["FLOWBUILDER_PLUGIN_MODULES"] = FAKE_PLUGIN_MODULE
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    for key, value in (extra or {}).items():
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    return env


def flowbuilder_command() -> list[str]:
    """The installed console script, or the same entry point through this interpreter."""
    script = Path(sys.executable).parent / "flowbuilder"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from flowbuilder.cli.main import main; main()"]


@dataclass(frozen=True)
class CliResult:
    """What a CLI invocation produced."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def full_parse(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], tuple[object, ...]]:
    """The references of an expression as Jinja2's parse finds them, with the quick paths off.

    What ``expressions._dotted_references`` (plain chains, chains compared with a number)
    must return wherever it answers without Jinja2.
    """
    from flowbuilder import expressions

    def parse(expression: str) -> tuple[object, ...]:
        with monkeypatch.context() as patch:
            patch.setattr(expressions, "_dotted_references", lambda text: None)
            return tuple(expressions._parse_references.__wrapped__(expression))

    return parse


@pytest.fixture
def cli_env() -> Callable[..., dict[str, str]]:
    """:func:`cli_environment`, for tests that start their own subprocess."""
    return cli_environment


@pytest.fixture
def fake_tasks() -> ModuleType:
    return load_fake_plugin()


@pytest.fixture
def host(fake_tasks: ModuleType):  # type: ignore[no-untyped-def]
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    plugin_host = build_plugin_host(Settings(load_plugins=("core",)))
    plugin_host.register(fake_tasks, name="fake-tasks")
    return plugin_host


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Iterator[Callable[..., CliResult]]:
    """Run ``flowbuilder ARGS...`` in-process through the real entry point and error boundary."""
    from flowbuilder.cli import context
    from flowbuilder.cli.main import main

    load_fake_plugin()
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
        wanted = cli_environment(env)
        for key in list(os.environ):
            if key.startswith("FLOWBUILDER_") and key not in wanted:
                monkeypatch.delenv(key)
        for key, value in wanted.items():
            if key.startswith("FLOWBUILDER_"):
                monkeypatch.setenv(key, value)
        context.settings.cache_clear()
        context.plugin_host.cache_clear()
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        else:  # main() always exits; reaching here is a bug in the boundary
            raise AssertionError("flowbuilder.cli.main.main returned without exiting")
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    yield run
    context.settings.cache_clear()
    context.plugin_host.cache_clear()


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the real ``flowbuilder`` executable in a subprocess (cwd: a temporary directory)."""

    def run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        done = subprocess.run(
            [*flowbuilder_command(), *args],
            capture_output=True,
            text=True,
            env=cli_environment(env),
            cwd=cwd or tmp_path,
            timeout=120,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run
