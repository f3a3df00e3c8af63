"""The web UI against hostile values, in a real chromium under the strict CSP: markup, script
URLs, ANSI and bidi controls in the values a run holds (description, param defaults, log
lines, outputs, errors, annotations, approval questions) are shown as inert text, never run
or reorder the page; a secret param's value appears in no view and no API answer the UI reads;
a name longer than its DAG node still shows its start.

Skipped, with the reason, when chromium, Playwright or the built UI is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside this file (import mode importlib)

from browser_session import Browser, Chromium, Server, artefacts_dir, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

RUN_TIMEOUT_MS = 60_000
PARAM_VALUE = "s3cr3t-hunter2-value"  # given to the secret param `token`
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)><a href='javascript:alert(3)'>x</a>"
CONTROLS = "\x1b[31mred\x1b[0m \u202eevil\u202c \u200b\u200d😀"

HOSTILE = {  # JSON is YAML: no quoting of the hostile text by hand
    "name": "hostile",
    "description": f"{MARKUP} {CONTROLS}",
    "params": {"who": {"type": "string", "default": MARKUP}, "token": {"type": "string", "secret": True}},
    "tasks": [
        {
            "name": "emit",
            "type": "shell",
            "config": {
                "command": 'printf "%s\\n" "$WHO" "token $TOK"; printf "\\033[31mred\\033[0m \\342\\200\\256rtl\\n";'
                ' printf "{\\"html\\": \\"%s\\", \\"url\\": \\"javascript:alert(4)\\", \\"tok\\": \\"%s\\"}\\n"'
                ' "<img src=x onerror=alert(5)>" "$TOK"',
                "env": {"WHO": "${{ params.who }}", "TOK": "${{ params.token }}"},
            },
        },
        {
            "name": "fail",
            "type": "shell",
            "config": {"command": "echo '<img src=x onerror=alert(6)>' token ${{ params.token }} >&2; exit 3"},
        },
    ],
}

GATED_BIDI = {
    "name": "gated",
    "tasks": [
        {
            "name": "gate",
            "type": "approval",
            # An unclosed RIGHT-TO-LEFT OVERRIDE: shown as it is, it would reverse what follows
            # on the line, the approvers and the order of the Approve and Reject buttons.
            "config": {"signal": "ship", "message": "Ship <b>it</b>? \u202e", "approvers": ["alice", "bob"]},
        }
    ],
}

LONG_NAME = "start_of_a_long_name_" + "x" * 100


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    served = Server(tmp_path / "server")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    launched = Chromium()
    yield launched
    launched.close()


@pytest.fixture
def browser(chromium: Chromium, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Browser]:
    opened = Browser(chromium, artefacts_dir(tmp_path, request.node.name))
    yield opened
    opened.close()


def _node(task: str) -> str:
    return f".react-flow__node[data-id='{task}'] .task-node"


def _store_json(server: Server, workflow: dict[str, Any]) -> None:
    server.store_workflow(workflow["name"], json.dumps(workflow, ensure_ascii=False))


def _nothing_injected(page: Any) -> dict[str, int]:
    """Elements only injected markup would make; all zero on a safe page."""
    return page.evaluate(
        """() => ({
            images: document.querySelectorAll('img').length,
            inlineScripts: document.querySelectorAll('script:not([src])').length,
            scriptLinks: [...document.querySelectorAll('a')].filter(a => /^\\s*javascript:/i.test(a.getAttribute('href') || '')).length,
            hostileLinks: [...document.querySelectorAll('a')].filter(a => a.textContent === 'x').length,
        })"""
    )


def test_hostile_values_are_inert_text_and_a_secret_param_appears_nowhere(server: Server, browser: Browser) -> None:
    _store_json(server, HOSTILE)
    run_id = server.call("POST", "/api/v1/runs", {"workflow": "hostile", "params": {"token": PARAM_VALUE}})["run_id"]
    # The task must be one of the run's (names are plain by the DSL's rule); the payload carries the markup.
    annotation = {"kind": "note", "task": "emit", "payload": {"html": MARKUP, "controls": CONTROLS}}
    server.call("POST", f"/api/v1/runs/{run_id}/annotations", annotation)
    dialogs: list[str] = []
    browser.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    clean = {"images": 0, "inlineScripts": 0, "scriptLinks": 0, "hostileLinks": 0}

    page = browser.open(server.url + "/#/workflows/hostile")
    page.wait_for_selector(_node("emit"))
    assert MARKUP in page.inner_text("main")  # the description, as text
    assert page.get_attribute("#param-who", "value") == MARKUP
    assert page.get_attribute("#param-token", "type") == "password"
    assert _nothing_injected(page) == clean

    page = browser.open(f"{server.url}/#/runs/{run_id}")
    page.wait_for_selector("#run-status[data-status='failed']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(".annotations li")
    page.click(_node("emit"))
    page.wait_for_selector("#task-log:has-text('token ***')", timeout=RUN_TIMEOUT_MS)
    log = page.inner_text("#task-log")
    assert MARKUP in log and "\u202ertl" in log
    output = json.loads(page.inner_text(".task-panel .output"))
    assert output == {"html": "<img src=x onerror=alert(5)>", "url": "javascript:alert(4)", "tok": "***"}
    assert "<img src=x onerror=alert(6)> token ***" in page.inner_text(".errors")
    assert MARKUP in page.inner_text(".annotations")
    browser.screenshot("run-with-hostile-values")
    assert _nothing_injected(page) == clean
    page.click(_node("fail"))
    page.wait_for_selector("#task-log:has-text('token ***')", timeout=RUN_TIMEOUT_MS)
    assert PARAM_VALUE not in page.content()

    for path in ("", "/events", "/logs", "/outputs", "/definition", "/annotations"):
        assert PARAM_VALUE not in json.dumps(server.call("GET", f"/api/v1/runs/{run_id}{path}")), path
    assert dialogs == []
    browser.assert_no_problems()


def test_bidi_controls_in_an_approval_question_cannot_reorder_the_buttons(server: Server, browser: Browser) -> None:
    run_id = server.call("POST", "/api/v1/runs", {"yaml": json.dumps(GATED_BIDI, ensure_ascii=False)})["run_id"]
    page = browser.open(f"{server.url}/#/runs/{run_id}")
    page.wait_for_selector("#approve-ship", timeout=RUN_TIMEOUT_MS)
    browser.screenshot("approval-with-bidi-override")
    approve, reject = page.locator("#approve-ship").bounding_box(), page.locator("#reject-ship").bounding_box()
    assert approve is not None and reject is not None
    assert approve["x"] < reject["x"], "the question's U+202E reversed the Approve and Reject buttons"
    assert "Ship <b>it</b>?" in page.inner_text(".waiting")
    assert page.locator(".waiting b").count() == 1  # the task's name; the question's <b> is text
    browser.assert_no_problems()


def test_a_task_name_longer_than_its_node_shows_its_start(server: Server, browser: Browser) -> None:
    workflow = {"name": "long", "tasks": [{"name": LONG_NAME, "type": "shell", "config": {"command": "true"}}]}
    _store_json(server, workflow)
    page = browser.open(server.url + "/#/workflows/long")
    page.wait_for_selector(_node(LONG_NAME))
    # Where the name's text starts and ends, against the node's box: centred in a box too
    # narrow, it would start left of the node, its first characters cut off.
    text, box = page.evaluate(
        """selector => {
            const node = document.querySelector(selector);
            const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
            let found = null;
            while (walker.nextNode()) if (walker.currentNode.textContent.startsWith('start_of')) found = walker.currentNode;
            const range = document.createRange();
            range.selectNodeContents(found);
            const r = range.getBoundingClientRect(), n = node.getBoundingClientRect();
            return [{left: r.left, right: r.right}, {left: n.left, right: n.right}];
        }""",
        _node(LONG_NAME),
    )
    assert text["left"] >= box["left"], (text, box)
    assert page.get_attribute(_node(LONG_NAME), "title") == f"{LONG_NAME}: pending"
    browser.screenshot("long-task-name")
    browser.assert_no_problems()


@pytest.mark.parametrize("route", ["workflows/%", "runs/%E0%A4%A", "history/%ZZ"])
def test_an_address_with_a_malformed_escape_shows_the_page_and_its_navigation(
    server: Server, browser: Browser, route: str
) -> None:
    """``decodeURIComponent`` throws on these; the page was left blank, with no way out but
    editing the address."""
    page = browser.open(f"{server.url}/#/{route}")
    page.wait_for_selector("header nav")
    page.wait_for_selector("main .error, main h1")
    page.click("header nav >> text=Runs")
    page.wait_for_selector("table.runs")
    assert [problem for problem in browser.problems if "404" not in problem] == []  # no such workflow or run


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_long_unbroken_values_wrap_instead_of_widening_the_page(server: Server, browser: Browser) -> None:
    """An error quoting 20,000 characters, an annotation's compact JSON and an audited request's
    long path have no space to wrap at: shown as they were, they made the page hundreds of
    thousands of pixels wide (the run monitor) or a few thousand (the audit log)."""
    workflow = {
        "name": "wide",
        "tasks": [{"name": "a", "type": "shell", "config": {"command": "printf 'e%.0s' $(seq 20000) >&2; exit 3"}}],
    }
    run_id = server.call("POST", "/api/v1/runs", {"yaml": json.dumps(workflow)})["run_id"]
    server.call("POST", f"/api/v1/runs/{run_id}/annotations", {"kind": "note", "task": "a", "payload": "p" * 30_000})
    assert httpx.post(f"{server.url}/api/v1/runs/{'x' * 3000}/cancel", json={}).status_code == 404
    viewport = 1400
    page = browser.open(f"{server.url}/#/runs/{run_id}")
    page.wait_for_selector(".errors code", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(".annotations code")
    assert "e" * 1000 in page.inner_text(".errors code")
    assert _page_width(page) == viewport
    browser.screenshot("run-with-long-values")
    page = browser.open(f"{server.url}/#/audit")
    page.wait_for_selector("#audit-log tr[data-action='POST /api/v1/runs/{run_id}/cancel']")
    assert _page_width(page) == viewport
    assert [problem for problem in browser.problems if "404" not in problem] == []


NUMERIC_LOOKING = """\
name: numeric
version: 2.0
description: 1e3
tasks:
  - name: wait
    type: shell
    timeout: 5m
    config: {command: "true"}
"""


def test_a_workflow_with_number_like_texts_is_shown_and_saved_by_the_designer_unchanged(
    server: Server, browser: Browser
) -> None:
    """The server reads ``version: 2.0`` and ``description: 1e3`` as the texts "2.0" and "1e3";
    the page showed "v2" and "1000", and the designer saved version "2", dropped the
    description and the task's ``timeout: 5m`` (text where its form takes seconds)."""
    server.store_workflow("numeric", NUMERIC_LOOKING)
    page = browser.open(server.url + "/#/workflows/numeric")
    page.wait_for_selector(_node("wait"))
    assert page.inner_text("main h1") == "numeric v2.0"
    assert "1e3" in page.inner_text("main")
    page = browser.open(server.url + "/#/designer/numeric")
    page.wait_for_selector("#workflow-yaml[data-yaml*='name: numeric']")
    page.wait_for_selector("#validity[data-validity='valid']", timeout=RUN_TIMEOUT_MS)
    page.click("#save-workflow")
    page.wait_for_selector("#save-result:has-text('Saved')")
    versions = server.call("GET", "/api/v1/workflows/numeric/versions")["versions"]
    assert len(versions) == 2 and versions[-1]["version"] == "2.0", versions
    saved = server.call("GET", "/api/v1/workflows/numeric")
    assert "1e3" in saved["yaml"] and "timeout: 5m" in saved["yaml"], saved["yaml"]
    browser.assert_no_problems()
