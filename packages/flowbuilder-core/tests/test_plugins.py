"""Plugin discovery and the typed host: failures, duplicates, switches, module plugins."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import pytest

from flowbuilder import hookimpl
from flowbuilder.config import Settings, load_settings
from flowbuilder.errors import ConfigurationError, NotInstalledError, PluginError
from flowbuilder.interfaces import TaskContext, TaskType
from flowbuilder.plugins import PluginHost, build_plugin_host


@dataclass
class FakeDistribution:
    """What build_plugin_host reads of ``EntryPoint.dist``: ``metadata["Name"]`` and ``version``."""

    name: str
    version: str
    metadata: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.metadata = {"Name": self.name}


@dataclass
class FakeEntryPoint:
    """An ``importlib.metadata.EntryPoint`` stand-in: ``name``, ``dist`` and ``load()``."""

    name: str
    loader: Callable[[], Any]
    dist: FakeDistribution | None = None

    def load(self) -> Any:
        return self.loader()


def plugin_with_task_types(*types: type[TaskType]) -> SimpleNamespace:
    @hookimpl
    def flowbuilder_task_types() -> list[type[TaskType]]:
        return list(types)

    return SimpleNamespace(flowbuilder_task_types=flowbuilder_task_types)


def task_type_named(type_name: str) -> type[TaskType]:
    from pydantic import BaseModel

    class Config(BaseModel):
        pass

    class Named(TaskType):
        name = type_name
        config_model = Config

        def run(self, config: Any, context: TaskContext) -> Any:
            return None

    return Named


def failing_import() -> Any:
    raise ImportError("No module named 'missing_dependency'")


def build(entry_points: list[FakeEntryPoint], **settings: Any) -> PluginHost:
    return build_plugin_host(Settings(**settings), entry_points=entry_points)


# -- failures and duplicates -----------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_reported_with_name_distribution_and_reason() -> None:
    good = FakeEntryPoint(
        "good", lambda: plugin_with_task_types(task_type_named("alpha")), FakeDistribution("good-dist", "1.0")
    )
    bad = FakeEntryPoint("broken", failing_import, FakeDistribution("broken-dist", "2.3.4"))
    host = build([bad, good])
    (failure,) = host.failures
    assert (failure.name, failure.distribution, failure.version) == ("broken", "broken-dist", "2.3.4")
    assert failure.reason == "ImportError: No module named 'missing_dependency'"
    assert failure.format() == (
        "plugin 'broken' from broken-dist 2.3.4 failed to load: ImportError: No module named 'missing_dependency'"
    )
    assert [info.name for info in host.infos] == ["good"]
    assert list(host.task_types()) == ["alpha"]


def test_any_exception_at_import_is_contained_not_only_import_errors() -> None:
    def explode() -> Any:
        raise ZeroDivisionError("division by zero")

    host = build([FakeEntryPoint("zero", explode), FakeEntryPoint("ok", lambda: plugin_with_task_types())])
    assert host.failures[0].reason == "ZeroDivisionError: division by zero"
    assert host.failures[0].format() == "plugin 'zero' failed to load: ZeroDivisionError: division by zero"
    assert [info.name for info in host.infos] == ["ok"]


def test_two_plugins_providing_the_same_task_type_is_an_error_naming_both() -> None:
    first = FakeEntryPoint("first", lambda: plugin_with_task_types(task_type_named("shell")))
    second = FakeEntryPoint("second", lambda: plugin_with_task_types(task_type_named("shell")))
    host = build([first, second])
    with pytest.raises(PluginError) as raised:
        host.task_types()
    message = str(raised.value)
    assert "task type 'shell' is provided by both" in message
    assert "'first'" in message and "'second'" in message
    assert "FLOWBUILDER_DISABLE_PLUGINS" in message


def test_a_task_type_without_a_name_is_a_plugin_error() -> None:
    nameless = SimpleNamespace()  # not a class with `name`
    host = build([FakeEntryPoint("odd", lambda: plugin_with_task_types(nameless))])  # type: ignore[arg-type]
    with pytest.raises(PluginError, match=r"plugin 'odd' returned .* from flowbuilder_task_types without a `name`"):
        host.task_types()


def test_a_misspelt_hook_is_a_load_failure_with_a_suggestion() -> None:
    @hookimpl
    def flowbuilder_task_type() -> list[Any]:
        return []

    host = build([FakeEntryPoint("typo", lambda: SimpleNamespace(flowbuilder_task_type=flowbuilder_task_type))])
    (failure,) = host.failures
    assert "implements 'flowbuilder_task_type', which is not a FlowBuilder hook" in failure.reason
    assert "did you mean 'flowbuilder_task_types'?" in failure.reason
    assert host.infos == []


def test_an_optional_unknown_hook_is_allowed() -> None:
    @hookimpl(optionalhook=True)
    def flowbuilder_future_hook() -> list[Any]:
        return []

    host = build([FakeEntryPoint("future", lambda: SimpleNamespace(flowbuilder_future_hook=flowbuilder_future_hook))])
    assert host.failures == [] and [info.name for info in host.infos] == ["future"]


def test_registering_a_name_twice_is_an_error(host: PluginHost, fake_tasks: ModuleType) -> None:
    with pytest.raises(PluginError, match="registered already"):
        host.register(plugin_with_task_types(), name="fake-tasks")


def test_an_entry_point_name_seen_twice_loads_once() -> None:
    loads: list[str] = []

    def load() -> Any:
        loads.append("x")
        return plugin_with_task_types()

    host = build([FakeEntryPoint("twice", load), FakeEntryPoint("twice", load)])
    assert loads == ["x"] and len(host.infos) == 1


# -- switches --------------------------------------------------------------------------------


def three_plugins() -> list[FakeEntryPoint]:
    return [FakeEntryPoint(name, lambda n=name: plugin_with_task_types(task_type_named(n))) for name in ("a", "b", "c")]  # type: ignore[misc]


def test_disable_plugins_skips_the_named_plugins() -> None:
    host = build(three_plugins(), disable_plugins=("b",))
    assert sorted(host.task_types()) == ["a", "c"]


def test_load_plugins_loads_only_the_named_plugins() -> None:
    host = build(three_plugins(), load_plugins=("c", "a"))
    assert sorted(host.task_types()) == ["a", "c"]


def test_disable_wins_over_load() -> None:
    host = build(three_plugins(), load_plugins=("a", "b"), disable_plugins=("a",))
    assert sorted(host.task_types()) == ["b"]


def test_the_environment_switches_reach_the_host(tmp_path: Path) -> None:
    environ = {"FLOWBUILDER_LOAD_PLUGINS": "a, c", "FLOWBUILDER_DISABLE_PLUGINS": "c"}
    settings = load_settings(tmp_path, environ)
    host = build_plugin_host(settings, entry_points=three_plugins())
    assert sorted(host.task_types()) == ["a"]


def test_plugin_modules_register_modules_by_import_path(fake_tasks: ModuleType) -> None:
    host = build([], plugin_modules=("flowbuilder_core_fakes",))
    assert [info.name for info in host.infos] == ["flowbuilder_core_fakes"]
    assert {"http", "shell", "script", "sleep"} == set(host.task_types())


def test_plugin_modules_are_not_limited_by_load_plugins_but_can_be_disabled(fake_tasks: ModuleType) -> None:
    loaded = build(three_plugins(), load_plugins=("a",), plugin_modules=("flowbuilder_core_fakes",))
    assert [info.name for info in loaded.infos] == ["a", "flowbuilder_core_fakes"]
    disabled = build([], plugin_modules=("flowbuilder_core_fakes",), disable_plugins=("flowbuilder_core_fakes",))
    assert disabled.infos == []


def test_a_plugin_module_that_cannot_be_imported_is_a_failure_not_a_crash() -> None:
    host = build([], plugin_modules=("no.such.module_here",))
    (failure,) = host.failures
    assert (failure.name, failure.distribution) == ("no.such.module_here", None)
    assert failure.reason == "ModuleNotFoundError: No module named 'no'"


def test_tracing_prints_hook_calls(capsys: pytest.CaptureFixture[str]) -> None:
    host = build(three_plugins(), trace_plugins=True)
    host.task_types()
    assert "flowbuilder_task_types" in capsys.readouterr().err


# -- typed lookups ---------------------------------------------------------------------------


def test_task_types_are_instantiated_once_per_host(host: PluginHost) -> None:
    assert host.task_types()["shell"] is host.task_types()["shell"]


def test_without_a_runner_make_runner_says_to_install_flowrunner(host: PluginHost) -> None:
    with pytest.raises(NotInstalledError, match="pip install flowbuilder-runner"):
        host.make_runner()


def test_the_memory_store_is_core_s_default(host: PluginHost) -> None:
    from flowbuilder.stores.memory import MemoryStore

    # The rule: with only core installed and nothing configured, the default is memory://,
    # and open_store() without a URL opens exactly that store, a working one.
    assert set(host.store_classes()) == {"memory"}
    assert host.default_store_url() == "memory://"
    with host.open_store() as store:
        assert type(store) is MemoryStore
        digest = store.save_definition(b"name: x\n")
        assert store.load_definition(digest) == b"name: x\n"


def _store_plugin(scheme: str, priority: int) -> Any:
    from flowbuilder.stores.memory import MemoryStore

    store = type(f"{scheme.title()}Store", (MemoryStore,), {"scheme": scheme, "default_priority": priority,
                                                             "default_url": f"{scheme}://default"})  # fmt: skip

    class Plugin:
        @hookimpl
        def flowbuilder_stores(self) -> list[Any]:
            return [store]

    return Plugin()


def test_an_installed_store_of_higher_priority_replaces_the_memory_default() -> None:
    host = build_plugin_host(Settings(load_plugins=("core",)))
    host.register(_store_plugin("lesser", -1), name="lesser")
    assert host.default_store_url() == "memory://"  # a lower priority does not displace core's
    host.register(_store_plugin("better", 10), name="better")
    assert host.default_store_url() == "better://default"
    with host.open_store() as store:
        assert store.scheme == "better"


def test_a_store_that_declares_no_default_url_is_opened_at_its_bare_scheme() -> None:
    """``Store.default_url`` is declared empty; empty means ``SCHEME://`` (as before it was declared)."""
    from flowbuilder.stores.memory import MemoryStore

    bare = type("BareStore", (MemoryStore,), {"scheme": "bare", "default_priority": 99, "default_url": ""})

    class Plugin:
        @hookimpl
        def flowbuilder_stores(self) -> list[Any]:
            return [bare]

    host = build_plugin_host(Settings(load_plugins=("core",)))
    host.register(Plugin(), name="bare")
    assert host.default_store_url() == "bare://"


def test_a_configured_store_wins_over_every_default() -> None:
    host = build_plugin_host(Settings(load_plugins=("core",), store="memory://configured"))
    host.register(_store_plugin("better", 10), name="better")
    assert host.default_store_url() == "memory://configured"


def test_an_unknown_store_scheme_names_the_package_that_provides_it(host: PluginHost) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown scheme 'rocksdb'.*pip install flowbuilder-storage"):
        host.open_store("rocksdb:///tmp/x")


def test_disabling_core_leaves_no_store() -> None:
    from flowbuilder.plugins import discover_entry_points

    host = build_plugin_host(
        Settings(disable_plugins=("core",), load_plugins=("core",)), entry_points=discover_entry_points()
    )
    with pytest.raises(NotInstalledError, match="no store is installed"):
        host.default_store_url()


# -- plugin code that raises while the host asks it for something (issue #7 item C) --------------


def plugin_with_hook(hook_name: str, body: Callable[..., Any]) -> SimpleNamespace:
    """A plugin object whose only hook ``hook_name`` is ``body`` (marked as a hookimpl)."""
    return SimpleNamespace(**{hook_name: hookimpl(specname=hook_name)(body)})


def raising(message: str) -> Callable[..., Any]:
    def body(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(message)

    return body


def test_a_store_hook_that_raises_is_a_plugin_error_naming_plugin_and_distribution() -> None:
    bad = FakeEntryPoint(
        "bad", lambda: plugin_with_hook("flowbuilder_stores", raising("boom")), FakeDistribution("bad-dist", "0.2")
    )
    host = build([bad])
    with pytest.raises(PluginError) as raised:
        host.open_store("memory://x")
    assert str(raised.value) == "plugin 'bad' from bad-dist 0.2 failed in flowbuilder_stores: RuntimeError: boom"


def test_a_store_whose_open_raises_is_a_one_line_plugin_error_naming_the_plugin() -> None:
    from flowbuilder.stores.memory import MemoryStore

    class Exploding(MemoryStore):
        scheme = "exploding"

        @classmethod
        def open(cls, url: str) -> MemoryStore:
            raise OSError("disk on fire\nsecond line")

    plugin = plugin_with_hook("flowbuilder_stores", lambda: [Exploding])
    host = build([FakeEntryPoint("hot", lambda: plugin, FakeDistribution("hot-dist", "1.0"))])
    with pytest.raises(PluginError) as raised:
        host.open_store("exploding://here")
    assert str(raised.value) == (
        "plugin 'hot' from hot-dist 1.0 failed to open store 'exploding://here': OSError: disk on fire second line"
    )


def test_a_task_type_whose_constructor_raises_names_its_plugin_when_it_is_used() -> None:
    broken = task_type_named("broken")
    broken.__init__ = raising("no licence")  # type: ignore[method-assign]
    fine = task_type_named("fine")
    host = build([FakeEntryPoint("tt", lambda: plugin_with_task_types(broken, fine), FakeDistribution("tt-dist", "3"))])
    task_types = host.task_types()  # built when looked up (issue 10): a type nobody uses costs nothing
    assert sorted(task_types) == ["broken", "fine"] and "broken" in task_types
    assert isinstance(task_types["fine"], fine)
    with pytest.raises(PluginError, match=r"^plugin 'tt' from tt-dist 3 failed to create task type 'broken': "):
        task_types["broken"]


def test_a_sink_hook_that_raises_is_left_out_with_a_warning_and_other_sinks_stay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kept = object()
    good = FakeEntryPoint("good", lambda: plugin_with_hook("flowbuilder_event_sinks", lambda run_id: [kept]))
    bad = FakeEntryPoint(
        "bad",
        lambda: plugin_with_hook("flowbuilder_event_sinks", raising("collector down")),
        FakeDistribution("bad-sinks", "0.9"),
    )
    host = build([good, bad])
    assert host.event_sinks("run-1") == [kept]
    warning = capsys.readouterr().err
    assert warning == (
        "warning: plugin 'bad' from bad-sinks 0.9 failed in flowbuilder_event_sinks;"
        " its sinks are left out of run run-1: RuntimeError: collector down\n"
    )


def test_a_store_plugin_that_raises_ends_the_cli_with_one_line_and_exit_1(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    write_distribution(
        site,
        "fb-exploding-store",
        "0.4.0",
        "fb_exploding",
        """
        from flowbuilder import hookimpl
        from flowbuilder.stores.memory import MemoryStore

        class Exploding(MemoryStore):
            scheme = "exploding"

            @classmethod
            def open(cls, url):
                raise RuntimeError("cannot reach the disk")

        @hookimpl
        def flowbuilder_stores():
            return [Exploding]
    """,
    )
    env = {"PYTHONPATH": str(site), "FLOWBUILDER_LOAD_PLUGINS": "core,fb_exploding", "FLOWBUILDER_PLUGIN_MODULES": ""}
    result = run_cli("runs", "list", "--store", "exploding://x", env=env)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: plugin 'fb_exploding' from fb-exploding-store 0.4.0 failed to open store 'exploding://x':"
        " RuntimeError: cannot reach the disk\n"
    )


# -- real discovery through installed metadata ------------------------------------------------


def write_distribution(site: Path, dist: str, version: str, module: str, source: str) -> None:
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[flowbuilder.plugins]\n{module} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def test_installed_plugins_are_discovered_and_a_broken_one_is_reported_by_distribution(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    write_distribution(site, "fb-broken-plugin", "0.3.1", "fb_broken", "import module_that_does_not_exist\n")
    write_distribution(
        site,
        "fb-greeter-plugin",
        "1.2.0",
        "fb_greeter",
        """
        from pydantic import BaseModel
        from flowbuilder import hookimpl
        from flowbuilder.interfaces import TaskType

        class Config(BaseModel):
            who: str

        class Greet(TaskType):
            name = "greet"
            config_model = Config

            def run(self, config, context):
                return f"hello {config.who}"

        @hookimpl
        def flowbuilder_task_types():
            return [Greet]
    """,
    )
    env = {
        "PYTHONPATH": str(site),
        "FLOWBUILDER_LOAD_PLUGINS": "core,fb_broken,fb_greeter",
        "FLOWBUILDER_PLUGIN_MODULES": "",
    }
    result = run_cli("plugins", "--json", env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    listed = {row["name"]: row for row in report["plugins"]}
    assert listed["fb_greeter"]["distribution"] == "fb-greeter-plugin"
    assert listed["fb_greeter"]["version"] == "1.2.0"
    assert listed["fb_greeter"]["hooks"] == ["flowbuilder_task_types"]
    assert report["failed"] == [{
        "name": "fb_broken", "distribution": "fb-broken-plugin", "version": "0.3.1",
        "error": "ModuleNotFoundError: No module named 'module_that_does_not_exist'",
    }]  # fmt: skip
    assert "warning: plugin 'fb_broken' from fb-broken-plugin 0.3.1 failed to load" in result.stderr
    # ... and the working plugin's task type is usable by the CLI.
    workflow = tmp_path / "greet.yaml"
    workflow.write_text("name: g\ntasks:\n  - {name: hi, type: greet, config: {who: you}}\n")
    validated = run_cli("validate", str(workflow), env=env)
    assert validated.exit_code == 0 and "ok (1 tasks" in validated.stdout


def test_an_unknown_workers_scheme_names_the_package_that_provides_it(host: PluginHost) -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown scheme 'dask'.*pip install 'flowbuilder-distributed\[dask\]'"
    ):
        host.make_attempt_executor("dask://127.0.0.1:8786")
    with pytest.raises(ConfigurationError, match=r"unknown scheme 'redis'.*pip install flowbuilder-distributed"):
        host.make_attempt_executor("redis://127.0.0.1:6379/0")
    # A URL urlsplit refuses ("Invalid IPv6 URL") still has a scheme: no ValueError (exit 70).
    with pytest.raises(ConfigurationError, match=r"unknown scheme 'redis'"):
        host.make_attempt_executor("redis://[::1")


# -- a plugin that answers the wrong thing, or misbehaves outside the named hooks (review-plugins) ----


def test_a_named_hook_returning_a_class_instead_of_a_list_is_a_plugin_error_naming_it() -> None:
    single = task_type_named("single")
    plugin = plugin_with_hook("flowbuilder_task_types", lambda: single)  # forgot the brackets
    host = build([FakeEntryPoint("loose", lambda: plugin, FakeDistribution("loose-dist", "0.1"))])
    with pytest.raises(PluginError) as raised:
        host.task_types()
    assert str(raised.value).startswith("plugin 'loose' from loose-dist 0.1 returned <class ")
    assert str(raised.value).endswith(" from flowbuilder_task_types, not a list")


def test_a_named_hook_returning_none_or_a_tuple_is_taken() -> None:
    nothing = FakeEntryPoint("nothing", lambda: plugin_with_hook("flowbuilder_task_types", lambda: None))
    pair = FakeEntryPoint("pair", lambda: plugin_with_hook("flowbuilder_task_types", lambda: (task_type_named("a"),)))
    assert sorted(build([nothing, pair]).task_types()) == ["a"]


def test_the_same_task_type_from_two_plugins_names_both_distributions() -> None:
    first = FakeEntryPoint("first", lambda: plugin_with_task_types(task_type_named("x")), FakeDistribution("one", "1"))
    second = FakeEntryPoint(
        "second", lambda: plugin_with_task_types(task_type_named("x")), FakeDistribution("two", "2")
    )
    with pytest.raises(PluginError) as raised:
        build([first, second]).task_types()
    assert "plugin 'first' from one 1" in str(raised.value) and "plugin 'second' from two 2" in str(raised.value)


@pytest.mark.parametrize("model", [dict, None, "Config"])
def test_a_task_type_whose_config_model_is_not_a_pydantic_model_names_its_plugin(model: Any) -> None:
    odd = task_type_named("odd")
    odd.config_model = model
    host = build([FakeEntryPoint("tt", lambda: plugin_with_task_types(odd), FakeDistribution("tt-dist", "3"))])
    with pytest.raises(
        PluginError, match=r"^plugin 'tt' from tt-dist 3: task type 'odd' has config_model .*, not a pyd"
    ):
        host.task_types()["odd"]


def test_a_bad_config_model_ends_validate_in_one_line_not_an_internal_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    write_distribution(site, "fb-odd", "0.1.0", "fb_odd", """
        from flowbuilder import hookimpl
        from flowbuilder.interfaces import TaskType

        class Odd(TaskType):
            name = "odd"
            config_model = dict

            def run(self, config, context):
                return 1

        @hookimpl
        def flowbuilder_task_types():
            return [Odd]
    """)  # fmt: skip
    workflow = tmp_path / "odd.yaml"
    workflow.write_text("name: o\ntasks:\n  - {name: a, type: odd, config: {}}\n")
    env = {"PYTHONPATH": str(site), "FLOWBUILDER_LOAD_PLUGINS": "core,fb_odd", "FLOWBUILDER_PLUGIN_MODULES": ""}
    result = run_cli("validate", str(workflow), env=env)
    assert (result.exit_code, result.stderr) == (1, (
        "error: plugin 'fb_odd' from fb-odd 0.1.0: task type 'odd' has config_model <class 'dict'>, not a pydantic"
        " model (a subclass of pydantic.BaseModel)\n"
    ))  # fmt: skip


def test_a_sink_hook_answering_something_else_than_a_list_is_left_out_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    kept = object()
    good = FakeEntryPoint("good", lambda: plugin_with_hook("flowbuilder_event_sinks", lambda run_id: [kept]))
    odd = FakeEntryPoint("odd", lambda: plugin_with_hook("flowbuilder_event_sinks", lambda run_id: 5),
                         FakeDistribution("odd-sinks", "1.0"))  # fmt: skip
    assert build([good, odd]).event_sinks("run-2") == [kept]
    assert capsys.readouterr().err == (
        "warning: plugin 'odd' from odd-sinks 1.0 returned 5 from flowbuilder_event_sinks, not a list;"
        " its sinks are left out of run run-2\n"
    )


def compile_with(host: PluginHost) -> Any:
    from flowbuilder.loader import load_plan

    return load_plan("name: w\ntasks:\n  - {name: a, type: fine, config: {}}\n", host=host)


def pass_plugin(name: str, hook: Callable[..., Any]) -> FakeEntryPoint:
    return FakeEntryPoint(
        name, lambda: plugin_with_hook("flowbuilder_compile_passes", hook), FakeDistribution("p", "9")
    )


def test_compile_passes_that_raise_or_answer_the_wrong_thing_are_plugin_errors_naming_the_plugin() -> None:
    fine = FakeEntryPoint("tt", lambda: plugin_with_task_types(task_type_named("fine")))

    def exploding_pass(plan: Any) -> Any:
        raise RuntimeError("pass kaput")

    cases = {
        "hook_raises": (raising("no passes"), "plugin 'hook_raises' from p 9 failed in flowbuilder_compile_passes:"
                        " RuntimeError: no passes"),
        "not_a_list": (lambda: 7, "plugin 'not_a_list' from p 9 returned 7 from flowbuilder_compile_passes, not a list"),
        "pass_raises": (lambda: [exploding_pass], "plugin 'pass_raises' from p 9 failed in its compile pass"
                        " test_compile_passes_that_raise_or_answer_the_wrong_thing_are_plugin_errors_naming_the_plugin"
                        ".<locals>.exploding_pass: RuntimeError: pass kaput"),
        "not_a_mapping": (lambda: [lambda plan: ["a"]], "plugin 'not_a_mapping' from p 9: its compile pass"),
    }  # fmt: skip
    for name, (hook, message) in cases.items():
        with pytest.raises(PluginError) as raised:
            compile_with(build([fine, pass_plugin(name, hook)]))
        assert str(raised.value).startswith(message), name


def test_a_compile_pass_may_still_reject_a_workflow_and_add_metadata() -> None:
    from flowbuilder.diagnostics import Diagnostic
    from flowbuilder.errors import WorkflowError

    fine = FakeEntryPoint("tt", lambda: plugin_with_task_types(task_type_named("fine")))
    assert compile_with(build([fine, pass_plugin("meta", lambda: [lambda plan: {"seen": True}])])).metadata == {
        "seen": True
    }

    def refuse(plan: Any) -> Any:
        raise WorkflowError([Diagnostic("<workflow>", 1, 1, "too many tasks")])

    with pytest.raises(WorkflowError, match="too many tasks"):
        compile_with(build([fine, pass_plugin("strict", lambda: [refuse])]))


def test_a_secret_provider_hook_that_raises_or_answers_a_number_is_a_plugin_error() -> None:
    raises = FakeEntryPoint("vault", lambda: plugin_with_hook("flowbuilder_secret_providers", raising("vault down")),
                            FakeDistribution("fb-vault", "2.0"))  # fmt: skip
    with pytest.raises(
        PluginError, match=r"^plugin 'vault' from fb-vault 2.0 failed in flowbuilder_secret_providers: "
    ):
        build([raises]).secret_providers()
    number = FakeEntryPoint("odd", lambda: plugin_with_hook("flowbuilder_secret_providers", lambda settings: 3))
    with pytest.raises(PluginError, match=r"^plugin 'odd' returned 3 from flowbuilder_secret_providers, not a list$"):
        build([number]).secret_providers()


def cli_plugin(command_name: str, said: str) -> SimpleNamespace:
    import click

    @click.command(command_name)
    def command() -> None:
        click.echo(said)

    return plugin_with_hook("flowbuilder_cli_commands", lambda cli: cli.add_command(command))


def test_two_plugins_adding_one_cli_command_is_an_error_naming_both() -> None:
    import click

    first = FakeEntryPoint("first", lambda: cli_plugin("hello", "A"), FakeDistribution("dist-a", "1"))
    second = FakeEntryPoint("second", lambda: cli_plugin("hello", "B"), FakeDistribution("dist-b", "2"))
    with pytest.raises(PluginError) as raised:
        build([first, second]).add_cli_commands(click.Group())
    assert "'hello' is added by both plugin 'second' from dist-b 2 and plugin 'first' from dist-a 1" in str(
        raised.value
    )
    group = click.Group()
    assert build([first]).add_cli_commands(group) == {"hello": "first"} and list(group.commands) == ["hello"]


def test_a_cli_commands_hook_that_raises_names_its_plugin() -> None:
    import click

    bad = FakeEntryPoint("bad", lambda: plugin_with_hook("flowbuilder_cli_commands", raising("no commands")),
                         FakeDistribution("bad-cli", "0.1"))  # fmt: skip
    with pytest.raises(PluginError, match=r"^plugin 'bad' from bad-cli 0.1 failed in flowbuilder_cli_commands: "):
        build([bad]).add_cli_commands(click.Group())


def test_cli_command_clashes_and_failures_end_the_cli_in_one_line_with_exit_1(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    for module, name in (("fb_hello_a", "hello"), ("fb_hello_b", "hello"), ("fb_takeover", "validate")):
        write_distribution(site, module.replace("_", "-"), "1.0", module, f"""
            import click
            from flowbuilder import hookimpl

            @click.command("{name}")
            def command():
                click.echo("from {module}")

            @hookimpl
            def flowbuilder_cli_commands(cli):
                cli.add_command(command)
        """)  # fmt: skip
    write_distribution(site, "fb-raising-cli", "1.0", "fb_raising_cli", """
        from flowbuilder import hookimpl

        @hookimpl
        def flowbuilder_cli_commands(cli):
            raise RuntimeError("no commands for you")
    """)  # fmt: skip

    def cli(*plugins: str) -> Any:
        env = {"PYTHONPATH": str(site), "FLOWBUILDER_LOAD_PLUGINS": ",".join(("core", *plugins)),
               "FLOWBUILDER_PLUGIN_MODULES": ""}  # fmt: skip
        return run_cli("hello", env=env)

    assert (cli("fb_hello_a").exit_code, cli("fb_hello_a").stdout) == (0, "from fb_hello_a\n")
    both = cli("fb_hello_a", "fb_hello_b")
    assert both.exit_code == 1 and both.stderr.count("\n") == 1, both.stderr
    assert (
        "plugin 'fb_hello_a' from fb-hello-a 1.0" in both.stderr
        and "plugin 'fb_hello_b' from fb-hello-b 1.0" in both.stderr
    )
    takeover = cli("fb_hello_a", "fb_takeover")
    assert (takeover.exit_code, takeover.stderr) == (1, (
        "error: plugin 'fb_takeover' from fb-takeover 1.0 adds the command 'validate', which is built in;"
        " disable it with FLOWBUILDER_DISABLE_PLUGINS\n"
    ))  # fmt: skip
    raised = cli("fb_raising_cli")
    assert (raised.exit_code, raised.stderr) == (1, (
        "error: plugin 'fb_raising_cli' from fb-raising-cli 1.0 failed in flowbuilder_cli_commands:"
        " RuntimeError: no commands for you\n"
    ))  # fmt: skip


def test_a_plugin_calling_sys_exit_at_import_is_a_load_failure_and_the_others_load() -> None:
    def exits() -> Any:
        raise SystemExit("plugin quits at import")

    quitter = FakeEntryPoint("quitter", exits, FakeDistribution("quitter-dist", "0.3"))
    fine = FakeEntryPoint("fine", lambda: plugin_with_task_types(task_type_named("fine")))
    host = build([quitter, fine])
    assert sorted(host.task_types()) == ["fine"]
    assert [failure.format() for failure in host.failures] == [
        "plugin 'quitter' from quitter-dist 0.3 failed to load: SystemExit: plugin quits at import"
    ]


def test_two_distributions_with_one_entry_point_name_report_the_one_left_out() -> None:
    first = FakeEntryPoint(
        "same", lambda: plugin_with_task_types(task_type_named("a")), FakeDistribution("dist-a", "1")
    )
    again = FakeEntryPoint(
        "same", lambda: plugin_with_task_types(task_type_named("a")), FakeDistribution("dist-a", "1")
    )
    other = FakeEntryPoint(
        "same", lambda: plugin_with_task_types(task_type_named("b")), FakeDistribution("dist-b", "2")
    )
    host = build([first, again, other])
    assert sorted(host.task_types()) == ["a"]
    assert [failure.format() for failure in host.failures] == [
        "plugin 'same' from dist-b 2 failed to load: the plugin name 'same' is taken by dist-a 1, loaded first;"
        " two distributions cannot share an entry point name (uninstall one)"
    ]


def test_a_from_settings_that_builds_no_task_type_names_its_plugin() -> None:
    odd = task_type_named("odd")
    odd.from_settings = classmethod(lambda cls, settings: None)  # type: ignore[assignment,method-assign]
    host = build([FakeEntryPoint("tt", lambda: plugin_with_task_types(odd), FakeDistribution("tt-dist", "3"))])
    with pytest.raises(PluginError) as raised:
        host.task_types()["odd"]
    assert str(raised.value) == (
        "plugin 'tt' from tt-dist 3: task type 'odd': from_settings returned None, not an instance of a TaskType subclass"
    )


def test_tracing_shows_the_hooks_the_host_calls_plugin_by_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    import click

    hooks = {
        "flowbuilder_compile_passes": lambda: [],
        "flowbuilder_secret_providers": lambda: [],
        "flowbuilder_event_sinks": lambda: [],
        "flowbuilder_cli_commands": lambda cli: None,
    }
    plugin = SimpleNamespace(**{name: hookimpl(specname=name)(body) for name, body in hooks.items()})
    host = build([FakeEntryPoint("traced", lambda: plugin)], load_plugins=("traced",), trace_plugins=True)
    host.compile_passes(), host.secret_providers(), host.event_sinks("r"), host.add_cli_commands(click.Group())
    err = capsys.readouterr().err
    assert all(f"{name} of 'traced' -> 0 " in err for name in hooks), err


def test_a_hook_or_compile_pass_calling_sys_exit_is_a_plugin_error_not_a_silent_exit() -> None:
    def exits(*args: Any) -> Any:
        raise SystemExit(0)  # status 0: the command would end as if it had succeeded

    tasks = FakeEntryPoint(
        "quits", lambda: plugin_with_hook("flowbuilder_task_types", exits), FakeDistribution("q", "1")
    )
    with pytest.raises(PluginError, match=r"^plugin 'quits' from q 1 failed in flowbuilder_task_types: SystemExit: 0$"):
        build([tasks]).task_types()
    fine = FakeEntryPoint("tt", lambda: plugin_with_task_types(task_type_named("fine")))
    with pytest.raises(
        PluginError, match=r"^plugin 'pass' from p 9 failed in its compile pass .*exits: SystemExit: 0$"
    ):
        compile_with(build([fine, pass_plugin("pass", lambda: [exits])]))
    with pytest.raises(PluginError, match=r"^plugin 'hook' from p 9 failed in flowbuilder_compile_passes: SystemExit"):
        compile_with(build([fine, pass_plugin("hook", exits)]))
