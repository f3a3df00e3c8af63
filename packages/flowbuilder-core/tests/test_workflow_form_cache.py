"""The start-up cache of validated workflows that ``flowbuilder run`` uses (issue 10).

What it hands back must be the workflow that validating the file gives — same values, same
types, same fields set — and it must be passed over the moment the file, the settings or the
code that validated it changes. What it cannot store exactly, it does not store."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from flowbuilder import loader, yamlsource
from flowbuilder._workflow_form_cache import (
    MAX_FILE_BYTES,
    WorkflowFormCache,
    decode_workflow,
    encode_workflow,
)
from flowbuilder.errors import WorkflowError
from flowbuilder.model import Workflow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VALID_FILES = sorted((HERE / "valid").glob("*.yaml")) + sorted((REPO / "examples").rglob("*.yaml"))


def validated_files() -> list[Path]:
    """Every workflow file in the repository that core's schema accepts."""
    found = []
    for path in VALID_FILES:
        try:
            loader.load_workflow(path)
        except WorkflowError:
            continue
        found.append(path)
    return found


def assert_same_models(rebuilt: Any, validated: Any, where: str = "workflow") -> None:
    """Equal values of the same types, and for models the same fields set, all the way down."""
    if isinstance(validated, BaseModel):
        assert type(rebuilt) is type(validated), where
        assert rebuilt.model_fields_set == validated.model_fields_set, where
        for name in type(validated).model_fields:
            assert_same_models(getattr(rebuilt, name), getattr(validated, name), f"{where}.{name}")
    elif isinstance(validated, dict):
        assert isinstance(rebuilt, dict) and list(rebuilt) == list(validated), where
        for key, value in validated.items():
            assert_same_models(rebuilt[key], value, f"{where}[{key!r}]")
    elif isinstance(validated, list):
        assert isinstance(rebuilt, list) and len(rebuilt) == len(validated), where
        for index, (mine, theirs) in enumerate(zip(rebuilt, validated, strict=True)):
            assert_same_models(mine, theirs, f"{where}[{index}]")
    else:
        assert type(rebuilt) is type(validated) and rebuilt == validated, where


@pytest.fixture
def form_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkflowFormCache:
    monkeypatch.setenv("FLOWBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FLOWBUILDER_NO_CACHE", raising=False)
    return WorkflowFormCache("settings")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the YAML parses of workflow files (the work the cache saves)."""
    calls: list[str] = []
    real = yamlsource.parse_yaml

    def counted(text: Any, filename: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(filename)
        return real(text, filename, *args, **kwargs)

    monkeypatch.setattr(yamlsource, "parse_yaml", counted)
    return calls


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HELLO = "name: w\ntasks:\n  - name: a\n    type: t\n    config: {x: 1}\n"


# -- the form -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", validated_files(), ids=lambda path: path.name)
def test_every_valid_file_in_the_repository_is_rebuilt_exactly(path: Path) -> None:
    validated = loader.load_workflow(path).workflow
    form = encode_workflow(validated)
    if form is None and path.parent != HERE / "valid":  # an example may hold a value such as `1.50`
        pytest.skip("holds a value without an exact JSON form (tested below)")
    assert form is not None, "core's valid files are plain data: each must be cacheable"
    rebuilt = decode_workflow(json.loads(json.dumps(form)))
    assert rebuilt == validated
    assert_same_models(rebuilt, validated)
    assert rebuilt.model_dump() == validated.model_dump()


def test_a_rebuilt_task_shares_its_empty_parts_like_a_validated_one() -> None:
    validated = loader.load_workflow(HELLO.encode()).workflow
    rebuilt = decode_workflow(json.loads(json.dumps(encode_workflow(validated))))
    with pytest.raises(TypeError):
        rebuilt.tasks[0].env["X"] = "1"  # type: ignore[index]  # the shared empty refuses, as after validation


@pytest.mark.parametrize(
    "config",
    [
        "{x: 1.10}",  # a number that kept its YAML text (yamlsource.YamlFloat)
        "{x: 007}",  # and an int (yamlsource.YamlInt)
        "{x: .inf}",  # not finite: no exact JSON
        "{x: .nan}",
    ],
)
def test_a_value_without_an_exact_json_form_leaves_the_workflow_uncached(config: str) -> None:
    workflow = loader.load_workflow(f"name: w\ntasks:\n  - name: a\n    type: t\n    config: {config}\n").workflow
    assert encode_workflow(workflow) is None


def test_a_non_string_key_leaves_the_workflow_uncached() -> None:
    workflow = Workflow.model_validate({"name": "w", "tasks": [{"name": "a", "type": "t", "config": {"x": {1: 2}}}]})
    assert encode_workflow(workflow) is None


def test_a_model_with_private_state_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbuilder import model

    workflow = loader.load_workflow(HELLO.encode()).workflow
    monkeypatch.setattr(model.Task, "__private_attributes__", {"_derived": object()})
    assert encode_workflow(workflow) is None


def test_a_text_key_that_looks_like_a_wrapper_is_kept_as_data() -> None:
    workflow = Workflow.model_validate(
        {"name": "w", "tasks": [{"name": "a", "type": "t", "config": {"m": "Task", "s": [], "v": {}, "d": {}}}]}
    )
    rebuilt = decode_workflow(json.loads(json.dumps(encode_workflow(workflow))))
    assert rebuilt.tasks[0].config == {"m": "Task", "s": [], "v": {}, "d": {}}


@pytest.mark.parametrize(
    "form",
    [
        None,
        [],
        {"m": "BaseModel", "s": [], "v": {}},  # only core's DSL models may be named
        {"m": "Path", "s": [], "v": {}},
        {"m": "Workflow", "s": [], "v": {"name": "w"}},  # fields missing: the model changed
        {"m": "Workflow", "s": ["nope"], "v": {}},
        {"m": "Task", "s": [], "v": {}},
        {"d": {"name": "w"}},  # a mapping, not a workflow
        {"m": "Workflow", "s": [], "v": {}, "x": 1},
        {"name": "w", "tasks": []},  # plain data is never taken for a model
    ],
)
def test_any_other_shape_is_refused(form: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        decode_workflow(form)


# -- the cache ------------------------------------------------------------------------------


def test_the_second_load_is_rebuilt_from_the_cache_without_parsing(
    tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]
) -> None:
    path = write(tmp_path, HELLO)
    first = loader.load_workflow(path, form_cache=form_cache)
    second = loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 1
    assert second.workflow == first.workflow and second.content == first.content and second.path == path
    assert_same_models(second.workflow, first.workflow)


def test_a_problem_found_later_is_still_located_in_the_file(tmp_path: Path, form_cache: WorkflowFormCache) -> None:
    path = write(tmp_path, "name: w\ntasks:\n  - name: a\n    type: t\n    depends_on: [nope]\n")
    loader.load_workflow(path, form_cache=form_cache)
    source = loader.load_workflow(path, form_cache=form_cache)
    diagnostic = source.locator.at(("tasks", 0, "depends_on", 0), "unknown task")
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == (str(path), 5, 18)
    assert diagnostic == loader.load_workflow(path).locator.at(("tasks", 0, "depends_on", 0), "unknown task")


def test_other_bytes_are_validated_afresh(tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]) -> None:
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=form_cache)
    path.write_text(HELLO.replace("x: 1", "x: 2"))
    assert loader.load_workflow(path, form_cache=form_cache).workflow.tasks[0].config == {"x": 2}
    assert len(parses) == 2


def test_other_settings_are_a_miss(tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]) -> None:
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=form_cache)
    loader.load_workflow(path, form_cache=WorkflowFormCache("other settings"))
    assert len(parses) == 2


def test_an_invalid_file_is_never_stored_and_reports_as_before(tmp_path: Path, form_cache: WorkflowFormCache) -> None:
    path = write(tmp_path, "name: w\ntasks:\n  - name: a\n    type: t\n    retry: {attempts: 0}\n")
    for _ in range(2):
        with pytest.raises(WorkflowError) as raised:
            loader.load_workflow(path, form_cache=form_cache)
        assert str(raised.value).startswith(f"{path}:5:")
    assert form_cache.directory is not None and not form_cache.directory.exists()


def test_an_entry_of_any_other_shape_is_a_miss_that_is_rewritten(
    tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]
) -> None:
    path = write(tmp_path, HELLO)
    expected = loader.load_workflow(path, form_cache=form_cache).workflow
    assert form_cache.directory is not None
    (entry,) = form_cache.directory.iterdir()
    wrong_model = json.dumps({"format": 1, "key": entry.stem, "workflow": {"m": "Nope"}, "sources": []})
    for garbage in (b"not json", b"[]", wrong_model.encode(), b"\xff\xfe not UTF-8"):
        entry.write_bytes(garbage)
        assert loader.load_workflow(path, form_cache=form_cache).workflow == expected
        assert json.loads(entry.read_text())["workflow"]["m"] == "Workflow"  # rewritten
    assert len(parses) == 5


def test_a_changed_module_that_validated_it_is_a_miss(
    tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]
) -> None:
    module = write(tmp_path, "X = 1\n", "validator_module.py")
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=form_cache)
    assert form_cache.directory is not None
    (entry,) = form_cache.directory.iterdir()
    record = json.loads(entry.read_text())
    stat = module.stat()
    record["sources"].append([str(module), stat.st_mtime_ns, stat.st_size])
    entry.write_text(json.dumps(record))
    loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 1  # unchanged: a hit
    module.write_text("X = 22\n")
    loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 2


@pytest.mark.parametrize("which", ["entry", "directory"])
def test_an_entry_others_could_have_written_is_not_used(
    tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str], which: str
) -> None:
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=form_cache)
    assert form_cache.directory is not None
    (entry,) = form_cache.directory.iterdir()
    assert entry.stat().st_mode & 0o777 == 0o600
    loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 1
    shared = entry if which == "entry" else form_cache.directory
    shared.chmod(shared.stat().st_mode | 0o020)  # group-writable: someone else may have put it there
    loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 2


def test_a_fifo_under_an_entry_name_is_passed_over_not_opened(
    tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]
) -> None:
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=form_cache)
    assert form_cache.directory is not None
    (entry,) = form_cache.directory.iterdir()
    entry.unlink()
    os.mkfifo(entry, 0o600)  # opening it for reading would wait for a writer for ever
    assert loader.load_workflow(path, form_cache=form_cache).workflow.name == "w"
    assert len(parses) == 2


def test_no_cache_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[str]) -> None:
    monkeypatch.setenv("FLOWBUILDER_NO_CACHE", "1")
    off = WorkflowFormCache("settings")
    path = write(tmp_path, HELLO)
    loader.load_workflow(path, form_cache=off)
    loader.load_workflow(path, form_cache=off)
    assert off.directory is None and len(parses) == 2


def test_a_large_file_is_validated_as_always(tmp_path: Path, form_cache: WorkflowFormCache, parses: list[str]) -> None:
    padding = "# " + "x" * 100 + "\n"
    path = write(tmp_path, HELLO + padding * math.ceil(MAX_FILE_BYTES / len(padding)))
    loader.load_workflow(path, form_cache=form_cache)
    loader.load_workflow(path, form_cache=form_cache)
    assert len(parses) == 2
    assert form_cache.directory is not None and not form_cache.directory.exists()


def test_core_models_are_built_on_first_validation_not_at_import() -> None:
    import subprocess
    import sys

    code = (
        "from flowbuilder import model\n"
        "print(model.Workflow.__pydantic_complete__, model.Task.__pydantic_complete__)\n"
        "model.build_models()\n"
        "print(all(cls.__pydantic_complete__ for cls in vars(model).values()"
        " if isinstance(cls, type) and issubclass(cls, model._Model) and cls is not model._Model))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False", "True"], done.stderr
