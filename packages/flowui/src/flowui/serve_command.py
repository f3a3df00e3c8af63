"""``flowbuilder serve``: the click command only; the server is built by :mod:`flowui.server`.

This module imports click and core's CLI facade, nothing of the web stack, because the
plugin hook imports it whenever the CLI starts.
"""

from __future__ import annotations

import click

from flowbuilder.cli.context import store_option
from flowbuilder.errors import FlowBuilderError


@click.command("serve")
@click.option("--host", "bind_host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on (beyond loopback only with API tokens: flowbuilder token new).")  # fmt: skip
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port; the URL is printed).")  # fmt: skip
@store_option("The store the server reads and records runs in.")
@click.option("--open", "open_browser", is_flag=True, help="Open the browser at the server's URL once it listens.")
@click.option("--workers", metavar="URL", default=None,
              help="Run attempts on remote workers (redis://HOST:PORT/DB); default: in this process.")  # fmt: skip
@click.option("--grpc", "grpc_port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve the gRPC API too, on this port of --host (0: any free port; printed).")  # fmt: skip
def serve(bind_host: str, port: int, store: str | None, open_browser: bool, workers: str | None,
          grpc_port: int | None) -> None:  # fmt: skip
    """Serve the web UI (/), the REST API (/api/v1, OpenAPI at /api/v1/openapi.json), /healthz,
    /metrics and, with --grpc, the gRPC API; all on one run service, with the same tokens and roles.

    Runs started through the APIs execute in this process (or on --workers). Ctrl-C or
    SIGTERM cancels them, records them, and exits 0. Exit 2: bad address, address beyond
    loopback without API tokens, port in use, store unavailable.
    """
    from flowbuilder.cli.context import plugin_host
    from flowui.server import ServeOptions, build_server

    options = ServeOptions(host=bind_host, port=port, store_url=store, workers_url=workers, open_browser=open_browser,
                           grpc_port=grpc_port)  # fmt: skip
    try:
        server = build_server(plugin_host(), options)
    except (FlowBuilderError, OSError) as error:
        click.echo(f"flowbuilder serve: {error}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(server.run())


__all__ = ["serve"]
