"""Settings: defaults < flowbuilder.toml < FLOWBUILDER_* environment < command-line flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbuilder.config import Settings, find_config_file, load_settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.limits import YamlLimits

TOML = """
store = "memory://from-file"
runner = "file-runner"
concurrency = 4

[plugins]
disable = ["x"]
load = ["core", "y"]
modules = ["my.plugin"]
trace = true

[limits]
max_bytes = 1000
max_depth = 10

[otel]
exporter = "otlp"
endpoint = "http://127.0.0.1:4317"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flowbuilder.toml").write_text(TOML)
    return tmp_path


def test_defaults_without_a_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {})
    assert settings == Settings()
    assert settings.load_plugins is None and settings.limits == YamlLimits()


def test_the_file_sets_every_setting(project: Path) -> None:
    settings = load_settings(project, {})
    assert (settings.store, settings.runner, settings.concurrency) == ("memory://from-file", "file-runner", 4)
    assert settings.disable_plugins == ("x",) and settings.load_plugins == ("core", "y")
    assert settings.plugin_modules == ("my.plugin",) and settings.trace_plugins is True
    assert settings.limits == YamlLimits(max_bytes=1000, max_depth=10)
    assert settings.section("otel") == {"exporter": "otlp", "endpoint": "http://127.0.0.1:4317"}
    assert settings.source == project / "flowbuilder.toml"


def test_the_file_is_found_in_a_parent_directory(project: Path) -> None:
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    assert find_config_file(nested, {}) == project / "flowbuilder.toml"


def test_the_environment_beats_the_file(project: Path) -> None:
    environ = {
        "FLOWBUILDER_STORE": "memory://from-env",
        "FLOWBUILDER_RUNNER": "env-runner",
        "FLOWBUILDER_CONCURRENCY": "9",
        "FLOWBUILDER_DISABLE_PLUGINS": "",
        "FLOWBUILDER_LOAD_PLUGINS": "core",
        "FLOWBUILDER_PLUGIN_MODULES": "a.b, c",
        "FLOWBUILDER_TRACE_PLUGINS": "0",
        "FLOWBUILDER_OTEL__EXPORTER": "console",
    }
    settings = load_settings(project, environ)
    assert (settings.store, settings.runner, settings.concurrency) == ("memory://from-env", "env-runner", 9)
    assert settings.disable_plugins == () and settings.load_plugins == ("core",)
    assert settings.plugin_modules == ("a.b", "c") and settings.trace_plugins is False
    assert settings.section("otel")["exporter"] == "console"
    assert settings.section("otel")["endpoint"] == "http://127.0.0.1:4317"  # the rest of the table stays


def test_flags_beat_the_environment(project: Path) -> None:
    settings = load_settings(project, {"FLOWBUILDER_STORE": "memory://from-env", "FLOWBUILDER_CONCURRENCY": "9"})
    flagged = settings.with_overrides(store="memory://from-flag", concurrency=None, runner=None)
    assert (flagged.store, flagged.concurrency, flagged.runner) == ("memory://from-flag", 9, "file-runner")


def test_flowbuilder_config_names_the_file_explicitly(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    settings = load_settings(elsewhere, {"FLOWBUILDER_CONFIG": str(project / "flowbuilder.toml")})
    assert settings.runner == "file-runner"


def test_flowbuilder_config_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"FLOWBUILDER_CONFIG points to .* which is not a readable file"):
        load_settings(tmp_path, {"FLOWBUILDER_CONFIG": str(tmp_path / "missing.toml")})


def test_directories_that_cannot_be_examined_are_passed_over(tmp_path: Path) -> None:
    # stat() fails there with an error Path.is_file() does not swallow on 3.11 (here:
    # ENAMETOOLONG; for users typically EACCES on a parent they may not enter).
    (tmp_path / "flowbuilder.toml").write_text('store = "memory://found"\n')
    unreadable = tmp_path / ("x" * 300) / "project"
    assert find_config_file(unreadable, {}) == tmp_path / "flowbuilder.toml"


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "flowbuilder.toml").write_text("store = \n")
    with pytest.raises(ConfigurationError, match=r"flowbuilder\.toml: .*fix the TOML syntax"):
        load_settings(tmp_path, {})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("concurrency = 0", "concurrency: must be at least 1"),
        ("concurrency = 'many'", "concurrency: 'many' is not a whole number"),
        ("[limits]\nmax_depth = -1", r"\[limits\] max_depth: must be at least 1"),
        ("plugins = 3", "`plugins` must be a table"),
        ("[plugins]\nload = [1, 2]", r"\[plugins\] load: expected a list of names"),
    ],
)
def test_bad_values_are_configuration_errors_naming_the_setting(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "flowbuilder.toml").write_text(toml + "\n")
    with pytest.raises(ConfigurationError, match=message):
        load_settings(tmp_path, {})


def test_a_bad_concurrency_in_the_environment_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    """It said ``flowbuilder.toml: concurrency`` even where no such file exists."""
    with pytest.raises(ConfigurationError, match=r"^FLOWBUILDER_CONCURRENCY: 'x' is not a whole number$"):
        load_settings(tmp_path, {"FLOWBUILDER_CONCURRENCY": "x"})


def test_a_configuration_file_that_is_not_utf8_is_a_one_line_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """tomllib's UnicodeDecodeError was "internal error" (exit 70)."""
    (tmp_path / "flowbuilder.toml").write_bytes(b'store = "memory://"\n# caf\xe9\n')
    result = cli("plugins")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'flowbuilder.toml'}: byte 26 is not UTF-8 text (invalid continuation byte);"
        " save the file as UTF-8"
    )


def test_plugin_lists_may_be_one_comma_separated_string(tmp_path: Path) -> None:
    (tmp_path / "flowbuilder.toml").write_text('[plugins]\ndisable = "a, b"\n')
    assert load_settings(tmp_path, {}).disable_plugins == ("a", "b")


def test_the_cli_reads_limits_from_the_configuration(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flowbuilder.toml").write_text("[limits]\nmax_bytes = 20\n")
    workflow = tmp_path / "w.yaml"
    workflow.write_text("name: w\ntasks:\n  - {name: a, type: shell, config: {command: x}}\n")
    result = cli("validate", str(workflow))  # cwd is tmp_path, where the file is found
    assert result.exit_code == 2
    assert "over the limit of 20" in result.stderr


def test_a_configuration_error_is_one_line_with_exit_1(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flowbuilder.toml").write_text("concurrency = 0\n")
    result = cli("plugins")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'flowbuilder.toml'}: concurrency: must be at least 1, got 0"


def test_limits_come_from_the_environment_over_the_file(project: Path) -> None:
    """``FLOWBUILDER_LIMITS__*`` was ignored: only the file's ``[limits]`` was read."""
    environ = {"FLOWBUILDER_LIMITS__MAX_BYTES": "500", "FLOWBUILDER_LIMITS__max_aliases": "7",
               "FLOWBUILDER_LIMITS__MAX_EXPANDED_NODES": ""}  # fmt: skip
    settings = load_settings(project, environ)
    assert settings.limits == YamlLimits(max_bytes=500, max_depth=10, max_aliases=7)  # max_depth: the file's


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FLOWBUILDER_LIMITS__MAX_DEPTH": "deep"}, r"^FLOWBUILDER_LIMITS__MAX_DEPTH: 'deep' is not a whole number$"),
        ({"FLOWBUILDER_LIMITS__MAX_DEPTH": "0"}, r"^FLOWBUILDER_LIMITS__MAX_DEPTH: must be at least 1, got 0$"),
        ({"FLOWBUILDER_LIMITS__MAX_BYTE": "9"},
         r"^'FLOWBUILDER_LIMITS__MAX_BYTE' is not a limit; use one of FLOWBUILDER_LIMITS__MAX_BYTES, .*EXPANDED_NODES$"),
        ({"FLOWBUILDER_LIMITS__MAX_BYTES": "9" * 100_000},
         r"^FLOWBUILDER_LIMITS__MAX_BYTES: '9{200}'… \(100,000 characters\) is not a whole number$"),
    ],
)  # fmt: skip
def test_a_bad_limit_in_the_environment_is_one_line_naming_the_variable(tmp_path: Path, environ: dict[str, str],
                                                                        message: str) -> None:  # fmt: skip
    with pytest.raises(ConfigurationError, match=message):
        load_settings(tmp_path, environ)


def test_the_cli_reads_limits_from_the_environment(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    workflow = tmp_path / "w.yaml"
    workflow.write_text("name: w\ntasks:\n  - {name: a, type: shell, config: {command: x}}\n")
    result = cli("validate", str(workflow), env={"FLOWBUILDER_LIMITS__MAX_BYTES": "20"})
    assert result.exit_code == 2 and "over the limit of 20" in result.stderr
    refused = cli("validate", str(workflow), env={"FLOWBUILDER_LIMITS__MAX_BYTES": "lots"})
    assert refused.exit_code == 1
    assert refused.stderr == "error: FLOWBUILDER_LIMITS__MAX_BYTES: 'lots' is not a whole number\n"
