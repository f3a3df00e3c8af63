"""Serving the built web UI: static files, the single-page-app fallback, cache headers.

The UI is built by Vite from ``packages/flowui/web`` into ``flowui/static`` (which ships in
the wheel, so an installed server needs no Node). :func:`mount_web_ui` adds it to the ASGI app
*after* the API routes, as a catch-all:

- ``/assets/<hashed name>``: the file, with ``Cache-Control: public, max-age=31536000,
  immutable`` (a new build has new names, so a browser never needs to ask again);
- any other GET path outside ``/api``: a file of that name at the top of ``static`` if there
  is one, else ``index.html`` (``no-cache``), so the UI's own routes survive a reload;
- ``/api/...`` that no API route took: a JSON 404 in the API's error shape (never the HTML page);
- when the UI is not built (a checkout without npm), a page saying how to build it (503).

MIME types come from a fixed table rather than the platform's ``mimetypes`` database, which
on some systems maps ``.js`` to ``text/plain`` and makes browsers refuse module scripts.
Starlette is imported inside the functions: importing :mod:`flowui` stays free of the web stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Where the build lands (``npm run build`` in ``packages/flowui/web``)."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of content-hashed assets."""

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FlowBuilder: web UI not built</title></head>
<body><h1>The FlowBuilder web UI is not built</h1>
<p>This server runs from a checkout whose web UI has not been built. The REST API works:
see <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
<p>To build the UI, install Node.js 20 (with npm) and run, from the repository:</p>
<pre>bash scripts/install</pre>
<p>or by hand:</p>
<pre>cd packages/flowui/web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page. A wheel of flowbuilder-ui carries the built UI already.</p>
</body></html>
"""


def media_type_of(path: Path) -> str:
    """The Content-Type for a built file (``application/octet-stream`` when unknown)."""
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


def web_ui_built(static_dir: Path = STATIC_DIR) -> bool:
    """Whether ``static_dir`` holds a built UI (its ``index.html``)."""
    return (static_dir / "index.html").is_file()


def _file_in(static_dir: Path, relative: str) -> Path | None:
    """``static_dir/relative`` if it is a file inside ``static_dir`` (no ``..`` escapes)."""
    if not relative or "\x00" in relative:
        return None
    try:
        candidate = (static_dir / relative).resolve()
    except (OSError, ValueError):
        return None
    if candidate.is_relative_to(static_dir) and candidate.is_file():
        return candidate
    return None


def web_ui_endpoint(static_dir: Path = STATIC_DIR) -> Callable[[Request], Awaitable[Response]]:
    """The request handler behind :func:`mount_web_ui`, for ``static_dir`` (tests pass their own)."""
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse

    from flowui.api_errors import error_body

    root = static_dir.resolve()

    async def serve_web_ui(request: Request) -> Response:
        path = request.url.path
        if path == "/api" or path.startswith("/api/"):
            return JSONResponse(error_body(404, f"no API route {request.method} {path}; see /api/v1/openapi.json"),
                                status_code=404)  # fmt: skip
        if not web_ui_built(root):
            return HTMLResponse(NOT_BUILT_PAGE, status_code=503, headers={"Cache-Control": "no-store"})
        relative = path.lstrip("/")
        found = _file_in(root, relative)
        if found is not None:
            hashed = relative.startswith("assets/")
            cache = IMMUTABLE if hashed else "no-cache"
            return FileResponse(found, media_type=media_type_of(found), headers={"Cache-Control": cache})
        if relative.startswith("assets/"):  # an old build's asset: a 404, not the page
            return JSONResponse(
                error_body(404, f"no such asset {path} (the UI was rebuilt: reload the page)"), status_code=404
            )
        index = root / "index.html"
        return FileResponse(index, media_type=MEDIA_TYPES[".html"], headers={"Cache-Control": "no-cache"})

    return serve_web_ui


def mount_web_ui(app: Starlette, static_dir: Path = STATIC_DIR) -> None:
    """Serve the web UI from ``app``: call it last, after every API route is added.

    Adds one GET/HEAD catch-all route (``/{path}``); a route added after it would never be
    reached. ``static_dir`` defaults to the packaged build.
    """
    app.add_route("/{path:path}", web_ui_endpoint(static_dir), methods=["GET", "HEAD"], name="web-ui")


__all__ = ["IMMUTABLE", "MEDIA_TYPES", "STATIC_DIR", "media_type_of", "mount_web_ui", "web_ui_built", "web_ui_endpoint"]
