"""Keep-alive connections per origin, at most ``max_connections`` sockets open.

Invariants the adversarial suite (``tests/fastpath/``) holds the pool to:

* At most ``max_connections`` requests are in flight (slots, first come first
  served) and at most ``max_connections`` sockets are open: connecting counts
  before the socket exists, and makes room by closing the oldest idle one.
* A connection leaves a request either back in the idle list (its answer was
  complete, the server keeps it alive, nothing followed the answer) or
  aborted — whatever was cancelled when.
* An idle connection is polled before every reuse: stray bytes (a late 429,
  another request's answer) or a close mean it is discarded unread, so no
  request is ever handed an answer it did not ask for. Over TLS too: the
  connection does TLS itself over a plain TCP transport, so a byte that
  arrived while it was idle is seen even when it decrypts to nothing yet
  (half a record), and rules it out as well (see ``_connection``).
* Closing is final. Pools are bound to one event loop; when that loop shuts
  down (``asyncio.run`` returning) the pool closes its sockets with it.
* Pools are bound to one process: in a child of ``os.fork()`` the inherited
  pool is closed and its sockets left to the parent (see :mod:`._process`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import os
import socket
import ssl
import weakref
from collections.abc import AsyncGenerator, Mapping

import httpx

from .._environment import ca_error
from .._exceptions import ClientClosedError
from . import _process
from ._answer import Answer, decode_body, httpx_request
from ._connection import Connection, has_pending_input
from ._reader import Response
from ._timeout import within

__all__ = ["KEEPALIVE_EXPIRY", "FastPool"]

#: Seconds a connection may stay idle and still be reused; older ones are closed.
#: Below the shortest common server idle timeout (uvicorn and Node 5 s; nginx
#: 75 s, cloud load balancers 60 s) by a second: a POST written into a connection
#: the server is closing at that very moment fails with its outcome unknown (at
#: an equal limit, httpx's 5 s, a 5,000-row run against uvicorn lost 8 that way).
#: A server that announces a shorter ``Keep-Alive: timeout`` is honoured too
#: (:func:`_idle_limit`).
KEEPALIVE_EXPIRY = 4.0
_ROUTE_CACHE_SIZE = 1024

Origin = tuple[str, str, int]


class _Route:
    """Where a URL goes and the start of its request, parsed once per URL.

    ``head`` is the request line and ``Host``; ``prefix`` adds the client's
    header lines to it (a request with headers of its own adds those instead).
    """

    __slots__ = ("head", "origin", "prefix")

    def __init__(self, origin: Origin, head: bytes, prefix: bytes) -> None:
        self.origin = origin
        self.head = head
        self.prefix = prefix


class FastPool:
    """The fast path's connection pool, bound to the event loop it was created in."""

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
        self._idle: dict[Origin, list[Connection]] = {}
        # Every socket from connection_made to connection_lost, closing ones included:
        # a socket counts against max_connections until it is really closed.
        self._open: set[Connection] = set()
        self._connecting = 0
        self._room: collections.deque[asyncio.Future[None]] = collections.deque()  # connects
        self._ssl: ssl.SSLContext | None = None
        self._get_headers = get_headers
        self._post_headers = post_headers
        self._get_block = _header_block(get_headers)
        self._post_block = _header_block(post_headers)
        self._routes: dict[tuple[str, str, bool], _Route] = {}
        self._loop_hook: AsyncGenerator[None, None] | None = _close_with_loop(weakref.ref(self))
        # Run it to its first yield, which registers it with the running loop.
        with contextlib.suppress(StopIteration):
            self._loop_hook.asend(None).send(None)
        #: The process this pool belongs to; a forked child never uses it.
        self.pid = _process.current_pid()
        self._inherited: list[Connection] = []
        _process.track(self)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        timeout: httpx.Timeout,
        deadline: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One attempt; ``deadline`` bounds it whole, in seconds from now.

        ``headers`` (checked by the caller) replace the client's for this
        request; None keeps the client's, encoded once per route.
        """
        if self.closed:
            raise ClientClosedError("the client is closed; create a new PhloClient")
        route = self._routes.get((method, url, content is None))
        if route is None:
            route = self._route(method, url, content is None)
        if headers is None:
            prefix = route.prefix
            headers = self._headers(content)
        else:
            prefix = route.head + _header_block(headers)
        if content is None:
            data = prefix + b"\r\n"
        else:
            data = prefix + b"Content-Length: %d\r\n\r\n%b" % (len(content), content)
        response, raw = await self.exchange(
            route.origin, data, timeout, deadline, method, url, content
        )
        answer_headers = response.headers
        return Answer(
            response.status_code,
            response.reason,
            answer_headers,
            decode_body(answer_headers, raw) if response.coded and raw else raw,
            method,
            url,
            headers,
            content,
        )

    async def exchange(
        self,
        origin: Origin,
        data: bytes,
        timeout: httpx.Timeout,
        deadline: float | None,
        method: str,
        url: str,
        content: bytes | None,
        keep_alive: bool = True,
    ) -> tuple[Response, bytes]:
        """Send the request bytes ``data`` to ``origin``; the answer's head and raw body.

        Errors are ``httpx.TransportError`` subclasses (their request built
        from ``method``, ``url`` and ``content``), as :meth:`send` raises them.
        ``keep_alive`` false (the request says ``Connection: close``): the
        connection is closed after the answer, as the server will close it.
        """
        if self.closed:
            raise ClientClosedError("the client is closed; create a new PhloClient")
        loop = self.loop
        deadline_at = None if deadline is None else loop.time() + deadline
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            pool_timeout = _within(timeout.pool, deadline_at, loop)
            await self._wait_for_slot(pool_timeout, method, url, content)
        try:
            conn = self._take_idle(origin)
            if conn is None:
                conn = await self._connect(
                    origin, _within(timeout.connect, deadline_at, loop), method, url, content
                )
            if deadline_at is not None and loop.time() >= deadline_at:
                conn.close()  # nothing was written: the next attempt may send it
                raise self._error(
                    httpx.PoolTimeout,
                    "timed out: the attempt deadline passed before sending",
                    method,
                    url,
                    content,
                )
            try:
                response, raw = await conn.exchange(
                    data,
                    write_timeout=timeout.write,
                    read_timeout=timeout.read,
                    deadline=deadline_at,
                )
            except httpx.TransportError as exc:
                conn.abort()
                exc.request = httpx_request(method, url, self._headers(content), content)
                raise
            except BaseException:  # cancelled mid-request: the connection is out of step
                conn.abort()
                raise
            server_idle = response.idle_timeout
            limit = KEEPALIVE_EXPIRY if server_idle is None else _idle_limit(server_idle)
            if keep_alive and limit > 0 and conn.reusable and not self.closed:
                conn.retire_at = loop.time() + limit
                self._idle.setdefault(origin, []).append(conn)
                if self._room:  # a connect waiting for room may close this one now
                    self._wake_room()
            else:
                conn.close()
        finally:
            self._release_slot()
        return response, raw

    async def aclose(self) -> None:
        self.abort_all()
        await asyncio.sleep(0)  # let the transports run connection_lost

    def abort_all(self) -> None:
        """Close every socket now; the pool is unusable afterwards."""
        self.closed = True
        self._idle.clear()
        for conn in list(self._open):
            conn.abort()
        hook, self._loop_hook = self._loop_hook, None
        if hook is not None:
            with contextlib.suppress(StopIteration, RuntimeError):
                hook.aclose().send(None)

    # process ownership ---------------------------------------------------------
    def forked(self) -> list[int]:
        """In a forked child: the pool is closed for this process, its connections
        forgotten untouched (they are the parent's); their descriptors, for
        :func:`._process.let_go`."""
        self.closed = True
        self._inherited = list(self._open)
        self._open.clear()
        self._idle.clear()
        return [conn.fd for conn in self._inherited]

    def release_inherited(self) -> None:
        """In the child, inside this pool's loop: drop the inherited transports
        from the loop (their descriptors point at /dev/null by now, so neither
        the socket nor the shared epoll instance of the parent is touched)."""
        inherited, self._inherited = self._inherited, []
        for conn in inherited:
            conn.abort()

    # called by connections -----------------------------------------------------
    def _opened(self, conn: Connection) -> None:
        if self.closed or conn.closed:  # closed, or abandoned while connecting
            conn.abort()  # (uvloop reports no loss for a transport closed in connection_made)
        else:
            self._open.add(conn)

    def _closing(self, conn: Connection) -> None:
        """``conn`` is closing: never to be reused (it still counts until it is lost)."""
        idle = self._idle.get(conn.origin)
        if idle and conn in idle:
            idle.remove(conn)

    def _lost(self, conn: Connection) -> None:
        """``conn``'s socket is closed: its room goes to a connect waiting for one."""
        self._closing(conn)
        if conn in self._open:
            self._open.discard(conn)
            self._wake_room()

    def _wake_room(self) -> None:
        """A socket's room came free: every connect waiting for one checks again
        (none is left waiting behind a cancelled one)."""
        while self._room:
            waiter = self._room.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # slots ---------------------------------------------------------------------
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

    # connections ---------------------------------------------------------------
    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            conn = idle.pop()
            if conn.retire_at <= now:  # idle too long: the server may be closing it
                conn.close()
            elif conn.reusable and not has_pending_input(conn.fd):
                return conn
            else:
                conn.abort()  # stray bytes or a close: never read them as an answer
        return None

    async def _connect(
        self,
        origin: Origin,
        timeout: float | None,
        method: str,
        url: str,
        content: bytes | None,
    ) -> Connection:
        loop = self.loop
        started = loop.time()
        try:
            await self._reserve_socket(timeout)
        except TimeoutError:
            raise self._error(httpx.ConnectTimeout, "timed out", method, url, content) from None
        scheme, host, _ = origin
        # The connect runs as its own task that a cancellation of the caller
        # does not interrupt: an abandoned connection is closed once it is made,
        # by the normal path. (Cancelling loop.create_connection part-way can
        # leave a socket open for a while, and uvloop then never reports it lost.)
        try:
            context = self._ssl_context(method, url, content) if scheme == "https" else None
            connecting = loop.create_task(self._open_connection(origin, context))
        except BaseException:
            self._connecting -= 1
            raise
        abandoned = False

        def settled(task: asyncio.Task[Connection]) -> None:
            self._connecting -= 1
            if task.cancelled() or task.exception() is not None:
                self._wake_room()  # no socket came of it: its room is free
                return
            if abandoned:
                task.result().abort()

        connecting.add_done_callback(settled)
        left = None if timeout is None else max(timeout - (loop.time() - started), 0.0)
        try:
            conn = await within(asyncio.shield(connecting), left)
        except (OSError, UnicodeError, ValueError) as exc:
            if connecting.done() and not isinstance(exc, TimeoutError):
                # refused, unreachable, DNS (and names IDNA refuses), TLS handshake
                # and certificate: the connect itself failed
                reason, cause = _connect_failure(exc, host)
                raise self._error(httpx.ConnectError, reason, method, url, content) from cause
            abandoned = True  # our own timeout (TimeoutError is an OSError)
            if not connecting.done():
                connecting.cancel()  # still connecting: nothing was sent
            elif not connecting.cancelled() and connecting.exception() is None:
                connecting.result().abort()
            raise self._error(httpx.ConnectTimeout, "timed out", method, url, content) from None
        except BaseException:
            # Cancelled: the connection is closed as soon as it is made, or now
            # if it was made as the caller was cancelled.
            abandoned = True
            if (
                connecting.done()
                and not connecting.cancelled()
                and (connecting.exception() is None)
            ):
                connecting.result().abort()
            raise
        if self.closed:
            conn.abort()
            raise ClientClosedError("the client was closed while connecting")
        return conn

    async def _open_connection(self, origin: Origin, context: ssl.SSLContext | None) -> Connection:
        """A TCP connection to ``origin``, and over https the TLS handshake on it.

        TLS is the connection's own (``ssl.MemoryBIO``), not the loop's: the
        transport is plain TCP under asyncio and uvloop alike, so every byte
        received is seen, decrypted or not (see ``_connection``).
        """
        _, host, port = origin
        _, conn = await self.loop.create_connection(
            lambda: Connection(self, origin, context), host, port
        )
        if conn.handshake is not None:
            try:
                await conn.handshake
            except BaseException:
                conn.abort()
                raise
        return conn

    async def _reserve_socket(self, timeout: float | None) -> None:
        """Wait until one more socket fits, closing idle ones (the first due to retire first),
        and count it as connecting; ``TimeoutError`` after ``timeout`` seconds.

        A closed socket counts until its transport reports it lost, so the limit
        holds as the kernel sees it, not only in this pool's bookkeeping. The
        check and the count happen in one step: no other connect slips between.
        """
        loop = self.loop
        deadline = None if timeout is None else loop.time() + timeout
        while len(self._open) + self._connecting >= self._max:
            oldest: Connection | None = None
            for idle in self._idle.values():
                if idle and (oldest is None or idle[0].retire_at < oldest.retire_at):
                    oldest = idle[0]
            if oldest is not None:
                oldest.abort()  # idle: nothing to flush; TLS too closes at once
            room = loop.create_future()
            self._room.append(room)
            await within(room, None if deadline is None else max(deadline - loop.time(), 0.0))
        self._connecting += 1

    # requests ------------------------------------------------------------------
    def _headers(self, content: bytes | None) -> Mapping[str, str]:
        return self._get_headers if content is None else self._post_headers

    def _route(self, method: str, url: str, bodyless: bool) -> _Route:
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise self._error(httpx.UnsupportedProtocol, str(exc), method, url, None) from None
        scheme = parsed.scheme
        if scheme not in ("http", "https") or not host:
            raise self._error(
                httpx.UnsupportedProtocol,
                f"Request URL has an unsupported protocol '{scheme}://'.",
                method,
                url,
                None,
            )
        port = parsed.port or (443 if scheme == "https" else 80)
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (
            method.encode("ascii"),
            parsed.raw_path,
            parsed.netloc,
        )
        prefix = head + (self._get_block if bodyless else self._post_block)
        if len(self._routes) >= _ROUTE_CACHE_SIZE:
            self._routes.clear()
        route = self._routes[(method, url, bodyless)] = _Route((scheme, host, port), head, prefix)
        return route

    def _ssl_context(self, method: str, url: str, content: bytes | None) -> ssl.SSLContext:
        """Built at the first https connect, before anything is sent; errors are typed.

        Unloadable CA certificates are a ConfigurationError naming SSL_CERT_FILE
        or SSL_CERT_DIR (PhloClient() checked them; they changed since); no free
        descriptor to read them is a connect error, retried like one.
        """
        if self._ssl is None:
            # Same verification as httpx: certifi's roots (or SSL_CERT_FILE/DIR), hostname
            # checked, TLS 1.2 at least.
            try:
                context = httpx.create_ssl_context()
            except OSError as exc:
                error = ca_error(exc)
                if error is not None:
                    raise error from exc
                reason = f"cannot set up TLS: {exc}"
                raise self._error(httpx.ConnectError, reason, method, url, content) from exc
            context.set_alpn_protocols(["http/1.1"])
            self._ssl = context
        return self._ssl

    def _error(
        self,
        cls: type[httpx.TransportError],
        message: str,
        method: str,
        url: str,
        content: bytes | None,
    ) -> httpx.TransportError:
        return cls(message, request=httpx_request(method, url, self._headers(content), content))


class _SlotTimeoutError(Exception):
    """The pool timeout expired before a connection slot was free."""


def _expire(slot: asyncio.Future[None]) -> None:
    if not slot.done():
        slot.set_exception(_SlotTimeoutError())


def _idle_limit(server_timeout: int) -> float:
    """How long a connection may stay idle when its server said ``Keep-Alive:
    timeout=N``: a second less (its clock starts as the answer leaves, ours once
    it is read, and the next request takes a while to arrive), so 1 s at N = 2
    and never reused at N <= 1; never beyond :data:`KEEPALIVE_EXPIRY`."""
    return min(server_timeout - 1.0, KEEPALIVE_EXPIRY)


def _connect_failure(exc: Exception, host: str) -> tuple[str, BaseException]:
    """What a failed connect reports, and the error to chain under it (a
    ``socket.gaierror`` there makes it a NameResolutionError)."""
    if not isinstance(exc, socket.gaierror):
        return str(exc), exc
    exhausted = _descriptors_exhausted()
    if exhausted is not None:  # the resolver could not open its files: not the name's fault
        return str(exhausted), exhausted
    return f"cannot resolve host name {host!r}: {exc}", exc


def _descriptors_exhausted() -> OSError | None:
    """The EMFILE/ENFILE error if no descriptor can be opened now, else None.

    Some resolvers report a name they could not look up for want of a
    descriptor (to read /etc/hosts, to open a DNS socket) as unknown: the
    connect then failed for the same reason as one whose socket() did.
    """
    try:
        os.close(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return OSError(exc.errno, os.strerror(exc.errno))  # unchained from the gaierror
    return None


def _within(
    timeout: float | None, deadline_at: float | None, loop: asyncio.AbstractEventLoop
) -> float | None:
    """A phase's timeout, shortened to what is left of the attempt's deadline."""
    if deadline_at is None:
        return timeout
    left = max(deadline_at - loop.time(), 0.0)
    return left if timeout is None else min(timeout, left)


async def _close_with_loop(pool: weakref.ref[FastPool]) -> AsyncGenerator[None, None]:
    """Closes the pool when its event loop shuts down.

    ``asyncio.run`` (and pytest-asyncio, uvloop) close every async generator
    still suspended in the loop before closing it; this one is, for as long as
    the pool is open, so its sockets are closed in their own loop instead of
    being left to the garbage collector.
    """
    try:
        yield
    finally:
        alive = pool()
        if alive is not None and not alive.closed:
            alive._loop_hook = None
            alive.abort_all()


def _header_block(headers: Mapping[str, str]) -> bytes:
    """The fixed header lines, encoded once per client."""
    items = [*headers.items(), ("Accept-Encoding", "identity")]
    for name, value in items:
        if any(char in name + value for char in "\r\n\0"):
            raise ValueError(f"header {name!r} contains a line break")
    return "".join(f"{name}: {value}\r\n" for name, value in items).encode("latin-1")
