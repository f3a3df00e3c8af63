"""pydantic's own plugin search is skipped only when it would find nothing (issue 10).

``skip_pydantic_plugin_scan`` stands in for pydantic's plugin loader when the entry-point
cache knows of no ``pydantic`` entry point; with one installed, or with the user's
``PYDANTIC_DISABLE_PLUGINS``, or without the cache, pydantic does what it always did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from flowbuilder import _pydantic_plugins
from flowbuilder._pydantic_plugins import PYDANTIC_LOADER, skip_pydantic_plugin_scan


def install_pydantic_plugin(site: Path) -> None:
    """A distribution declaring a pydantic plugin that says on stderr when pydantic uses it."""
    info = site / "loud_pydantic_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loud-pydantic-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nloud = loud_pydantic_plugin:plugin\n")
    (site / "loud_pydantic_plugin.py").write_text(
        textwrap.dedent(
            """
            import sys

            class _Plugin:
                def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, settings):
                    print(f"LOUD PLUGIN {schema_type_path.name}", file=sys.stderr)
                    return None, None, None

            plugin = _Plugin()
            """
        )
    )


@pytest.fixture
def no_loader(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a fresh process: pydantic's loader not imported yet; afterwards no stand-in is left.

    (``sys.meta_path`` is edited in place, never replaced: ``importlib_metadata`` adds its own
    finder to it when first imported, and would lose it with a replaced list.)
    """
    monkeypatch.delitem(sys.modules, PYDANTIC_LOADER, raising=False)
    package = sys.modules.get("pydantic.plugin")
    if package is not None:
        monkeypatch.delattr(package, "_loader", raising=False)
    yield
    _pydantic_plugins._remove_finders()
    if isinstance(sys.modules.get(PYDANTIC_LOADER), _pydantic_plugins._NoPydanticPlugins):
        del sys.modules[PYDANTIC_LOADER]
    package = sys.modules.get("pydantic.plugin")
    if isinstance(getattr(package, "_loader", None), _pydantic_plugins._NoPydanticPlugins):
        delattr(package, "_loader")


def test_stands_in_when_no_distribution_declares_a_pydantic_plugin(tmp_path: Path, no_loader: None) -> None:
    assert skip_pydantic_plugin_scan({"FLOWBUILDER_CACHE_DIR": str(tmp_path)})
    assert PYDANTIC_LOADER not in sys.modules  # nothing until pydantic asks for it
    import pydantic.plugin._loader as loader

    assert isinstance(loader, _pydantic_plugins._NoPydanticPlugins)
    assert not loader.get_plugins()
    assert not any(isinstance(finder, _pydantic_plugins._StandInFinder) for finder in sys.meta_path)  # used once
    from pydantic import BaseModel

    class Point(BaseModel):
        x: int

    assert Point(x="3").x == 3  # pydantic builds and validates through the stand-in
    assert sys.modules[PYDANTIC_LOADER] is loader


@pytest.mark.parametrize(
    "environ",
    [{"PYDANTIC_DISABLE_PLUGINS": "loud"}, {"PYDANTIC_DISABLE_PLUGINS": ""}, {"FLOWBUILDER_NO_CACHE": "1"}],
)
def test_leaves_pydantic_alone_when_the_user_chose_or_without_the_cache(
    tmp_path: Path, no_loader: None, environ: dict[str, str]
) -> None:
    assert not skip_pydantic_plugin_scan({"FLOWBUILDER_CACHE_DIR": str(tmp_path), **environ})
    import pydantic.plugin._loader as loader

    assert not isinstance(loader, _pydantic_plugins._NoPydanticPlugins)


def test_leaves_pydantic_alone_when_a_pydantic_plugin_is_installed(
    tmp_path: Path, no_loader: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_pydantic_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert not skip_pydantic_plugin_scan({"FLOWBUILDER_CACHE_DIR": str(tmp_path / "cache")})
    import pydantic.plugin._loader as loader

    assert not isinstance(loader, _pydantic_plugins._NoPydanticPlugins)


def test_leaves_an_imported_loader_alone(tmp_path: Path) -> None:
    import pydantic.plugin._loader as real

    assert not skip_pydantic_plugin_scan({"FLOWBUILDER_CACHE_DIR": str(tmp_path)})
    assert sys.modules[PYDANTIC_LOADER] is real


def test_any_other_name_comes_from_pydantic_s_own_module(tmp_path: Path, no_loader: None) -> None:
    assert skip_pydantic_plugin_scan({"FLOWBUILDER_CACHE_DIR": str(tmp_path)})
    import pydantic.plugin._loader as stand_in

    assert isinstance(stand_in, _pydantic_plugins._NoPydanticPlugins)
    assert stand_in.PYDANTIC_ENTRY_POINT_GROUP == "pydantic"
    assert sys.modules[PYDANTIC_LOADER] is not stand_in  # the real module took its place
    assert sys.modules[PYDANTIC_LOADER].__file__


def _cli(site: Path | None, cache: Path, workflow: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("FLOWBUILDER_", "PYDANTIC_"))}
    environment.update(FLOWBUILDER_CACHE_DIR=str(cache), **env)
    if site is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "import sys; from flowbuilder.cli.main import main; main(sys.argv[1:])",
         "run", "--store", "memory://", str(workflow)],
        cwd=workflow.parent, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_an_installed_pydantic_plugin_still_sees_the_cli_s_models(tmp_path: Path) -> None:
    """End to end: the CLI with a pydantic plugin installed lets pydantic call it, every run."""
    workflow = tmp_path / "w.yaml"
    workflow.write_text("name: w\ntasks:\n  - name: t\n    type: python\n    config: {callable: 'os:getpid'}\n")
    install_pydantic_plugin(tmp_path / "site")
    for _ in range(2):  # the second run answers from the caches
        done = _cli(tmp_path / "site", tmp_path / "cache", workflow)
        assert done.returncode == 0, done.stderr
        assert "LOUD PLUGIN PythonConfig" in done.stderr
    done = _cli(None, tmp_path / "cache", workflow)  # uninstalled: nothing calls it
    assert done.returncode == 0, done.stderr
    assert "LOUD PLUGIN" not in done.stderr
    done = _cli(tmp_path / "site", tmp_path / "cache", workflow, PYDANTIC_DISABLE_PLUGINS="loud")
    assert done.returncode == 0 and "LOUD PLUGIN" not in done.stderr  # the user's switch, read by pydantic
