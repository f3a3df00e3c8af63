"""The ``flowbuilder`` commands of core: validate, plan, graph, schema, plugins, version, run.

Most run in-process through the real entry point (``cli`` fixture); what depends on the
process itself (start-up imports, exit codes of the executable, console scripts) runs in
a subprocess (``run_cli``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowbuilder import __version__
from flowbuilder.yamlsource import parse_yaml

VALID = Path(__file__).resolve().parent / "valid"
SEED = VALID / "seed.yaml"


# -- validate ------------------------------------------------------------------------------


def test_validate_prints_ok_with_counts_and_exits_0(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(SEED), str(VALID / "everything.yaml"))
    assert result.exit_code == 0, result.output
    assert f"{SEED}: ok (3 tasks, 3 levels)" in result.stdout
    assert "everything.yaml: ok (4 tasks, 3 levels)" in result.stdout


def test_validate_quiet_prints_nothing_for_valid_files(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", "--quiet", str(SEED))
    assert (result.exit_code, result.output) == (0, "")


def test_validate_a_missing_file_is_a_located_error_with_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}:1:1: no such file (hint: check the path)"


def test_validate_a_directory_is_a_located_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory, not a workflow file" in result.stderr


def test_validate_without_files_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_validate_the_yaml_1_1_surprises_as_strings(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plan", "--json", str(VALID / "yaml11.yaml"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == "1.10"
    assert summary["levels"] == [["no"], ["on", "yes"], ["off"]]


# -- plan ----------------------------------------------------------------------------------


def test_plan_json_gives_levels_critical_path_and_width(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plan", "--json", str(SEED))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "workflow": "data-pipeline",
        "version": "1.0",
        "tasks": 3,
        "edges": 2,
        "levels": [["fetch_data"], ["process_data"], ["send_notification"]],
        "critical_path": ["fetch_data", "process_data", "send_notification"],
        "critical_path_cost": 3.0,
        "critical_path_unit": "tasks",
        "max_width": 1,
    }


def test_plan_text_shows_counts_levels_and_the_critical_path(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plan", str(VALID / "everything.yaml"))
    assert result.exit_code == 0, result.output
    assert "everything 2.3: 4 tasks, 4 dependencies, 3 levels, max width 2" in result.stdout
    assert "critical path (3 tasks): fetch -> each -> report" in result.stdout


def test_plan_of_an_invalid_file_exits_2_with_located_problems(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntasks:\n  - {name: a, type: shell, depends_on: [b], config: {command: x}}\n")
    result = cli("plan", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{bad}:3:41: task 'a' depends on unknown task 'b'")


# -- graph ---------------------------------------------------------------------------------


def test_graph_mermaid_declares_every_task_and_edge(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("graph", "--format", "mermaid", str(SEED))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "flowchart TD",
        '    t0["fetch_data (http)"]',
        '    t1["process_data (script)"]',
        '    t2["send_notification (shell)"]',
        "    t0 --> t1",
        "    t1 --> t2",
    ]


def test_graph_dot_is_a_digraph_with_quoted_names(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("graph", "--format", "dot", str(SEED))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == 'digraph "data-pipeline" {'
    assert '    "fetch_data" -> "process_data";' in lines
    assert '    "process_data" -> "send_notification";' in lines
    assert lines[-1] == "}"


def test_graph_text_is_the_default_and_lists_levels_with_dependencies(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("graph", str(VALID / "yaml11.yaml"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "level 0:",
        "  no [shell]",
        "level 1:",
        "  on [shell] <- no",
        "  yes [shell] <- no",
        "level 2:",
        "  off [shell] <- on, yes",
    ]


def test_graph_rejects_an_unknown_format(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("graph", "--format", "svg", str(SEED))
    assert result.exit_code == 2
    assert "'svg' is not one of" in result.stderr


# -- schema --------------------------------------------------------------------------------


def _schema(cli) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("schema")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_schema_is_a_valid_json_schema(cli) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")  # in core's [test] extra
    schema = _schema(cli)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_seed_example_and_every_valid_file_validate_against_the_schema(cli) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(cli))
    for path in sorted(VALID.glob("*.yaml")):
        # Editors read YAML as YAML 1.2 like core does (`version: 1.10` is then a number, which
        # the schema must accept as the model does); PyYAML's safe_load is 1.1, so use core's.
        document = json.loads(json.dumps(parse_yaml(path.read_bytes(), path.name)))
        errors = sorted(validator.iter_errors(document), key=str)
        assert not errors, f"{path.name}: {errors[0].message}"


def test_the_schema_rejects_an_unknown_task_field(cli) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(cli))
    document = {"name": "x", "tasks": [{"name": "a", "type": "shell", "depend_on": []}]}
    assert any("depend_on" in error.message for error in validator.iter_errors(document))


def test_the_schema_knows_the_four_trigger_rules(cli) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema(cli))
    task = {"name": "b", "type": "shell", "depends_on": ["a"]}
    for rule in ("all_succeeded", "all_done", "any_failed", "always"):
        document = {"name": "x", "tasks": [{"name": "a", "type": "shell"}, {**task, "run_if": rule}]}
        assert not list(validator.iter_errors(document)), rule
    document = {"name": "x", "tasks": [{"name": "a", "type": "shell"}, {**task, "run_if": "all_finished"}]}
    assert list(validator.iter_errors(document))


def test_schema_output_option_writes_a_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "schema.json"
    result = cli("schema", "-o", str(target))
    assert result.exit_code == 0
    assert json.loads(target.read_text())["title"] == "FlowBuilder workflow"


# -- plugins and version ------------------------------------------------------------------


def test_plugins_json_lists_each_plugin_with_distribution_version_and_hooks(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert listed["core"]["distribution"] == "flowbuilder-core"
    assert listed["core"]["version"] == __version__
    assert listed["core"]["hooks"] == [
        "flowbuilder_consensus_engines",
        "flowbuilder_message_buses",
        "flowbuilder_node_announcers",
        "flowbuilder_secret_providers",
        "flowbuilder_stores",
        "flowbuilder_trigger_sources",
    ]
    assert listed["flowbuilder_core_fakes"]["hooks"] == ["flowbuilder_task_types"]


def test_plugins_reports_a_module_that_fails_to_import_and_still_lists_the_rest(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plugins", "--json", env={"FLOWBUILDER_PLUGIN_MODULES": "flowbuilder_core_fakes,no_such_plugin_mod"})
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert {row["name"] for row in report["plugins"]} == {"core", "flowbuilder_core_fakes"}
    assert report["failed"] == [
        {"name": "no_such_plugin_mod", "distribution": None, "version": None,
         "error": "ModuleNotFoundError: No module named 'no_such_plugin_mod'"}
    ]  # fmt: skip
    assert "warning: plugin 'no_such_plugin_mod' failed to load" in result.stderr


def test_plugins_table_lists_plugins_and_failures(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("plugins", env={"FLOWBUILDER_PLUGIN_MODULES": "flowbuilder_core_fakes,no_such_plugin_mod"})
    assert result.exit_code == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert any(row[:6] == ["core", "│", "flowbuilder-core", "│", __version__, "│"] for row in rows)
    assert "failed: plugin 'no_such_plugin_mod' failed to load: ModuleNotFoundError" in result.stdout


def test_plugins_lists_what_each_plugin_provides_in_json_and_in_the_table(cli, fake_tasks) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(cli("plugins", "--json").stdout)
    provided = {row["name"]: row["provides"] for row in report["plugins"]}
    assert provided["core"] == {
        "store_schemes": ["memory://"],
        "consensus_engines": ["store", "noop"],
        "trigger_sources": ["file"],
        "message_buses": ["local://"],
        "node_announcers": ["noop://"],
        "other": ["secret providers"],
    }
    fake_names = sorted(cls.name for cls in fake_tasks.FAKE_TASK_TYPES)
    assert sorted(provided["flowbuilder_core_fakes"]["task_types"]) == fake_names
    assert report["problem"] is None
    cells: dict[str, str] = {}  # plugin -> its "provides" cell, wrapped lines joined
    plugin = ""
    for line in cli("plugins").stdout.splitlines()[2:]:
        columns = [column.strip() for column in line.split("│")]
        plugin = columns[0] or plugin
        cells[plugin] = f"{cells.get(plugin, '')} {columns[-1]}".strip()
    assert cells["core"] == (
        "stores: memory://; consensus engines: store, noop; trigger sources: file; message buses: local://;"
        " node announcers: noop://; secret providers"
    )
    assert cells["flowbuilder_core_fakes"] == f"task types: {', '.join(cls.name for cls in fake_tasks.FAKE_TASK_TYPES)}"


def test_store_option_help_lists_the_installed_schemes_and_the_default(cli) -> None:  # type: ignore[no-untyped-def]
    for command in (["runs", "list"], ["runs", "show"], ["runs", "watch"], ["logs"], ["run"], ["gc"]):
        shown = " ".join(cli(*command, "--help", env={"COLUMNS": "200"}).stdout.split())
        assert "Installed: memory://. Default: memory://." in shown, command
    chosen = " ".join(cli("runs", "list", "--help", env={"FLOWBUILDER_STORE": "memory://mine"}).stdout.split())
    assert "Default: memory://mine." in chosen


def test_version_prints_core_version(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("version", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["flowbuilder-core"] == __version__
    plain = cli("version")
    assert any(line.split() == ["flowbuilder-core", __version__] for line in plain.stdout.splitlines())


def test_dash_dash_version_of_the_executable(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"flowbuilder-core {__version__}")


# -- run -----------------------------------------------------------------------------------


def test_run_without_a_runner_says_to_install_flowrunner_and_exits_non_zero(run_cli) -> None:  # type: ignore[no-untyped-def]
    # FLOWBUILDER_LOAD_PLUGINS=core (set by the fixture) hides any installed runner.
    result = run_cli("run", str(SEED))
    assert result.exit_code not in (0, 2)
    assert "pip install flowbuilder-runner" in result.stderr
    assert "Traceback" not in result.output


def test_run_of_an_invalid_workflow_exits_2_before_looking_for_a_runner(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntasks:\n  - {name: a, type: shel}\n")
    result = cli("run", str(bad))
    assert result.exit_code == 2
    assert "unknown task type 'shel'" in result.stderr
    assert "flowbuilder-runner" not in result.stderr.split("installed types")[0]


# -- the error boundary --------------------------------------------------------------------


def test_a_compile_pass_that_raises_is_one_line_naming_its_plugin_and_exit_1(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "buggy_pass_plugin.py").write_text(
        textwrap.dedent("""
        from flowbuilder import hookimpl

        def explode(plan):
            raise RuntimeError("boom in a compile pass")

        @hookimpl
        def flowbuilder_compile_passes():
            return [explode]
    """)
    )
    env = {"FLOWBUILDER_PLUGIN_MODULES": "flowbuilder_core_fakes,buggy_pass_plugin",
           "PYTHONPATH": f"{tmp_path}:{Path(__file__).parent / 'fakeplugin'}"}  # fmt: skip
    result = run_cli("validate", str(SEED), env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        "error: plugin 'buggy_pass_plugin' failed in its compile pass explode: RuntimeError: boom in a compile pass"
    )


def test_a_bug_is_one_line_with_exit_70_and_no_traceback(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "buggy_store_plugin.py").write_text(
        textwrap.dedent("""
        from flowbuilder import hookimpl
        from flowbuilder.stores.memory import MemoryStore

        class Buggy(MemoryStore):
            scheme = "buggy"

            def list_runs(self, *args, **kwargs):
                raise RuntimeError("boom in list_runs")

        @hookimpl
        def flowbuilder_stores():
            return [Buggy]
    """)
    )
    env = {"FLOWBUILDER_PLUGIN_MODULES": "buggy_store_plugin", "PYTHONPATH": str(tmp_path)}
    result = run_cli("runs", "list", "--store", "buggy://", env=env)
    assert result.exit_code == 70
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        "internal error: RuntimeError: boom in list_runs (set FLOWBUILDER_DEBUG=1 for the traceback and report it)"
    )


def test_an_unknown_command_is_a_usage_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


# -- start-up cost -------------------------------------------------------------------------

HEAVY_MODULES = ("pydantic", "jinja2", "grpc", "polars", "onnxruntime")
IMPORTS_AFTER_HELP = """
import json, sys
from flowbuilder.cli.main import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))
"""


def _modules_imported_by_help(cli_env, env: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_HELP.format(heavy=set(HEAVY_MODULES))],
        capture_output=True, text=True, env=cli_env(env), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_help_with_core_alone_imports_no_pydantic_jinja2_grpc_polars_or_onnxruntime(cli_env) -> None:  # type: ignore[no-untyped-def]
    assert _modules_imported_by_help(cli_env, {"FLOWBUILDER_PLUGIN_MODULES": ""}) == []


def test_help_with_every_installed_plugin_imports_no_heavy_module(cli_env) -> None:  # type: ignore[no-untyped-def]
    # Every installed plugin adds its commands to --help; none may drag in pydantic models or engines.
    imported = _modules_imported_by_help(cli_env, {"FLOWBUILDER_LOAD_PLUGINS": "", "FLOWBUILDER_PLUGIN_MODULES": ""})
    assert imported == []


FREEZE_COUNT_AT_EXIT = """
import atexit, gc, sys
gc.disable()  # no automatic collection: only main() may collect the cycle below


class Cyclic:
    def __del__(self):
        print("garbage collected", file=sys.stderr)


garbage = Cyclic()
garbage.me = garbage
del garbage
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count(), file=sys.stderr))
from flowbuilder.cli.main import main
main({argv})
"""


def _frozen_at_exit(cli_env, argv: str) -> int:  # type: ignore[no-untyped-def]
    """How many objects were frozen when the process exited; its garbage cycle must have been collected."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_COUNT_AT_EXIT.format(argv=argv), "--version"],
        capture_output=True, text=True, env=cli_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "flowbuilder-core" in done.stdout
    assert "garbage collected" in done.stderr
    return int(done.stderr.split("frozen at exit:", 1)[1].split()[0])


def test_the_console_script_freezes_what_is_left_so_exit_does_not_walk_it(cli_env) -> None:  # type: ignore[no-untyped-def]
    """main() without argv ends the process: its garbage is collected, the rest leaves the collector."""
    assert _frozen_at_exit(cli_env, "") > 1000


def test_main_with_argv_leaves_the_collector_alone(cli_env) -> None:  # type: ignore[no-untyped-def]
    """An embedding caller's process goes on after main(argv): nothing is frozen for it."""
    assert _frozen_at_exit(cli_env, "sys.argv[1:]") == 0


INTERRUPTED_AT_EXIT = """
import gc
from flowbuilder.cli.main import main


def interrupted(*arguments):
    raise KeyboardInterrupt


gc.collect = interrupted
main()
"""


def test_a_ctrl_c_while_the_console_script_collects_keeps_the_command_s_exit_status(cli_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The last collection is an optimisation: interrupted, the command still exits as it would have."""
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_AT_EXIT, "validate", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, env=cli_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "missing.yaml" in done.stderr
