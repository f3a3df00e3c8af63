"""What the ``checksum`` task type does, alone and inside a real run."""

from __future__ import annotations

import asyncio
import hashlib
from importlib.util import find_spec
from pathlib import Path

import pytest
from flowbuilder_example import Checksum, ChecksumConfig
from pydantic import ValidationError

from flowbuilder import TaskContext, TaskFailure, WorkflowError

NEEDS_RUNNER = (
    "runs a whole workflow, which needs a runner; the contract matrix's cell for the lowest core"
    " (0.1) installs none, since flowbuilder-runner 0.2 needs core 0.2 (the repository's suite runs it)"
)


def run_checksum(**config: object) -> dict:
    return asyncio.run(Checksum().run(ChecksumConfig.model_validate(config), TaskContext(run_id="r", task="t")))


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "artifact.txt"
    path.write_bytes(b"hello\n" * 1000)
    return path


def test_output_holds_the_hex_digest_of_each_file(artifact: Path) -> None:
    output = run_checksum(paths=[str(artifact)])
    assert output["files"] == {str(artifact): hashlib.sha256(artifact.read_bytes()).hexdigest()}
    assert output["algorithm"] == "sha256" and output["bytes"] == 6000


def test_the_algorithm_is_configurable(artifact: Path) -> None:
    output = run_checksum(paths=[str(artifact)], algorithm="md5")
    assert output["files"][str(artifact)] == hashlib.md5(artifact.read_bytes(), usedforsecurity=False).hexdigest()


def test_a_matching_expectation_passes_in_any_case(artifact: Path) -> None:
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest().upper()
    assert run_checksum(paths=[str(artifact)], expect={str(artifact): digest})["files"]


def test_a_mismatched_expectation_fails_without_retry(artifact: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_checksum(paths=[str(artifact)], expect={str(artifact): "ab" * 32})
    assert "expected" in str(caught.value) and caught.value.retryable is False
    assert caught.value.output["files"][str(artifact)]


def test_a_missing_file_fails_without_retry(tmp_path: Path) -> None:
    with pytest.raises(TaskFailure) as caught:
        run_checksum(paths=[str(tmp_path / "absent")])
    assert "no such file" in str(caught.value) and caught.value.retryable is False


def test_expect_may_only_name_listed_paths() -> None:
    with pytest.raises(ValidationError, match="not in paths"):
        ChecksumConfig(paths=["a"], expect={"b": "00"})


def test_expected_digests_must_be_hexadecimal() -> None:
    with pytest.raises(ValidationError, match="hexadecimal"):
        ChecksumConfig(paths=["a"], expect={"a": "not-hex"})


# -- inside FlowBuilder, with the testing kit (flowbuilder.testing) -------------------------


@pytest.mark.flowbuilder_plugins("example")
def test_the_entry_point_registers_the_type_with_its_distribution(plugin_host) -> None:
    assert "checksum" in plugin_host.task_types()
    (info,) = [info for info in plugin_host.infos if info.name == "example"]
    assert info.distribution == "flowbuilder-example-plugin" and info.version
    assert info.hooks == ("flowbuilder_task_types",)


@pytest.mark.flowbuilder_plugins("example")
def test_a_bad_config_is_reported_at_its_line_and_column(compile_yaml) -> None:
    with pytest.raises(WorkflowError) as caught:
        compile_yaml(
            "name: sums\ntasks:\n  - name: s\n    type: checksum\n    config:\n      paths: []\n      algorithm: rot13\n",
            filename="sums.yaml",
        )
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("sums.yaml:6:14: checksum config:")
    assert lines[1].startswith("sums.yaml:7:18: checksum config:")


@pytest.mark.skipif(find_spec("flowrunner") is None, reason=NEEDS_RUNNER)
@pytest.mark.flowbuilder_plugins("core", "flowrunner", "example")
def test_a_workflow_verifies_an_artifact_with_the_digest_of_an_earlier_task(run_workflow, artifact: Path) -> None:
    result = run_workflow(f"""
name: verify
tasks:
  - name: first
    type: checksum
    config: {{paths: ["{artifact}"]}}
  - name: again
    type: checksum
    depends_on: [first]
    config:
      paths: ["{artifact}"]
      expect: {{"{artifact}": "${{{{ tasks.first.output.files['{artifact}'] }}}}"}}
""")
    assert result.succeeded, result.tasks
    assert result.output("again")["files"] == result.output("first")["files"]


@pytest.mark.skipif(find_spec("flowrunner") is None, reason=NEEDS_RUNNER)
@pytest.mark.flowbuilder_plugins("core", "flowrunner", "example")
def test_a_corrupted_artifact_fails_the_run(run_workflow, artifact: Path) -> None:
    result = run_workflow(f"""
name: verify
tasks:
  - name: check
    type: checksum
    retry: {{attempts: 3, backoff: 0.01}}
    config: {{paths: ["{artifact}"], expect: {{"{artifact}": "{"0" * 64}"}}}}
""")
    assert not result.succeeded
    assert result.tasks["check"].attempts == 1 and "expected" in result.tasks["check"].error
