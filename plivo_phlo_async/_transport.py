"""The seam between the SDK and the network: which path a request takes.

Two paths with one contract (failures are ``httpx.TransportError`` subclasses
carrying the request; answers have ``status_code`` and ``content``):

* the fast path: a lean HTTP/1.1 keep-alive client on asyncio protocols, the
  default under asyncio for the client's own pool. It parses only what PHLO
  answers need, builds no ``httpx.Request``/``httpx.Response`` unless an error
  needs one, and knows whether a byte of the request was written, so "never
  sent" and "maybe sent" are told apart exactly as the retry table requires.
* httpx: the ``httpx.AsyncClient`` (the SDK's own or an injected one). Used
  under trio, with a proxy (argument or environment), for an injected
  ``http_client`` (always honoured), and while httpx's transports are patched
  by a mocking library (respx, pytest-httpx) so that the mock sees every
  request.

Why not httpx alone: httpcore's pool does O(requests x connections) work on
every state change, so 64 requests in flight run ~25x slower than raw aiohttp
(benchmarks/). Why not aiohttp: it works, but ``httpx.AsyncClient`` over it
reaches ~0.4x of raw aiohttp, and this path beats raw aiohttp without adding a
dependency.
"""

from __future__ import annotations

import asyncio
import collections
import re
import select
import ssl
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Any, Final

import httpcore
import httpx
import sniffio

__all__ = ["Answer", "FastPool", "Sender", "as_httpx_response", "httpx_is_patched"]

#: Idle connections older than this are closed instead of reused (httpx's default),
#: well inside the keep-alive timeout of any server, so a POST rarely meets a
#: connection the server is closing at that very moment.
KEEPALIVE_EXPIRY = 5.0
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_ROUTE_CACHE_SIZE = 1024
#: A connection idle longer than this is checked for a close the loop has not
#: seen yet before it is reused (a POST written into a closing connection has
#: an unknown outcome); busier ones are reused without the extra system call.
_QUIET = 0.5

# Attributes that mocking libraries replace: respx (httpcore's pool, or
# AsyncClient._transport_for_url), pytest-httpx (httpx's transport).
_PATCH_POINTS: Final = (
    (httpcore.AsyncConnectionPool, "handle_async_request"),
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (httpx.AsyncClient, "_transport_for_url"),
    (httpx.AsyncClient, "send"),
)
_ORIGINALS: Final = tuple(cls.__dict__.get(name) for cls, name in _PATCH_POINTS)


def httpx_is_patched() -> bool:
    """True while a mocking library has replaced part of httpx's send path."""
    for (cls, name), original in zip(_PATCH_POINTS, _ORIGINALS, strict=True):
        if cls.__dict__.get(name) is not original:
            return True
    return False


def proxy_in_environment() -> bool:
    """httpx honours HTTP(S)_PROXY/ALL_PROXY; the fast path does not speak to proxies."""
    return any(key in ("http", "https", "all") for key in urllib.request.getproxies())


# --------------------------------------------------------------------------- answers


class Answer:
    """A response read by the fast path.

    The success path needs only ``status_code`` and ``content``; the
    ``httpx.Response`` (with its ``httpx.Request``) that errors carry is built
    on demand by :meth:`to_httpx`.
    """

    __slots__ = (
        "_method",
        "_request_content",
        "_request_headers",
        "_url",
        "content",
        "headers",
        "reason",
        "status_code",
    )

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        content: bytes,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_content: bytes | None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self._method = method
        self._url = url
        self._request_headers = request_headers
        self._request_content = request_content

    def to_httpx(self) -> httpx.Response:
        request = _httpx_request(
            self._method, self._url, self._request_headers, self._request_content
        )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if self.reason:
            extensions["reason_phrase"] = self.reason
        # A body the fast path decoded loses its coding, so httpx does not decode it again.
        headers = [
            (k, v) for k, v in self.headers
            if k.lower() != b"content-encoding" or v.lower() not in _DECODED
        ]
        return httpx.Response(
            self.status_code,
            headers=headers,
            content=self.content,
            request=request,
            extensions=extensions,
        )

    def __repr__(self) -> str:
        return f"<Answer [{self.status_code}]>"


def as_httpx_response(response: httpx.Response | Answer) -> httpx.Response:
    """The ``httpx.Response`` behind either path's answer (errors carry one)."""
    return response if isinstance(response, httpx.Response) else response.to_httpx()


def _httpx_request(
    method: str, url: str, headers: Mapping[str, str], content: bytes | None
) -> httpx.Request:
    return httpx.Request(method, url, headers=headers, content=content)


# --------------------------------------------------------------------------- protocol


class _ProtocolError(Exception):
    """The server's answer is not valid HTTP/1.1."""


_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
#: Content codings the fast path undoes itself (it asks for none).
_DECODED = frozenset({b"gzip", b"x-gzip", b"deflate"})

# Parser states.
_IDLE, _HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, pool: FastPool, origin: tuple[str, str, int]) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._loop = pool.loop
        self._buffer = bytearray()
        self._state = _IDLE
        self._waiter: asyncio.Future[None] | None = None
        self._received = False
        self._last_read = 0.0
        self._remaining = 0
        self._chunks: list[bytes] = []
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        # The answer being read.
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.keep_alive = True
        self._coding = b""

    # asyncio callbacks -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._state == _IDLE or self._state == _DONE:
            # Nothing was asked: the server is closing or confused; never reuse.
            self.keep_alive = False
            self.close()
            return
        self._received = True
        self._last_read = self._loop.time()
        self._buffer += data
        try:
            self._parse()
        except _ProtocolError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles the request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self._waiter is None or self._waiter.done():
            return
        if self._state == _UNTIL_CLOSE and exc is None:
            try:
                self._complete(bytes(self._buffer))
            except _ProtocolError as invalid:
                self._fail(httpx.RemoteProtocolError(str(invalid)))
            return
        error: httpx.TransportError
        if exc is not None:
            error = httpx.ReadError(str(exc) or type(exc).__name__)
        elif not self._received:
            error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
        else:
            error = httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )
        self._fail(error)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # request -----------------------------------------------------------------
    @property
    def usable(self) -> bool:
        transport = self.transport
        return not self.closed and transport is not None and not transport.is_closing()

    def start(self, data: bytes) -> asyncio.Future[None]:
        """Write one request; the returned future settles when the answer is read."""
        assert self.transport is not None
        self._waiter = waiter = self._loop.create_future()
        self._state = _HEAD
        self._received = False
        self.keep_alive = True
        self._coding = b""
        self.transport.write(data)
        return waiter

    async def drain(self, timeout: float | None) -> None:
        """Wait until the kernel has taken the request (only when the buffer is full)."""
        if not self._paused or self.closed:
            return
        self._drain = self._loop.create_future()
        try:
            await asyncio.wait_for(self._drain, timeout)
        finally:
            self._drain = None

    def start_read_timer(self, timeout: float | None) -> None:
        """httpx's read timeout: at most ``timeout`` seconds between two reads."""
        if timeout is not None:
            self._last_read = self._loop.time()
            self._timer = self._loop.call_at(self._last_read + timeout, self._check_read, timeout)

    def cancel_read_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_read(self, timeout: float) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        deadline = self._last_read + timeout
        if deadline > self._loop.time():  # bytes arrived meanwhile: count from the last ones
            self._timer = self._loop.call_at(deadline, self._check_read, timeout)
            return
        self._fail(httpx.ReadTimeout("timed out"))
        self.abort()

    def finish(self) -> None:
        """Forget the request (after its answer was read or it failed)."""
        self._waiter = None
        if self._state != _DONE:
            self.keep_alive = False
        self._state = _IDLE

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # parsing -----------------------------------------------------------------
    def _fail(self, error: httpx.TransportError) -> None:
        self.keep_alive = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    def _complete(self, body: bytes) -> None:
        if self._coding:
            body = _decode(self._coding, body)
        self.body = body
        self._state = _DONE
        if self._buffer:  # bytes beyond the answer: the stream is out of step
            self.keep_alive = False
            self._buffer.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _parse(self) -> None:
        buf = self._buffer
        while True:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise _ProtocolError("response head too large")
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                self._read_head(head)
            elif state == _LENGTH:
                remaining = self._remaining
                if len(buf) < remaining:
                    return
                body = bytes(buf[:remaining])
                del buf[:remaining]
                self._complete(body)
                return
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise _ProtocolError("chunk size line too long")
                    return
                size_text = bytes(buf[:end]).split(b";", 1)[0].strip(b" \t")
                if not _HEX.fullmatch(size_text):
                    raise _ProtocolError("invalid chunk size")
                del buf[: end + 2]
                size = int(size_text, 16)
                if size == 0:
                    self._state = _TRAILERS
                else:
                    if sum(map(len, self._chunks)) + size > MAX_BODY_BYTES:
                        raise _ProtocolError("response body too large")
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                remaining = self._remaining
                if len(buf) < remaining + 2:
                    return
                if buf[remaining : remaining + 2] != b"\r\n":
                    raise _ProtocolError("chunk not followed by CRLF")
                self._chunks.append(bytes(buf[:remaining]))
                del buf[: remaining + 2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        raise _ProtocolError("trailers too large")
                    return
                del buf[: end + 2]
                if end == 0:
                    body = b"".join(self._chunks)
                    self._chunks = []
                    self._complete(body)
                    return
            elif state == _UNTIL_CLOSE:
                if len(buf) > MAX_BODY_BYTES:
                    raise _ProtocolError("response body too large")
                return
            else:
                return

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if (
            len(parts) < 2
            or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0")
            or len(parts[1]) != 3
            or not parts[1].isdigit()
        ):
            raise _ProtocolError(f"invalid status line {lines[0][:100]!r}")
        status = int(parts[1])
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep_alive = parts[0] == b"HTTP/1.1"
        coding = b""
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or b" " in name or b"\t" in name or b"\n" in line:
                raise _ProtocolError(f"invalid header line {line[:100]!r}")
            value = value.strip(b" \t")
            headers.append((name, value))
            lname = name.lower()
            if lname == b"content-length":
                for item in value.split(b","):
                    item = item.strip(b" \t")
                    if not item.isdigit() or (length is not None and int(item) != length):
                        raise _ProtocolError("invalid Content-Length")
                    length = int(item)
            elif lname == b"transfer-encoding":
                if value.lower() != b"chunked":
                    raise _ProtocolError(f"unsupported Transfer-Encoding {value[:50]!r}")
                chunked = True
            elif lname == b"connection":
                if b"close" in value.lower():
                    keep_alive = False
            elif lname == b"content-encoding":
                coding = value.lower()
        if status < 200:
            if status == 101:
                raise _ProtocolError("unexpected protocol switch")
            return  # informational (100, 103): the real answer follows
        self.status = status
        self.reason = parts[2] if len(parts) == 3 else b""
        self.headers = headers
        self.keep_alive = keep_alive
        self._coding = b"" if coding == b"identity" else coding
        if status in (204, 304):  # no body (the SDK sends no HEAD)
            self._complete(b"")
        elif chunked:
            self.keep_alive = keep_alive and length is None
            self._chunks = []
            self._state = _CHUNK_SIZE
        elif length is not None:
            if length > MAX_BODY_BYTES:
                raise _ProtocolError("response body too large")
            self._remaining = length
            self._state = _LENGTH
        else:
            self.keep_alive = False
            self._state = _UNTIL_CLOSE


def _decode(coding: bytes, body: bytes) -> bytes:
    """Undo gzip/deflate (never asked for, but some servers send it anyway)."""
    if coding in _DECODED:
        try:
            decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
            data = decoder.decompress(body, MAX_BODY_BYTES)
        except zlib.error:
            if coding != b"deflate":
                raise _ProtocolError("invalid gzip body") from None
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            try:
                data = decoder.decompress(body, MAX_BODY_BYTES)
            except zlib.error:
                raise _ProtocolError("invalid deflate body") from None
        if decoder.unconsumed_tail:
            raise _ProtocolError("response body too large")
        return data
    return body  # unknown coding: left as is, httpx decodes it if an error needs the body


# --------------------------------------------------------------------------- pool


class _Route:
    """Where a URL goes and the start of its request, parsed once per URL."""

    __slots__ = ("origin", "prefix")

    def __init__(self, origin: tuple[str, str, int], prefix: bytes) -> None:
        self.origin = origin
        self.prefix = prefix


class FastPool:
    """Keep-alive connections per origin, at most ``max_connections`` in use.

    Bound to the event loop it was created in (like any asyncio transport).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        max_connections: int,
        get_headers: Mapping[str, str],
        post_headers: Mapping[str, str],
    ) -> None:
        self.loop = loop
        self.closed = False
        self._max = max_connections
        self._free = max_connections  # requests that may start now
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._connections: set[_Connection] = set()
        self._ssl: ssl.SSLContext | None = None
        self._get_headers = get_headers
        self._post_headers = post_headers
        self._get_block = _header_block(get_headers)
        self._post_block = _header_block(post_headers)
        self._routes: dict[tuple[str, str, bool], _Route] = {}

    async def send(
        self, method: str, url: str, content: bytes | None, timeout: httpx.Timeout
    ) -> Answer:
        route = self._routes.get((method, url, content is None))
        if route is None:
            route = self._route(method, url, content is None)
        if content is None:
            data = route.prefix + b"\r\n"
        else:
            data = route.prefix + b"Content-Length: %d\r\n\r\n%b" % (len(content), content)
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            await self._wait_for_slot(timeout.pool, method, url, content)
        try:
            conn = self._idle_connection(route.origin)
            if conn is None:
                conn = await self._connect(route.origin, timeout.connect, method, url, content)
            # From here on a byte may reach the server.
            waiter = conn.start(data)
            try:
                await conn.drain(timeout.write)
                conn.start_read_timer(timeout.read)
                await waiter
            except asyncio.TimeoutError:  # from drain
                conn.abort()
                raise self._error(httpx.WriteTimeout, "timed out", method, url, content) from None
            except httpx.TransportError as exc:
                exc.request = _httpx_request(method, url, self._headers(content), content)
                raise
            finally:
                conn.cancel_read_timer()
                if not waiter.done():  # cancelled mid-request: the connection is out of step
                    waiter.cancel()
                    conn.abort()
                elif not waiter.cancelled():
                    waiter.exception()  # retrieved, whichever way we leave
                conn.finish()
            answer = Answer(
                conn.status, conn.reason, conn.headers, conn.body,
                method, url, self._headers(content), content,
            )
            conn.body = b""
            if conn.keep_alive and not self.closed and conn.usable:
                conn.idle_since = self.loop.time()
                self._idle.setdefault(route.origin, []).append(conn)
            else:
                conn.close()
            return answer
        finally:
            self._release_slot()

    async def _wait_for_slot(
        self, timeout: float | None, method: str, url: str, content: bytes | None
    ) -> None:
        """Queue for a slot (first come, first served), at most ``timeout`` seconds."""
        slot = self.loop.create_future()
        self._waiting.append(slot)
        timer = None if timeout is None else self.loop.call_later(timeout, _expire, slot)
        try:
            await slot
        except _SlotTimeoutError:
            raise self._error(httpx.PoolTimeout, "timed out", method, url, content) from None
        except BaseException:
            if slot.done() and not slot.cancelled() and slot.exception() is None:
                self._release_slot()  # handed a slot as we were cancelled: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _release_slot(self) -> None:
        waiting = self._waiting
        while waiting:
            slot = waiting.popleft()
            if not slot.done():  # skip those that timed out or were cancelled
                slot.set_result(None)
                return
        self._free += 1

    async def aclose(self) -> None:
        self.abort_all()
        await asyncio.sleep(0)  # let the transports run connection_lost

    def abort_all(self) -> None:
        self.closed = True
        self._idle.clear()
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()

    # internals ---------------------------------------------------------------
    def _headers(self, content: bytes | None) -> Mapping[str, str]:
        return self._get_headers if content is None else self._post_headers

    def _route(self, method: str, url: str, bodyless: bool) -> _Route:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from None
        scheme = parsed.scheme
        if scheme not in ("http", "https") or not parsed.raw_host:
            raise self._error(
                httpx.UnsupportedProtocol,
                f"Request URL has an unsupported protocol '{scheme}://'.", method, url, None,
            )
        port = parsed.port or (443 if scheme == "https" else 80)
        origin = (scheme, parsed.raw_host.decode("ascii"), port)
        prefix = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            method.encode("ascii"),
            parsed.raw_path,
            parsed.netloc,
            self._get_block if bodyless else self._post_block,
        )
        if len(self._routes) >= _ROUTE_CACHE_SIZE:
            self._routes.clear()
        route = self._routes[(method, url, bodyless)] = _Route(origin, prefix)
        return route

    def _idle_connection(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.idle_since < now - KEEPALIVE_EXPIRY:  # the newest is too old: so are the rest
                conn.close()
                for older in idle:
                    older.close()
                idle.clear()
                return None
            if conn.usable and (conn.idle_since > now - _QUIET or not _readable(conn)):
                return conn
            conn.close()
        return None

    async def _connect(
        self,
        origin: tuple[str, str, int],
        timeout: float | None,
        method: str,
        url: str,
        content: bytes | None,
    ) -> _Connection:
        if len(self._connections) >= self._max:
            self._evict_idle()
        scheme, host, port = origin
        context = self._ssl_context() if scheme == "https" else None
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: _Connection(self, origin),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                ),
                timeout,
            )
        except asyncio.TimeoutError:
            raise self._error(httpx.ConnectTimeout, "timed out", method, url, content) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake and certificate
            raise self._error(httpx.ConnectError, str(exc), method, url, content) from exc
        if self.closed or not conn.usable:  # closed while connecting: nothing was sent
            conn.abort()
            raise self._error(
                httpx.ConnectError, "connection closed before use", method, url, content
            )
        self._connections.add(conn)
        return conn

    def _evict_idle(self) -> None:
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is not None:
            self._idle[oldest.origin].remove(oldest)
            oldest.close()

    def _forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            # Same verification as httpx: certifi's roots (or SSL_CERT_FILE/DIR), hostname checked.
            self._ssl = httpx.create_ssl_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    def _error(
        self,
        cls: type[httpx.TransportError],
        message: str,
        method: str,
        url: str,
        content: bytes | None,
    ) -> httpx.TransportError:
        return cls(message, request=_httpx_request(method, url, self._headers(content), content))


class _SlotTimeoutError(Exception):
    """The pool timeout expired before a connection slot was free."""


def _expire(slot: asyncio.Future[None]) -> None:
    if not slot.done():
        slot.set_exception(_SlotTimeoutError())


def _readable(conn: _Connection) -> bool:
    """Whether an idle connection has something to read: a close or stray bytes."""
    transport = conn.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _header_block(headers: Mapping[str, str]) -> bytes:
    """The fixed header lines, encoded once per client."""
    items = [*headers.items(), ("Accept-Encoding", "identity")]
    for name, value in items:
        if any(char in name + value for char in "\r\n\0"):
            raise ValueError(f"header {name!r} contains a line break")
    return "".join(f"{name}: {value}\r\n" for name, value in items).encode("latin-1")


# --------------------------------------------------------------------------- selection


class Sender:
    """Sends one attempt of a request by the fast path or through httpx.

    The fast path is chosen per request: only under asyncio, only for the
    client's own pool (no injected ``http_client``), without a proxy, and not
    while httpx is patched by a mock. Its pool is created lazily inside the
    running loop, so a client may be constructed outside any event loop.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient,
        fast_allowed: bool,
        max_connections: int,
        get_headers: Mapping[str, str],
        post_headers: Mapping[str, str],
    ) -> None:
        self.http_client = http_client
        self.fast_allowed = fast_allowed and not proxy_in_environment()
        self._max_connections = max_connections
        self._get_headers = get_headers
        self._post_headers = post_headers
        self._fast: FastPool | None = None

    def fast_pool(self) -> FastPool | None:
        """The pool the next request in this task would use, or None for httpx."""
        if not self.fast_allowed or httpx_is_patched():
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio, or no loop
            return None
        fast = self._fast
        if fast is not None and fast.loop is loop:
            return fast
        try:
            if sniffio.current_async_library() != "asyncio":
                return None
        except sniffio.AsyncLibraryNotFoundError:
            return None
        if fast is not None and not fast.loop.is_closed():
            return None  # in use by another running loop: share nothing, use httpx here
        self._fast = FastPool(
            loop,
            max_connections=self._max_connections,
            get_headers=self._get_headers,
            post_headers=self._post_headers,
        )
        return self._fast

    async def send(
        self, method: str, url: str, content: bytes | None, timeout: httpx.Timeout
    ) -> httpx.Response | Answer:
        fast = self.fast_pool()
        if fast is not None:
            return await fast.send(method, url, content, timeout)
        request = self.http_client.build_request(
            method,
            url,
            headers=self._get_headers if content is None else self._post_headers,
            content=content,
            timeout=timeout,
        )
        return await self.http_client.send(request)

    async def aclose(self) -> None:
        fast, self._fast = self._fast, None
        if fast is None or fast.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if fast.loop is running:
            await fast.aclose()
        else:  # closed from another loop or thread: close in the pool's own loop
            fast.loop.call_soon_threadsafe(fast.abort_all)
