"""Serving the built web UI: static files, the single-page-app fallback, cache headers.

The UI is built by Vite from ``packages/flowui/web`` into ``flowui/static`` (which ships in
the wheel, so an installed server needs no Node). :func:`mount_web_ui` adds it to the ASGI app
*after* the API routes, as a catch-all:

- ``/assets/<hashed name>``: the file, with ``Cache-Control: public, max-age=31536000,
  immutable`` (a new build has new names, so a browser never needs to ask again);
- any other GET path outside ``/api``: a file of that name at the top of ``static`` if there
  is one, else ``index.html`` (``no-cache``), so the UI's own routes survive a reload;
- ``/api/...`` that no API route took: a JSON 404 in the API's error shape (never the HTML page);
- a path some route serves, asked with a method none of them takes (``GET`` on a POST-only
  route, ``HEAD`` on an API route, ``PUT`` on a UI page): 405 with ``Allow`` naming every
  method the path's routes take (Starlette alone names only the first route's, and the
  catch-all, taking GET and HEAD, turned the rest into 404s). ``HEAD`` is refused rather
  than answered like ``GET``: the OpenAPI document lists no HEAD operation, answering one
  would run the handler (a store read) to throw its body away, and a HEAD on a stream route
  would take a live-stream slot;
- when the UI is not built (a checkout without npm), a page saying how to build it (503).

MIME types come from a fixed table rather than the platform's ``mimetypes`` database, which
on some systems maps ``.js`` to ``text/plain`` and makes browsers refuse module scripts.
Starlette is imported inside the functions: importing :mod:`flowui` stays free of the web stack.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

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


UI_METHODS = ("GET", "HEAD")
"""What the web UI's pages and files answer."""
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


def route_methods(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Every route of ``app`` that takes HTTP methods, as (path pattern, methods).

    Read from the OpenAPI document (FastAPI keeps included routers nested, so ``app.routes``
    does not list them) and from the app's flat routes that name their methods (the document
    leaves out ``/openapi.json`` itself; a plain Starlette app has only these). The catch-all
    takes any method (its ``methods`` is None) and is therefore not listed.
    """
    from starlette.routing import compile_path

    table: list[tuple[re.Pattern[str], frozenset[str]]] = []
    for route in getattr(app, "routes", ()):
        methods, path = getattr(route, "methods", None), getattr(route, "path", None)
        if methods and isinstance(path, str):
            table.append((compile_path(path)[0], frozenset(methods)))
    openapi = getattr(app, "openapi", None)
    if callable(openapi):
        for path, item in openapi().get("paths", {}).items():
            methods = frozenset(key.upper() for key in item) & HTTP_METHODS
            if methods:
                table.append((compile_path(path)[0], methods))
    return table


def method_not_allowed(method: str, path: str, allowed: Iterable[str]) -> Response:
    """405 in the API's error shape, with ``Allow`` (every method the path takes)."""
    from starlette.responses import JSONResponse

    from flowui.api_errors import error_body

    listed = ", ".join(sorted(allowed))
    reason = f"{method} is not allowed on {path}; it takes {listed}"
    return JSONResponse(error_body(405, reason), status_code=405, headers={"Allow": listed})


def web_ui_endpoint(static_dir: Path = STATIC_DIR) -> Callable[[Request], Awaitable[Response]]:
    """The request handler behind :func:`mount_web_ui`, for ``static_dir`` (tests pass their own)."""
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse

    from flowui.api_errors import error_body

    root = static_dir.resolve()
    routes: list[tuple[re.Pattern[str], frozenset[str]]] | None = None  # the app's, read at the first request

    async def serve_web_ui(request: Request) -> Response:
        nonlocal routes
        path = request.url.path
        if routes is None:
            routes = route_methods(request.app)
        allowed = {method for pattern, methods in routes if pattern.match(path) for method in methods}
        if allowed:  # a route has this path, but not this method (else the router had taken it)
            return method_not_allowed(request.method, path, allowed)
        if path == "/api" or path.startswith("/api/"):
            return JSONResponse(error_body(404, f"no API route {request.method} {path}; see /api/v1/openapi.json"),
                                status_code=404)  # fmt: skip
        if request.method not in UI_METHODS:
            return method_not_allowed(request.method, path, set(UI_METHODS))
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


class _AnyMethod:
    """An ASGI app around a request handler: Starlette lets a route of one take every method
    (a route of a plain function takes only GET and HEAD)."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        response = await self.handler(Request(scope, receive))
        await response(scope, receive, send)


def mount_web_ui(app: Starlette, static_dir: Path = STATIC_DIR) -> None:
    """Serve the web UI from ``app``: call it last, after every API route is added.

    Adds one catch-all route (``/{path}``) taking every method: the UI's GET and HEAD, a 405
    for a method the path's routes do not take, a 404 for an unknown ``/api`` path. A route
    added after it would never be reached. ``static_dir`` defaults to the packaged build.
    """
    app.add_route("/{path:path}", _AnyMethod(web_ui_endpoint(static_dir)), name="web-ui")  # type: ignore[arg-type]


__all__ = [
    "IMMUTABLE",
    "MEDIA_TYPES",
    "STATIC_DIR",
    "UI_METHODS",
    "media_type_of",
    "method_not_allowed",
    "mount_web_ui",
    "route_methods",
    "web_ui_built",
    "web_ui_endpoint",
]
