"""Plugins declare hook specs of their own (``flowbuilder_addhooks``) and others implement them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flowbuilder import hookimpl, hookspec
from flowbuilder.config import Settings
from flowbuilder.errors import PluginError
from flowbuilder.plugins import PluginHost, build_plugin_host


class PanelSpecs:
    """A spec namespace, as a UI package would keep in its own hookspecs module."""

    @hookspec
    def flowbuilder_ui_panels(self, theme: str) -> list[str]:  # type: ignore[empty-body]
        """Panels the UI shows beside its own."""


def declaring_plugin(namespace: Any = PanelSpecs) -> SimpleNamespace:
    @hookimpl
    def flowbuilder_addhooks(specs: Any) -> None:
        specs.add_hookspecs(namespace)

    return SimpleNamespace(flowbuilder_addhooks=flowbuilder_addhooks)


def panel_plugin(label: str) -> SimpleNamespace:
    @hookimpl
    def flowbuilder_ui_panels(theme: str) -> list[str]:
        return [f"{label}-{theme}"]

    return SimpleNamespace(flowbuilder_ui_panels=flowbuilder_ui_panels)


class EntryPoint:
    def __init__(self, name: str, plugin: Any):
        self.name, self.plugin, self.dist = name, plugin, None

    def load(self) -> Any:
        return self.plugin


def panels(host: PluginHost, theme: str) -> list[str]:
    """The declaring package's typed wrapper around its own hook."""
    return [panel for result in host.manager.hook.flowbuilder_ui_panels(theme=theme) for panel in result]


def build(*plugins: tuple[str, Any]) -> PluginHost:
    return build_plugin_host(Settings(), entry_points=[EntryPoint(name, plugin) for name, plugin in plugins])


def test_an_implementation_registered_before_the_spec_is_declared_is_still_called() -> None:
    """Load order does not matter: the unknown-hook check waits until every plugin is in."""
    host = build(("early", panel_plugin("early")), ("ui", declaring_plugin()), ("late", panel_plugin("late")))
    assert host.failures == []
    assert sorted(panels(host, theme="dark")) == ["early-dark", "late-dark"]
    assert host.declared_by == {"flowbuilder_ui_panels": "ui"}
    assert [i.declared_hooks for i in host.infos if i.name == "ui"] == [("flowbuilder_ui_panels",)]


def test_an_earlier_implementation_asking_for_an_argument_the_spec_lacks_fails_to_load_by_name() -> None:
    @hookimpl
    def flowbuilder_ui_panels(theme: str, colour: str) -> list[str]:
        return []

    bad = SimpleNamespace(flowbuilder_ui_panels=flowbuilder_ui_panels)
    host = build(("bad", bad), ("ui", declaring_plugin()), ("good", panel_plugin("good")))
    (failure,) = host.failures
    assert failure.name == "bad"
    assert failure.reason == (
        "PluginError: its flowbuilder_ui_panels takes 'colour', which the spec (declared by plugin 'ui') does not pass"
    )
    assert [i.name for i in host.infos] == ["ui", "good"]
    assert panels(host, theme="x") == ["good-x"]


def test_a_later_implementation_asking_for_an_argument_the_spec_lacks_fails_to_load() -> None:
    @hookimpl
    def flowbuilder_ui_panels(colour: str) -> list[str]:
        return []

    host = build(("ui", declaring_plugin()), ("bad", SimpleNamespace(flowbuilder_ui_panels=flowbuilder_ui_panels)))
    (failure,) = host.failures
    assert failure.name == "bad" and "colour" in failure.reason
    assert [i.name for i in host.infos] == ["ui"]


def test_a_hook_nobody_declares_fails_its_plugin_once_every_plugin_has_loaded() -> None:
    host = build(("orphan", panel_plugin("orphan")), ("other", SimpleNamespace()))
    (failure,) = host.failures
    assert failure.name == "orphan"
    assert "implements 'flowbuilder_ui_panels', which is not a FlowBuilder hook" in failure.reason
    assert [i.name for i in host.infos] == ["other"]


def test_an_optional_implementation_of_an_absent_package_hook_loads() -> None:
    @hookimpl(optionalhook=True)
    def flowbuilder_ui_panels(theme: str) -> list[str]:
        return ["x"]

    host = build(("optional", SimpleNamespace(flowbuilder_ui_panels=flowbuilder_ui_panels)))
    assert host.failures == [] and [i.name for i in host.infos] == ["optional"]


def test_declaring_a_hook_core_already_declares_is_refused_naming_the_owner() -> None:
    class Clash:
        @hookspec
        def flowbuilder_task_types(self) -> list[Any]:  # type: ignore[empty-body]
            """A second spec of a core hook."""

    host = build(("clash", declaring_plugin(Clash)))
    (failure,) = host.failures
    assert failure.reason == (
        "PluginError: plugin 'clash' declares hook 'flowbuilder_task_types', already declared by flowbuilder-core"
    )


def test_declaring_a_hook_another_plugin_declared_is_refused_naming_that_plugin() -> None:
    host = build(("ui", declaring_plugin()), ("copycat", declaring_plugin()))
    (failure,) = host.failures
    assert failure.reason == (
        "PluginError: plugin 'copycat' declares hook 'flowbuilder_ui_panels', already declared by plugin 'ui'"
    )


def test_a_hook_name_must_start_with_flowbuilder_and_a_namespace_must_hold_specs() -> None:
    class Unprefixed:
        @hookspec
        def ui_panels(self) -> list[Any]:  # type: ignore[empty-body]
            """Not prefixed."""

    host = build(("unprefixed", declaring_plugin(Unprefixed)), ("empty", declaring_plugin(object())))
    reasons = {failure.name: failure.reason for failure in host.failures}
    assert "declares hook 'ui_panels'; hook names start with 'flowbuilder_'" in reasons["unprefixed"]
    assert "holds no function marked @flowbuilder.hookspec" in reasons["empty"]


def test_in_process_register_checks_unknown_hooks_at_once_but_accepts_declared_ones() -> None:
    host = build()
    with pytest.raises(PluginError, match="not a FlowBuilder hook"):
        host.register(panel_plugin("too-early"), name="too-early")
    host.register(declaring_plugin(), name="ui")
    host.register(panel_plugin("now"), name="now")
    assert panels(host, theme="t") == ["now-t"]


def test_a_failing_addhooks_is_a_plugin_error_naming_the_plugin() -> None:
    @hookimpl
    def flowbuilder_addhooks(specs: Any) -> None:
        raise RuntimeError("spec module missing")

    host = build(("broken", SimpleNamespace(flowbuilder_addhooks=flowbuilder_addhooks)))
    (failure,) = host.failures
    assert failure.reason == (
        "PluginError: plugin 'broken' failed in flowbuilder_addhooks: RuntimeError: spec module missing"
    )
    assert host.infos == []


# -- through real installed distributions and the CLI -------------------------------------------


def write_distribution(site: Path, dist: str, module: str, source: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[flowbuilder.plugins]\n{module} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def test_installed_plugins_implement_a_hook_that_a_later_installed_plugin_declares(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "first", tmp_path / "second"  # PYTHONPATH order = entry point order
    implementer = """
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_ui_panels(theme):
            return [f"history-{theme}"]
    """
    write_distribution(first, "fb-history-panel", "fb_history_panel", implementer)
    wrong = """
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_ui_panels(theme, colour):
            return ["never"]
    """
    write_distribution(first, "fb-wrong-panel", "fb_wrong_panel", wrong)
    declarer = """
        import click
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_addhooks(specs):
            import fb_ui_specs
            specs.add_hookspecs(fb_ui_specs)

        @click.command("panels")
        def panels():
            from flowbuilder.cli.context import plugin_host
            for result in plugin_host().manager.hook.flowbuilder_ui_panels(theme="dark"):
                click.echo(" ".join(result))

        @hookimpl
        def flowbuilder_cli_commands(cli):
            cli.add_command(panels)
    """
    write_distribution(second, "fb-ui", "fb_ui", declarer)
    (second / "fb_ui_specs.py").write_text(
        textwrap.dedent('''
        from flowbuilder import hookspec

        @hookspec
        def flowbuilder_ui_panels(theme):
            """Panels the UI shows."""
    ''')
    )
    env = {
        "PYTHONPATH": f"{first}:{second}",
        "FLOWBUILDER_LOAD_PLUGINS": "core,fb_history_panel,fb_wrong_panel,fb_ui",
        "FLOWBUILDER_PLUGIN_MODULES": "",
    }
    report = json.loads(run_cli("plugins", "--json", env=env).stdout)
    names = [row["name"] for row in report["plugins"]]
    assert names.index("fb_history_panel") < names.index("fb_ui"), "the implementer must load first"
    assert next(row for row in report["plugins"] if row["name"] == "fb_ui")["declares"] == ["flowbuilder_ui_panels"]
    assert report["failed"] == [{
        "name": "fb_wrong_panel", "distribution": "fb-wrong-panel", "version": "1.0",
        "error": "PluginError: its flowbuilder_ui_panels takes 'colour', which the spec (declared by plugin"
                 " 'fb_ui') does not pass",
    }]  # fmt: skip
    result = run_cli("panels", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "history-dark\n"


# -- deprecated hooks: they warn, and still work for one minor version -------------------------


def test_implementing_flowbuilder_api_routes_warns_where_the_hook_is_going_and_still_loads() -> None:
    @hookimpl
    def flowbuilder_api_routes() -> list[Any]:
        return ["GET /checksum"]

    with pytest.warns(DeprecationWarning, match=r"flowbuilder_api_routes is deprecated .*flowbuilder-ui"):
        host = build(("routes", SimpleNamespace(flowbuilder_api_routes=flowbuilder_api_routes)))
    assert host.failures == []
    assert host.api_routes() == ["GET /checksum"]
    assert host.contributions()["routes"]["other"] == ["API routes (deprecated)"]


def test_flowbuilder_consensus_engines_is_a_live_hook_again_collected_without_a_warning() -> None:
    """The scheduler asks for engines (issue 11.1), so implementing the hook no longer warns."""
    import warnings

    class Solo:
        name = "solo"

    @hookimpl
    def flowbuilder_consensus_engines() -> list[Any]:
        return [Solo]

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        host = build(("cluster", SimpleNamespace(flowbuilder_consensus_engines=flowbuilder_consensus_engines)))
    assert host.failures == []
    assert dict(host.consensus_engine_classes())["solo"] is Solo


def test_plugins_command_flags_a_plugin_that_implements_a_deprecated_hook(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "fb_old_routes.py").write_text(
        "from flowbuilder import hookimpl\n\n@hookimpl\ndef flowbuilder_api_routes():\n    return []\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.warns(DeprecationWarning, match="flowbuilder_api_routes is deprecated"):
            report = json.loads(cli("plugins", "--json", env={"FLOWBUILDER_PLUGIN_MODULES": "fb_old_routes"}).stdout)
        with pytest.warns(DeprecationWarning, match="flowbuilder_api_routes is deprecated"):
            table = cli("plugins", env={"FLOWBUILDER_PLUGIN_MODULES": "fb_old_routes"}).stdout
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("fb_old_routes", None)
    row = next(row for row in report["plugins"] if row["name"] == "fb_old_routes")
    assert row["deprecated_hooks"] == ["flowbuilder_api_routes"]
    assert "deprecated: fb_old_routes implements flowbuilder_api_routes is deprecated" in " ".join(table.split())
