"""Core's own plugin: the ``memory://`` store, the ``environment`` and ``files`` secret providers,
and the ``store`` and ``noop`` consensus engines (what ``flowbuilder scheduler`` elects with),
the ``file`` trigger source (files arriving in a folder start runs), and the ``local://``
message bus (one process's nodes talk through it).

Registered through the ``flowbuilder.plugins`` entry point like any third-party plugin, so
``FLOWBUILDER_DISABLE_PLUGINS=core`` really leaves core without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowbuilder.hookspecs import hookimpl

if TYPE_CHECKING:
    from flowbuilder.config import Settings


@hookimpl
def flowbuilder_stores() -> list[Any]:
    from flowbuilder.stores.memory import MemoryStore

    return [MemoryStore]


@hookimpl
def flowbuilder_secret_providers(settings: Settings) -> list[Any]:
    import os

    from flowbuilder.secret_providers import DirectorySecrets, EnvironmentSecrets

    providers: list[Any] = [EnvironmentSecrets()]
    directory = settings.section("secrets").get("dir") or os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        providers.append(DirectorySecrets(str(directory)))
    return providers


@hookimpl
def flowbuilder_consensus_engines() -> list[Any]:
    from flowbuilder.consensus import NoOpConsensus, StoreLeaseConsensus

    return [StoreLeaseConsensus, NoOpConsensus]


@hookimpl
def flowbuilder_trigger_sources() -> list[Any]:
    from flowbuilder.file_trigger import FileArrival

    return [FileArrival]


@hookimpl
def flowbuilder_message_buses() -> list[Any]:
    from flowbuilder.local_bus import LocalMessageBus

    return [LocalMessageBus]


@hookimpl
def flowbuilder_node_announcers() -> list[Any]:
    from flowbuilder.noop_announcer import NoopNodeAnnouncer

    return [NoopNodeAnnouncer]
