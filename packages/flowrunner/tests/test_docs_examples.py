"""The examples in docs/runner.md run and do what the page says, so the page cannot rot.

Convention (in the Markdown source): a line ``<!-- test -->`` right before a ```` ```python ````
fence marks a runnable example: it is run as a script, in a fresh interpreter, in an empty
temporary directory, and must exit 0 (its ``assert`` lines state what it does). A line
``<!-- test: workflow -->`` before a ```` ```yaml ```` fence marks a complete workflow file:
it is run with ``flowrunner.run_workflow`` and must succeed. Every ```` ```python ```` block
of the page must be marked, so an example cannot be added untested by accident.

The examples run in parallel subprocesses (they spend most of their time starting
interpreters and sleeping in shell commands), which keeps this module at a few seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "runner.md"
MARKER = re.compile(r"^<!--\s*test(?::\s*(?P<kind>[\w-]+))?\s*-->\s*$")
FENCE = re.compile(r"^```(?P<language>\w*)\s*$")
TIMEOUT = 60

_RUN_WORKFLOW = """\
import sys
from pathlib import Path
from flowrunner import run_workflow

result = run_workflow(Path(sys.argv[1]))
failed = {name: state.error or state.reason for name, state in result.tasks.items() if state.status.value != "succeeded"}
assert result.succeeded, failed
"""


@dataclass(frozen=True)
class Example:
    line: int
    language: str
    marker: str | None
    code: str

    @property
    def name(self) -> str:
        return f"runner.md:{self.line}"


def extract_blocks(text: str) -> list[Example]:
    """Every fenced block of ``text`` with its language and the marker line before it, if any."""
    lines = text.splitlines()
    blocks: list[Example] = []
    position = 0
    while position < len(lines):
        opening = FENCE.match(lines[position].strip()) if lines[position].startswith("```") else None
        if opening is None:
            position += 1
            continue
        previous = position - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        marker = MARKER.match(lines[previous].strip()) if previous >= 0 else None
        body_start = position + 1
        end = body_start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        kind = None if marker is None else (marker.group("kind") or "script")
        blocks.append(Example(body_start, opening.group("language"), kind, "\n".join(lines[body_start:end]) + "\n"))
        position = end + 1
    return blocks


BLOCKS = extract_blocks(DOC.read_text(encoding="utf-8"))
SCRIPTS = [block for block in BLOCKS if block.language == "python" and block.marker == "script"]
WORKFLOWS = [block for block in BLOCKS if block.language == "yaml" and block.marker == "workflow"]


def _run(example: Example) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="runner-doc-") as folder:
        if example.marker == "workflow":
            (Path(folder) / "workflow.yaml").write_text(example.code, encoding="utf-8")
            argv = [sys.executable, "-c", _RUN_WORKFLOW, "workflow.yaml"]
        else:
            (Path(folder) / "example.py").write_text(example.code, encoding="utf-8")
            argv = [sys.executable, "example.py"]
        # The page describes default settings: a developer's FLOWBUILDER_* variables must not leak in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
        return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every marked example once, four at a time."""
    examples = SCRIPTS + WORKFLOWS
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((example.name for example in examples), pool.map(_run, examples), strict=True))


def test_the_page_has_runnable_examples_of_each_kind() -> None:
    assert len(SCRIPTS) >= 10 and len(WORKFLOWS) >= 3


def test_every_python_block_of_the_page_is_marked_runnable() -> None:
    unmarked = [block.name for block in BLOCKS if block.language == "python" and block.marker != "script"]
    assert not unmarked, f"python blocks without <!-- test --> before them: {unmarked}"


def test_the_extractor_reads_markers_and_fences() -> None:
    text = "intro\n<!-- test -->\n```python\nprint(1)\n```\n\n<!-- test: workflow -->\n\n```yaml\na: 1\n```\n```bash\nls\n```\n"
    blocks = extract_blocks(text)
    assert [(b.language, b.marker, b.code) for b in blocks] == [
        ("python", "script", "print(1)\n"),
        ("yaml", "workflow", "a: 1\n"),
        ("bash", None, "ls\n"),
    ]


@pytest.mark.parametrize("example", SCRIPTS + WORKFLOWS, ids=lambda example: example.name)
def test_the_documented_example_runs(example: Example, outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    done = outcomes[example.name]
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout}\n{done.stderr}"
