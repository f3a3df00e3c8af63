"""Commands that only read never create a store, and a relative store path in flowbuilder.toml
is read from that file's folder (issue 9, item 11, and the bug of a relative ``rocksdb://``).

A store kept in a directory (``dirstore://PATH``, a memory store that creates PATH when
opened, as an embedded store would) stands in for RocksDB, which core's tests must not need:
it declares ``exists`` and ``resolve_url`` like flowbuilder-storage's ``rocksdb://`` does.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from flowbuilder.config import Settings, load_settings
from flowbuilder.errors import NoStoreError
from flowbuilder.plugins import build_plugin_host

PLUGIN_MODULE = "flowbuilder_dirstore_fake"
PLUGIN_SOURCE = """
from pathlib import Path
from typing import ClassVar

from flowbuilder import hookimpl
from flowbuilder.stores.memory import MemoryStore


def _path(url: str) -> Path:
    return Path(url[len("dirstore://"):] or "state")


class DirStore(MemoryStore):
    scheme: ClassVar[str] = "dirstore"
    default_priority: ClassVar[int] = 5
    default_url: ClassVar[str] = "dirstore://state"

    @classmethod
    def open(cls, url: str) -> "DirStore":
        _path(url).mkdir(parents=True, exist_ok=True)
        return cls("memory://dirstore/" + str(_path(url).absolute()))

    @classmethod
    def exists(cls, url: str) -> bool:
        return _path(url).exists()

    @classmethod
    def resolve_url(cls, url: str, base: Path) -> str:
        path = _path(url)
        return url if path.is_absolute() else f"dirstore://{base / path}"


@hookimpl
def flowbuilder_stores():
    return [DirStore]
"""

READ_COMMANDS = [
    ["runs", "show", "r1"],
    ["logs", "r1"],
    ["runs", "watch", "r1"],
    ["runs", "annotate", "r1", "--data", '"a note"'],
    ["resume", "r1"],
]


@pytest.fixture
def with_dirstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment that adds the ``dirstore://`` plugin (the default store: priority 5)."""
    plugins = tmp_path.parent / f"{tmp_path.name}-plugins"
    plugins.mkdir()
    (plugins / f"{PLUGIN_MODULE}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(plugins))
    return {"FLOWBUILDER_PLUGIN_MODULES": f"flowbuilder_core_fakes,{PLUGIN_MODULE}"}


def test_runs_list_in_a_folder_without_a_store_creates_none_and_names_it(cli, with_dirstore, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", "list", env=with_dirstore)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "no runs: there is no store at dirstore://state (the default store; --store URL to read another)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_runs_list_json_without_a_store_is_an_empty_listing(cli, with_dirstore, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", "list", "--json", env=with_dirstore)
    assert result.exit_code == 0 and json.loads(result.stdout) == {"runs": [], "next_cursor": None}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_a_command_about_one_run_finds_no_run_where_there_is_no_store_and_creates_none(
    cli, with_dirstore: dict[str, str], tmp_path: Path, args: list[str]
) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, "--store", "dirstore://elsewhere", env=with_dirstore)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: no run 'r1' here: there is no store at dirstore://elsewhere\n"
    assert list(tmp_path.iterdir()) == []


def test_gc_without_a_store_deletes_nothing_and_creates_none(cli, with_dirstore, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("gc", "--keep-last", "1", env=with_dirstore)
    assert result.exit_code == 0 and result.stdout == "deleted 0 run(s)\n"
    assert list(tmp_path.iterdir()) == []


def test_a_store_that_is_there_is_read(cli, with_dirstore, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "state").mkdir()
    result = cli("runs", "list", env=with_dirstore)
    assert result.exit_code == 0
    assert result.stdout.startswith("no runs in dirstore://state")


def test_open_store_with_create_false_raises_no_store_and_creates_nothing(
    with_dirstore: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    host = build_plugin_host(Settings(load_plugins=("core",), plugin_modules=(PLUGIN_MODULE,)))
    with pytest.raises(NoStoreError, match="there is no store at dirstore://missing"):
        host.open_store("dirstore://missing", create=False)
    assert not (tmp_path / "missing").exists()
    host.open_store("dirstore://missing").close()  # the default still creates: `run` records there
    assert (tmp_path / "missing").is_dir()


# -- a relative store path in flowbuilder.toml ------------------------------------------------


def _host(folder: Path, environ: dict[str, str]) -> Any:
    return build_plugin_host(load_settings(folder, environ), entry_points=[])


def _with_plugin(folder: Path, environ: dict[str, str], make: Callable[..., Any]) -> Any:
    import importlib

    host = make(folder, environ)
    host.register(importlib.import_module(PLUGIN_MODULE), name="dirstore")
    return host


def test_a_relative_store_path_in_flowbuilder_toml_is_read_from_the_file_s_folder(
    with_dirstore: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "flowbuilder.toml").write_text('store = "dirstore://runs/db"\n')
    below = tmp_path / "sub" / "deeper"
    below.mkdir(parents=True)
    host = _with_plugin(below, {}, _host)
    assert host.default_store_url() == f"dirstore://{tmp_path.resolve() / 'runs' / 'db'}"


def test_flowbuilder_config_elsewhere_reads_relative_paths_from_that_file_s_folder(
    with_dirstore: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "conf" / "settings.toml"
    config.parent.mkdir()
    config.write_text('store = "dirstore://db"\n')
    host = _with_plugin(tmp_path, {"FLOWBUILDER_CONFIG": str(config)}, _host)
    assert host.default_store_url() == f"dirstore://{(tmp_path / 'conf').absolute() / 'db'}"


def test_relative_paths_from_the_environment_or_a_flag_stay_relative_to_the_current_directory(
    with_dirstore: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "flowbuilder.toml").write_text('store = "dirstore://from-file"\n')
    host = _with_plugin(tmp_path, {"FLOWBUILDER_STORE": "dirstore://from-env"}, _host)
    assert host.default_store_url() == "dirstore://from-env"
    flagged = load_settings(tmp_path, {}).with_overrides(store="dirstore://from-flag")
    host = build_plugin_host(flagged, entry_points=[])
    import importlib

    host.register(importlib.import_module(PLUGIN_MODULE), name="dirstore")
    assert host.default_store_url() == "dirstore://from-flag"


def test_an_absolute_store_path_in_flowbuilder_toml_is_kept(with_dirstore: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "flowbuilder.toml").write_text('store = "dirstore:///srv/runs"\n')
    assert _with_plugin(tmp_path, {}, _host).default_store_url() == "dirstore:///srv/runs"


def test_the_cli_run_from_a_sub_folder_reads_the_store_next_to_flowbuilder_toml(
    cli, with_dirstore: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flowbuilder.toml").write_text(textwrap.dedent('store = "dirstore://state"\n'))
    (tmp_path / "state").mkdir()
    below = tmp_path / "sub"
    below.mkdir()
    monkeypatch.chdir(below)
    result = cli("runs", "list", env=with_dirstore)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"no runs in dirstore://{tmp_path.resolve() / 'state'} (store = in ")
    assert list(below.iterdir()) == []
