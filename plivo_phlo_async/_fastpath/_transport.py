"""The fast path as an httpx transport: httpx's hooks, auth and tracing at the pool's speed.

``httpx.AsyncClient(transport=FastTransport())`` keeps everything httpx does
around a request (event hooks, auth flows, cookies, redirects, instrumentation
of the client) and replaces only httpcore's pool, which costs O(requests x
connections) per state change, with :class:`~._pool.FastPool`: the same
keep-alive checks (an idle connection with stray bytes is never reused),
strict response reader, timeouts and error mapping as the SDK's fast path, so
the SDK's retry table and its "outcome unknown" rules hold unchanged.

Limits: HTTP/1.1 only (no HTTP/2), no proxies, asyncio only (the pool is built
on asyncio protocols; under trio a clear error is raised), answers of at most
16 MiB, no ``HEAD``/``CONNECT`` or protocol upgrades. A streaming request body
is read whole before anything is sent, and sent with a ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Final

import httpx
import sniffio

from .._exceptions import ConfigurationError
from .._validation import is_int
from ._pool import FastPool
from ._reader import says_close

__all__ = ["ATTEMPT_DEADLINE", "FastTransport"]

#: A request extension: seconds the whole exchange (pool wait, connect, write,
#: answer) may take, on top of the per-phase ``timeout``. The SDK sets it so
#: that it needs no cancel scope of its own around each request.
ATTEMPT_DEADLINE: Final = "attempt_deadline"

#: Methods whose answer framing the reader does not know (HEAD's body is absent
#: whatever Content-Length says) or that switch protocols.
_REFUSED_METHODS: Final = frozenset({b"HEAD", b"CONNECT"})
_FORBIDDEN: Final = re.compile(rb"[\r\n\0]")
_NO_HEADERS: Final[dict[str, str]] = {}


class FastTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` over the SDK's fast connection pool.

    ``max_connections`` bounds both the sockets open and the requests in
    flight (others queue, first come first served, for the pool timeout).
    The pool is created in the event loop of the first request and is bound
    to it; :meth:`aclose` (or closing the ``httpx.AsyncClient``) closes it
    for good.
    """

    def __init__(self, max_connections: int = 100) -> None:
        if not is_int(max_connections) or max_connections < 1:
            raise ConfigurationError(
                f"max_connections must be an int >= 1, not {max_connections!r}",
                field="max_connections",
            )
        self.max_connections = max_connections
        self._pool: FastPool | None = None
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Sockets open now (idle ones included)."""
        return 0 if self._pool is None else self._pool.open_connections

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._pool_for_this_loop(request)
        method = request.method.encode("ascii")
        if method in _REFUSED_METHODS:
            raise httpx.UnsupportedProtocol(
                f"FastTransport does not send {request.method} requests", request=request
            )
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https") or not url.raw_host:
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'.", request=request
            )
        try:
            body = request.content
            raw_headers = request.headers.raw
        except httpx.RequestNotRead:  # a streaming body: read whole, sent with a length
            body = await request.aread()
            raw_headers = [
                (name, value)
                for name, value in request.headers.raw
                if name.lower() not in (b"transfer-encoding", b"content-length")
            ]
            raw_headers.append((b"Content-Length", str(len(body)).encode("ascii")))
        lines = [name + b": " + value for name, value in raw_headers]
        # A request saying "Connection: close" ends its connection (RFC 9112 9.6):
        # the server closes it after the answer, so it must not go back to the pool.
        keep_alive = True
        for name, value in raw_headers:
            if len(name) == 10 and name.lower() == b"connection" and says_close(value):
                keep_alive = False
        block = b"\r\n".join(lines)
        breaks = len(lines) - 1 if lines else 0
        target = url.raw_path
        # Only the line breaks put there by the join: none inside a name, a value or the path.
        if (
            block.count(b"\n") != breaks
            or block.count(b"\r") != breaks
            or b"\0" in block
            or _FORBIDDEN.search(target)
        ):
            raise httpx.LocalProtocolError(
                "a header or the path contains a line break or NUL", request=request
            )
        head = (
            b"%s %s HTTP/1.1\r\n%s\r\n\r\n" % (method, target, block)
            if lines
            else (b"%s %s HTTP/1.1\r\n\r\n" % (method, target))
        )
        data = head + body if body else head
        port = url.port or (443 if scheme == "https" else 80)
        origin = (scheme, url.raw_host.decode("ascii"), port)
        extensions = request.extensions
        timeout = _timeout(extensions.get("timeout") or {})
        try:
            response, raw = await pool.exchange(
                origin,
                data,
                timeout,
                extensions.get(ATTEMPT_DEADLINE),
                request.method,
                str(url),
                body or None,
                keep_alive,
            )
        except httpx.TransportError as exc:
            exc.request = request  # the caller's request, not the pool's stand-in
            raise
        answer_extensions = {"http_version": b"HTTP/" + response.http_version}
        if response.reason:
            answer_extensions["reason_phrase"] = response.reason
        # The raw body as a stream: httpx undoes Content-Encoding once, as it reads it.
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ReadBody(raw),
            extensions=answer_extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None or pool.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if pool.loop is running:
            await pool.aclose()
        else:
            pool.loop.call_soon_threadsafe(pool.abort_all)

    def _pool_for_this_loop(self, request: httpx.Request) -> FastPool:
        try:
            library = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            library = "unknown"
        if library != "asyncio":
            raise RuntimeError(
                f"FastTransport runs only under asyncio (this is {library}); use httpx's "
                "default transport there"
            )
        if self._closed:
            raise RuntimeError("the FastTransport is closed")
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is not None and pool.loop is loop and not pool.closed:
            return pool
        if pool is not None and not pool.loop.is_closed() and not pool.closed:
            raise RuntimeError(
                "this FastTransport is in use by another running event loop; "
                "create one transport (and client) per event loop"
            )
        self._pool = FastPool(
            loop,
            max_connections=self.max_connections,
            get_headers=_NO_HEADERS,
            post_headers=_NO_HEADERS,
        )
        return self._pool


_TIMEOUTS: dict[tuple[float | None, ...], httpx.Timeout] = {}


def _timeout(phases: dict[str, float | None]) -> httpx.Timeout:
    """httpx's ``timeout`` extension as an ``httpx.Timeout`` (a handful per client: cached)."""
    key = (phases.get("connect"), phases.get("read"), phases.get("write"), phases.get("pool"))
    timeout = _TIMEOUTS.get(key)
    if timeout is None:
        if len(_TIMEOUTS) >= 256:
            _TIMEOUTS.clear()
        connect, read, write, pool = key
        timeout = _TIMEOUTS[key] = httpx.Timeout(connect=connect, read=read, write=write, pool=pool)
    return timeout


class _ReadBody(httpx.AsyncByteStream):
    """A body already read in full, handed to httpx as the stream it expects."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._body:
            yield self._body
