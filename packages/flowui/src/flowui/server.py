"""``flowbuilder serve`` as a library: build the server in ONE function, then run it.

:func:`build_server` collects the authenticators (``flowbuilder_authenticators``) and checks
the address against them (:func:`flowui.security.binding.check_bind`: beyond loopback only
with authentication), binds the socket (a port in use is one line and exit 2 before
anything is opened), opens the configured store, builds the ONE
:class:`~flowbuilder.run_service.RunService`, the ASGI app wrapped in the security middleware
(roles from :mod:`flowui.routes_policy`, the audit log through an
:class:`~flowui.security.audit_writer.AuditWriter`), and, with ``--grpc``, the gRPC API on the
same run service with the same rules (:class:`~flowui.security.grpc_auth.AsyncAuthInterceptor`).

:meth:`FlowServer.run` serves until SIGINT or SIGTERM, then stops the gRPC server, cancels
the runs this server executes, waits until they are recorded, closes the store and returns 0.
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
from flowui.live import MAX_FOLLOWED_RUNS

if TYPE_CHECKING:
    from flowbuilder.interfaces.authenticator import Authenticator
    from flowbuilder.plugins import PluginHost
    from flowui.api_context import ApiContext
    from flowui.app import Middleware
    from flowui.request_limits import ASGIApp
    from flowui.security.audit_writer import AuditWriter

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
    grpc_port: int | None = None
    """Serve the gRPC API too, on this port of ``host`` (0: any free port); None: REST only."""


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

    ``middleware`` wraps the app inside the security middleware (which is outermost, so
    nothing reaches an app or a middleware unchecked). Raises
    :class:`~flowbuilder.errors.FlowBuilderError` (one line) for an address that needs auth,
    a port in use, a store that cannot be opened, or workers that cannot be reached.
    """
    from functools import partial

    from flowbuilder.run_service import RunService
    from flowui.api_context import ApiContext
    from flowui.app import create_app
    from flowui.authentication import authenticators_of
    from flowui.routes_policy import PUBLIC_PATHS, protected_routes
    from flowui.security.audit_writer import AuditWriter
    from flowui.security.binding import check_bind
    from flowui.security.middleware import SecurityMiddleware

    authenticators = authenticators_of(host)
    check_bind(options.host, authenticators)
    sock = bind_socket(options.host, options.port)
    try:
        store = host.open_store(options.store_url)
    except BaseException:
        sock.close()
        raise
    audit: AuditWriter | None = None
    try:
        service = RunService(host, store, workers=options.workers_url, concurrency=host.settings.concurrency)
        _ = service.workers  # unreachable workers are refused now, not at the first run
        context = ApiContext(host, store, service)
        audit = AuditWriter(store)
        security = partial(SecurityMiddleware, authenticators=authenticators, policy=protected_routes(),
                           bind_host=options.host, audit=audit, public=PUBLIC_PATHS)  # fmt: skip
        app = create_app(context, middleware=[*middleware, security])
    except BaseException:
        if audit is not None:
            audit.close()
        sock.close()
        store.close()
        raise
    return FlowServer(context, app, sock, options, authenticators=authenticators, audit=audit)


class FlowServer:
    """A built server: :meth:`run` serves it until a signal (blocking), :meth:`serve` on a running loop."""

    def __init__(self, context: ApiContext, app: ASGIApp, sock: socket.socket, options: ServeOptions, *,
                 authenticators: Sequence[Authenticator] = (), audit: AuditWriter | None = None) -> None:  # fmt: skip
        self.context = context
        self.app = app
        self.sock = sock
        self.options = options
        self.authenticators = tuple(authenticators)
        self.audit = audit
        self.grpc_port: int | None = None
        """The gRPC API's port once it serves (``--grpc``)."""
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
            grpc_server = await self._start_grpc() if self.options.grpc_port is not None else None
            grpc_note = f", gRPC: {self._grpc_address()}" if grpc_server is not None else ""
            print(f"flowbuilder serve: listening on {self.url} (API: {self.url}/api/v1{grpc_note}, Ctrl-C stops)",
                  file=sys.stderr, flush=True)  # fmt: skip
            if self.options.open_browser:
                import webbrowser

                await asyncio.to_thread(webbrowser.open, self.url)
            stopping = loop.create_task(stop.wait())
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if grpc_server is not None:
                from flowui.grpc_api import stop_grpc_server

                await stop_grpc_server(grpc_server, grace=1.0)
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
            if self.audit is not None:
                await asyncio.to_thread(self.audit.close)  # what was queued reaches the store first
            await asyncio.to_thread(self.context.close)
            self.sock.close()

    async def _start_grpc(self) -> Any:
        """The gRPC API on this server's run service, runs and rules (one line and exit 2 if it cannot bind)."""
        from flowui.grpc_api import start_grpc_server
        from flowui.grpc_api.policy import METHOD_ROLES
        from flowui.security.grpc_auth import AsyncAuthInterceptor

        gate = AsyncAuthInterceptor(authenticators=self.authenticators, policy=METHOD_ROLES,
                                    bind_host=self.options.host, audit=self.audit)  # fmt: skip
        server, self.grpc_port = await start_grpc_server(
            self.context.service, self.context.store, host=self.options.host, port=self.options.grpc_port or 0,
            interceptors=[gate], identify=caller_of(gate), submit=self.context.runs.submit,
        )  # fmt: skip
        return server

    def _grpc_address(self) -> str:
        host = self.options.host
        return f"[{host}]:{self.grpc_port}" if ":" in host else f"{host}:{self.grpc_port}"


def caller_of(gate: Any) -> Any:
    """Who a gRPC call's control request and annotations are ``by``: the token's principal
    (the interceptor already let the call in), or the peer's address without auth."""
    from flowui.grpc_api.runs import peer_of
    from flowui.security.gate import LOCAL_ADMIN, Refusal

    def identify(context: Any) -> str:
        authorization = next((value for key, value in context.invocation_metadata() or ()
                              if key == "authorization"), None)  # fmt: skip
        found = gate.rules.gate.identify(authorization)
        if isinstance(found, Refusal) or found is LOCAL_ADMIN:
            return str(peer_of(context))  # auth is off (loopback, no tokens): the address says more
        return str(found.name)

    return identify


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
