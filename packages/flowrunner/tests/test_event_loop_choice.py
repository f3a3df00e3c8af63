"""``FLOWBUILDER_EVENT_LOOP`` (issue 10): the synchronous entry points run on asyncio's loop
with precise timers (the default), asyncio's stock loop or, when asked, uvloop's; a wrong
value or a missing uvloop is a one-line error.

Through the Python API in this process and ``flowbuilder run`` as a real process, with a
``shell`` task beside an async ``python`` task that reports which loop ran it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.errors import ConfigurationError
from flowrunner import run_workflow

HERE = Path(__file__).resolve().parent
FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
WORKFLOW = """\
name: loops
tasks:
  - {name: which, type: python, config: {callable: "flowrunner_sample_callables:running_loop_module"}}
  - {name: shell, type: shell, depends_on: [which], config: {command: "echo ran"}}
"""


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    path = tmp_path / "loops.yaml"
    path.write_text(WORKFLOW)
    return path


@pytest.mark.parametrize(("choice", "expected"), [("", "asyncio precise"), ("asyncio", "asyncio precise"),
                                                  ("asyncio-stock", "asyncio"), ("uvloop", "uvloop"),
                                                  ("auto", "uvloop")])  # fmt: skip
def test_the_api_runs_on_the_chosen_loop(workflow: Path, monkeypatch: pytest.MonkeyPatch, choice: str,
                                         expected: str) -> None:  # fmt: skip
    pytest.importorskip("uvloop")  # in the [test] extra; the asyncio rows need it only for "auto"
    monkeypatch.setenv("FLOWBUILDER_EVENT_LOOP", choice)
    # A named store of its own: the bare "memory://" is the process's default store, which
    # other tests in the same worker read (flowbuilder runs list expects it empty).
    result = run_workflow(workflow, store="memory://event-loop-choice")
    assert result.succeeded
    assert result.tasks["which"].output == expected
    assert result.tasks["shell"].output is not None


def test_a_wrong_choice_is_refused_in_one_line(workflow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBUILDER_EVENT_LOOP", "trio")
    with pytest.raises(
        ConfigurationError, match="FLOWBUILDER_EVENT_LOOP='trio': use one of asyncio, asyncio-stock, uvloop, auto"
    ):
        run_workflow(workflow, store="memory://event-loop-choice")


def _cli(workflow: Path, choice: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWBUILDER_")}
    env.update(FLOWBUILDER_EVENT_LOOP=choice, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([FLOWBUILDER, "run", "--json", "--store", "memory://", str(workflow)], env=env,
                          cwd=workflow.parent, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_flowbuilder_run_runs_on_uvloop_when_asked(workflow: Path) -> None:
    pytest.importorskip("uvloop")
    done = _cli(workflow, "uvloop")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    outputs = {e["task"]: e["data"].get("output") for e in events if e.get("kind") == "task_succeeded"}
    assert outputs["which"] == "uvloop"


def test_flowbuilder_run_uses_the_precise_loop_by_default(workflow: Path) -> None:
    done = _cli(workflow, "")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    outputs = {e["task"]: e["data"].get("output") for e in events if e.get("kind") == "task_succeeded"}
    assert outputs == {"which": "asyncio precise", "shell": "ran"}


def test_flowbuilder_run_refuses_a_wrong_choice_in_one_line(workflow: Path) -> None:
    done = _cli(workflow, "fastest")
    assert done.returncode not in (0, 70)
    assert "Traceback" not in done.stderr
    assert "FLOWBUILDER_EVENT_LOOP='fastest'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


CTRL_C_SCRIPT = """\
import asyncio, signal, sys
from flowrunner import run_workflow

async def interrupt_me():
    signal.raise_signal(signal.SIGINT)  # Ctrl-C while the run's loop runs
    await asyncio.sleep(60)

sys.modules["ctrl_c_callables"] = sys.modules[__name__]
events = []
try:
    run_workflow(sys.argv[1], store="memory://ctrl-c", on_event=events.append)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
print([e.kind.value for e in events if e.kind.value in ("task_cancelled", "run_finished")],
      events[-1].data.get("status"))
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


@pytest.mark.parametrize("choice", ["asyncio", "asyncio-stock"])
def test_ctrl_c_during_an_api_run_cancels_the_run_then_raises_keyboard_interrupt(tmp_path: Path, choice: str) -> None:
    """run_workflow from synchronous code: the first Ctrl-C cancels the run (its task is
    cancelled and the run recorded as cancelled), the caller gets KeyboardInterrupt, and
    Python's own SIGINT handler is back afterwards (asyncio.Runner's contract, kept by
    flowbuilder.event_loop's cheaper handler)."""
    path = tmp_path / "ctrl_c.yaml"
    path.write_text(
        'name: ctrl-c\ntasks:\n  - {name: nap, type: python, config: {callable: "ctrl_c_callables:interrupt_me"}}\n'
    )
    script = tmp_path / "ctrl_c_script.py"
    script.write_text(CTRL_C_SCRIPT)
    env = {**os.environ, "FLOWBUILDER_EVENT_LOOP": choice, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, str(script), str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["KeyboardInterrupt", "['task_cancelled', 'run_finished'] cancelled", "True"]


def test_the_synchronous_api_inside_a_running_loop_is_refused_without_a_stray_coroutine(
    workflow: Path, recwarn: pytest.WarningsRecorder
) -> None:
    async def inside_a_loop() -> None:
        run_workflow(workflow, store="memory://event-loop-choice")

    with pytest.raises(RuntimeError, match="called from a running event loop: await its async flavour"):
        asyncio.run(inside_a_loop())
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
