"""The seam: which path one attempt of a request takes.

Both paths keep one contract: failures are ``httpx.TransportError``
subclasses carrying the request, and answers are :class:`~._answer.Answer`
objects whose body is capped and decoded the same way.

* The fast path (:class:`~._pool.FastPool`): the default under asyncio for the
  client's own pool.
* httpx: the ``httpx.AsyncClient`` (the SDK's own or an injected one). Used
  under trio, with a proxy (argument or environment), for an injected
  ``http_client`` (always honoured), and while httpx's transports are patched
  by a mocking library (respx, pytest-httpx) so that the mock sees every
  request.
* httpx over :class:`~._transport.FastTransport`: the client's own pool under
  asyncio while OpenTelemetry's httpx instrumentation (and nothing else) has
  patched httpx: whatever wraps ``httpx.AsyncClient`` still sees each request,
  at the fast pool's speed (the SDK's own spans, :mod:`.._tracing`, trace it).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.request
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Final

import anyio
import httpx
import sniffio

from .._exceptions import ClientClosedError, ConfigurationError
from .._httpx_patches import httpx_instrumented, httpx_is_patched
from . import _process
from ._answer import MAX_BODY_BYTES, Answer, decode_body
from ._pool import FastPool
from ._transport import ATTEMPT_DEADLINE, FastTransport

__all__ = ["Sender", "httpx_instrumented", "httpx_is_patched", "proxy_in_environment"]

_URL_CACHE_SIZE: Final = 1024


def proxy_in_environment() -> bool:
    """httpx honours HTTP(S)_PROXY/ALL_PROXY; the fast path does not speak to proxies."""
    return any(key in ("http", "https", "all") for key in urllib.request.getproxies())


class Sender:
    """Sends one attempt of a request by the fast path or through httpx.

    The fast path is chosen per request: only under asyncio, only for the
    client's own pool (no injected ``http_client``), without a proxy, and not
    while httpx is patched by a mock. Its pool is created lazily inside the
    running loop, so a client may be constructed outside any event loop.
    Closing is final: a closed sender never opens another pool.

    What the SDK owns is per event loop and per process: every asyncio loop
    that uses the client gets a fast pool (and, where httpx is used, an
    ``httpx.AsyncClient``) of its own, closed when that loop shuts down; in a
    child of ``os.fork()`` none of the parent's connections is used (see
    :mod:`._process`). An injected ``http_client`` is the caller's: used as is.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient,
        fast_allowed: bool,
        max_connections: int,
        get_headers: Mapping[str, str],
        post_headers: Mapping[str, str],
        make_http_client: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        #: The injected client, or the SDK's own for trio and the first asyncio loop.
        self.http_client = http_client
        self.fast_allowed = fast_allowed and not proxy_in_environment()
        self.closed = False
        self._max_connections = max_connections
        self._get_headers = get_headers
        self._post_headers = post_headers
        # Built once: httpx copies an httpx.Headers without normalising it again.
        self._httpx_get_headers = httpx.Headers(get_headers)
        self._httpx_post_headers = httpx.Headers(post_headers)
        self._fast: FastPool | None = None  # the pool the last request used
        self._pools: dict[asyncio.AbstractEventLoop, FastPool] = {}
        # The SDK's own httpx clients (None: the client was injected), per loop.
        self._make_http_client = make_http_client
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._client_hooks: list[AsyncGenerator[None, None]] = []
        self._lock = threading.Lock()  # loops in several threads may add theirs at once
        self._pid = _process.current_pid()
        self._inherited: list[object] = []  # a forked child's, kept unclosed (the parent's)
        if make_http_client is not None:
            _process.track(self)  # at a fork, the child lets go of its httpx sockets
        self._injected_loop: asyncio.AbstractEventLoop | None = None  # where it is used
        self._instrumented: httpx.AsyncClient | None = None
        self._instrumented_loop: asyncio.AbstractEventLoop | None = None
        # The SDK's URLs repeat: parsed once each, not by every build_request.
        self._urls: dict[str, httpx.URL] = {}

    def fast_pool(self) -> FastPool | None:
        """The pool the next request in this task would use, or None for httpx."""
        if not self.fast_allowed or httpx_is_patched():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio, or no loop
            return None
        fast = self._fast
        if fast is not None and fast.loop is loop and not fast.closed:
            return fast
        try:
            if sniffio.current_async_library() != "asyncio":
                return None
        except sniffio.AsyncLibraryNotFoundError:
            return None
        with self._lock:
            if self.closed:
                return None
            if self._pid != _process.current_pid():
                self._after_fork(loop)
            fast = self._pools.get(loop)
            if fast is None or fast.closed:  # none yet, or closed as its loop shut down
                self._forget_closed_loops()
                fast = self._pools[loop] = FastPool(
                    loop,
                    max_connections=self._max_connections,
                    get_headers=self._get_headers,
                    post_headers=self._post_headers,
                )
            self._fast = fast
        return fast

    def _forget_closed_loops(self) -> None:
        self._pools = {loop: pool for loop, pool in self._pools.items() if not loop.is_closed()}
        self._clients = {
            loop: client for loop, client in self._clients.items() if not loop.is_closed()
        }

    def _after_fork(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """In a forked child: start afresh; what the parent opened stays the parent's.

        The inherited pools were closed at the fork (:mod:`._process`); those of
        the running loop now drop their transports from it. The SDK's own httpx
        clients are replaced, never closed (closing would shut the parent's
        connections down) and kept referenced, so no finalizer touches them.
        """
        self._pid = _process.current_pid()
        for pool in self._pools.values():
            if pool.loop is loop:
                pool.release_inherited()
        self._inherited.extend(self._pools.values())
        self._pools = {}
        self._fast = None
        if self._instrumented is not None:
            self._inherited.append(self._instrumented)
            self._instrumented = self._instrumented_loop = None
        if self._make_http_client is not None:
            self._inherited.extend([self.http_client, *self._clients.values()])
            self._inherited.extend(self._client_hooks)
            self._clients = {}
            self._client_hooks = []
            self.http_client = self._make_http_client()

    def forked(self) -> list[int]:
        """In a forked child, at the fork: the descriptors of the sockets kept by
        the SDK's own httpx clients, for :func:`._process.let_go` (the fast pools
        see to their own). Never closed: the connections are the parent's."""
        clients = (self.http_client, *self._clients.values())
        return [fd for client in clients for fd in _httpx_fds(client)]

    def _injected_client(self, loop: asyncio.AbstractEventLoop) -> httpx.AsyncClient:
        """The injected client, refused (before anything is sent) in a second loop
        while the loop it is used in is still open: its pooled connections belong
        to that loop, and httpx would fail with a raw RuntimeError mid-request."""
        bound = self._injected_loop
        if bound is not loop:
            if bound is not None and not bound.is_closed():
                raise ConfigurationError(
                    "the http_client passed to PhloClient is in use in another event loop; "
                    "an httpx.AsyncClient belongs to one loop: give each loop (thread) its "
                    "own PhloClient and http_client, or let the SDK make its own",
                    field="http_client",
                )
            self._injected_loop = loop
        return self.http_client

    def _httpx_client(self) -> httpx.AsyncClient:
        """The httpx client for this request: an injected one as is; the SDK's own
        one per asyncio loop (trio: the first one)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio
            return self.http_client
        if self._make_http_client is None:
            return self._injected_client(loop)
        client = self._clients.get(loop)
        if client is not None:
            return client
        with self._lock:
            if self._pid != _process.current_pid():
                self._after_fork(loop)
            client = self._clients.get(loop)
            if client is None:
                self._forget_closed_loops()
                bound = set(map(id, self._clients.values()))
                client = self.http_client
                if id(client) in bound or client.is_closed:
                    client = self._make_http_client()
                self._clients[loop] = client
                hook = _close_with_loop(client, self._pid)
                with contextlib.suppress(StopIteration):  # registers it with the loop
                    hook.asend(None).send(None)
                self._client_hooks.append(hook)
        return client

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        timeout: httpx.Timeout,
        deadline: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One attempt, bounded whole by ``deadline`` seconds (None: no bound).

        ``headers`` replace the client's whole header set for this request
        (None: the client's own, whose encoding the fast path keeps cached).
        """
        if self.closed:
            raise ClientClosedError("the client is closed; create a new PhloClient")
        fast = self.fast_pool()
        if fast is not None:
            return await fast.send(method, url, content, timeout, deadline, headers)
        if self._pid != _process.current_pid():
            with self._lock:
                self._after_fork(None)
        http_client = self._httpx_client()
        if self.fast_allowed and httpx_instrumented():
            http_client = self._instrumented_client() or http_client
        if headers is None:
            headers = self._get_headers if content is None else self._post_headers
            httpx_headers = self._httpx_get_headers if content is None else self._httpx_post_headers
        else:
            httpx_headers = httpx.Headers(headers)
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        request = http_client.build_request(
            method, parsed, headers=httpx_headers, content=content, timeout=timeout
        )
        if deadline is None:
            return await self._send_httpx(http_client, request, url, headers, content)
        if _sent_by_fast_transport(http_client, parsed):
            # The pool bounds the exchange itself: no cancel scope per request.
            request.extensions[ATTEMPT_DEADLINE] = deadline
            return await self._send_httpx(http_client, request, url, headers, content)
        try:
            with anyio.fail_after(deadline):
                return await self._send_httpx(http_client, request, url, headers, content)
        except TimeoutError:
            # Where httpx was when time ran out is not known: treat it as sent.
            raise httpx.ReadTimeout(
                "timed out: the attempt deadline passed", request=request
            ) from None

    def _instrumented_client(self) -> httpx.AsyncClient | None:
        """The client's own httpx client over :class:`FastTransport`, for this loop
        (None where it cannot run: trio, or a closed sender)."""
        try:
            if sniffio.current_async_library() != "asyncio" or self.closed:
                return None
            loop = asyncio.get_running_loop()
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            return None
        client = self._instrumented
        if client is not None and self._instrumented_loop is loop:
            return client
        if (
            client is not None
            and self._instrumented_loop is not None
            and (not self._instrumented_loop.is_closed())
        ):
            return None  # bound to another running loop: the plain httpx client here
        self._instrumented_loop = loop
        self._instrumented = httpx.AsyncClient(
            transport=FastTransport(self._max_connections), follow_redirects=False
        )
        return self._instrumented

    async def _send_httpx(
        self,
        http_client: httpx.AsyncClient,
        request: httpx.Request,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
    ) -> Answer:
        """Send through httpx, reading the body raw so that it is capped and decoded
        like the fast path's (httpx would raise on a coding it cannot undo and lose
        the status)."""
        response = await http_client.send(request, stream=True)
        raw_headers = list(response.headers.raw)
        try:
            body = response.content  # read (and decoded) already: a mock's answer
        except httpx.ResponseNotRead:
            body = decode_body(raw_headers, await _read_raw(response, request))
        reason = response.extensions.get("reason_phrase", b"")
        return Answer(
            response.status_code,
            reason if isinstance(reason, bytes) else b"",
            raw_headers,
            body,
            request.method,
            url,
            headers,
            content,
            request=request,
        )

    async def aclose(self) -> None:
        """Close every pool and SDK-owned httpx client, each in its own loop; never
        raises for a loop that is closed or runs elsewhere."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self._lock:
            if self._pid != _process.current_pid():  # a forked child: leave the parent's be
                self._after_fork(running)
            self.closed = True
            instrumented, self._instrumented = self._instrumented, None
            pools, self._pools, self._fast = list(self._pools.values()), {}, None
            clients = list(self._clients.items())
            self._clients = {}
        try:
            if instrumented is not None:
                await instrumented.aclose()
            for pool in pools:
                if pool.closed or pool.loop.is_closed():
                    continue
                if pool.loop is running:
                    await pool.aclose()
                else:  # another loop's (another thread): closed in that loop
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        pool.loop.call_soon_threadsafe(pool.abort_all)
        finally:
            if self._make_http_client is not None:
                await _close_clients(clients, running)
                primary = self.http_client
                if not primary.is_closed and all(primary is not c for _, c in clients):
                    with contextlib.suppress(RuntimeError):  # used by trio only, or never
                        await primary.aclose()


async def _close_clients(
    clients: list[tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]],
    running: asyncio.AbstractEventLoop | None,
) -> None:
    """Close the SDK's own httpx clients: the running loop's here, another running
    loop's in that loop; one whose loop is gone was closed with it (or cannot be)."""
    for loop, client in clients:
        if client.is_closed or loop.is_closed():
            continue
        if loop is running:
            await client.aclose()
        else:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)


async def _close_with_loop(client: httpx.AsyncClient, pid: int) -> AsyncGenerator[None, None]:
    """Closes an SDK-owned httpx client when the loop it is used in shuts down
    (``asyncio.run`` closes suspended async generators first), so its
    connections are closed in their own loop."""
    try:
        yield
    finally:
        if not client.is_closed and _process.current_pid() == pid:  # not a forked child
            with contextlib.suppress(Exception):
                await client.aclose()


def _httpx_fds(client: httpx.AsyncClient) -> list[int]:
    """The socket descriptors of ``client``'s pooled connections (httpcore's pool;
    whatever cannot be found that way is skipped)."""
    fds: list[int] = []
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        for conn in getattr(pool, "connections", ()):
            stream = getattr(getattr(conn, "_connection", None), "_network_stream", None)
            fd = -1
            with contextlib.suppress(Exception):  # httpcore's internals changed: skipped
                sock = stream.get_extra_info("socket") if stream is not None else None
                fd = sock.fileno() if sock is not None else -1
            if isinstance(fd, int) and fd >= 0:
                fds.append(fd)
    return fds


def _sent_by_fast_transport(http_client: httpx.AsyncClient, url: httpx.URL) -> bool:
    """Whether ``http_client`` sends ``url`` through a :class:`FastTransport`
    (which honours the ``attempt_deadline`` extension), as far as can be told."""
    try:
        transport = http_client._transport_for_url(url)
    except Exception:  # httpx's internals changed: bound the attempt the generic way
        return False
    return isinstance(transport, FastTransport)


async def _read_raw(response: httpx.Response, request: httpx.Request) -> bytes:
    """The body as sent, at most :data:`MAX_BODY_BYTES`; the response is closed after."""
    try:
        chunks: list[bytes] = []
        size = 0
        stream = response.stream
        # The stream itself, as aiter_raw reads it, without its per-request bookkeeping.
        chunks_read = stream if isinstance(stream, httpx.AsyncByteStream) else response.aiter_raw()
        async for chunk in chunks_read:
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise httpx.RemoteProtocolError("response body too large", request=request)
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks)
