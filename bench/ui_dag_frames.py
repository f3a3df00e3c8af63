"""Frame time of the web UI's DAG view at 20,000 tasks while panning and zooming, beside the floor.

Starts a real ``flowbuilder serve`` (RocksDB in a temporary folder, a free 127.0.0.1 port),
stores a 20,000-task layered workflow (100 tasks a layer, each depending on two of the layer
above), opens its DAG in headless chromium (Debian's, through Playwright), and pans and zooms
for a few seconds while a requestAnimationFrame loop records every frame's duration.

The floor is the same browser, same viewport, same scripted mouse input, on an empty page:
the frame time of a page that renders nothing (16.7 ms at 60 Hz when the machine keeps up).
A DAG figure near the floor means the view keeps up with the display.

Also prints how long the layout took (the layered layout runs in a Web Worker) and how many
nodes were in the DOM (only the visible ones are rendered).

    .venv/bin/python bench/ui_dag_frames.py [--tasks N] [--seconds S] [--json]

Needs chromium (apt-get install chromium), Playwright (flowbuilder-ui[test]) and the built UI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "packages" / "flowui" / "tests"))

from browser_session import CHROMIUM, Server, layered_workflow, skip_reason  # noqa: E402

RECORD_FRAMES = (
    "() => { window.__frames = []; window.__stop = false; let last = performance.now();"
    " const tick = now => { window.__frames.push(now - last); last = now;"
    " if (!window.__stop) requestAnimationFrame(tick); }; requestAnimationFrame(tick); }"
)
STOP_FRAMES = "() => { window.__stop = true; return window.__frames.slice(1); }"


def pan_and_zoom(page: Any, box: dict[str, float], seconds: float) -> None:
    """The same scripted input for both pages: drags in a loop with a zoom step between."""
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        page.mouse.move(x, y)
        page.mouse.down()
        dx, dy = (-250, -400) if step % 2 == 0 else (250, 300)
        page.mouse.move(x + dx, y + dy, steps=20)
        page.mouse.up()
        page.mouse.wheel(0, 240 if step % 4 < 2 else -240)
        step += 1


def summary(frames: list[float]) -> dict[str, float]:
    ordered = sorted(frames)
    return {
        "frames": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure(tasks: int, seconds: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ui-dag-frames-") as folder:
        server = Server(Path(folder))
        try:
            server.store_workflow("big", layered_workflow("big", tasks))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 900})

                page.set_content("<div style='width:100vw;height:100vh'></div>")
                page.evaluate(RECORD_FRAMES)
                pan_and_zoom(page, {"x": 0, "y": 0, "width": 1400, "height": 900}, seconds)
                floor = summary(page.evaluate(STOP_FRAMES))

                opened = time.monotonic()
                page.goto(server.url + "/#/workflows/big")
                page.wait_for_selector(f".dag[data-nodes='{tasks}'] .react-flow__node", timeout=300_000)
                ready_seconds = time.monotonic() - opened
                engine = page.get_attribute(".dag", "data-engine")
                layout_ms = page.get_attribute(".dag", "data-layout-ms")
                rendered = page.locator(".react-flow__node").count()
                box = page.locator(".react-flow__pane").bounding_box()
                page.evaluate(RECORD_FRAMES)
                pan_and_zoom(page, box, seconds)
                dag = summary(page.evaluate(STOP_FRAMES))
                rendered_after = page.locator(".react-flow__node").count()
                browser.close()
        finally:
            server.stop()
    return {
        "tasks": tasks,
        "seconds_of_input": seconds,
        "dag": dag,
        "floor_empty_page": floor,
        "open_to_first_nodes_s": round(ready_seconds, 2),
        "layout": engine,
        "layout_ms": int(layout_ms or 0),
        "nodes_in_dom": [rendered, rendered_after],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    reason = skip_reason()
    if reason:
        print(f"bench/ui_dag_frames.py: cannot run: {reason}", file=sys.stderr)
        return 2
    result = measure(arguments.tasks, arguments.seconds)
    if arguments.json:
        print(json.dumps(result))
        return 0
    dag, floor = result["dag"], result["floor_empty_page"]
    print(f"DAG view, {result['tasks']:,} tasks, {result['seconds_of_input']:g} s of pan/zoom in headless chromium")
    print(f"  {'':28} {'frames':>7} {'P50 ms':>8} {'P95 ms':>8} {'max ms':>8}")
    for label, row in (("DAG view", dag), ("floor: empty page", floor)):
        print(f"  {label:28} {row['frames']:>7} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8}")
    print(
        f"  P50 ratio to the floor: {dag['p50_ms'] / floor['p50_ms']:.2f}x, P95: {dag['p95_ms'] / floor['p95_ms']:.2f}x"
    )
    print(f"  opened in {result['open_to_first_nodes_s']} s (fetch, parse, layout, first render);"
          f" {result['layout']} layout in {result['layout_ms']} ms (Web Worker);"
          f" nodes in the DOM: {result['nodes_in_dom'][0]} at first, {result['nodes_in_dom'][1]} after")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
