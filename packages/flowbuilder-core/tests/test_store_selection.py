"""Which store a command uses: flag > FLOWBUILDER_STORE > flowbuilder.toml ``store =`` >
the installed store with the highest ``default_priority`` (its ``default_url``) — the order
docs/plugins.md ("Which store a command uses") promises, checked against the code."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from flowbuilder import hookimpl
from flowbuilder.config import load_settings
from flowbuilder.interfaces.store import Store
from flowbuilder.plugins import PluginHost, build_plugin_host

PLUGINS_DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


class LowStore(Store):  # never opened: only its class attributes are read
    scheme: ClassVar[str] = "low"
    default_priority: ClassVar[int] = 1
    default_url: ClassVar[str] = "low://kept"


class HighStore(Store):
    scheme: ClassVar[str] = "high"
    default_priority: ClassVar[int] = 7  # no default_url: opened as "high://"


class TiedStore(Store):
    scheme: ClassVar[str] = "tied"
    default_priority: ClassVar[int] = 7


def stores_plugin(*classes: Any) -> SimpleNamespace:
    @hookimpl
    def flowbuilder_stores() -> list[Any]:
        return list(classes)

    return SimpleNamespace(flowbuilder_stores=flowbuilder_stores)


def host_in(folder: Path, environ: dict[str, str], *plugins: SimpleNamespace) -> PluginHost:
    host = build_plugin_host(load_settings(folder, environ), entry_points=[])
    for index, plugin in enumerate(plugins):
        host.register(plugin, name=f"stores{index}")
    return host


def test_the_highest_default_priority_wins_with_its_default_url_or_scheme(tmp_path: Path) -> None:
    assert host_in(tmp_path, {}, stores_plugin(LowStore)).default_store_url() == "low://kept"
    assert host_in(tmp_path, {}, stores_plugin(LowStore, HighStore)).default_store_url() == "high://"


def test_on_a_tie_the_plugin_loaded_first_wins(tmp_path: Path) -> None:
    first_high = host_in(tmp_path, {}, stores_plugin(HighStore), stores_plugin(TiedStore))
    first_tied = host_in(tmp_path, {}, stores_plugin(TiedStore), stores_plugin(HighStore))
    assert (first_high.default_store_url(), first_tied.default_store_url()) == ("high://", "tied://")


def test_the_file_beats_the_priority_and_the_environment_beats_the_file(tmp_path: Path) -> None:
    (tmp_path / "flowbuilder.toml").write_text('store = "low://from-file"\n')
    below = tmp_path / "sub" / "dir"
    below.mkdir(parents=True)
    plugin = stores_plugin(LowStore, HighStore)
    assert host_in(below, {}, plugin).default_store_url() == "low://from-file"  # found in a parent
    environ = {"FLOWBUILDER_STORE": "low://from-env"}
    assert host_in(below, environ, stores_plugin(LowStore, HighStore)).default_store_url() == "low://from-env"
    empty = {"FLOWBUILDER_STORE": ""}  # an empty value counts as unset
    assert host_in(below, empty, stores_plugin(LowStore, HighStore)).default_store_url() == "low://from-file"


def test_flowbuilder_config_names_the_file_instead_of_the_search(tmp_path: Path) -> None:
    (tmp_path / "flowbuilder.toml").write_text('store = "low://nearest"\n')
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('store = "low://named"\n')
    environ = {"FLOWBUILDER_CONFIG": str(elsewhere)}
    assert host_in(tmp_path, environ, stores_plugin(LowStore)).default_store_url() == "low://named"


def test_the_flag_beats_everything(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flowbuilder.toml").write_text('store = "memory://from-file"\n')
    result = cli("runs", "list", "--store", "memory://flag", env={"FLOWBUILDER_STORE": "memory://env"})
    assert result.exit_code == 0 and result.stdout == "no runs in memory://flag\n"


def test_docs_state_this_order() -> None:
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    match = re.search(r"^### Which store a command uses\n(.*?)(?=^### |^## |\Z)", text, re.S | re.M)
    assert match is not None, "docs/plugins.md lost its section on store selection"
    section = match.group(1)
    steps = ["`--store URL`", "`FLOWBUILDER_STORE`", '`store = "URL"`', "`default_priority`"]
    positions = [section.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), positions
    for fact in ("`default_url`", "`FLOWBUILDER_CONFIG`", "parents", "current directory", "`SCHEME://`"):
        assert fact in section, fact
