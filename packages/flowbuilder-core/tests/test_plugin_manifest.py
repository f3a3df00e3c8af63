"""The plugin manifest (issue 10): what the named hooks returned, remembered so that a plugin's
classes are imported only when used. It must answer exactly what calling the hooks would, be
passed over the moment anything it depends on changes (a plugin installed, removed, upgraded,
its entry points or its source edited), survive a broken file, and never keep the hooks that
must reach every plugin (event sinks, compile passes) from reaching them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from flowbuilder.config import Settings
from flowbuilder.plugins import PluginHost, build_plugin_host, declared

GROUP = "flowbuilder.plugins"

PLUGIN = """\
from flowbuilder import hookimpl

CALLS = []


@hookimpl
def flowbuilder_task_types():
    CALLS.append("task_types")
    from {package}.kinds import {classes}

    return [{classes}]


@hookimpl
def flowbuilder_stores():
    CALLS.append("stores")
    from {package}.low_store import LowStore
    from {package}.high_store import HighStore

    return [LowStore, HighStore]


@hookimpl
def flowbuilder_event_sinks(run_id):
    CALLS.append("sinks:" + run_id)
    return []


@hookimpl
def flowbuilder_compile_passes():
    CALLS.append("passes")
    return []
"""

KINDS = """\
from typing import Any

from pydantic import BaseModel

from flowbuilder.interfaces import TaskContext, TaskType


class Config(BaseModel):
    pass


class Alpha(TaskType):
    name = "{alpha}"
    config_model = Config
    default_concurrency = 3

    def run(self, config: Any, context: TaskContext) -> Any:
        return "alpha"


class Beta(TaskType):
    name = "beta"
    config_model = Config

    def run(self, config: Any, context: TaskContext) -> Any:
        return "beta"
"""

STORE = """\
from flowbuilder.stores.memory import MemoryStore


class {cls}(MemoryStore):
    scheme = "{scheme}"
    default_priority = {priority}
    default_url = ""
"""


class Site:
    """A site-packages directory on ``sys.path`` where tests install and remove plugins as pip would."""

    def __init__(self, root: Path):
        self.root = root

    def install(self, package: str, version: str = "1.0", *, classes: str = "Alpha, Beta", alpha: str = "alpha",
                entry_point: str | None = None) -> Path:  # fmt: skip
        source = self.root / package
        source.mkdir(exist_ok=True)
        (source / "__init__.py").write_text("")
        (source / "plugin.py").write_text(PLUGIN.format(package=package, classes=classes))
        (source / "kinds.py").write_text(KINDS.format(alpha=alpha))
        (source / "low_store.py").write_text(STORE.format(cls="LowStore", scheme=f"{package}low", priority=-5))
        (source / "high_store.py").write_text(STORE.format(cls="HighStore", scheme=f"{package}high", priority=500))
        info = self.root / f"{package}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entry_point or package} = {package}.plugin\n")
        return info

    def uninstall(self, info: Path) -> None:
        for child in info.iterdir():
            child.unlink()
        info.rmdir()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("FLOWBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FLOWBUILDER_NO_CACHE", raising=False)
    before = set(sys.modules)
    yield Site(root)
    for name in set(sys.modules) - before:
        if name.startswith("mfp"):
            del sys.modules[name]


def fresh_process(*packages: str) -> None:
    """Forget the test plugins' modules, as a new process would not have them."""
    import importlib

    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]
    importlib.invalidate_caches()


def host_of(*plugins: str, **settings: Any) -> PluginHost:
    return build_plugin_host(Settings(load_plugins=("core", *plugins), **settings))


def calls(package: str) -> list[str]:
    return list(sys.modules[f"{package}.plugin"].CALLS)


def manifest_file(tmp_path: Path) -> Path:
    [found] = (tmp_path / "cache").glob("plugin-manifest-*.json")
    return found


def test_the_second_process_knows_the_task_types_without_calling_the_hook_or_importing_them(site: Site) -> None:
    site.install("mfpa")
    first = host_of("mfpa")
    assert sorted(first.task_types()) == ["alpha", "beta"]
    assert calls("mfpa") == ["task_types"]
    fresh_process("mfpa")

    second = host_of("mfpa")
    task_types = second.task_types()
    assert sorted(task_types) == ["alpha", "beta"] and "alpha" in task_types
    assert declared(task_types, "alpha", "default_concurrency") == 3
    assert "mfpa.kinds" not in sys.modules and calls("mfpa") == []  # nothing imported, no hook called
    alpha = task_types["alpha"]
    assert type(alpha).__module__ == "mfpa.kinds" and type(alpha).name == "alpha"
    assert second.contributions()["mfpa"]["task_types"] == ["alpha", "beta"]
    assert second._owner("flowbuilder_task_types", "beta") == "mfpa"


def test_the_default_store_is_chosen_without_importing_the_stores_it_does_not_pick(site: Site) -> None:
    site.install("mfpb")
    assert host_of("mfpb").default_store_url() == "mfpbhigh://"
    fresh_process("mfpb")

    host = host_of("mfpb")
    assert host.default_store_url() == "mfpbhigh://"
    assert "mfpb.high_store" in sys.modules and "mfpb.low_store" not in sys.modules
    assert sorted(host.store_classes()) == ["memory", "mfpbhigh", "mfpblow"]
    assert calls("mfpb") == []


def test_hooks_that_reach_every_plugin_still_reach_one_whose_named_hooks_are_remembered(site: Site) -> None:
    site.install("mfpc")
    host_of("mfpc").task_types()
    fresh_process("mfpc")

    host = host_of("mfpc")
    assert sorted(host.task_types()) == ["alpha", "beta"]
    assert host.event_sinks("run-1") == []
    assert list(host.compile_passes()) == []
    assert calls("mfpc") == ["sinks:run-1", "passes"]


def test_installing_and_removing_a_plugin_is_seen_at_once(site: Site) -> None:
    site.install("mfpd")
    assert sorted(host_of("mfpd", "mfpe").task_types()) == ["alpha", "beta"]
    other = site.install("mfpe", classes="Beta", entry_point="mfpe")
    (site.root / "mfpe" / "kinds.py").write_text(KINDS.format(alpha="alpha").replace('name = "beta"', 'name = "gamma"'))
    fresh_process("mfpd", "mfpe")
    assert sorted(host_of("mfpd", "mfpe").task_types()) == ["alpha", "beta", "gamma"]
    assert calls("mfpe") == ["task_types"]

    site.uninstall(other)
    fresh_process("mfpd", "mfpe")
    assert sorted(host_of("mfpd", "mfpe").task_types()) == ["alpha", "beta"]


def test_a_new_version_with_other_entry_points_is_seen(site: Site) -> None:
    info = site.install("mfpf")
    assert sorted(host_of("mfpf", "renamed").task_types()) == ["alpha", "beta"]
    site.uninstall(info)
    site.install("mfpf", "2.0", alpha="alpha2", entry_point="renamed")  # pip replaces the dist-info
    fresh_process("mfpf")
    host = host_of("mfpf", "renamed")
    assert sorted(host.task_types()) == ["alpha2", "beta"]
    assert host._owner("flowbuilder_task_types", "alpha2") == "renamed"
    assert [(i.name, i.version) for i in host.infos if i.name == "renamed"] == [("renamed", "2.0")]


def test_editing_a_plugin_source_is_seen(site: Site) -> None:
    site.install("mfpg")
    assert sorted(host_of("mfpg").task_types()) == ["alpha", "beta"]
    kinds = site.root / "mfpg" / "kinds.py"
    kinds.write_text(KINDS.format(alpha="renamed-alpha"))  # an editable install's source, edited
    os.utime(kinds, ns=(1, 1))  # a different time even on a coarse clock
    fresh_process("mfpg")
    assert sorted(host_of("mfpg").task_types()) == ["beta", "renamed-alpha"]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": 1}', "\u0000\u0001", ""])
def test_a_broken_manifest_is_ignored_and_rewritten(site: Site, tmp_path: Path, content: str) -> None:
    site.install("mfph")
    host_of("mfph").task_types()
    path = manifest_file(tmp_path)
    good = json.loads(path.read_text())
    path.write_text(content)
    fresh_process("mfph")
    assert sorted(host_of("mfph").task_types()) == ["alpha", "beta"]
    assert calls("mfph") == ["task_types"]  # the hook answered, not the broken file
    assert json.loads(path.read_text()) == good


def test_a_manifest_naming_something_that_is_not_a_module_path_is_ignored(site: Site, tmp_path: Path) -> None:
    site.install("mfpi")
    host_of("mfpi").task_types()
    path = manifest_file(tmp_path)
    data = json.loads(path.read_text())
    data["hooks"]["flowbuilder_task_types"][0]["module"] = "os; import this"
    path.write_text(json.dumps(data))
    fresh_process("mfpi")
    assert sorted(host_of("mfpi").task_types()) == ["alpha", "beta"]
    assert calls("mfpi") == ["task_types"]


def test_a_remembered_class_that_no_longer_declares_its_name_makes_the_hooks_answer(site: Site, tmp_path: Path) -> None:
    site.install("mfpj")
    host_of("mfpj").task_types()
    path = manifest_file(tmp_path)
    data = json.loads(path.read_text())
    entry = next(e for e in data["hooks"]["flowbuilder_task_types"] if e["name"] == "alpha")
    entry["qualname"] = "Beta"  # a valid shape that lies: Beta says it is "beta"
    path.write_text(json.dumps(data))
    fresh_process("mfpj")
    task_types = host_of("mfpj").task_types()
    assert type(task_types["alpha"]).__name__ == "Alpha"
    assert calls("mfpj") == ["task_types"]


def test_no_cache_calls_the_hooks_every_time(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBUILDER_NO_CACHE", "1")
    site.install("mfpk")
    host_of("mfpk").task_types()
    fresh_process("mfpk")
    assert sorted(host_of("mfpk").task_types()) == ["alpha", "beta"]
    assert calls("mfpk") == ["task_types"]
    assert not list((tmp_path / "cache").glob("plugin-manifest-*.json"))


def test_tracing_plugins_calls_the_hooks(site: Site) -> None:
    site.install("mfpl")
    host_of("mfpl").task_types()
    fresh_process("mfpl")
    host_of("mfpl", trace_plugins=True).task_types()
    assert calls("mfpl") == ["task_types"]


def test_a_plugin_selection_is_its_own_manifest(site: Site) -> None:
    site.install("mfpm")
    assert sorted(host_of("mfpm").task_types()) == ["alpha", "beta"]
    fresh_process("mfpm")
    assert sorted(host_of().task_types()) == []  # core alone has no task types
    assert sorted(host_of("mfpm", disable_plugins=("mfpm",)).task_types()) == []
    assert sorted(host_of("mfpm").task_types()) == ["alpha", "beta"]


def test_a_plugin_registered_by_hand_is_asked_again(site: Site) -> None:
    from types import SimpleNamespace

    from flowbuilder import hookimpl

    site.install("mfpn")
    host = host_of("mfpn")
    assert sorted(host.task_types()) == ["alpha", "beta"]
    gamma = type(host.task_types()["beta"])

    @hookimpl
    def flowbuilder_task_types() -> list[Any]:
        return [type("Gamma", (gamma,), {"name": "gamma"})]

    host.register(SimpleNamespace(flowbuilder_task_types=flowbuilder_task_types), name="by-hand")
    assert sorted(host.task_types()) == ["alpha", "beta", "gamma"]


def test_after_a_remembered_class_is_not_found_the_names_are_the_hooks_answer(site: Site, tmp_path: Path) -> None:
    site.install("mfpo")
    host_of("mfpo").task_types()
    path = manifest_file(tmp_path)
    data = json.loads(path.read_text())
    beta = next(e for e in data["hooks"]["flowbuilder_task_types"] if e["name"] == "beta")
    data["hooks"]["flowbuilder_task_types"].append({**beta, "name": "ghost"})  # Beta does not say "ghost"
    path.write_text(json.dumps(data))
    fresh_process("mfpo")
    task_types = host_of("mfpo").task_types()
    assert "ghost" in task_types  # what the manifest says, until a lookup finds it untrue
    with pytest.raises(KeyError):
        task_types["ghost"]
    assert "ghost" not in task_types and sorted(task_types) == ["alpha", "beta"]
    assert calls("mfpo") == ["task_types"]
