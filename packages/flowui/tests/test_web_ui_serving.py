"""How the server hands out the built web UI: files, SPA fallback, MIME types, caching."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from flowui.web import IMMUTABLE, NOT_BUILT_PAGE, mount_web_ui, web_ui_built


def _api_route(_request: object) -> JSONResponse:
    return JSONResponse({"workflows": []})


def _app(static_dir: Path) -> TestClient:
    app = Starlette(routes=[Route("/api/v1/workflows", _api_route)])
    mount_web_ui(app, static_dir)
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A build as Vite lays it out: index.html at the top, hashed files under assets/."""
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><div id=root></div>", encoding="utf-8")
    (static / "assets" / "index-ab12.js").write_text("export {}", encoding="utf-8")
    (static / "assets" / "index-ab12.css").write_text("body{}", encoding="utf-8")
    (static / "assets" / "layout.worker-cd34.js").write_text("self.onmessage=null", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    return static


def test_hashed_assets_are_served_with_module_mime_types_and_cached_forever(built: Path) -> None:
    client = _app(built)
    script = client.get("/assets/index-ab12.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == IMMUTABLE
    assert client.get("/assets/index-ab12.css").headers["content-type"].startswith("text/css")


def test_ui_routes_fall_back_to_index_html_which_is_never_cached_stale(built: Path) -> None:
    client = _app(built)
    for path in ("/", "/runs/abc", "/designer/new-workflow"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert "id=root" in page.text


def test_api_routes_win_and_unknown_api_paths_get_json_404_not_the_page(built: Path) -> None:
    client = _app(built)
    assert client.get("/api/v1/workflows").json() == {"workflows": []}
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404  # the API's error shape (flowui.api_errors)
    assert "no API route GET /api/v1/no-such-thing" in missing.json()["error"]["reason"]


def test_a_missing_hashed_asset_is_a_404_not_the_page(built: Path) -> None:
    """A page from an older build asks for assets that no longer exist: HTML there breaks the module."""
    missing = _app(built).get("/assets/index-old.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/json")


def test_paths_cannot_escape_the_static_folder(built: Path) -> None:
    client = _app(built)
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        response = client.get(path)
        assert "outside" not in response.text, path


def test_an_unbuilt_ui_answers_with_how_to_build_it(tmp_path: Path) -> None:
    page = _app(tmp_path / "empty").get("/")
    assert page.status_code == 503
    assert "npm ci &amp;&amp; npm run build" in page.text
    assert page.text == NOT_BUILT_PAGE
    assert not web_ui_built(tmp_path / "empty")


def test_only_get_and_head_reach_the_ui(built: Path) -> None:
    client = _app(built)
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405
