"""``flowbuilder serve`` as a library: build the server in ONE function, then run it.

:func:`build_server` checks the address (:func:`flowui.binding.check_bind_host`, where the
"non-loopback needs auth" rule lives), binds the socket (so a port in use is one line and
exit 2 before anything is opened), opens the configured store, builds the ONE
:class:`~flowbuilder.run_service.RunService` and the ASGI app. The integrator adds the
security middleware (``middleware=``) and starts the gRPC server beside uvicorn here.

:meth:`FlowServer.run` serves until SIGINT or SIGTERM, then cancels the runs this server
executes, waits until they are recorded, closes the store and returns 0.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from flowbuilder.errors import ConfigurationError
from flowui.binding import check_bind_host
from flowui.live import MAX_FOLLOWED_RUNS

if TYPE_CHECKING:
    from flowbuilder.plugins import PluginHost
    from flowui.api_context import ApiContext
    from flowui.app import Middleware
    from flowui.request_limits import ASGIApp

SHUTDOWN_SECONDS = 10.0
"""How long a stopping server waits for its cancelled runs to be recorded."""
BLOCKING_THREADS = 64 + MAX_FOLLOWED_RUNS
"""Threads of the loop's default executor. Each followed run keeps one blocked in the store's
wait (a subscription turn: :mod:`flowbuilder.subscriptions`), and the runner's own blocking
calls share the pool: asyncio's default (CPU count + 4) would let six watched runs stall
every run of the server."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``flowbuilder serve`` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str | None = None
    workers_url: str | None = None
    open_browser: bool = False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ConfigurationError (one line) when the port is taken or the address bad."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigurationError(f"port {port} on {host} is in use; choose another with --port") from None
        raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.setblocking(False)
    return sock


def build_server(host: PluginHost, options: ServeOptions, *, middleware: Sequence[Middleware] = ()) -> FlowServer:
    """Everything ``flowbuilder serve`` runs, built and checked, nothing served yet.

    Raises :class:`~flowbuilder.errors.FlowBuilderError` (one line) for an address that needs
    auth, a port in use, a store that cannot be opened, or workers that cannot be reached.
    """
    from flowbuilder.run_service import RunService
    from flowui.api_context import ApiContext
    from flowui.app import create_app

    check_bind_host(options.host, auth_configured=False)  # the security integration flips this
    sock = bind_socket(options.host, options.port)
    try:
        store = host.open_store(options.store_url)
    except BaseException:
        sock.close()
        raise
    try:
        service = RunService(host, store, workers=options.workers_url, concurrency=host.settings.concurrency)
        _ = service.workers  # unreachable workers are refused now, not at the first run
        context = ApiContext(host, store, service)
        app = create_app(context, middleware=middleware)
    except BaseException:
        sock.close()
        store.close()
        raise
    return FlowServer(context, app, sock, options)


class FlowServer:
    """A built server: :meth:`run` serves it until a signal (blocking), :meth:`serve` on a running loop."""

    def __init__(self, context: ApiContext, app: ASGIApp, sock: socket.socket, options: ServeOptions) -> None:
        self.context = context
        self.app = app
        self.sock = sock
        self.options = options
        address = sock.getsockname()
        shown = f"[{address[0]}]" if ":" in address[0] else address[0]
        self.url = f"http://{shown}:{address[1]}"

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM; the exit status (0: stopped cleanly)."""
        from flowbuilder.event_loop import run_coroutine

        return run_coroutine(self.serve())

    async def serve(self, stop: asyncio.Event | None = None) -> int:
        """Serve on the running loop until ``stop`` is set or a signal arrives, then shut down."""
        from concurrent.futures import ThreadPoolExecutor

        import uvicorn

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="flowui-blocking"))
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False,
                                timeout_graceful_shutdown=5)  # fmt: skip
        server = _SignalFreeServer(config)
        serving = loop.create_task(server.serve(sockets=[self.sock]))
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if serving.done():
                serving.result()
                return 2
            print(f"flowbuilder serve: listening on {self.url} (API: {self.url}/api/v1, Ctrl-C stops)",
                  file=sys.stderr, flush=True)  # fmt: skip
            if self.options.open_browser:
                import webbrowser

                await asyncio.to_thread(webbrowser.open, self.url)
            stopping = loop.create_task(stop.wait())
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            cancelled = await self.context.runs.cancel_all(SHUTDOWN_SECONDS)
            if cancelled:
                print(f"flowbuilder serve: cancelled {cancelled} run(s) in progress", file=sys.stderr, flush=True)
            self.context.live.close()
            server.should_exit = True
            await serving
            return 0
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await asyncio.to_thread(self.context.close)
            self.sock.close()


def _signal_free_server_class() -> Any:
    import contextlib

    import uvicorn

    class SignalFreeServer(uvicorn.Server):
        """uvicorn's server without its own signal handling: :meth:`FlowServer.serve` cancels the
        runs first, and uvicorn would re-raise the signal after shutdown (exit -15, not 0)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return SignalFreeServer


def _SignalFreeServer(config: Any) -> Any:
    return _signal_free_server_class()(config)


__all__ = ["SHUTDOWN_SECONDS", "FlowServer", "ServeOptions", "bind_socket", "build_server"]
