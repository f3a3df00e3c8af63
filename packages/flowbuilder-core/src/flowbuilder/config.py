"""Settings from ``flowbuilder.toml``, ``FLOWBUILDER_*`` environment variables and flags.

Precedence, lowest to highest: built-in defaults, the TOML file, the environment, flags.
The file is ``$FLOWBUILDER_CONFIG`` if set, else the first ``flowbuilder.toml`` found in
the current directory or its parents. Plugins keep their own settings in a table named
after them (``[otel]``), readable with :meth:`Settings.section`; the environment reaches
those as ``FLOWBUILDER_<TABLE>__<KEY>`` (e.g. ``FLOWBUILDER_OTEL__EXPORTER=console``), and
core's ``[limits]`` the same way (``FLOWBUILDER_LIMITS__MAX_BYTES=1048576``).

Plugin switches (``[plugins]`` table, or the environment, which wins):

* ``FLOWBUILDER_LOAD_PLUGINS=core,flowrunner`` (``load = [...]``): load only these entry
  points of the ``flowbuilder.plugins`` group;
* ``FLOWBUILDER_DISABLE_PLUGINS=name,...`` (``disable = [...]``): skip these (entry point
  names or module paths);
* ``FLOWBUILDER_PLUGIN_MODULES=pkg.mod,other`` (``modules = [...]``): also register these
  modules, by import path, as plugins — no installed distribution or entry point needed
  (a plugin under development, a project-local plugin on ``PYTHONPATH``, tests that run the
  CLI in a subprocess). They load after the entry points and are not restricted by
  ``LOAD_PLUGINS``, since they were named explicitly;
* ``FLOWBUILDER_TRACE_PLUGINS=1`` (``trace = true``): print every hook call to stderr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from flowbuilder.errors import ConfigurationError, quoted
from flowbuilder.limits import YamlLimits

CONFIG_FILE_NAME = "flowbuilder.toml"
ENV_PREFIX = "FLOWBUILDER_"
_TOP_LEVEL_KEYS = {"store", "runner", "concurrency", "workers", "plugins", "limits"}


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``load_plugins`` None means "every installed plugin"."""

    store: str | None = None
    runner: str | None = None
    concurrency: int | None = None
    workers: str | None = None
    """Where runs send their attempts: a URL served by a plugin's attempt executor
    (``redis://host:6379/0``, ``workers =`` / ``FLOWBUILDER_WORKERS``); None: run them locally."""
    disable_plugins: tuple[str, ...] = ()
    load_plugins: tuple[str, ...] | None = None
    plugin_modules: tuple[str, ...] = ()
    trace_plugins: bool = False
    limits: YamlLimits = field(default_factory=YamlLimits)
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: Path | None = None
    store_base: Path | None = None
    """The folder a relative path in ``store`` is read from: the folder of the flowbuilder.toml
    that set it; None (the current directory) when ``store`` came from the environment or a flag."""

    def section(self, name: str) -> Mapping[str, Any]:
        """A plugin's own table (``[name]`` in the file, ``FLOWBUILDER_NAME__KEY`` in the environment)."""
        return self.sections.get(name, {})

    def with_overrides(self, **flags: Any) -> Settings:
        """These settings with the flags that were given (None means "not given")."""
        given = {key: value for key, value in flags.items() if value is not None}
        if "store" in given and "store_base" not in given:
            given["store_base"] = None  # a flag's relative path is from the current directory
        return replace(self, **given) if given else self


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where a parent cannot be entered (Python 3.11 raises there)."""
    try:
        return path.is_file()
    except OSError:
        return False


def find_config_file(start: Path | None = None, environ: Mapping[str, str] = os.environ) -> Path | None:
    """``$FLOWBUILDER_CONFIG``, else the nearest ``flowbuilder.toml`` upwards (directories that
    cannot be read are passed over: they cannot hold a configuration of ours)."""
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not _is_file(path):
            raise ConfigurationError(f"FLOWBUILDER_CONFIG points to {explicit!r}, which is not a readable file")
        return path
    try:
        directory = (start or Path.cwd()).resolve()
    except OSError as error:
        raise ConfigurationError(
            f"cannot use the current directory ({error.strerror}); cd into an existing directory"
        ) from None
    for candidate in (directory, *directory.parents):
        path = candidate / CONFIG_FILE_NAME
        if _is_file(path):
            return path
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: {error}; fix the TOML syntax") from None
    except UnicodeDecodeError as error:  # tomllib decodes the whole file first; TOML is UTF-8 only
        raise ConfigurationError(
            f"{path}: byte {error.start + 1} is not UTF-8 text ({error.reason}); save the file as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read ({error.strerror})") from None


def _positive_int(value: Any, where: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where}: {quoted(value)} is not a whole number") from None
    if number < 1:
        raise ConfigurationError(f"{where}: must be at least 1, got {number}")
    return number


def _table(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: `{name}` must be a table ([{name}]), got {type(table).__name__}")
    return table


def _name_list(value: Any, where: str) -> tuple[str, ...]:
    """A list of names from TOML: a list of strings, or one comma-separated string."""
    if isinstance(value, str):
        return _split_names(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise ConfigurationError(f'{where}: expected a list of names like ["core"], got {value!r}')


_LIMIT_NAMES = ("max_bytes", "max_depth", "max_aliases", "max_expanded_nodes")
_LIMITS_PREFIX = ENV_PREFIX + "LIMITS__"


def _limits_from_environment(limits: YamlLimits, environ: Mapping[str, str]) -> YamlLimits:
    """``limits`` with ``FLOWBUILDER_LIMITS__<NAME>`` applied over the file's ``[limits]``.

    Why: the environment reaches every other table as ``FLOWBUILDER_<TABLE>__<KEY>``, but
    limits were read from the file only, so ``FLOWBUILDER_LIMITS__MAX_BYTES`` was silently
    ignored. An empty variable counts as unset (as for ``FLOWBUILDER_CONCURRENCY``); a name
    that is no limit is refused rather than ignored, since a typo would leave the default.
    """
    for key, value in sorted(environ.items()):
        if not key.startswith(_LIMITS_PREFIX) or not value:
            continue
        name = key[len(_LIMITS_PREFIX) :].lower()
        if name not in _LIMIT_NAMES:
            known = ", ".join(_LIMITS_PREFIX + limit.upper() for limit in _LIMIT_NAMES)
            raise ConfigurationError(f"{quoted(key)} is not a limit; use one of {known}")
        limits = replace(limits, **{name: _positive_int(value, key)})
    return limits


def load_settings(start: Path | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the configuration file and the environment into :class:`Settings`."""
    path = find_config_file(start, environ)
    data = _read_toml(path) if path is not None else {}
    where = str(path) if path is not None else CONFIG_FILE_NAME
    sections: dict[str, dict[str, Any]] = {
        name: dict(table) for name, table in data.items() if isinstance(table, dict) and name not in _TOP_LEVEL_KEYS
    }
    plugins = _table(data, "plugins", where)
    limits_table = _table(data, "limits", where)
    store = data.get("store")
    runner = data.get("runner")
    concurrency = data.get("concurrency")
    workers = data.get("workers")
    disable = _name_list(plugins.get("disable", ()), f"{where}: [plugins] disable")
    load = _name_list(plugins["load"], f"{where}: [plugins] load") if "load" in plugins else None
    modules = _name_list(plugins.get("modules", ()), f"{where}: [plugins] modules")
    trace = bool(plugins.get("trace", False))

    env = environ.get
    store_base = path.parent.absolute() if store and path is not None and not env(ENV_PREFIX + "STORE") else None
    store = env(ENV_PREFIX + "STORE") or store
    runner = env(ENV_PREFIX + "RUNNER") or runner
    concurrency_from = f"{where}: concurrency"
    if env(ENV_PREFIX + "CONCURRENCY"):  # an error names where the value came from
        concurrency, concurrency_from = environ[ENV_PREFIX + "CONCURRENCY"], ENV_PREFIX + "CONCURRENCY"
    workers = env(ENV_PREFIX + "WORKERS") or workers
    if ENV_PREFIX + "DISABLE_PLUGINS" in environ:
        disable = _split_names(environ[ENV_PREFIX + "DISABLE_PLUGINS"])
    if ENV_PREFIX + "LOAD_PLUGINS" in environ:
        load = _split_names(environ[ENV_PREFIX + "LOAD_PLUGINS"])
    if ENV_PREFIX + "PLUGIN_MODULES" in environ:
        modules = _split_names(environ[ENV_PREFIX + "PLUGIN_MODULES"])
    if env(ENV_PREFIX + "TRACE_PLUGINS"):
        trace = environ[ENV_PREFIX + "TRACE_PLUGINS"] not in ("0", "false", "no")
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and "__" in key:
            table, _, option = key[len(ENV_PREFIX) :].partition("__")
            sections.setdefault(table.lower(), {})[option.lower()] = value

    limits = YamlLimits()
    for name in _LIMIT_NAMES:
        if name in limits_table:
            limits = replace(limits, **{name: _positive_int(limits_table[name], f"{where}: [limits] {name}")})
    limits = _limits_from_environment(limits, environ)
    return Settings(
        store=str(store) if store else None,
        runner=str(runner) if runner else None,
        concurrency=_positive_int(concurrency, concurrency_from) if concurrency is not None else None,
        workers=str(workers) if workers else None,
        disable_plugins=disable,
        load_plugins=load,
        plugin_modules=modules,
        trace_plugins=trace,
        limits=limits,
        sections=sections,
        source=path,
        store_base=store_base,
    )


__all__ = [
    "CONFIG_FILE_NAME",
    "ENV_PREFIX",
    "Settings",
    "find_config_file",
    "load_settings",
]
