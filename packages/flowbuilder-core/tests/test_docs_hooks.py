"""The reference docs stay complete: every hook spec in docs/plugins.md (with its signature)
and the plugin switches; and, beside them, every field of the DSL in docs/dsl.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from flowbuilder import hookspecs

DOCS = Path(__file__).resolve().parents[3] / "docs"
PLUGINS_DOC = DOCS / "plugins.md"
DSL_DOC = DOCS / "dsl.md"


def hook_specs() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return sorted(name for name, value in vars(hookspecs).items() if callable(value) and hasattr(value, marker))


def doc_section(name: str) -> str:
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    match = re.search(rf"^### `{name}`\n(.*?)(?=^### |^## |\Z)", text, re.S | re.M)
    assert match is not None, f"docs/plugins.md has no `### `{name}`` section; document the hook there"
    return match.group(1)


def test_hookspecs_defines_hooks() -> None:
    assert len(hook_specs()) >= 8


@pytest.mark.parametrize("name", hook_specs())
def test_every_hook_has_a_section_with_when_returns_and_an_example(name: str) -> None:
    section = doc_section(name)
    assert "**When:**" in section and "**Returns:**" in section and "**Example:**" in section
    assert "@hookimpl" in section or "hookimpl" in section


@pytest.mark.parametrize("name", hook_specs())
def test_every_hook_section_shows_the_signature_with_each_parameter(name: str) -> None:
    section = doc_section(name)
    parameters = list(inspect.signature(getattr(hookspecs, name)).parameters)
    signature = re.search(rf"def {name}\((.*?)\)", section)
    assert signature is not None, f"the section of {name} does not show `def {name}(...)`"
    assert [p.split(":")[0].strip() for p in signature.group(1).split(",") if p.strip()] == parameters


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `(flowbuilder_\w+)`", PLUGINS_DOC.read_text(encoding="utf-8"), re.M))
    assert documented == set(hook_specs())


@pytest.mark.parametrize(
    "switch", ["FLOWBUILDER_DISABLE_PLUGINS", "FLOWBUILDER_LOAD_PLUGINS", "FLOWBUILDER_TRACE_PLUGINS"]
)
def test_the_plugin_switches_are_documented(switch: str) -> None:
    assert f"`{switch}=" in PLUGINS_DOC.read_text(encoding="utf-8")


def dsl_fields() -> list[str]:
    from flowbuilder import model

    models = (model.Workflow, model.Task, model.RetryPolicy, model.Param, model.TaskDefaults, model.Foreach,
              model.Schedule, model.Triggers, model.RunFinishedTrigger, model.SourceTrigger,
              model.WebhookTrigger, model.State, model.Transition)  # fmt: skip
    return sorted({f"{cls.__name__}.{name}" for cls in models for name in cls.model_fields})


@pytest.mark.parametrize("field", dsl_fields())
def test_every_dsl_field_is_in_a_table_of_docs_dsl(field: str) -> None:
    name = field.split(".")[1]
    assert re.search(rf"^\| `{name}` \|", DSL_DOC.read_text(encoding="utf-8"), re.M), (
        f"docs/dsl.md has no table row for `{name}` ({field}); document the field"
    )
