"""Plugins meet core only through its public surface (issue 9, item 7).

The public modules are the list in docs/plugins.md ("What plugins import from core"); a
name is public when it is in its module's ``__all__``. Every package of this repository
other than core, the contracts and the example plugin are scanned (imports inside functions
too), so a plugin reaching for ``_json_fallback`` or ``flowbuilder.cli.runs_commands`` fails here.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGINS_DOC = REPO_ROOT / "docs" / "plugins.md"
INTERFACE_MODULES = ("consensus", "executor", "runner", "secrets", "sink", "store", "tasktype", "trigger_source")
INTERFACE_MODULES += ("message_bus",)  # the cluster event bus (issue 12.4)
INTERFACE_MODULES += ("authenticator",)  # who calls the server (issue 13)
INTERFACE_MODULES += ("node_announcer",)  # schedulers and workers in the node registry (issue 12)


def public_modules() -> list[str]:
    """The modules listed between the ``public-modules`` markers of docs/plugins.md."""
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- public-modules:.*?-->\n(.*?)<!-- /public-modules -->", text, re.S)
    assert block is not None, "docs/plugins.md lost its public-modules block"
    modules = re.findall(r"^- `(flowbuilder[\w.]*)`", block.group(1), re.M)
    roles = re.search(r"the store roles (.*?)\n- ", block.group(1), re.S)
    role_names = re.findall(r"`(\w+)`", roles.group(1)) if roles else []
    interfaces = [f"flowbuilder.interfaces.{name}" for name in (*INTERFACE_MODULES, *role_names)]
    return sorted({*modules, *interfaces})


PUBLIC = public_modules()


def plugin_sources() -> list[Path]:
    roots = [p / "src" for p in (REPO_ROOT / "packages").iterdir() if p.name != "flowbuilder-core"]
    roots += [REPO_ROOT / "contracts" / "src", *(p / "src" for p in (REPO_ROOT / "examples").iterdir())]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.py"))


def private_imports(source: str, public: list[str]) -> list[str]:
    """Each import of ``source`` that reaches past core's public surface, as ``module.name``."""
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in imported:
            if module != "flowbuilder" and not module.startswith("flowbuilder."):
                continue
            if module not in public:
                problems.append(f"{module} (not a public module)")
            elif name is not None and (name.startswith("_") or name not in importlib.import_module(module).__all__):
                problems.append(f"{module}.{name} (not in its __all__)")
    return problems


@pytest.mark.parametrize("path", plugin_sources(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_plugin_code_imports_only_public_core_names(path: Path) -> None:
    assert private_imports(path.read_text(encoding="utf-8"), PUBLIC) == []


@pytest.mark.parametrize("module", PUBLIC)
def test_every_public_module_declares_all_and_each_name_exists(module: str) -> None:
    imported = importlib.import_module(module)
    assert isinstance(getattr(imported, "__all__", None), list), f"{module} has no __all__"
    assert imported.__doc__, f"{module} has no docstring"
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


def test_the_check_catches_an_underscore_name_an_unlisted_name_and_an_internal_module() -> None:
    source = (
        "from flowbuilder.events import _json_fallback\n"
        "from flowbuilder.expressions import _parse\n"
        "def later():\n    from flowbuilder.cli.runs_commands import parse_duration\n"
        "import flowbuilder.builtin_plugin\n"
        "from flowbuilder.events import RunEvent\n"
    )
    assert private_imports(source, PUBLIC) == [
        "flowbuilder.events._json_fallback (not in its __all__)",
        "flowbuilder.expressions._parse (not in its __all__)",
        "flowbuilder.builtin_plugin (not a public module)",
        "flowbuilder.cli.runs_commands (not a public module)",
    ]
