"""Serving the emulator over a real socket with uvicorn.

:func:`run_emulator` starts uvicorn on a loopback port in a background
thread with its own event loop, so it works the same from asyncio, trio or
plain synchronous code, and a slow or dropped request on the server never
blocks the test's own loop. :func:`serve` runs it in the foreground (the
``python -m plivo_phlo_async.emulator`` command).

Dropping a connection from inside an ASGI app is not something ASGI can
express: raising makes uvicorn answer 500. The server therefore uses a
small subclass of uvicorn's h11 protocol that remembers each connection's
transport, and hands the app a callable (``scope["extensions"]``) that
aborts it: the client sees the connection closed without an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from .._exceptions import ConfigurationError
from .._validation import is_int
from ._config import DEFAULT_AUTH_TOKEN, EmulatorConfig
from ._emulator import _MISSING_EXTRA, PhloEmulator

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import Message, Receive, Scope, Send

    from .._client import PhloClient

ConfigSource = EmulatorConfig | Mapping[str, Any] | str | Path | None

#: Seconds an idle connection stays open after an answer. Plivo's API sits behind
#: load balancers that keep idle connections 60 s or more; uvicorn's default, 5 s,
#: equalled the client's own idle limit, so a request written into a connection
#: idle for 5 s met the server closing it: a false "outcome unknown" (issue 17).
#: 75 s is nginx's default, comfortably longer than any client's idle limit.
KEEP_ALIVE = 75


def _checked_keep_alive(seconds: int) -> int:
    if not is_int(seconds) or seconds < 1:
        raise ConfigurationError(
            f"keep_alive must be a whole number of seconds >= 1, not {seconds!r}",
            field="keep_alive",
        )
    return seconds


def _closes(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request's headers carry ``Connection: close``."""
    return any(
        name.lower() == b"connection" and b"close" in value.lower() for name, value in headers
    )


def _announcing_keep_alive(send: Send, header: tuple[bytes, bytes]) -> Send:
    """``send``, adding ``Keep-Alive: timeout=N`` to the answer's headers."""

    async def announcing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return announcing


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets
    # whose proto is IPPROTO_TCP, and without it every answer waits ~40 ms
    # for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _emulator_for(config: ConfigSource, emulator: PhloEmulator | None) -> PhloEmulator:
    if emulator is not None:
        if config is not None:
            raise ConfigurationError("pass either config or emulator, not both", field="config")
        return emulator
    return PhloEmulator(config)


def _uvicorn_config(
    emulator: PhloEmulator,
    *,
    log_level: str | None,
    access_log: bool,
    embedded: bool,
    keep_alive: int,
) -> uvicorn.Config:
    try:
        import uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol
    except ImportError as exc:
        raise ImportError(_MISSING_EXTRA) from exc

    from ._app import ABORT_EXTENSION

    transports: dict[Any, asyncio.Transport] = {}

    class _Protocol(H11Protocol):
        """uvicorn's h11 protocol, plus a way for the app to abort the connection."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client is not None:
                transports[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None:
                transports.pop(self.client, None)
            super().connection_lost(exc)

    app = emulator.app
    announced = (b"keep-alive", f"timeout={keep_alive}".encode())

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client") is not None:
            transport = transports.get(tuple(scope["client"]))
            if transport is not None:
                extensions = {**(scope.get("extensions") or {}), ABORT_EXTENSION: transport.abort}
                scope = {**scope, "extensions": extensions}
        # Announced only where the connection stays open (as nginx does): h11
        # closes it after answering HTTP/1.0 or a request that asked to close.
        if (
            scope["type"] == "http"
            and scope["http_version"] == "1.1"
            and not _closes(scope["headers"])
        ):
            send = _announcing_keep_alive(send, announced)
        await app(scope, receive, send)

    options: dict[str, Any] = {}
    if embedded:
        # Leave the host application's logging configuration alone.
        options["log_config"] = None
    return uvicorn.Config(
        asgi,
        http=_Protocol,
        lifespan="off",
        loop="asyncio",
        log_level=log_level,
        access_log=access_log,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=2,
        **options,
    )


class EmulatorServer:
    """A running emulator on a loopback socket (see :func:`run_emulator`).

    ``base_url`` ("http://127.0.0.1:PORT/v1") is what ``PhloClient`` takes as
    both ``base_url`` and ``voice_base_url``; ``url`` is the bare origin.
    ``emulator`` gives the state and the records for assertions.
    """

    def __init__(
        self,
        emulator: PhloEmulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        keep_alive: int = KEEP_ALIVE,
    ) -> None:
        self.emulator = emulator
        self.host = host
        self.keep_alive = _checked_keep_alive(keep_alive)
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator server is not running")
        return self._port

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def client(self, **kwargs: Any) -> PhloClient:
        """A ``PhloClient`` that talks to this server over the socket. Close it."""
        from .._client import PhloClient

        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("voice_base_url", self.base_url)
        return PhloClient(self.emulator.auth_id, self.emulator.auth_token, **kwargs)

    def start(self) -> None:
        """Bind, start uvicorn in a thread, and return once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the emulator server was already started")
        config = _uvicorn_config(
            self.emulator,
            log_level="warning",
            access_log=False,
            embedded=True,
            keep_alive=self.keep_alive,
        )  # first: it says which extra is missing
        import uvicorn

        sock = _bind(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        ready = self._ready

        class _Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                ready.set()

            async def main_loop(self) -> None:
                # Wake on request instead of polling every 0.1 s: stops faster.
                self.wake = asyncio.Event()
                while not await self.on_tick(0):
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), 1.0)

        server = _Server(config)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(self._serve(server, sock))
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
            finally:
                sock.close()
                ready.set()

        self._thread = threading.Thread(target=run, name="plivo-phlo-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(self._startup_timeout) or self._error is not None or not server.started:
            self.stop()
            raise RuntimeError("the emulator server did not start") from self._error

    async def _serve(self, server: Any, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        await server.serve(sockets=[sock])

    def stop(self) -> None:
        """Stop accepting, finish in-flight requests, and join the thread."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None:
            return
        if server is not None and loop is not None and thread.is_alive():

            def request_exit() -> None:
                server.should_exit = True
                wake = getattr(server, "wake", None)
                if wake is not None:
                    wake.set()

            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(request_exit)
        thread.join()
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatorServer:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"EmulatorServer({where})"


def run_emulator(
    config: ConfigSource = None,
    *,
    emulator: PhloEmulator | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    keep_alive: int = KEEP_ALIVE,
) -> EmulatorServer:
    """A server for ``async with`` (or ``with``): started on entry, stopped on exit.

    ::

        async with run_emulator() as server:
            async with server.client() as client:
                await client.phlo(DEFAULT_PHLO_ID).run(to="+14155550100")
            assert len(server.emulator.executions("run")) == 1

    ``port=0`` lets the OS choose a free port (read ``server.port``). Pass
    an existing ``emulator`` to serve its state, or a ``config`` for a new one.
    ``keep_alive`` is how many seconds an idle connection stays open (75, as
    nginx; a short one reproduces a server closing idle connections early).
    """
    return EmulatorServer(
        _emulator_for(config, emulator), host=host, port=port, keep_alive=keep_alive
    )


def banner(emulator: PhloEmulator, url: str) -> str:
    """What ``serve`` prints: where it listens, the credentials, the seeded ids.

    A custom token is never printed (a terminal or a CI log may be shared):
    whoever configured it knows it. The default test token is public. The
    exports end with ``PLIVO_API_BASE_URL`` (without it ``calls.create`` goes to
    Plivo); a wildcard address is reached over loopback from this host.
    """
    public = emulator.auth_token == DEFAULT_AUTH_TOKEN
    shown_token = (
        f"{emulator.auth_token} (the default test token)" if public else "as configured (not shown)"
    )
    local = url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
    lines = [
        f"PHLO emulator listening on {url}",
        f"  base_url and voice_base_url: {url}/v1",
        f"  auth id: {emulator.auth_id}",
        f"  auth token: {shown_token}",
        f"  admin API: {url}/_emulator/ (requests, executed, state, reset, inject)",
    ]
    for phlo in emulator.config.phlos:
        lines.append(f"  PHLO {phlo.phlo_id} ({phlo.name})")
        for node in phlo.nodes:
            lines.append(f"    {node.node_type} node {node.node_id} ({node.name})")
    token = emulator.auth_token if public else "...  # as configured (not shown)"
    lines += [
        "  to use it from a shell, paste:",
        f"  export PLIVO_AUTH_ID={emulator.auth_id}",
        f"  export PLIVO_AUTH_TOKEN={token}",
        f"  export PLIVO_PHLO_BASE_URL={local}/v1",
        f"  export PLIVO_API_BASE_URL={local}/v1",
    ]
    return "\n".join(lines)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    config: ConfigSource = None,
    *,
    emulator: PhloEmulator | None = None,
    log_level: str = "info",
    access_log: bool = True,
    keep_alive: int = KEEP_ALIVE,
) -> None:
    """Run the emulator in the foreground until interrupted (Ctrl+C).

    Prints the URL and credentials first (the port is useful with
    ``port=0``). This is what ``python -m plivo_phlo_async.emulator`` and the
    ``plivo-phlo emulator`` command run. ``keep_alive``: as for :func:`run_emulator`.
    """
    emulator = _emulator_for(config, emulator)
    uvicorn_config = _uvicorn_config(
        emulator,
        log_level=log_level,
        access_log=access_log,
        embedded=False,
        keep_alive=_checked_keep_alive(keep_alive),
    )
    import uvicorn

    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    text = banner(emulator, _url(host, bound))
    if host.strip("[]") in ("0.0.0.0", "::", ""):  # noqa: S104 - serving other hosts, as asked
        text += (
            f"\n  serving every interface: clients on other hosts use http://<this host>:{bound}/v1"
            "\n  and name that host in PLIVO_PHLO_INSECURE_HTTP_HOSTS (plain http is refused "
            "otherwise)"
        )
    print(text, flush=True)
    try:
        uvicorn.Server(uvicorn_config).run(sockets=[sock])
    finally:
        sock.close()
        logging.getLogger("uvicorn.error").debug("emulator stopped")
        sys.stdout.flush()
