"""The two start-up caches (issue 10): entry points keyed by what is installed, and the
outcome of ``validate`` for a file found valid. Each must answer exactly what the work it
saves would, and must be passed over the moment anything it depends on changes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from flowbuilder import _entry_point_cache as entry_point_cache
from flowbuilder import _sha256
from flowbuilder._validation_cache import ValidationCache, ValidOutcome
from flowbuilder.errors import Diagnostic

GROUP = "flowbuilder.plugins"
SEED = Path(__file__).resolve().parent / "valid" / "seed.yaml"


def install(site: Path, name: str, module: str, version: str = "1.0") -> Path:
    """A distribution as pip leaves it: NAME-VERSION.dist-info with METADATA and entry_points.txt."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{name} = {module}\n")
    return info


def uninstall(info: Path) -> None:
    for child in info.iterdir():
        child.unlink()
    info.rmdir()


def described(found: Any) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.name, e.value, e.dist.metadata["Name"] if e.dist else None, e.dist.version if e.dist else None)
            for e in found]  # fmt: skip


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    return {"FLOWBUILDER_CACHE_DIR": str(tmp_path / "cache")}


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the real scans of installed metadata (the work the cache saves)."""
    calls: list[str] = []
    real = entry_point_cache._scan

    def counted(group: str) -> Any:
        calls.append(group)
        return real(group)

    monkeypatch.setattr(entry_point_cache, "_scan", counted)
    return calls


# -- entry points ---------------------------------------------------------------------------


def test_the_second_lookup_is_answered_from_the_cache_with_the_same_entry_points(
    cache_env: dict[str, str], scans: list[str]
) -> None:
    first = entry_point_cache.cached_entry_points(GROUP, cache_env)
    second = entry_point_cache.cached_entry_points(GROUP, cache_env)
    assert scans == [GROUP]
    assert described(second) == described(first) == described(entry_point_cache._scan(GROUP))
    assert "core" in [entry.name for entry in second]
    assert second[[e.name for e in second].index("core")].load().__name__ == "flowbuilder.builtin_plugin"


def test_installing_or_removing_a_distribution_is_seen_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_env: dict[str, str], scans: list[str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert "added" not in [e.name for e in entry_point_cache.cached_entry_points(GROUP, cache_env)]
    added = install(site, "added", "added_plugin")
    found = entry_point_cache.cached_entry_points(GROUP, cache_env)
    assert ("added", "added_plugin", "added", "1.0") in described(found)
    uninstall(added)
    assert "added" not in [e.name for e in entry_point_cache.cached_entry_points(GROUP, cache_env)]
    assert len(scans) == 3  # every change rescanned; nothing was answered from a stale file


def test_scripts_in_other_folders_do_not_evict_each_others_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_env: dict[str, str], scans: list[str]
) -> None:
    """sys.path[0] is the running script's folder (or '' for ``python -c``): folders that
    hold no distribution must not change the fingerprint, or the console script and a
    user's scripts evict each other's answer and rescan every time."""
    original = list(sys.path)
    folders = [tmp_path / f"scripts-{i}" for i in range(3)]
    for folder in folders[:2]:
        folder.mkdir()
        (folder / "job.py").write_text("print('a script, not a distribution')\n")
    for _ in range(3):
        for folder in [*folders, ""]:
            monkeypatch.setattr(sys, "path", [str(folder), *original])
            entry_point_cache.cached_entry_points(GROUP, cache_env)
    assert len(scans) == 1
    monkeypatch.setattr(sys, "path", [str(folders[0]), *original])
    install(folders[0], "beside", "beside_plugin")  # a folder that does hold one counts
    assert ("beside", "beside_plugin", "beside", "1.0") in described(
        entry_point_cache.cached_entry_points(GROUP, cache_env)
    )
    assert len(scans) == 2


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        '{"format": 1, "fingerprint": "FP", "entry_points": {"core": "x"}}',
        '{"format": 1, "fingerprint": "FP", "entry_points": [{"name": "x", "value": "os:system(\'id\')"}]}',
        '{"format": 1, "fingerprint": "FP", "entry_points": [{"name": 1, "value": "os"}]}',
        '{"format": 99, "fingerprint": "FP", "entry_points": []}',
    ],
)
def test_a_cache_file_of_any_other_shape_is_ignored_and_rewritten(
    cache_env: dict[str, str], scans: list[str], stored: str
) -> None:
    """The stored file is data: a file that is not exactly our shape is never used."""
    entry_point_cache.cached_entry_points(GROUP, cache_env)
    (path,) = Path(cache_env["FLOWBUILDER_CACHE_DIR"]).glob("entry-points-*.json")
    path.write_text(stored.replace("FP", entry_point_cache.installed_fingerprint()))
    found = entry_point_cache.cached_entry_points(GROUP, cache_env)
    assert len(scans) == 2
    assert described(found) == described(entry_point_cache._scan(GROUP))
    assert json.loads(path.read_text())["format"] == entry_point_cache.CACHE_FORMAT


def test_no_cache_scans_every_time_and_writes_nothing(tmp_path: Path, scans: list[str]) -> None:
    environ = {"FLOWBUILDER_CACHE_DIR": str(tmp_path / "cache"), "FLOWBUILDER_NO_CACHE": "1"}
    entry_point_cache.cached_entry_points(GROUP, environ)
    entry_point_cache.cached_entry_points(GROUP, environ)
    assert len(scans) == 2 and not (tmp_path / "cache").exists()


def test_a_cache_directory_that_cannot_be_written_is_passed_over(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    found = entry_point_cache.cached_entry_points(GROUP, {"FLOWBUILDER_CACHE_DIR": str(blocker / "cache")})
    assert described(found) == described(entry_point_cache._scan(GROUP))


def test_the_cache_directory_follows_xdg_and_the_override() -> None:
    assert entry_point_cache.cache_directory({"XDG_CACHE_HOME": "/x"}) == Path("/x/flowbuilder")
    assert entry_point_cache.cache_directory({"FLOWBUILDER_CACHE_DIR": "/y", "XDG_CACHE_HOME": "/x"}) == Path("/y")
    assert entry_point_cache.cache_directory({"FLOWBUILDER_NO_CACHE": "1"}) is None


# -- validate -------------------------------------------------------------------------------


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Counts the real checks (plugins loaded, file parsed and compiled) that validate makes."""
    from flowbuilder.cli import inspect_commands

    calls: list[Path] = []
    real = inspect_commands._check

    def counted(path: Path) -> Any:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(inspect_commands, "_check", counted)
    return calls


def copy_seed(tmp_path: Path) -> Path:
    target = tmp_path / "seed.yaml"
    target.write_bytes(SEED.read_bytes())
    return target


def test_validating_an_unchanged_valid_file_again_loads_no_plugin(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path]
) -> None:
    copy_seed(tmp_path)
    first = cli("validate", "seed.yaml", env=cache_env)
    second = cli("validate", "seed.yaml", env=cache_env)
    assert first.exit_code == second.exit_code == 0
    assert second.stdout == first.stdout == "seed.yaml: ok (3 tasks, 3 levels)\n"
    assert second.stderr == first.stderr
    assert len(checks) == 1


def test_a_changed_file_is_checked_again(cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path]) -> None:  # type: ignore[no-untyped-def]
    seed = copy_seed(tmp_path)
    cli("validate", "seed.yaml", env=cache_env)
    seed.write_text(seed.read_text().replace("send_notification", "notify"))
    assert cli("validate", "seed.yaml", env=cache_env).exit_code == 0
    seed.write_text(seed.read_text().replace("depends_on: [process_data]", "depends_on: [nowhere]"))
    broken = cli("validate", "seed.yaml", env=cache_env)
    assert broken.exit_code == 2 and "nowhere" in broken.stderr
    assert len(checks) == 3


def test_an_invalid_file_is_never_answered_from_the_cache(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path]
) -> None:
    (tmp_path / "bad.yaml").write_text("name: w\ntasks:\n  - {name: a, type: nosuch}\n")
    first = cli("validate", "bad.yaml", env=cache_env)
    second = cli("validate", "bad.yaml", env=cache_env)
    assert first.exit_code == second.exit_code == 2 and first.stderr == second.stderr
    assert len(checks) == 2


def test_other_settings_are_another_answer(cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path]) -> None:  # type: ignore[no-untyped-def]
    copy_seed(tmp_path)
    cli("validate", "seed.yaml", env=cache_env)
    (tmp_path / "flowbuilder.toml").write_text("[limits]\nmax_depth = 5\n")
    cli("validate", "seed.yaml", env=cache_env)
    assert len(checks) == 2


def test_editing_the_source_of_a_plugin_it_imported_is_seen(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = plugins / "flowbuilder_cache_probe.py"
    source.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(plugins))
    env = {**cache_env, "FLOWBUILDER_PLUGIN_MODULES": "flowbuilder_core_fakes,flowbuilder_cache_probe"}
    copy_seed(tmp_path)
    cli("validate", "seed.yaml", env=env)
    cli("validate", "seed.yaml", env=env)
    source.write_text("X = 22\n")  # another size and time: an edit of an editable install
    cli("validate", "seed.yaml", env=env)
    assert len(checks) == 2


def test_no_cache_checks_every_time(cli, tmp_path: Path, cache_env: dict[str, str], checks: list[Path]) -> None:  # type: ignore[no-untyped-def]
    copy_seed(tmp_path)
    env = {**cache_env, "FLOWBUILDER_NO_CACHE": "1"}
    cli("validate", "seed.yaml", env=env)
    cli("validate", "seed.yaml", env=env)
    assert len(checks) == 2 and not (tmp_path / "cache").exists()


def test_warnings_come_back_from_the_cache_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    seed = copy_seed(tmp_path)
    cache = ValidationCache("settings", 1 << 20)
    warning = Diagnostic(str(seed), 7, 5, "shell command splices ${{ params.x }}", "quote it")
    outcome, key = cache.lookup(seed)
    assert outcome is None and key is not None
    cache.store(key, ValidOutcome(3, 2, (warning,)))
    assert cache.lookup(seed) == (ValidOutcome(3, 2, (warning,)), key)
    assert ValidationCache("other settings", 1 << 20).lookup(seed)[0] is None


def test_a_stored_answer_of_another_shape_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    seed = copy_seed(tmp_path)
    cache = ValidationCache("settings", 1 << 20)
    _, key = cache.lookup(seed)
    assert key is not None
    cache.store(key, ValidOutcome(3, 3, ()))
    stored = tmp_path / "cache" / "validate" / f"{key}.json"
    record = json.loads(stored.read_text())
    tamper: list[Callable[[dict[str, Any]], None]] = [
        lambda r: r.update(tasks="3"),
        lambda r: r.update(warnings=[{"file": 1}]),
        lambda r: r.update(key="another"),
        lambda r: r.update(sources=[["/nonexistent/module.py", 0, 0]]),
    ]
    for change in tamper:
        changed = json.loads(json.dumps(record))
        change(changed)
        stored.write_text(json.dumps(changed))
        assert cache.lookup(seed)[0] is None


def test_files_that_are_not_regular_are_never_read_by_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert ValidationCache("settings", 1 << 20).lookup(fifo) == (None, None)  # returns at once, never blocks
    assert ValidationCache("settings", 1 << 20).lookup(tmp_path) == (None, None)


def test_an_entry_point_with_extras_loads_its_object_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_env: dict[str, str], scans: list[str]
) -> None:
    site = tmp_path / "site"
    install(site, "extras", "flowbuilder.builtin_plugin:flowbuilder_stores [fast, small]")
    monkeypatch.syspath_prepend(str(site))
    entry_point_cache.cached_entry_points(GROUP, cache_env)
    found = {e.name: e for e in entry_point_cache.cached_entry_points(GROUP, cache_env)}
    assert len(scans) == 1
    from flowbuilder.builtin_plugin import flowbuilder_stores

    assert found["extras"].load() is flowbuilder_stores


def test_one_cli_command_lists_the_installed_distributions_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    listings: list[int] = []
    real = entry_point_cache._fingerprint

    def counted(paths: Any) -> str:
        listings.append(1)
        return str(real(paths))

    monkeypatch.setattr(entry_point_cache, "_fingerprint", counted)
    with entry_point_cache.hold_fingerprint():
        held = entry_point_cache.installed_fingerprint()
        assert entry_point_cache.installed_fingerprint() == held
        assert len(listings) == 1
    info = install(site, "late", "late_module")  # installed after the command: seen by the next one
    assert entry_point_cache.installed_fingerprint() != held
    uninstall(info)
    assert entry_point_cache.installed_fingerprint() == entry_point_cache.installed_fingerprint() == held
    assert len(listings) == 4  # outside a command every call lists again


def test_the_cli_holds_the_fingerprint_for_one_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbuilder.cli import main as cli_main

    seen: list[object] = []
    monkeypatch.setattr(cli_main.cli, "main", lambda **kwargs: seen.append(entry_point_cache._held))
    with pytest.raises(SystemExit):
        cli_main.main(["--version"])
    assert seen == [{}] and entry_point_cache._held is None


@pytest.mark.parametrize(
    "size", [0, 3, 1000, _sha256.BUILTIN_LIMIT - 1, _sha256.BUILTIN_LIMIT, 3 * _sha256.BUILTIN_LIMIT]
)
def test_the_caches_digest_is_sha256_whichever_implementation_computes_it(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys of caches written before stay valid: the interpreter's module and OpenSSL's agree."""
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected = hashlib.sha256(data).hexdigest()
    monkeypatch.delitem(sys.modules, "hashlib")  # as in a command that has not imported it
    assert _sha256.sha256_hex(data) == expected
    fed = _sha256.new_sha256(data[: size // 2], more=size - size // 2)
    fed.update(data[size // 2 :])
    assert fed.hexdigest() == expected
    assert ("hashlib" in sys.modules) == (size >= _sha256.BUILTIN_LIMIT)  # only large data pays for the import


IMPORTED_AT_EXIT = """
import atexit, json, sys
atexit.register(lambda: print("imported:", json.dumps(sorted(m for m in sys.modules if m in {watched!r}))))
from flowbuilder.cli.main import main
main()
"""


def test_validating_an_unchanged_file_again_imports_neither_hashlib_nor_pluggy(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Importing hashlib starts OpenSSL's digests (about 2 ms): the caches' keys are hashed without it.
    pluggy (about 2 ms) comes with the first plugin, and a validation answered from the cache loads none."""
    env = cli_env({"FLOWBUILDER_CACHE_DIR": str(tmp_path / "cache")})
    script = IMPORTED_AT_EXIT.format(watched={"hashlib", "_hashlib", "pluggy", "flowbuilder._validation_cache"})
    for _ in range(2):  # the second is answered from the validation cache its first run filled
        done = subprocess.run([sys.executable, "-c", script, "validate", str(SEED)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout.split("imported:", 1)[1])
    assert imported == ["flowbuilder._validation_cache"]  # the cache answered; neither was needed
