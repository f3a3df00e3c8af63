"""Hook specifications: the whole contract between FlowBuilder's core and its plugins.

A plugin is a module (or object) registered under the entry point group
``flowbuilder.plugins`` that implements some of these hooks with ``@flowbuilder.hookimpl``.
Hooks are for discovery and wiring only: they are called at start-up or once per run,
never once per task. What they return (classes, factories, sinks) the engine then calls
directly, so pluggy is never on the hot path.

Every hook returns a list (possibly empty) unless its docstring says otherwise; the plugin
manager concatenates the lists of all plugins and rejects duplicate names.

A hook lives here only while something in core or a shipped package calls it. A package
that calls a hook of its own (the UI's API routes) declares its spec through
:func:`flowbuilder_addhooks`, as pytest plugins do with ``pytest_addhooks``; the hook that
was declared here before its package existed (:func:`flowbuilder_api_routes`) is deprecated
and warns when implemented. :func:`flowbuilder_consensus_engines` was deprecated the same
way until ``flowbuilder scheduler`` (core) began to ask for engines; it is a live hook again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from flowbuilder.added_hooks import HookSpecRegistry
    from flowbuilder.compiler import CompilePass
    from flowbuilder.config import Settings
    from flowbuilder.interfaces import AttemptExecutor, ConsensusEngine, EventSink, Runner, Store, TaskType
    from flowbuilder.interfaces.message_bus import MessageBus
    from flowbuilder.interfaces.node_announcer import NodeAnnouncer
    from flowbuilder.interfaces.secrets import SecretProvider
    from flowbuilder.interfaces.trigger_source import TriggerSource
    from flowbuilder.plan import ExecutionPlan
    from flowbuilder.plugins import PluginHost

PROJECT_NAME = "flowbuilder"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

API_ROUTES_DEPRECATED = DeprecationWarning(
    "flowbuilder_api_routes is deprecated since flowbuilder-core 0.2 and leaves core in 0.3: nothing calls it;"
    " the UI package (flowbuilder-ui) will declare its own route hook through flowbuilder_addhooks"
    " (see docs/plugins.md, 'Deprecated hooks')"
)
"""The warning a plugin implementing :func:`flowbuilder_api_routes` gets when it is registered."""

DEPRECATED_HOOKS = {
    "flowbuilder_api_routes": API_ROUTES_DEPRECATED,
}
"""Hooks that still work but warn when implemented, by name (``flowbuilder plugins`` flags them)."""


# ---------------------------------------------------------------------------------------
# Registration: called once per plugin, as it is registered.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_addhooks(specs: HookSpecRegistry) -> None:
    """Declare the hook specs this plugin's package owns, so that other plugins implement them.

    Called once per plugin that implements it, right after that plugin is registered (the
    plugin's other hooks are not called before). Call ``specs.add_hookspecs(module_or_class)``
    with a namespace whose functions are marked ``@flowbuilder.hookspec``; each name must
    start with ``flowbuilder_`` and must not be declared already. A plugin implementing
    one of these hooks may load before or after the declaring plugin: either way its
    implementation is checked against the spec (an argument the spec lacks is a load
    failure naming it) and called. Outside the declaring package, implement such a hook
    with ``@hookimpl(optionalhook=True)`` when the package may be absent. The declaring
    package calls its hook itself (``host.manager.hook.flowbuilder_NAME(...)``) through a
    typed wrapper of its own. Returns nothing.

    Example::

        from my_ui import hookspecs as ui_hookspecs

        @hookimpl
        def flowbuilder_addhooks(specs):
            specs.add_hookspecs(ui_hookspecs)   # declares flowbuilder_ui_panels, ...
    """


# ---------------------------------------------------------------------------------------
# Start-up: what the plugin adds. Called once per process, when first needed.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_task_types() -> list[type[TaskType]]:
    """Task types this plugin adds to the DSL.

    Called once per process, the first time a workflow is validated. Return
    :class:`~flowbuilder.interfaces.TaskType` subclasses; each ``name`` becomes a value of a
    task's ``type:``. The host builds one instance of each with
    ``TaskType.from_settings(settings)``. Two plugins returning the same name is an error
    naming both. All plugins' results are combined.

    Example::

        @hookimpl
        def flowbuilder_task_types():
            return [SlackMessage]
    """


@hookspec
def flowbuilder_runners() -> list[type[Runner]]:
    """Runners this plugin provides.

    Called once per process, when a run is about to start. Return
    :class:`~flowbuilder.interfaces.Runner` subclasses keyed by their ``name``;
    ``--runner NAME`` (or ``runner =`` in ``flowbuilder.toml``) picks one, and the default
    is ``local`` when installed, else the only one installed. All results are combined.
    """


@hookspec
def flowbuilder_stores() -> list[type[Store]]:
    """Stores this plugin provides, one per URL scheme.

    Called once per process, when a store URL is first opened. Return
    :class:`~flowbuilder.interfaces.Store` subclasses; ``scheme`` (``rocksdb``, ``redis``,
    ``memory``) is matched against the URL given with ``--store``. Each class's
    ``default_priority`` (declared on ``Store``, default 0; higher wins) decides which installed store
    is the default when no URL is configured. All results are combined.
    """


@hookspec
def flowbuilder_attempt_executors() -> list[type[AttemptExecutor]]:
    """Attempt executors this plugin provides, chosen by the scheme of a ``--workers`` URL.

    Called once per process, the first time a run service is given a workers URL
    (``flowbuilder run/resume/retry/scheduler --workers URL``, ``workers =`` in
    flowbuilder.toml, ``FLOWBUILDER_WORKERS``, ``RunService(workers=URL)``). Return
    :class:`~flowbuilder.interfaces.AttemptExecutor` subclasses keyed by their ``name``; each
    declares the URL schemes it serves (``url_schemes``), the execution modes it takes
    (``modes``) and builds itself with ``from_url(url, settings)``, once per run service.
    The runner then hands it the attempts of those modes directly: pluggy is not on the
    per-attempt path. All results are combined; a name given twice is a plugin error, and a
    URL whose scheme two installed classes serve is refused when used. Each class must pass
    ``flowbuilder_contracts.AttemptExecutorContract``.

    Example::

        @hookimpl
        def flowbuilder_attempt_executors():
            return [RedisStreamsExecutor]   # url_schemes = ("redis",)
    """


# ---------------------------------------------------------------------------------------
# Compilation: called once per compiled workflow.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_compile_passes(settings: Settings) -> list[CompilePass]:
    """Extra checks or annotations run on every compiled plan.

    Called once per process, with the resolved settings (name ``settings`` only if the
    plugin reads its configuration: a pass that is switched off returns ``[]``). Return callables ``pass_(plan) -> Mapping | None``, each
    called once per compiled workflow after core's own checks, in plugin registration
    order. A pass may raise :class:`~flowbuilder.errors.WorkflowError` to reject the
    workflow (its diagnostics are shown like core's) or return a mapping that is merged
    into ``plan.metadata``. All results are combined.
    """


# ---------------------------------------------------------------------------------------
# Runs: called once per run.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_event_sinks(
    settings: Settings, run_id: str, store: Store | None, host: PluginHost, plan: ExecutionPlan | None
) -> list[EventSink]:
    """Sinks that receive the events of one run.

    Called once at the start of each run with the resolved settings (``settings.section(name)``
    holds the plugin's own ``[name]`` table of ``flowbuilder.toml``), the run's id and the
    store the run is recorded in (None where the caller has none), for sinks that read
    history or add annotations to the same store, the plugin host (to call hooks the
    plugin declared itself, e.g. an alert hook) and the run's compiled ``plan`` (None where the
    caller has none). An implementation names only the parameters it uses: pluggy passes those.
    Return :class:`~flowbuilder.interfaces.EventSink` instances, or an empty list when the
    plugin is not configured for this run (sinks must be free when off). All results are
    combined; the runner delivers events to each in batches.
    """


@hookspec
def flowbuilder_secret_providers(settings: Settings) -> list[SecretProvider]:
    """Where the values of ``${{ secrets.NAME }}`` come from.

    Called once per run that uses a secret, before any task starts, with the resolved
    settings (a plugin reads its own ``[name]`` table). Return
    :class:`~flowbuilder.interfaces.secrets.SecretProvider` instances, or an empty list
    when not configured. All results are combined; the engine asks core's providers
    (``environment``, then ``files``) first, then the others in order of their ``name``, and
    the first that knows a secret answers. Values are masked in everything stored or shown.

    Example::

        @hookimpl
        def flowbuilder_secret_providers(settings):
            section = settings.section("vault")
            return [VaultSecrets(section["url"])] if section.get("url") else []
    """


# ---------------------------------------------------------------------------------------
# Interfaces: called once when the CLI is built.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``flowbuilder`` CLI.

    Called once when the CLI needs plugin commands (``--help`` or a command core does not
    know), with the root ``click.Group``. Add with ``cli.add_command(...)``; a name that
    already exists is an error. Import heavy modules inside the command, not at module
    level, so ``flowbuilder --help`` stays fast. Returns nothing.
    """


# ---------------------------------------------------------------------------------------
# Triggers (issue 11.2): called once per process that loads a workflow with `on: {source}`.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_trigger_sources() -> list[type[TriggerSource]]:
    """Trigger sources this plugin adds: what ``on: {source: {type: NAME, config: ...}}`` may name.

    Called once per process, the first time a workflow with an ``on.source`` is loaded
    (:meth:`~flowbuilder.plugins.PluginHost.trigger_source_classes`): to check the ``type``
    and the ``config`` (with the class's ``config_model``) at load time, and by the active
    ``flowbuilder scheduler`` to watch. Returns
    :class:`~flowbuilder.interfaces.TriggerSource` subclasses keyed by their ``name``; all
    results are combined and a name given twice is a plugin error. Core returns ``file``
    (:mod:`flowbuilder.file_trigger`). Each class must pass
    ``flowbuilder_contracts.trigger_source.TriggerSourceContract``.

    Example::

        @hookimpl
        def flowbuilder_trigger_sources():
            return [KafkaTopic]
    """


# ---------------------------------------------------------------------------------------
# Messaging (issue 12.4): called once per process that opens a message bus.
# ---------------------------------------------------------------------------------------


@hookspec
def flowbuilder_message_buses() -> list[type[MessageBus]]:
    """Message buses this plugin provides, one per URL scheme (``local``, ``redis``, ...).

    Called once per process, the first time a bus is opened
    (:meth:`~flowbuilder.plugins.PluginHost.open_message_bus`: the ``flowbuilder cluster
    send|publish|listen|request`` commands, and any node or plugin that talks to others).
    Returns :class:`~flowbuilder.interfaces.message_bus.MessageBus` subclasses keyed by
    their ``scheme``; the URL (``--bus``, ``[bus] url`` in ``flowbuilder.toml`` or
    ``FLOWBUILDER_BUS__URL``; default ``local://``) picks one, and the host builds it with
    ``cls.open(url, node_id)``. All results are combined; a scheme given twice is a plugin
    error. Core returns ``local`` (:mod:`flowbuilder.local_bus`, one process);
    flowbuilder-distributed returns ``redis``. Each class must pass
    ``flowbuilder_contracts.message_bus.MessageBusContract``.

    Example::

        @hookimpl
        def flowbuilder_message_buses():
            from my_nats.bus import NatsBus  # scheme = "nats"

            return [NatsBus]
    """


@hookspec
def flowbuilder_node_announcers() -> list[type[NodeAnnouncer]]:
    """Node announcers this plugin provides, one per URL scheme (``noop``, ``redis``, ...).

    Called once per process, the first time an announcer is opened
    (:meth:`~flowbuilder.plugins.PluginHost.open_node_announcer`: ``flowbuilder scheduler``
    announces itself in the cluster's registry). Returns
    :class:`~flowbuilder.interfaces.node_announcer.NodeAnnouncer` subclasses keyed by their
    ``scheme``; the URL (``scheduler --registry``, ``[registry] url`` in ``flowbuilder.toml``
    or ``FLOWBUILDER_REGISTRY__URL``; default ``noop://``) picks one, and the host builds it
    with ``cls.open(url, dead_after=..., bus=...)``. All results are combined; a scheme given
    twice is a plugin error. Core returns ``noop`` (:mod:`flowbuilder.noop_announcer`, a
    single node); flowbuilder-distributed returns ``redis`` (its node registry). Each class
    must pass ``flowbuilder_contracts.node_announcer.NodeAnnouncerContract``.

    Example::

        @hookimpl
        def flowbuilder_node_announcers():
            from my_consul.announcer import ConsulAnnouncer  # scheme = "consul"

            return [ConsulAnnouncer]
    """


# ---------------------------------------------------------------------------------------
# Deprecated: hooks without a consumer; they warn when implemented and leave core in 0.3.
# ---------------------------------------------------------------------------------------


@hookspec(warn_on_impl=API_ROUTES_DEPRECATED)
def flowbuilder_api_routes() -> list[Any]:
    """Deprecated: routes the API server mounts beside its own.

    Nothing in core or a shipped package calls it; the UI package (``flowbuilder-ui``) will
    declare its route hook through :func:`flowbuilder_addhooks`, typed for its web
    framework. Implementing it warns (:data:`API_ROUTES_DEPRECATED`) but still works until
    core 0.3: :meth:`~flowbuilder.plugins.PluginHost.api_routes` collects the route objects,
    uninterpreted. All results are combined.
    """


@hookspec
def flowbuilder_consensus_engines() -> list[type[ConsensusEngine]]:
    """Consensus engines this plugin provides (``store``, ``noop``, ``raft``, ...).

    Called once per process, the first time something asks
    (:meth:`~flowbuilder.plugins.PluginHost.consensus_engine_classes`): ``flowbuilder
    scheduler`` does, to build the engine named by ``--consensus`` (default ``store``) with
    :meth:`ConsensusEngine.for_store <flowbuilder.interfaces.ConsensusEngine.for_store>`.
    Returns :class:`~flowbuilder.interfaces.ConsensusEngine` subclasses keyed by their
    ``name``; all results are combined and a name given twice is a plugin error. Core
    returns ``store`` and ``noop`` (:mod:`flowbuilder.consensus`).
    """


__all__ = [
    "API_ROUTES_DEPRECATED",
    "DEPRECATED_HOOKS",
    "PROJECT_NAME",
    "flowbuilder_addhooks",
    "flowbuilder_api_routes",
    "flowbuilder_attempt_executors",
    "flowbuilder_cli_commands",
    "flowbuilder_compile_passes",
    "flowbuilder_consensus_engines",
    "flowbuilder_event_sinks",
    "flowbuilder_message_buses",
    "flowbuilder_node_announcers",
    "flowbuilder_runners",
    "flowbuilder_secret_providers",
    "flowbuilder_stores",
    "flowbuilder_task_types",
    "flowbuilder_trigger_sources",
    "hookimpl",
    "hookspec",
]
