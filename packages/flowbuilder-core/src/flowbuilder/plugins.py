"""Discovering plugins and handing their contributions to the engine.

:func:`build_plugin_host` loads every entry point of the group ``flowbuilder.plugins``
(core's own built-ins included — they register the same way as anyone's) into a pluggy
manager wrapped by :class:`PluginHost`. The engine never calls ``pm.hook.*`` itself: it
asks the host's typed methods, which call each hook once, check the results, build
name → class maps and cache them. A plugin that fails to import is recorded with its
distribution and the reason (see :attr:`PluginHost.failures`), and the rest still load.

A plugin may declare hook specs of its own (``flowbuilder_addhooks``, see
:mod:`flowbuilder.added_hooks`); they are added as it registers, and hooks that no spec
declares are looked for only once every plugin is in, so that load order does not matter.

Besides entry points, modules named in ``FLOWBUILDER_PLUGIN_MODULES`` (comma-separated
import paths, or ``[plugins] modules = [...]`` in ``flowbuilder.toml``) are registered as
plugins without being installed — handy for a plugin under development or a
project-local one on ``PYTHONPATH``. ``FLOWBUILDER_LOAD_PLUGINS`` and
``FLOWBUILDER_DISABLE_PLUGINS`` choose among the entry points (see :mod:`flowbuilder.config`).

A plugin's code that raises an ordinary exception while the host asks it for something
(a hook body, a task type's or runner's constructor, a store's ``open``) is reported as a
:class:`PluginError` that names the plugin and its distribution, so the CLI prints one line
and exits 1 instead of calling it an internal error. A failing ``flowbuilder_event_sinks``
is not fatal: sinks never fail a run (:class:`~flowbuilder.interfaces.EventSink`), so that
plugin's sinks are left out of the run with a one-line warning on stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from importlib import import_module
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import pluggy

from flowbuilder import hookspecs
from flowbuilder.config import Settings
from flowbuilder.errors import (
    ConfigurationError,
    FlowBuilderError,
    NoStoreError,
    NotInstalledError,
    PluginError,
    cut,
    quoted,
    shown_url,
)

if TYPE_CHECKING:
    import click

    from flowbuilder._plugin_manifest import PluginManifest, ProvidedItem
    from flowbuilder.compiler import CompilePass
    from flowbuilder.interfaces import AttemptExecutor, ConsensusEngine, EventSink, Runner, Store, TaskType
    from flowbuilder.interfaces.message_bus import MessageBus
    from flowbuilder.interfaces.node_announcer import NodeAnnouncer
    from flowbuilder.interfaces.secrets import SecretProvider
    from flowbuilder.interfaces.trigger_source import TriggerSource
    from flowbuilder.plan import ExecutionPlan

ENTRY_POINT_GROUP = "flowbuilder.plugins"

# Which distribution provides what, for "install X" advice when something is missing.
PROVIDERS = {
    "runner": "flowbuilder-runner",
    "task types": "flowbuilder-runner (shell, http, script, python)",
    "rocksdb": "flowbuilder-storage",
    "redis": "flowbuilder-storage",
    "raft": "flowbuilder-distributed",
}
DEFAULT_BUS_URL = "local://"
"""The message bus when none is configured: core's in-process one (one node)."""
DEFAULT_REGISTRY_URL = "noop://"
"""The node registry when none is configured: core's single-node announcer (announces to nobody)."""


# The hooks that return named things: kind -> (hook, the attribute that names one, what it is).
_NAMED_KINDS = {
    "task_types": ("flowbuilder_task_types", "name", "task type"),
    "store_schemes": ("flowbuilder_stores", "scheme", "store scheme"),
    "runners": ("flowbuilder_runners", "name", "runner"),
    "consensus_engines": ("flowbuilder_consensus_engines", "name", "consensus engine"),
    "trigger_sources": ("flowbuilder_trigger_sources", "name", "trigger source"),
    "message_buses": ("flowbuilder_message_buses", "scheme", "message bus scheme"),
    "attempt_executors": ("flowbuilder_attempt_executors", "name", "attempt executor"),
    "node_announcers": ("flowbuilder_node_announcers", "scheme", "node announcer scheme"),
}
# The other hooks, by what they provide.
_OTHER_HOOKS = {
    "flowbuilder_event_sinks": "event sinks",
    "flowbuilder_secret_providers": "secret providers",
    "flowbuilder_compile_passes": "compile passes",
    "flowbuilder_cli_commands": "CLI commands",
    "flowbuilder_api_routes": "API routes (deprecated)",
}


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A plugin as ``flowbuilder plugins`` shows it."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    declared_hooks: tuple[str, ...] = ()
    """Hook specs the plugin added through ``flowbuilder_addhooks``."""


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str | None
    version: str | None
    reason: str

    def format(self) -> str:
        source = f" from {self.distribution} {self.version}" if self.distribution else ""
        return f"plugin {self.name!r}{source} failed to load: {self.reason}"


@dataclass
class PluginHost:
    """The loaded plugins and typed access to what they contribute."""

    manager: pluggy.PluginManager
    settings: Settings
    infos: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    declared_by: dict[str, str] = field(default_factory=dict)
    """Hooks that plugins declared through ``flowbuilder_addhooks``: hook name -> plugin name."""
    use_manifest: bool = False
    """Whether the named hooks' answers may come from :mod:`flowbuilder._plugin_manifest` (set by
    :func:`build_plugin_host`, whose plugins are installed modules; a host built by hand calls its hooks)."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- registration -----------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None, distribution: str | None = None,
                 version: str | None = None, *, check_hooks: bool = True) -> None:  # fmt: skip
        """Register a plugin object in-process (tests, embedding); clears cached lookups.

        A plugin implementing :func:`~flowbuilder.hookspecs.flowbuilder_addhooks` has it
        called at once, so the specs it declares exist before the next plugin registers;
        implementations of those hooks registered earlier are checked then, and a plugin
        whose implementation asks for an argument the spec lacks is unregistered and
        recorded in :attr:`failures`.

        Raises :class:`PluginError` when the name is taken, when ``flowbuilder_addhooks``
        fails, or (with ``check_hooks``) when the plugin implements a hook that no spec
        declares (a misspelt hook would otherwise be silently ignored); mark a deliberately
        optional hook ``@hookimpl(optionalhook=True)``. :func:`build_plugin_host` registers
        with ``check_hooks=False`` and checks once every plugin is in
        (:meth:`check_unknown_hooks`), so load order does not matter.
        """
        try:
            registered = self.manager.register(plugin, name=name)
        except ValueError:  # pluggy: this name or this object is registered already
            registered = None
        if registered is None:
            raise PluginError(f"plugin {name!r} is registered already")
        plugin_name = self.manager.get_name(plugin) or str(name)
        module = getattr(plugin, "__name__", type(plugin).__module__)
        info = PluginInfo(plugin_name, module, distribution, version, ())
        self.infos.append(info)
        try:
            self._run_addhooks(plugin, plugin_name)
            if check_hooks:
                self._check_hooks_of(plugin, plugin_name)
        except BaseException:
            self.manager.unregister(plugin)
            self.infos.remove(info)
            raise
        callers = self.manager.get_hookcallers(plugin) or ()
        hooks = tuple(sorted(caller.name for caller in callers))
        declared = tuple(sorted(n for n, owner in self.declared_by.items() if owner == plugin_name))
        self.infos[self.infos.index(info)] = PluginInfo(plugin_name, module, distribution, version, hooks, declared)
        self._cache.clear()

    def _run_addhooks(self, plugin: Any, plugin_name: str) -> None:
        """Call ``plugin``'s own ``flowbuilder_addhooks`` (never the other plugins')."""
        for impl in self.manager.hook.flowbuilder_addhooks.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            from flowbuilder.added_hooks import HookSpecRegistry  # only when a plugin declares hooks

            declare = partial(self._declare_specs, plugin_name)
            registry = HookSpecRegistry(self.manager, plugin_name, self.declared_by, declare)
            try:
                impl.function(registry)
            except FlowBuilderError:
                raise
            except (Exception, SystemExit) as error:
                raise self._blame(plugin_name, "in flowbuilder_addhooks", error) from error

    def _declare_specs(self, declaring: str, namespace: Any, names: list[str]) -> None:
        """Add specs, first dropping earlier plugins whose implementation cannot take the spec's arguments."""
        from flowbuilder.added_hooks import unexpected_arguments

        for name in names:
            caller = getattr(self.manager.hook, name, None)
            for impl in caller.get_hookimpls() if caller is not None else ():
                extra = unexpected_arguments(impl.function, getattr(namespace, name))
                if extra:
                    self._drop(impl.plugin, impl.plugin_name,
                               f"PluginError: its {name} takes {', '.join(map(repr, extra))}, which the spec"
                               f" (declared by plugin {declaring!r}) does not pass")  # fmt: skip
        self.manager.add_hookspecs(namespace)

    def _drop(self, plugin: Any, plugin_name: str, reason: str) -> None:
        """Unregister a plugin that cannot work and record why, as a load failure."""
        self.manager.unregister(plugin)
        info = next((i for i in self.infos if i.name == plugin_name), None)
        if info is not None:
            self.infos.remove(info)
        distribution, version = (info.distribution, info.version) if info else (None, None)
        self.failures.append(PluginFailure(plugin_name, distribution, version, reason))
        self._cache.clear()

    def _unknown_hook_error(self, plugin: Any, plugin_name: str) -> PluginError | None:
        for caller in self.manager.get_hookcallers(plugin) or ():
            if caller.has_spec() or all(impl.optionalhook for impl in caller.get_hookimpls() if impl.plugin is plugin):
                continue
            from flowbuilder.diagnostics import suggest

            known = [n for n, c in vars(self.manager.hook).items() if n.startswith("flowbuilder_") and c.has_spec()]
            hint = suggest(caller.name, known) or "see flowbuilder.hookspecs for the hooks that exist"
            return PluginError(
                f"plugin {plugin_name!r} implements {caller.name!r}, which is not a FlowBuilder hook"
                f" (neither core nor any loaded plugin declares it); {hint}"
            )
        return None

    def _check_hooks_of(self, plugin: Any, plugin_name: str) -> None:
        error = self._unknown_hook_error(plugin, plugin_name)
        if error is not None:
            raise error

    def check_unknown_hooks(self) -> None:
        """Drop (into :attr:`failures`) every plugin implementing a hook that no loaded plugin declared."""
        for plugin_name, plugin in list(self.manager.list_name_plugin()):
            error = self._unknown_hook_error(plugin, plugin_name)
            if error is not None:
                self._drop(plugin, plugin_name, _reason(error))

    # -- typed lookups ------------------------------------------------------------------

    def describe(self, plugin_name: str) -> str:
        """``plugin 'NAME' from DISTRIBUTION VERSION`` (the distribution when it is known)."""
        for info in self.infos:
            if info.name == plugin_name and info.distribution:
                return f"plugin {plugin_name!r} from {info.distribution} {info.version}"
        return f"plugin {plugin_name!r}"

    def _blame(self, plugin_name: str, doing: str, error: BaseException) -> PluginError:
        """The one-line error for an ordinary exception raised by a plugin's code (or its ``sys.exit()``
        in a hook: it must not end the command, least of all with status 0 and nothing done)."""
        return PluginError(f"{self.describe(plugin_name)} failed {doing}: {_reason(error)}")

    def _listed(self, plugin_name: str, hook_name: str, result: Any) -> list[Any]:
        """A hook's answer as a list (None: empty); a one-line :class:`PluginError` naming the
        plugin for anything else, such as a class returned without its list, which would
        otherwise surface as an internal error where the host iterates it."""
        if result is None:
            return []
        if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
            raise PluginError(f"{self.describe(plugin_name)} returned {_shown(result)} from {hook_name}, not a list")
        return list(result)

    def _trace(self, text: str) -> None:
        """One line of ``FLOWBUILDER_TRACE_PLUGINS`` for a hook the host calls plugin by plugin
        (pluggy traces only the calls it makes itself); writes nothing when tracing is off."""
        self.manager.trace.root.get("hook")(text)

    def _owner(self, hook_name: str, name: str) -> str:
        owners: dict[str, str] = self._cache.get(f"{hook_name}:owners", {})
        return owners.get(name, "?")

    def _manifest(self) -> PluginManifest | None:
        """What the named hooks of these plugins returned before (None: call the hooks)."""
        if "manifest" not in self._cache:
            manifest = None
            if self.use_manifest and not self.settings.trace_plugins:
                from flowbuilder._plugin_manifest import PluginManifest

                plugins = list(self.manager.list_name_plugin())
                describe = {info.name: (info.distribution, info.version) for info in self.infos}
                hooks_of = {info.name: list(info.hooks) for info in self.infos}
                manifest = PluginManifest.for_plugins(plugins, describe, hooks_of)
            self._cache["manifest"] = manifest
        found: PluginManifest | None = self._cache["manifest"]
        return found

    def _named(self, hook_name: str, key: str, what: str) -> Mapping[str, Any]:
        cached: Mapping[str, Any] | None = self._cache.get(hook_name)
        if cached is not None:
            return cached
        manifest = self._manifest()
        items = manifest.get(hook_name) if manifest is not None else None
        if items is not None:
            lazy = _LazyNamed(self, hook_name, key, {item.name: item for item in items})
            self._cache[hook_name] = lazy
            self._cache[f"{hook_name}:owners"] = {item.name: item.owner for item in items}
            return lazy
        found = self._call_named(hook_name, key, what)
        if manifest is not None:
            manifest.record(hook_name, key, found, self._cache[f"{hook_name}:owners"])
        return found

    def _call_named(self, hook_name: str, key: str, what: str) -> dict[str, Any]:
        """Call ``hook_name`` of every plugin and build its name -> class map (and its owners)."""
        hook = getattr(self.manager.hook, hook_name)
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        trace = self.manager.trace.root.get("hook")  # writes only with FLOWBUILDER_TRACE_PLUGINS
        for impl in hook.get_hookimpls():
            plugin_name = impl.plugin_name
            try:  # called one by one to know which plugin gave what
                result = self._listed(plugin_name, hook_name, impl.function())
            except FlowBuilderError:
                raise
            except (Exception, SystemExit) as error:
                raise self._blame(plugin_name, f"in {hook_name}", error) from error
            trace(f"{hook_name} of {plugin_name!r} -> {len(result)} item(s)")
            for item in result:
                name = getattr(item, key, None)
                if not isinstance(name, str) or not name:
                    raise PluginError(
                        f"{self.describe(plugin_name)} returned {_shown(item)} from {hook_name} without a `{key}`"
                    )
                if name in found:
                    raise PluginError(
                        f"{what} {name!r} is provided by both {self.describe(owners[name])} and"
                        f" {self.describe(plugin_name)}; disable one with FLOWBUILDER_DISABLE_PLUGINS"
                    )
                found[name] = item
                owners[name] = plugin_name
        self._cache[hook_name] = found
        self._cache[f"{hook_name}:owners"] = owners
        return found

    def _recall_named(self, hook_name: str, key: str) -> dict[str, Any]:
        """The hook's classes called afresh, when a remembered class could not be found again."""
        self._cache.pop(hook_name, None)
        self._cache["manifest"] = None  # for the rest of this process: the hooks answer
        what = next(what for name, _, what in _NAMED_KINDS.values() if name == hook_name)
        return self._call_named(hook_name, key, what)

    def contributions(self) -> dict[str, dict[str, list[str]]]:
        """What each plugin provides, by kind, for ``flowbuilder plugins``.

        The named kinds (``task_types``, ``store_schemes``, ``runners``, ``consensus_engines``, ``trigger_sources``,
        ``message_buses``, ``node_announcers``)
        list the names each plugin returned; hooks that give no names (event sinks, secret
        providers, CLI commands, ...) are listed under ``other`` by what they provide. Event
        sinks are made per run, so only the hook is known here, not the sinks themselves.
        """
        found: dict[str, dict[str, list[str]]] = {info.name: {} for info in self.infos}
        for kind, (hook_name, key, what) in _NAMED_KINDS.items():
            self._named(hook_name, key, what)
            for name, owner in self._cache[f"{hook_name}:owners"].items():
                shown = f"{name}://" if kind in ("store_schemes", "message_buses", "node_announcers") else name
                found.setdefault(owner, {}).setdefault(kind, []).append(shown)
        for info in self.infos:
            other = [_OTHER_HOOKS[hook] for hook in info.hooks if hook in _OTHER_HOOKS]
            if other:
                found[info.name]["other"] = other
        return found

    def task_types(self) -> Mapping[str, TaskType]:
        """Every task type by name, one instance each (built once per host, when first looked up)."""
        cached = self._cache.get("task_type_instances")
        if cached is None:
            classes = self._named("flowbuilder_task_types", "name", "task type")
            cached = self._cache["task_type_instances"] = _TaskTypes(self, classes)
        return cached

    def runner_classes(self) -> Mapping[str, type[Runner]]:
        return self._named("flowbuilder_runners", "name", "runner")

    def make_runner(self, name: str | None = None, **options: Any) -> Runner:
        """Build the runner called ``name`` (or the configured/default one) with every task type.

        ``options`` (for example flowrunner's ``concurrency`` and ``workers``) are passed to
        the runner's ``from_settings``; a runner that takes none of them is refused with a
        :class:`~flowbuilder.errors.ConfigurationError` naming them.
        """
        runners = self.runner_classes()
        if not runners:
            raise NotInstalledError("no runner is installed; install one with `pip install flowbuilder-runner`")
        name = name or self.settings.runner
        if name is None:
            name = "local" if "local" in runners else sorted(runners)[0]
        if name not in runners:
            raise ConfigurationError(f"unknown runner {quoted(name)}; installed: {', '.join(sorted(runners))}")
        task_types = self.task_types()
        try:
            return runners[name].from_settings(task_types, self.settings, **options)
        except FlowBuilderError:
            raise
        except TypeError as error:
            if not options:
                raise self._blame(
                    self._owner("flowbuilder_runners", name), f"to create runner {name!r}", error
                ) from error
            given = ", ".join(sorted(options))
            raise ConfigurationError(f"runner {name!r} does not take the option(s) {given} ({error})") from None
        except Exception as error:
            raise self._blame(self._owner("flowbuilder_runners", name), f"to create runner {name!r}", error) from error

    def attempt_executor_classes(self) -> Mapping[str, type[AttemptExecutor]]:
        return self._named("flowbuilder_attempt_executors", "name", "attempt executor")

    def make_attempt_executor(self, url: str) -> AttemptExecutor:
        """Build the attempt executor that serves ``url`` (``--workers``), chosen by its scheme.

        Called once per run service. An unknown scheme, or one served twice, is a
        :class:`~flowbuilder.errors.ConfigurationError` naming what is installed.
        """
        scheme = _scheme(url)
        serving = [cls for cls in self.attempt_executor_classes().values() if scheme and scheme in cls.url_schemes]
        if len(serving) != 1:
            if serving:
                names = ", ".join(sorted(cls.name for cls in serving))
                raise ConfigurationError(
                    f"workers URL {quoted(shown_url(url))}: scheme {quoted(scheme)} is served by several executors ({names})"
                )
            installed = sorted({f"{s}://" for cls in self.attempt_executor_classes().values() for s in cls.url_schemes})
            advice = {
                "redis": "; `pip install flowbuilder-distributed` provides redis://",
                "rediss": "; `pip install flowbuilder-distributed` provides redis://",
                "dask": "; `pip install 'flowbuilder-distributed[dask]'` provides dask://",
            }.get(scheme or "", "")
            raise ConfigurationError(
                f"workers URL {quoted(shown_url(url))}: unknown scheme {quoted(scheme or '(none)')}"
                f" (installed: {', '.join(installed) or 'none'}){advice}"
            )
        executor_class = serving[0]
        try:
            return executor_class.from_url(url, self.settings)
        except FlowBuilderError:
            raise
        except Exception as error:
            owner = self._owner("flowbuilder_attempt_executors", executor_class.name)
            raise self._blame(owner, f"to connect to workers at {quoted(shown_url(url))}", error) from error

    def store_classes(self) -> Mapping[str, type[Store]]:
        return self._named("flowbuilder_stores", "scheme", "store scheme")

    def default_store_url(self) -> str:
        """The configured store URL, else the default of the highest-priority installed store.

        A URL from flowbuilder.toml is resolved against that file's folder by its store's
        :meth:`~flowbuilder.interfaces.Store.resolve_url` (a relative ``rocksdb://`` path is
        the file's neighbour, whatever the current directory).
        """
        if self.settings.store:
            base = self.settings.store_base
            store_class = self.store_classes().get(_scheme(self.settings.store)) if base is not None else None
            if base is None or store_class is None:  # an unknown scheme: open_store names it
                return self.settings.store
            return store_class.resolve_url(self.settings.store, base)
        stores = self.store_classes()
        best_scheme = max(stores, key=lambda scheme: declared(stores, scheme, "default_priority"), default=None)
        if best_scheme is None:
            raise NotInstalledError("no store is installed; reinstall flowbuilder-core")
        best = stores[best_scheme]
        return best.default_url or f"{best.scheme}://"

    def open_store(self, url: str | None = None, *, create: bool = True) -> Store:
        """Open the store at ``url`` (or the configured/default one), chosen by its scheme.

        With ``create=False`` (commands that only read) a store that is not there is not
        created: :class:`~flowbuilder.errors.NoStoreError` is raised instead, as the
        store's :meth:`~flowbuilder.interfaces.Store.exists` decides.
        """
        url = url or self.default_store_url()
        scheme = _scheme(url)
        stores = self.store_classes()
        if scheme not in stores:
            installed = ", ".join(f"{s}://" for s in sorted(stores)) or "none"
            advice = f"; `pip install {PROVIDERS[scheme]}` provides it" if scheme in PROVIDERS else ""
            raise ConfigurationError(
                f"store URL {quoted(shown_url(url))}: unknown scheme {quoted(scheme or '(none)')} (installed: {installed}){advice}"
            )
        try:
            if not create and not stores[scheme].exists(url):
                raise NoStoreError(url)
            return stores[scheme].open(url)
        except FlowBuilderError:
            raise
        except Exception as error:
            owner = self._owner("flowbuilder_stores", scheme)
            raise self._blame(owner, f"to open store {quoted(shown_url(url))}", error) from error

    def consensus_engine_classes(self) -> Mapping[str, type[ConsensusEngine]]:
        return self._named("flowbuilder_consensus_engines", "name", "consensus engine")

    def trigger_source_classes(self) -> Mapping[str, type[TriggerSource]]:
        """Trigger sources by ``type`` name (``flowbuilder_trigger_sources``; issue 11.2)."""
        return self._named("flowbuilder_trigger_sources", "name", "trigger source")

    def message_bus_classes(self) -> Mapping[str, type[MessageBus]]:
        """Message buses by URL scheme (``flowbuilder_message_buses``; issue 12.4)."""
        return self._named("flowbuilder_message_buses", "scheme", "message bus scheme")

    def open_message_bus(self, url: str | None = None, node_id: str | None = None) -> MessageBus:
        """The message bus at ``url`` (else ``[bus] url``, else ``local://``) as node ``node_id``.

        ``node_id`` defaults to ``[bus] node`` (``FLOWBUILDER_BUS__NODE``), else
        ``HOSTNAME-PID``. An unknown scheme is a :class:`~flowbuilder.errors.ConfigurationError`
        naming the installed ones (and the package that provides it, when known).
        """
        section = self.settings.section("bus")
        url = url or str(section.get("url") or DEFAULT_BUS_URL)
        if node_id is None:
            import os
            import socket

            node_id = str(section.get("node") or f"{socket.gethostname()}-{os.getpid()}")
        scheme = _scheme(url)
        buses = self.message_bus_classes()
        if scheme not in buses:
            installed = ", ".join(f"{s}://" for s in sorted(buses)) or "none"
            advice = "; `pip install flowbuilder-distributed` provides it" if scheme == "redis" else ""
            raise ConfigurationError(
                f"bus URL {quoted(shown_url(url))}: unknown scheme {quoted(scheme or '(none)')} (installed: {installed}){advice}"
            )
        try:
            return buses[scheme].open(url, node_id)
        except FlowBuilderError:
            raise
        except Exception as error:
            owner = self._owner("flowbuilder_message_buses", scheme)
            raise self._blame(owner, f"to open message bus {quoted(shown_url(url))}", error) from error

    def node_announcer_classes(self) -> Mapping[str, type[NodeAnnouncer]]:
        """Node announcers by URL scheme (``flowbuilder_node_announcers``)."""
        return self._named("flowbuilder_node_announcers", "scheme", "node announcer scheme")

    def registry_url(self, url: str | None = None) -> str:
        """``url``, else ``[registry] url`` (``FLOWBUILDER_REGISTRY__URL``), else ``noop://``."""
        return url or str(self.settings.section("registry").get("url") or DEFAULT_REGISTRY_URL)

    def open_node_announcer(self, url: str | None = None, *, dead_after: float | None = None,
                            bus: MessageBus | None = None) -> NodeAnnouncer:  # fmt: skip
        """The announcer of the node registry at ``url`` (see :meth:`registry_url`), chosen by its scheme.

        ``bus`` (the cluster's message bus, when one is configured) is handed to the
        announcer, which publishes joins and leaves on it. An unknown scheme is a
        :class:`~flowbuilder.errors.ConfigurationError` naming the installed ones (and the
        package that provides it, when known), exactly as for message buses.
        """
        url = self.registry_url(url)
        scheme = _scheme(url)
        announcers = self.node_announcer_classes()
        if scheme not in announcers:
            installed = ", ".join(f"{s}://" for s in sorted(announcers)) or "none"
            advice = "; `pip install flowbuilder-distributed` provides it" if scheme in ("redis", "rediss") else ""
            raise ConfigurationError(
                f"registry URL {shown_url(url)!r}: unknown scheme {scheme or '(none)'!r} (installed: {installed}){advice}"
            )
        try:
            return announcers[scheme].open(url, dead_after=dead_after, bus=bus)
        except FlowBuilderError:
            raise
        except Exception as error:
            owner = self._owner("flowbuilder_node_announcers", scheme)
            raise self._blame(owner, f"to open the node registry {shown_url(url)!r}", error) from error

    def _each_plugins_list(self, hook: str) -> Iterator[tuple[str, list[Any]]]:
        """Each plugin's answer to ``hook`` (whose one argument is ``settings``), called plugin by
        plugin in pluggy's order: a hook that raises, or answers something other than a list, ends
        the command with one line naming the plugin instead of an internal error."""
        arguments = {"settings": self.settings}
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            try:
                found = self._listed(
                    impl.plugin_name, hook, impl.function(*(arguments[name] for name in impl.argnames))
                )
            except FlowBuilderError:
                raise
            except (Exception, SystemExit) as error:
                raise self._blame(impl.plugin_name, f"in {hook}", error) from error
            self._trace(f"{hook} of {impl.plugin_name!r} -> {len(found)} item(s)")
            yield impl.plugin_name, found

    def compile_passes(self) -> Sequence[CompilePass]:
        """Every plugin's compile passes, in the order pluggy calls the hook (asked once per host).

        Each plugin's hook is called on its own and each pass is wrapped (:class:`_PluginPass`),
        so that a hook or a pass that raises, or answers something else than the spec says, ends
        the command with one line naming the plugin instead of an internal error.
        """
        cached = self._cache.get("compile_passes")
        if cached is None:
            passes: list[CompilePass] = []
            for plugin_name, found in self._each_plugins_list("flowbuilder_compile_passes"):
                for compile_pass in found:
                    if not callable(compile_pass):
                        raise PluginError(f"{self.describe(plugin_name)} returned {_shown(compile_pass)} from"
                                          " flowbuilder_compile_passes, which is not a callable")  # fmt: skip
                    passes.append(_PluginPass(self, plugin_name, compile_pass))
            cached = self._cache["compile_passes"] = passes
        return cached

    def event_sinks(
        self, run_id: str, store: Store | None = None, *, plan: ExecutionPlan | None = None
    ) -> list[EventSink]:
        """The sinks of one run (called once per run, never per event); ``store``, ``plan``: the run's.

        Each plugin's hook is called on its own, in pluggy's order, so one that raises is
        named in a warning on stderr and only its sinks are missing: a sink never fails a run.
        """
        arguments: dict[str, Any] = {"settings": self.settings, "run_id": run_id, "store": store, "host": self,
                                     "plan": plan}  # fmt: skip
        sinks: list[EventSink] = []
        for impl in reversed(self.manager.hook.flowbuilder_event_sinks.get_hookimpls()):
            try:
                result: Any = impl.function(*(arguments[name] for name in impl.argnames))
                found = self._listed(impl.plugin_name, "flowbuilder_event_sinks", result)
            except PluginError as error:  # it answered something that is not a list
                print(f"warning: {error}; its sinks are left out of run {run_id}", file=sys.stderr)
                continue
            except (Exception, SystemExit) as error:
                print(f"warning: {self.describe(impl.plugin_name)} failed in flowbuilder_event_sinks;"
                      f" its sinks are left out of run {run_id}: {_reason(error)}", file=sys.stderr)  # fmt: skip
                continue
            self._trace(f"flowbuilder_event_sinks of {impl.plugin_name!r} -> {len(found)} item(s)")
            sinks.extend(found)
        return sinks

    def secret_providers(self) -> list[SecretProvider]:
        """The providers of one run's secrets, in the order they are asked (see the hook spec)."""
        from flowbuilder.secret_providers import DirectorySecrets, EnvironmentSecrets

        found: list[SecretProvider] = []
        for _, provided in self._each_plugins_list("flowbuilder_secret_providers"):  # raising: no secrets, no run
            found.extend(provided)
        core = [p for kind in (EnvironmentSecrets, DirectorySecrets) for p in found if type(p) is kind]
        return core + sorted((p for p in found if p not in core), key=lambda p: str(p.name))

    def add_cli_commands(self, cli: click.Group) -> dict[str, str]:
        """Add every plugin's commands to ``cli``; returns which plugin added each (name -> plugin).

        Each plugin's hook is given a group of its own, so that a command name two plugins
        add, or one already in ``cli``, is a :class:`PluginError` naming the plugins (click
        would silently keep the last), and a hook that raises is one line naming its plugin.
        """
        import click

        owners: dict[str, str] = {}
        for impl in reversed(self.manager.hook.flowbuilder_cli_commands.get_hookimpls()):
            group = click.Group()
            try:
                impl.function(*(group for _ in impl.argnames))
            except FlowBuilderError:
                raise
            except (Exception, SystemExit) as error:
                raise self._blame(impl.plugin_name, "in flowbuilder_cli_commands", error) from error
            self._trace(f"flowbuilder_cli_commands of {impl.plugin_name!r} -> {len(group.commands)} command(s)")
            for name, command in group.commands.items():
                if name in cli.commands:
                    first = f"{self.describe(owners[name])} and " if name in owners else "another command and "
                    raise PluginError(f"the command {name!r} is added by both {first}{self.describe(impl.plugin_name)};"
                                      " disable one with FLOWBUILDER_DISABLE_PLUGINS")  # fmt: skip
                cli.add_command(command, name)
                owners[name] = impl.plugin_name
        return owners

    def api_routes(self) -> list[Any]:
        return [route for result in self.manager.hook.flowbuilder_api_routes() for route in result or ()]


class _PluginPass:
    """A plugin's compile pass, as the compiler calls it: an exception other than a
    :class:`FlowBuilderError` (a ``WorkflowError`` rejects the workflow, as the spec says) or
    an answer that is neither None nor a mapping is a :class:`PluginError` naming the plugin."""

    __slots__ = ("_host", "_plugin_name", "function")

    def __init__(self, host: PluginHost, plugin_name: str, function: Any):
        self._host = host
        self._plugin_name = plugin_name
        self.function = function

    def __call__(self, plan: ExecutionPlan) -> Mapping[str, Any] | None:
        name = getattr(self.function, "__qualname__", None) or type(self.function).__name__
        try:
            added = self.function(plan)
        except FlowBuilderError:
            raise
        except (Exception, SystemExit) as error:
            raise self._host._blame(self._plugin_name, f"in its compile pass {name}", error) from error
        if added is not None and not isinstance(added, Mapping):
            raise PluginError(f"{self._host.describe(self._plugin_name)}: its compile pass {name} returned"
                              f" {_shown(added)}, not a mapping (merged into plan.metadata) or None")  # fmt: skip
        return added


class _LazyNamed(Mapping[str, Any]):
    """A named hook's name -> class map from the manifest: a class is imported when it is looked up.

    Iterating, ``len`` and ``in`` import nothing; ``values()`` and ``items()`` import every
    class, as calling the hooks did. A class that cannot be found again (its module changed
    in this process's lifetime, say) makes the host call the hook afresh.
    """

    def __init__(self, host: PluginHost, hook_name: str, key: str, items: dict[str, ProvidedItem]):
        self._host = host
        self._hook_name = hook_name
        self._key = key
        self._items = items
        self._loaded: dict[str, Any] = {}
        self._called: Mapping[str, Any] | None = None

    def __getitem__(self, name: str) -> Any:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        if self._called is not None:
            return self._called[name]
        item = self._items[name]
        try:
            loaded = self._loaded[name] = item.load(self._key)
        except LookupError:
            self._called = self._host._recall_named(self._hook_name, self._key)
            return self._called[name]
        except Exception as error:  # the import failed: blamed on the plugin, as a failing hook is
            raise self._host._blame(item.owner, f"in {self._hook_name}", error) from error
        return loaded

    def _names(self) -> Mapping[str, Any]:
        return self._items if self._called is None else self._called

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def declared(self, name: str, attribute: str) -> Any:
        """A class attribute of :data:`~flowbuilder._plugin_manifest.DECLARED`, without importing the class."""
        if self._called is not None:
            return getattr(self._called[name], attribute)
        declared = self._items[name].declared
        return declared[attribute] if attribute in declared else getattr(self[name], attribute)


class _TaskTypes(Mapping[str, "TaskType"]):
    """Task type instances by name, each built (``from_settings``) when first looked up."""

    def __init__(self, host: PluginHost, classes: Mapping[str, Any]):
        self._host = host
        self._classes = classes
        self._instances: dict[str, TaskType] = {}

    def __getitem__(self, name: str) -> TaskType:
        instance = self._instances.get(name)
        if instance is None:
            cls = self._classes[name]
            try:
                instance = cls.from_settings(self._host.settings)
            except FlowBuilderError:
                raise
            except Exception as error:
                owner = self._host._owner("flowbuilder_task_types", name)
                raise self._host._blame(owner, f"to create task type {name!r}", error) from error
            _check_task_type(self._host, name, instance)
            self._instances[name] = instance
        return instance

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def declared(self, name: str, attribute: str) -> Any:
        """A class attribute of the task type ``name``, without importing it when the manifest has it."""
        return declared(self._classes, name, attribute)


def _check_task_type(host: PluginHost, name: str, instance: Any) -> None:
    """Refuse, naming its plugin, a task type whose ``from_settings`` built no ``TaskType`` or
    whose ``config_model`` is not a pydantic model.

    The compiler validates every task's config with the model; anything else (None, ``dict``, a
    dataclass) would be an internal error there, at each workflow using the type.
    """
    from pydantic import BaseModel

    from flowbuilder.interfaces import TaskType

    owner = host._owner("flowbuilder_task_types", name)
    if not isinstance(instance, TaskType):
        raise PluginError(f"{host.describe(owner)}: task type {name!r}: from_settings returned {_shown(instance)},"
                          " not an instance of a TaskType subclass")  # fmt: skip
    model = instance.config_model
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(f"{host.describe(owner)}: task type {name!r} has config_model {_shown(model)},"
                          " not a pydantic model (a subclass of pydantic.BaseModel)")  # fmt: skip


def declared(mapping: Mapping[str, Any], name: str, attribute: str) -> Any:
    """``getattr(mapping[name], attribute)``, for a class attribute; from the plugin manifest when it
    has it (:data:`~flowbuilder._plugin_manifest.DECLARED`), so that choosing imports nothing."""
    lookup = getattr(mapping, "declared", None)
    if isinstance(mapping, (_LazyNamed, _TaskTypes)) and lookup is not None:
        return lookup(name, attribute)
    return getattr(mapping[name], attribute)


def discover_entry_points() -> Iterable[Any]:
    """The installed entry points of the ``flowbuilder.plugins`` group (cached between
    processes while nothing is installed or removed: :mod:`flowbuilder._entry_point_cache`)."""
    from flowbuilder._entry_point_cache import cached_entry_points

    return cached_entry_points(ENTRY_POINT_GROUP)


def build_plugin_host(settings: Settings | None = None, *, entry_points: Iterable[Any] | None = None) -> PluginHost:
    """Load the plugins the settings allow and return a host for them.

    ``settings.load_plugins`` (``FLOWBUILDER_LOAD_PLUGINS``) restricts loading to the named
    entry points; ``settings.disable_plugins`` (``FLOWBUILDER_DISABLE_PLUGINS``) skips some;
    ``settings.trace_plugins`` prints every hook call to stderr. ``settings.plugin_modules``
    (``FLOWBUILDER_PLUGIN_MODULES``) are then registered by import path, named after the
    module. A plugin that fails to import or register is recorded in :attr:`PluginHost.failures`.
    """
    if settings is None:
        from flowbuilder.config import load_settings

        settings = load_settings()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if settings.trace_plugins:
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    host = PluginHost(manager=manager, settings=settings, use_manifest=True)
    disabled = set(settings.disable_plugins)
    allowed = None if settings.load_plugins is None else set(settings.load_plugins)
    seen: set[str] = set()
    loaded_from: dict[str, tuple[str | None, str | None]] = {}  # entry point name -> (distribution, version)
    for entry_point in entry_points if entry_points is not None else discover_entry_points():
        name = entry_point.name
        if name in disabled or (allowed is not None and name not in allowed):
            continue
        dist = getattr(entry_point, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        dist_version = dist.version if dist is not None else None
        if name in seen:  # the same distribution seen twice on sys.path loads once; another one is reported
            first_name, first_version = loaded_from[name]
            if dist_name is not None and first_name is not None and dist_name != first_name:
                host.failures.append(PluginFailure(name, dist_name, dist_version,
                                                   f"the plugin name {name!r} is taken by {first_name} {first_version},"
                                                   " loaded first; two distributions cannot share an entry point name"
                                                   " (uninstall one)"))  # fmt: skip
            continue
        seen.add(name)
        loaded_from[name] = (dist_name, dist_version)
        try:
            plugin = entry_point.load()
            host.register(plugin, name=name, distribution=dist_name, version=dist_version, check_hooks=False)
        except (Exception, SystemExit) as error:  # a broken plugin, even one calling sys.exit, spares the others
            host.failures.append(PluginFailure(name, dist_name, dist_version, _reason(error)))
    for module_name in settings.plugin_modules:
        if module_name in disabled or module_name in seen:
            continue
        seen.add(module_name)
        try:
            host.register(import_module(module_name), name=module_name, check_hooks=False)
        except (Exception, SystemExit) as error:  # same rule as entry points: report, keep the rest
            host.failures.append(PluginFailure(module_name, None, None, _reason(error)))
    host.check_unknown_hooks()  # only now: a hook's spec may come from a plugin loaded later
    return host


def _scheme(url: str) -> str:
    """The scheme of a store URL (``""`` when it has none).

    Read even from a URL ``urlsplit`` refuses (``redis://[::1``: "Invalid IPv6 URL"), so the
    class that URL names reports what is wrong with it in one line, instead of exit 70 here.
    """
    if "://" not in url:
        return ""
    try:
        return urlsplit(url).scheme
    except ValueError:
        return url.split("://", 1)[0].lower()


def _shown(value: Any) -> str:
    """A value a plugin returned, on one short line, for an error message."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else f"{text[:77]}..."


def _reason(error: BaseException) -> str:
    """``Type: message`` on one line (a multi-line message would break the CLI's one-line rule), cut
    to 500 characters (an ``OSError`` may repeat a 100 KB path the user gave)."""
    return cut(" ".join(f"{type(error).__name__}: {error}".split()).rstrip(":"), 500)


def load_module_plugin(host: PluginHost, module_name: str) -> None:
    """Register a plugin module by import path (for embedding and tests)."""
    host.register(import_module(module_name), name=module_name)


__all__ = [
    "DEFAULT_BUS_URL",
    "ENTRY_POINT_GROUP",
    "PROVIDERS",
    "PluginFailure",
    "PluginHost",
    "PluginInfo",
    "build_plugin_host",
    "declared",
    "discover_entry_points",
    "load_module_plugin",
]
