"""Big outputs through the real CLI and the embedded store: the task past the limit fails, the run is recorded."""

from __future__ import annotations

import json
from pathlib import Path

MEGABYTE_OUTPUTS = "name: big\non_failure: continue\ntasks:\n" + "".join(
    f"  - {{name: t{i}, type: python, config: {{callable: 'builtins:str', args: [\"${{{{ 'x' * 1048576 }}}}\"]}}}}\n"
    for i in range(12)
)


def test_outputs_past_the_configured_run_limit_fail_those_tasks_and_the_run_stays_readable(run_cli, scratch_dir: Path) -> None:  # fmt: skip
    (scratch_dir / "flowbuilder.toml").write_text('[flowrunner]\nmax_run_output_bytes = "8MiB"\n')
    (scratch_dir / "big.yaml").write_text(MEGABYTE_OUTPUTS)
    store = f"rocksdb://{scratch_dir / 'store'}"

    ran = run_cli("run", "--store", store, "big.yaml")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr
    assert "past 8.0 MiB (max_run_output_bytes)" in ran.stdout + ran.stderr

    listed = run_cli("runs", "list", "--store", store)
    run_id = listed.stdout.splitlines()[1].split()[0]
    shown = run_cli("runs", "show", "--json", "--store", store, run_id)
    assert shown.returncode == 0, shown.stderr
    tasks = json.loads(shown.stdout)["state"]["tasks"]
    statuses = sorted(task["status"] for task in tasks.values())
    assert statuses == ["failed"] * 4 + ["succeeded"] * 8


def test_a_bad_limit_in_the_settings_is_a_one_line_error(run_cli, scratch_dir: Path) -> None:
    (scratch_dir / "flowbuilder.toml").write_text('[flowrunner]\nmax_output_bytes = "huge"\n')
    (scratch_dir / "big.yaml").write_text(MEGABYTE_OUTPUTS)
    ran = run_cli("run", "--store", "memory://", "big.yaml")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.stderr.strip().count("\n") == 0 and "max_output_bytes = 'huge'" in ran.stderr


def test_the_failure_summary_details_twenty_failures_and_counts_the_rest(run_cli, scratch_dir: Path) -> None:
    tasks = "".join(f"  - {{name: f{i}, type: shell, config: {{command: 'exit 1'}}}}\n" for i in range(30))
    (scratch_dir / "many.yaml").write_text(f"name: many\non_failure: continue\ntasks:\n{tasks}")
    ran = run_cli("run", "--store", "memory://", "many.yaml")
    assert ran.returncode == 1
    assert ran.stderr.count("  failed: ") == 20
    assert "... and 10 more failed tasks: flowbuilder runs show " in ran.stderr
