"""The web UI in a real browser (Debian's chromium via Playwright) against a real
``flowbuilder serve`` on RocksDB, under a strict CSP, with a screenshot of each screen.

Skipped, with the reason, when chromium, Playwright or the built UI is missing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside this file (import mode importlib)

from browser_session import Browser, Chromium, Server, artefacts_dir, layered_workflow, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

GREET = """\
name: greet
version: "1"
params:
  who: {type: string, default: world}
  times: {type: integer, default: 1}
tasks:
  - name: hello
    type: shell
    config: {command: "echo hello ${{ params.who }}"}
  - name: count
    type: shell
    depends_on: [hello]
    config: {command: "echo ${{ params.times }}"}
  - name: finish
    type: shell
    depends_on: [count]
    config: {command: "echo done"}
"""

SLOW_LOG = """\
name: chatty
version: "1"
tasks:
  - name: talk
    type: shell
    config: {command: "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 1; done"}
  - name: linger
    type: shell
    config: {command: "sleep 12"}
"""

SLEEPER = """\
name: sleeper
version: "1"
tasks:
  - name: nap
    type: shell
    config: {command: "sleep 120"}
"""

GATED = """\
name: gated
version: "1"
tasks:
  - name: gate
    type: approval
    config: {signal: ship, message: "Ship it?"}
  - name: after
    type: shell
    depends_on: [gate]
    config: {command: "echo shipped"}
"""

PACED = """\
name: paced
version: "1"
tasks:
  - name: first
    type: shell
    config: {command: "i=0; while [ ! -f GATE ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"}
  - name: second
    type: shell
    depends_on: [first]
    config: {command: "echo second"}
"""

FLAKY = """\
name: flaky
version: "1"
tasks:
  - name: wobbly
    type: shell
    config: {command: "test -f MARKER || { touch MARKER; echo first time fails >&2; exit 3; }"}
"""

RUN_TIMEOUT_MS = 60_000


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


def test_a_run_started_from_the_params_form_turns_green(server: Server, browser: Browser) -> None:
    server.store_workflow("greet", GREET)
    page = browser.open(server.url + "/#/workflows")
    page.get_by_role("link", name="greet").click()
    page.wait_for_selector(_node("hello"))
    page.fill("#param-who", "browser")
    page.fill("#param-times", "3")
    browser.screenshot("workflows-list-and-start-form")
    page.click("#start-run")
    page.wait_for_url("**/#/runs/*")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    for task in ("hello", "count", "finish"):
        page.wait_for_selector(f"{_node(task)}[data-status='succeeded']")
    assert page.get_attribute("#run-progress", "value") == "3"
    browser.screenshot("run-monitor-succeeded")
    run_id = page.url.rsplit("/", 1)[-1]
    detail = server.call("GET", f"/api/v1/runs/{run_id}")
    assert detail["params"] == {"who": "browser", "times": 3}  # typed by the form: 3, not "3"
    assert "hello browser" in str(detail["tasks"]["hello"]["output"])
    page.goto(server.url + "/#/workflows")
    page.wait_for_selector("a.badge.status-succeeded")
    browser.screenshot("workflows-with-last-runs")
    browser.assert_no_problems()


def test_a_tasks_log_panel_opened_while_it_runs_follows_its_lines(server: Server, browser: Browser) -> None:
    """The panel is opened while the task runs and shows its lines as the store gets them, with
    no reload, while the task itself still runs (the runner stores a line within its flush
    interval, not with the task's next event) and while the run goes on (``linger``)."""
    server.store_workflow("chatty", SLOW_LOG)
    started = server.call("POST", "/api/v1/runs", {"workflow": "chatty"})
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector(f"{_node('talk')}[data-status='running']", timeout=RUN_TIMEOUT_MS)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.click(_node("talk"))
    page.wait_for_selector("h3:has-text('Log') >> text=(following)")
    page.wait_for_function(
        "() => document.querySelector('#task-log')?.textContent.includes('line 2')", timeout=RUN_TIMEOUT_MS
    )
    assert page.get_attribute(_node("talk"), "data-status") == "running"  # the task has not ended yet
    assert "line 8" not in page.inner_text("#task-log")
    browser.screenshot("task-log-following")
    page.wait_for_function(
        "() => document.querySelector('#task-log')?.textContent.includes('line 8')", timeout=RUN_TIMEOUT_MS
    )
    assert page.get_attribute("#run-status", "data-status") == "running"  # followed, not read at the run's end
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the stream's end and a moment more: nothing is added twice
    assert page.inner_text("#task-log").count("line 3") == 1
    log_requests = [url for url in requested if "/logs" in url]
    assert log_requests and all("/logs/stream?task=talk" in url for url in log_requests)  # followed, not polled
    browser.screenshot("task-log-finished")
    browser.assert_no_problems()


def test_the_cancel_button_cancels_a_running_run(server: Server, browser: Browser) -> None:
    server.store_workflow("sleeper", SLEEPER)
    started = server.call("POST", "/api/v1/runs", {"workflow": "sleeper"})
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector(f"{_node('nap')}[data-status='running']", timeout=RUN_TIMEOUT_MS)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-run")
    page.wait_for_selector("#run-status[data-status='cancelled']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(f"{_node('nap')}[data-status='cancelled']")
    browser.screenshot("run-cancelled")
    assert server.call("GET", f"/api/v1/runs/{started['run_id']}")["summary"]["status"] == "cancelled"
    page.goto(server.url + "/#/runs")
    page.wait_for_selector("span.badge.status-cancelled")
    browser.screenshot("runs-list")
    page.goto(server.url + "/#/audit")
    page.wait_for_selector(
        f"#audit-log tr[data-action='POST /api/v1/runs/{{run_id}}/cancel'][data-target='run_id={started['run_id']}']",
        timeout=RUN_TIMEOUT_MS,
    )
    browser.screenshot("audit-log")
    browser.assert_no_problems()


def test_the_monitor_draws_the_runs_own_definition_after_a_new_version(server: Server, browser: Browser) -> None:
    server.store_workflow("greet", GREET)
    started = server.call("POST", "/api/v1/runs", {"workflow": "greet"})
    server.store_workflow("greet", SLEEPER.replace("sleeper", "greet"))  # version 2: one task, `nap`
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    for task in ("hello", "count", "finish"):
        page.wait_for_selector(f"{_node(task)}[data-status='succeeded']")
    assert page.locator(_node("nap")).count() == 0
    own = server.call("GET", f"/api/v1/runs/{started['run_id']}/definition")["definition"]
    assert page.get_attribute("#run-definition", "data-definition") == own
    assert server.call("GET", "/api/v1/workflows/greet")["definition"] != own
    browser.screenshot("run-monitor-own-definition")
    browser.assert_no_problems()


def test_a_waiting_approval_is_shown_with_its_question_and_approved_from_the_monitor(
    server: Server, browser: Browser
) -> None:
    server.store_workflow("gated", GATED)
    started = server.call("POST", "/api/v1/runs", {"workflow": "gated"})
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector(f"{_node('gate')}[data-status='waiting']", timeout=RUN_TIMEOUT_MS)
    assert "Ship it?" in page.inner_text(".waiting")
    browser.screenshot("run-waiting-for-approval")
    page.click("#approve-ship")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    assert page.locator(".waiting").count() == 0
    output = server.call("GET", f"/api/v1/runs/{started['run_id']}/outputs")["outputs"]["gate"]
    assert output["approved"] is True
    browser.assert_no_problems()


def test_pause_holds_the_next_task_until_unpause(server: Server, browser: Browser, tmp_path: Path) -> None:
    """``first`` runs until the test opens its gate, once the pause has shown: with a fixed
    sleep, a loaded machine could end ``first`` before the page saw it running (a 60 s wait
    for a state already gone) or before the pause landed (``second`` already started)."""
    gate = tmp_path / "gate"
    server.store_workflow("paced", PACED.replace("GATE", str(gate)))
    started = server.call("POST", "/api/v1/runs", {"workflow": "paced"})
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector(f"{_node('first')}[data-status='running']", timeout=RUN_TIMEOUT_MS)
    page.click("#pause-run")
    page.wait_for_selector("#run-status:has-text('(paused)')", timeout=RUN_TIMEOUT_MS)
    gate.touch()
    page.wait_for_selector(f"{_node('first')}[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(2000)  # paused: the next task does not start
    assert page.get_attribute(_node("second"), "data-status") == "pending"
    browser.screenshot("run-paused")
    page.click("#unpause-run")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    browser.assert_no_problems()


def test_retry_reruns_a_failed_run_to_green(server: Server, browser: Browser, tmp_path: Path) -> None:
    marker = tmp_path / "second-time"
    server.store_workflow("flaky", FLAKY.replace("MARKER", str(marker)))
    started = server.call("POST", "/api/v1/runs", {"workflow": "flaky"})
    page = browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector("#run-status[data-status='failed']", timeout=RUN_TIMEOUT_MS)
    assert "first time fails" in page.inner_text(".errors")
    browser.screenshot("run-failed")
    page.click("#retry-run")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(f"{_node('wobbly')}[data-status='succeeded']")
    browser.screenshot("run-retried")
    browser.assert_no_problems()


def _wait_until_still(page: object, names: list[str], within: float = 30.0) -> None:
    """Wait until the nodes' boxes are the same in two readings 300 ms apart (the layout has landed)."""

    def boxes() -> list[Any]:
        return [page.locator(f".react-flow__node[data-id='{name}']").bounding_box() for name in names]  # type: ignore[attr-defined]

    deadline = time.monotonic() + within
    before = boxes()
    while True:
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
        now = boxes()
        if now == before or time.monotonic() > deadline:
            return
        before = now


def _connect(page: object, parent: str, child: str) -> None:
    """Drag from ``parent``'s bottom handle to ``child``'s top handle (a React Flow connection).

    The drag is made again (at most three times) until the designer draws the edge: on a
    loaded machine a node can still move between reading its handle's box and the drop.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    edge = page.locator(f"[data-testid='rf__edge-{parent}->{child}']")  # type: ignore[attr-defined]
    for drag in range(1, 4):
        source = page.locator(f".react-flow__node[data-id='{parent}'] .react-flow__handle-bottom").bounding_box()  # type: ignore[attr-defined]
        target = page.locator(f".react-flow__node[data-id='{child}'] .react-flow__handle-top").bounding_box()  # type: ignore[attr-defined]
        mouse = page.mouse  # type: ignore[attr-defined]
        mouse.move(source["x"] + source["width"] / 2, source["y"] + source["height"] / 2)
        mouse.down()
        mouse.move(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2, steps=12)
        mouse.up()
        try:
            edge.wait_for(state="attached", timeout=3000)
        except PlaywrightTimeoutError:
            if drag == 3:
                raise AssertionError(f"the designer drew no edge {parent} -> {child} after three drags") from None
        else:
            return


def test_a_three_task_workflow_built_in_the_designer_saves_loads_back_identically_and_runs(
    server: Server, browser: Browser
) -> None:
    page = browser.open(server.url + "/#/designer")
    page.wait_for_selector(
        "#new-task-type option[value='shell'], #new-task-type option:text('shell')", state="attached"
    )
    page.fill("#workflow-name", "designed")
    for word in ("one", "two", "three"):
        page.select_option("#new-task-type", "shell")
        page.click("#add-task")
        page.fill("#config-command", f"echo {word}")  # the form built from shell's config schema
    page.click("text=Arrange")
    _wait_until_still(page, ["shell_1", "shell_2", "shell_3"])  # the layout runs in a worker: slow on a loaded machine
    _connect(page, "shell_1", "shell_2")
    _connect(page, "shell_2", "shell_3")
    page.click(".react-flow__node[data-id='shell_3']")
    page.fill("#task-retry", '{"attempts": 2}')
    page.wait_for_selector("#validity[data-validity='valid']", timeout=RUN_TIMEOUT_MS)
    written = page.get_attribute("#workflow-yaml", "data-yaml")
    assert written is not None and "depends_on:\n      - shell_2" in written
    assert page.locator("#config-json").count() == 0  # shell has a schema: no raw-JSON box
    browser.screenshot("designer")
    page.click("#save-workflow")
    page.wait_for_selector("#save-result:has-text('Saved')")

    stored = server.call("GET", "/api/v1/workflows/designed")
    assert stored["yaml"] == written
    assert [(task["name"], task["depends_on"]) for task in stored["dag"]["tasks"]] == [
        ("shell_1", []), ("shell_2", ["shell_1"]), ("shell_3", ["shell_2"])
    ]  # fmt: skip

    page.goto(server.url + "/#/designer/designed")  # the round trip: load the saved file, write it again
    page.wait_for_function(
        "(text) => document.querySelector('#workflow-yaml')?.dataset.yaml === text", arg=written, timeout=RUN_TIMEOUT_MS
    )

    page.goto(server.url + "/#/workflows/designed")
    page.wait_for_selector(_node("shell_3"))
    page.click("#start-run")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    page.click(_node("shell_3"))
    page.wait_for_function(
        "() => document.querySelector('#task-log')?.textContent.includes('three')", timeout=RUN_TIMEOUT_MS
    )
    browser.screenshot("designed-workflow-run")

    page.goto(server.url + "/#/history/designed")
    page.wait_for_selector("#task-stats tr[data-task='shell_1']", timeout=RUN_TIMEOUT_MS)
    assert "100.0 %" in page.inner_text("#success-rate")
    assert "100.0 %" in page.inner_text("#task-stats tr[data-task='shell_3']")  # the server's per-task figures
    assert page.locator("#slowest-runs li").count() == 1
    browser.screenshot("history")
    page.goto(server.url + "/#/plugins")
    page.wait_for_selector("td:has-text('task_types: ')")
    browser.screenshot("plugins")
    browser.assert_no_problems()


def test_the_designer_writes_only_the_config_a_user_set(server: Server, browser: Browser) -> None:
    """Fields left at their schema default stay out of the YAML; a task left at its defaults has no ``config:``."""
    import yaml

    page = browser.open(server.url + "/#/designer")
    page.wait_for_selector("#new-task-type option:text('wait')", state="attached")
    page.select_option("#new-task-type", "wait")
    page.click("#add-task")  # every field of wait's config is optional, with a default
    page.select_option("#new-task-type", "shell")
    page.click("#add-task")
    page.fill("#config-command", "echo one")  # required
    page.uncheck("#config-inherit_env")  # a boolean set away from its default (true)
    page.wait_for_function(
        "() => (document.querySelector('#workflow-yaml')?.dataset.yaml ?? '').includes('inherit_env')"
    )
    written = page.get_attribute("#workflow-yaml", "data-yaml")
    assert written is not None
    tasks = {task["name"]: task for task in yaml.safe_load(written)["tasks"]}
    assert "config" not in tasks["wait_1"], written
    assert tasks["shell_1"]["config"] == {"command": "echo one", "inherit_env": False}, written
    browser.assert_no_problems()


def test_the_designer_shows_the_servers_located_errors(server: Server, browser: Browser) -> None:
    page = browser.open(server.url + "/#/designer")
    page.wait_for_selector("#new-task-type option:text('shell')", state="attached")
    page.select_option("#new-task-type", "shell")
    page.click("#add-task")
    page.fill("#config-command", "echo fine")
    page.fill("#config-success_codes", '["zero"]')  # valid JSON the form sends; the server's model refuses it
    page.wait_for_selector("#validity[data-validity='invalid']", timeout=RUN_TIMEOUT_MS)
    problems = page.inner_text("#diagnostics")
    assert "line " in problems and "success_codes" in problems
    assert page.locator("#save-workflow").is_disabled()
    browser.screenshot("designer-errors")
    browser.assert_no_problems()


def test_a_20000_task_dag_opens_and_pans_and_zooms_rendering_only_what_is_visible(
    server: Server, browser: Browser
) -> None:
    server.store_workflow("big", layered_workflow("big", 20_000))
    page = browser.open(server.url + "/#/workflows/big")
    page.wait_for_selector(".dag[data-nodes='20000'] .react-flow__node", timeout=180_000)
    assert page.get_attribute(".dag", "data-engine") == "layered"
    rendered_before = page.locator(".react-flow__node").count()
    first_seen = set(page.eval_on_selector_all(".react-flow__node", "nodes => nodes.map(n => n.dataset.id)"))
    assert 0 < rendered_before < 2_000, rendered_before  # only the visible part of 20,000
    browser.screenshot("dag-20000-tasks")

    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane is not None
    x, y = pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2
    page.evaluate(
        "() => { window.__frames = []; let last = performance.now();"
        " const tick = now => { window.__frames.push(now - last); last = now;"
        " if (!window.__stop) requestAnimationFrame(tick); }; requestAnimationFrame(tick); }"
    )
    started = time.monotonic()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 300, y - 1500, steps=40)  # drag the view down the graph
    page.mouse.up()
    for _ in range(4):
        page.mouse.wheel(0, 400)  # zoom out
        page.wait_for_timeout(150)
    for _ in range(2):
        page.mouse.wheel(0, -400)  # and in again
        page.wait_for_timeout(150)
    frames = sorted(page.evaluate("() => { window.__stop = true; return window.__frames; }"))
    seconds = time.monotonic() - started

    after = set(page.eval_on_selector_all(".react-flow__node", "nodes => nodes.map(n => n.dataset.id)"))
    assert after and after != first_seen  # panning brought other tasks into view
    assert len(after) < 2_000, len(after)  # zoomed out to the floor, still a bounded subset
    browser.screenshot("dag-20000-tasks-after-pan-zoom")
    print(
        f"20,000-task DAG: {len(frames)} frames in {seconds:.1f} s of pan/zoom,"
        f" frame time P50 {frames[len(frames) // 2]:.1f} ms, P95 {frames[int(len(frames) * 0.95)]:.1f} ms"
        f" ({rendered_before} nodes rendered at first, {len(after)} after)"
    )
    browser.assert_no_problems()


def test_the_page_runs_under_the_strict_csp(server: Server, browser: Browser) -> None:
    """The policy is really in force in these tests: the page itself cannot eval or run inline code."""
    page = browser.open(server.url + "/#/plugins")
    page.wait_for_selector("table.plugins")
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text, timeout=10_000):
        blocked = page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
            " document.head.appendChild(s); return window.__inline === undefined; }"
        )
    assert blocked


def test_on_a_401_the_ui_asks_for_a_token_and_sends_it_as_a_bearer_header_everywhere(
    server: Server, browser: Browser
) -> None:
    """Until the security middleware lands, the browser plays the server's auth: any API call
    without ``Authorization: Bearer s3cret`` gets a 401. The live stream must carry it too."""
    server.store_workflow("greet", GREET)
    started = server.call("POST", "/api/v1/runs", {"workflow": "greet"})
    page = browser.page
    seen: list[tuple[str, str | None]] = []

    def require_token(route: Any) -> None:
        authorization = route.request.headers.get("authorization")
        seen.append((route.request.url, authorization))
        if authorization != "Bearer s3cret":
            route.fulfill(status=401, json={"error": {"status": 401, "reason": "a token is needed"}})
        else:
            route.fallback()

    page.route("**/api/v1/**", require_token)
    browser.open(f"{server.url}/#/runs/{started['run_id']}")
    page.wait_for_selector("#token")
    browser.screenshot("token-prompt")
    page.fill("#token", "s3cret")
    page.click("text=Use token")
    page.wait_for_selector("#run-status[data-status='succeeded']", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(f"{_node('finish')}[data-status='succeeded']")
    page.wait_for_selector(".progress:has-text('live: closed')", timeout=RUN_TIMEOUT_MS)  # the stream ran to its end
    assert page.evaluate("() => sessionStorage.getItem('flowbuilder.token')") == "s3cret"
    authorized = [url for url, header in seen if header == "Bearer s3cret"]
    assert any(url.endswith("/events/stream") for url in authorized)
    first_authorized = next(index for index, (_, header) in enumerate(seen) if header)
    assert all(header == "Bearer s3cret" for _, header in seen[first_authorized:])
    others = [problem for problem in browser.problems if "401" not in problem]
    assert others == []
