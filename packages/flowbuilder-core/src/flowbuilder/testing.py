"""A pytest plugin for plugin authors: a real engine, in-process, in memory.

Enable it in your test suite's ``conftest.py`` (it is not auto-loaded, so installing
flowbuilder-core never changes anyone else's pytest run)::

    pytest_plugins = ["flowbuilder.testing"]

(pytest allows ``pytest_plugins`` only in a top-level conftest; inside a larger test tree,
import the hook and fixtures instead: ``from flowbuilder.testing import pytest_configure,
plugin_host, memory_store, compile_yaml, run_workflow, flowbuilder_plugin_names``.)

Then, in a test::

    import pytest

    @pytest.mark.flowbuilder_plugins("core", "flowrunner", "example")
    def test_checksum_task_runs(run_workflow, tmp_path):
        (tmp_path / "a.txt").write_text("hello")
        result = run_workflow(f'''
    name: demo
    tasks:
      - name: sums
        type: checksum
        config: {{paths: ["{tmp_path / 'a.txt'}"]}}
    ''')
        assert result.succeeded

Fixtures:

``plugin_host``
    A :class:`~flowbuilder.plugins.PluginHost` built from the installed entry points of
    ``flowbuilder.plugins`` — only those named by the ``flowbuilder_plugins`` marker (or by
    overriding the ``flowbuilder_plugin_names`` fixture), every installed one when neither
    names any. It ignores ``flowbuilder.toml`` and ``FLOWBUILDER_*`` variables so tests are
    hermetic. A named plugin that fails to load fails the test with the reason. Register
    in-process plugin objects with ``plugin_host.register(obj, name="mine")``.
``memory_store``
    A fresh, empty ``memory://`` store of its own, dropped after the test.
``compile_yaml``
    ``compile_yaml(text, filename="<test>") -> ExecutionPlan``: load, validate and compile a
    workflow from YAML text with the host's task types; invalid workflows raise
    :class:`~flowbuilder.errors.WorkflowError` with ``FILE:LINE:COL`` diagnostics.
``run_workflow``
    ``run_workflow(text_or_plan, params=None, *, runner=None) -> RunResult``: compile (if
    given text), check ``params``, and run it to the end in this process with the installed
    runner (``runner=`` picks one by name), recording events in ``memory_store``. Needs a
    runner plugin (``pip install flowbuilder-runner``); without one it raises
    :class:`~flowbuilder.errors.NotInstalledError` saying so.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import pytest

if TYPE_CHECKING:
    from flowbuilder.interfaces import RunResult
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost
    from flowbuilder.stores.memory import MemoryStore

MARKER = "flowbuilder_plugins"

CompileYaml = Callable[..., "ExecutionPlan"]
RunWorkflow = Callable[..., "RunResult"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names): load only these entry points of flowbuilder.plugins into the plugin_host fixture",
    )


@pytest.fixture
def flowbuilder_plugin_names(request: pytest.FixtureRequest) -> tuple[str, ...] | None:
    """The entry point names to load (from the ``flowbuilder_plugins`` marker); None loads all."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        return None
    return tuple(str(name) for name in marker.args)


@pytest.fixture
def plugin_host(flowbuilder_plugin_names: tuple[str, ...] | None) -> PluginHost:
    """A plugin host with only the named installed plugins, independent of local configuration."""
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    host = build_plugin_host(Settings(load_plugins=flowbuilder_plugin_names))
    if host.failures:
        pytest.fail("; ".join(failure.format() for failure in host.failures), pytrace=False)
    if flowbuilder_plugin_names is not None:
        loaded = {info.name for info in host.infos}
        missing = [name for name in flowbuilder_plugin_names if name not in loaded]
        if missing:
            pytest.fail(
                f"plugins not installed: {', '.join(missing)} (installed entry points of"
                f" flowbuilder.plugins: see `flowbuilder plugins`)",
                pytrace=False,
            )
    return host


@pytest.fixture
def memory_store() -> Iterator[MemoryStore]:
    """A fresh ``memory://`` store of this test's own."""
    from flowbuilder.stores.memory import MemoryStore

    url = f"memory://flowbuilder-testing-{uuid.uuid4().hex}"
    store = MemoryStore.open(url)
    yield store
    store.close()
    MemoryStore.forget(url)


@pytest.fixture
def compile_yaml(plugin_host: PluginHost) -> CompileYaml:
    """``compile_yaml(text, filename="<test>")``: a workflow from YAML text, compiled with the host."""
    from flowbuilder.loader import load_workflow, plan_workflow

    def compile_text(text: str, filename: str = "<test>") -> ExecutionPlan:
        source = load_workflow(text, filename=filename, limits=plugin_host.settings.limits)
        return plan_workflow(source, plugin_host)

    return compile_text


@pytest.fixture
def run_workflow(plugin_host: PluginHost, memory_store: MemoryStore, compile_yaml: CompileYaml) -> RunWorkflow:
    """``run_workflow(text_or_plan, params=None, *, runner=None)``: run to the end in-process."""
    from flowbuilder.run_service import CompiledWorkflow, RunService

    def run(
        workflow: str | ExecutionPlan, params: Mapping[str, Any] | None = None, *, runner: str | None = None
    ) -> RunResult:
        compiled = (
            CompiledWorkflow(compile_yaml(workflow), workflow.encode()) if isinstance(workflow, str) else workflow
        )
        service = RunService(plugin_host, memory_store, runner=runner)
        return service.run(service.prepare(compiled, params))

    return run


__all__ = [
    "MARKER",
    "compile_yaml",
    "flowbuilder_plugin_names",
    "memory_store",
    "plugin_host",
    "pytest_configure",
    "run_workflow",
]
