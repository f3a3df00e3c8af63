"""What the browser tests share: a real ``flowbuilder serve``, Debian's chromium driven by
Playwright, a strict CSP on every page, and a folder for screenshots.

The server is a real process on a free 127.0.0.1 port (``--port 0``; the URL is read from its
stderr) with a RocksDB store in the test's tmp_path, stopped by its PID. Chromium is the
system's (``/usr/bin/chromium``, ``apt-get install chromium``): Playwright downloads nothing.
Each page document is served with ``Content-Security-Policy: default-src 'self'`` added (the
policy the security middleware sets), so the UI is tested under it; a violation or any
console error fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("FLOWBUILDER_CHROMIUM", "/usr/bin/chromium")
FLOWBUILDER = str(Path(sys.executable).with_name("flowbuilder"))
STRICT_CSP = "default-src 'self'"
STATIC_INDEX = Path(__file__).resolve().parents[1] / "src" / "flowui" / "static" / "index.html"


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (Debian: apt-get install chromium; or set FLOWBUILDER_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'flowbuilder-ui[test]')"
    if not STATIC_INDEX.is_file():
        return (
            "the web UI is not built (bash scripts/install with npm, or npm ci && npm run build in packages/flowui/web)"
        )
    return None


def artefacts_dir(tmp_path: Path, test_name: str) -> Path:
    """``$FLOWBUILDER_TEST_ARTEFACTS/browser/<test>`` or ``tmp_path/artefacts``; printed."""
    root = os.environ.get("FLOWBUILDER_TEST_ARTEFACTS")
    folder = Path(root) / "browser" / test_name if root else tmp_path / "artefacts"
    folder.mkdir(parents=True, exist_ok=True)
    print(f"browser artefacts (screenshots): {folder}")
    return folder


class Server:
    """``flowbuilder serve`` on a free port with a RocksDB store under ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.stderr_path = directory / "serve.err"
        self._stderr = self.stderr_path.open("wb")
        store = f"rocksdb://{directory / 'store'}"
        self.process = subprocess.Popen([FLOWBUILDER, "serve", "--port", "0", "--store", store],
                                        cwd=directory, stdout=subprocess.DEVNULL, stderr=self._stderr)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"listening on (http://[0-9.]+:\d+)", self.stderr_path.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"flowbuilder serve did not start: {self.stderr_path.read_text(errors='replace')}")
            time.sleep(0.05)

    def call(self, method: str, path: str, body: Any = None, *, yaml: str | None = None) -> Any:
        """One API call (JSON, or a YAML body); the decoded JSON answer. Raises on 4xx/5xx."""
        import httpx

        if yaml is not None:
            answer = httpx.request(method, self.url + path, content=yaml.encode(), timeout=60,
                                   headers={"Content-Type": "application/yaml"})  # fmt: skip
        else:
            answer = httpx.request(method, self.url + path, json=body, timeout=60)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def store_workflow(self, name: str, text: str) -> None:
        self.call("POST", f"/api/v1/workflows/{name}/versions", yaml=text)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._stderr.close()


class Chromium:
    """Playwright and one headless chromium process, shared by a module's tests.

    Launching chromium costs a second or two (more on a loaded machine); each test gets a
    fresh browser context from it (``Browser``), which shares no cookies, storage, cache or
    routes with any other test's, so the tests stay independent.
    """

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=CHROMIUM, headless=True)

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


class Browser:
    """One page, in a browser context of its own, that records console errors and CSP violations."""

    def __init__(self, chromium: Chromium, artefacts: Path) -> None:
        self.artefacts = artefacts
        self.context = chromium.browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console", lambda message: message.type == "error" and self.problems.append(f"console: {message.text}")
        )
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        self.page.route("**/*", self._with_strict_csp)

    def _with_strict_csp(self, route: Any) -> None:
        """Page documents get the strict policy; everything else (API, SSE) passes untouched."""
        if route.request.resource_type != "document":
            route.fallback()
            return
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    def open(self, url: str) -> Any:
        self.page.goto(url)
        return self.page

    def screenshot(self, name: str) -> Path:
        path = self.artefacts / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def assert_no_problems(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def close(self) -> None:
        self.page.unroute_all(behavior="ignoreErrors")
        self.context.close()


def layered_workflow(name: str, tasks: int, width: int = 100) -> str:
    """A workflow of ``tasks`` quick shell tasks in layers of ``width``, each depending on two
    tasks of the layer above (a wide, deep DAG like a real fan-out/fan-in pipeline)."""
    lines = [f"name: {name}", 'version: "1"', "tasks:"]
    for index in range(tasks):
        layer, position = divmod(index, width)
        lines += [f"  - name: t{index}", "    type: shell"]
        if layer:
            parents = sorted(
                {f"t{(layer - 1) * width + position}", f"t{(layer - 1) * width + (position * 7 + 3) % width}"}
            )
            lines.append(f"    depends_on: [{', '.join(parents)}]")
        lines.append('    config: {command: "true"}')
    return "\n".join(lines) + "\n"


__all__ = ["Browser", "STRICT_CSP", "Server", "artefacts_dir", "layered_workflow", "skip_reason"]
