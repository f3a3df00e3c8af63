"""Hook specs that plugins add: how a package owns the hooks it calls.

Core declares only the hooks that core (or every runner or store) calls. A package that
calls a hook of its own — the UI's panels or routes, the cluster's consensus engines —
declares its spec by implementing :func:`~flowbuilder.hookspecs.flowbuilder_addhooks`,
which receives a :class:`HookSpecRegistry`::

    # my_ui/hookspecs.py
    from flowbuilder import hookspec

    @hookspec
    def flowbuilder_ui_panels() -> list[type[Panel]]:
        \"\"\"Panels the UI shows beside its own (called once when the server starts).\"\"\"

    # my_ui/plugin.py
    @hookimpl
    def flowbuilder_addhooks(specs):
        from my_ui import hookspecs
        specs.add_hookspecs(hookspecs)

Another plugin then implements ``flowbuilder_ui_panels`` like any core hook. Plugins load
in entry point order, so an implementation may be registered before its spec: the host
checks it when the spec arrives, and a plugin whose hook is still unknown once every plugin
has loaded fails to load with a one-line reason (unless marked ``optionalhook=True``).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import pluggy

HOOK_PREFIX = "flowbuilder_"


class HookSpecRegistry:
    """What ``flowbuilder_addhooks`` receives: the one way for a plugin to declare hook specs.

    A thin, typed door onto the plugin manager: it accepts only ``flowbuilder_``-named
    specs that nobody declared yet, and remembers which plugin declared which, so that
    ``flowbuilder plugins`` and error messages can name the owner.
    """

    def __init__(self, manager: pluggy.PluginManager, plugin_name: str, declared_by: dict[str, str],
                 declare: Callable[[Any, list[str]], None]):  # fmt: skip
        self._manager = manager
        self._plugin_name = plugin_name
        self._declared_by = declared_by
        self._declare = declare  # the host's: checks earlier implementations, then adds the specs

    @property
    def plugin_name(self) -> str:
        """The plugin whose ``flowbuilder_addhooks`` is running."""
        return self._plugin_name

    def add_hookspecs(self, module_or_class: Any) -> list[str]:
        """Declare every ``@flowbuilder.hookspec`` function of ``module_or_class``; return their names.

        Raises :class:`~flowbuilder.errors.PluginError` when the namespace holds no spec, a
        name does not start with ``flowbuilder_``, or a spec of that name exists already.
        Implementations registered before this call are checked by the host (see
        :meth:`~flowbuilder.plugins.PluginHost.register`).
        """
        from flowbuilder.errors import PluginError

        names = spec_names(self._manager, module_or_class)
        if not names:
            raise PluginError(
                f"plugin {self._plugin_name!r} passed {module_or_class!r} to add_hookspecs, which holds no"
                " function marked @flowbuilder.hookspec"
            )
        for name in names:
            if not name.startswith(HOOK_PREFIX):
                raise PluginError(
                    f"plugin {self._plugin_name!r} declares hook {name!r}; hook names start with {HOOK_PREFIX!r}"
                )
            caller = getattr(self._manager.hook, name, None)
            if caller is not None and caller.has_spec():
                owner = self._declared_by.get(name)
                by = f"plugin {owner!r}" if owner else "flowbuilder-core"
                raise PluginError(f"plugin {self._plugin_name!r} declares hook {name!r}, already declared by {by}")
        self._declare(module_or_class, names)
        for name in names:
            self._declared_by[name] = self._plugin_name
        return names


def spec_names(manager: pluggy.PluginManager, module_or_class: Any) -> list[str]:
    """The names of the hook specs ``module_or_class`` declares for ``manager``'s project."""
    return [name for name in dir(module_or_class) if manager.parse_hookspec_opts(module_or_class, name) is not None]


def unexpected_arguments(impl_function: Any, spec_function: Any) -> list[str]:
    """The arguments an implementation asks for that its spec does not pass (pluggy's rule)."""
    accepted = {name for name in inspect.signature(spec_function).parameters if name != "self"}
    wanted = [
        parameter.name
        for parameter in inspect.signature(impl_function).parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and parameter.name != "self"
    ]
    return [name for name in wanted if name not in accepted]


__all__ = ["HOOK_PREFIX", "HookSpecRegistry", "spec_names", "unexpected_arguments"]
