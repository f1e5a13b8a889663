"""The scripted HTTP/1.1 server on 127.0.0.1 that counts everything it receives.

Which fake Plivo to use:

* **this server**, whenever a test needs real sockets: the wire format as it
  reaches a server (the ``loopback`` and ``on_path`` fixtures of
  tests/conftest.py: a :class:`Canned` answer to every request, on the fast
  path and on httpx), and every misbehaviour (``serve(behaviour)``: stray
  bytes, closes, drips, hangs, silence, TLS), where :meth:`Server.count`
  and :meth:`Server.duplicates` tell whether a POST arrived twice;
* **the emulator** (``plivo_phlo_async.emulator``, in-process or on a socket),
  for Plivo's API behaviour: validation, rate limits, faults, calls;
* **respx** (or ``httpx.MockTransport``, as tests/bulk/conftest.py's
  ``FakePlivo``), for unit tests of what the SDK sends and how it reads an
  answer, without a socket.

Each server runs its own asyncio loop in a thread of its own, so that it keeps
writing (stray bytes, closes, drips) while the client's loop is blocked by a
test, exactly as a remote server would. The server counts:

* every *complete* request (head and whole body), with the number of the
  connection it arrived on: a POST received twice is a duplicate phone call;
* connections accepted, and connections open right now (accepted minus
  closed by either side), with the peak of the latter sampled a few
  milliseconds after each request (so that a close the client made just
  before opening a new connection has been seen).

A test gives a *behaviour*, ``async def behaviour(request, conn)``, run for
each complete request on a connection; it writes whatever it likes with
``conn.send`` and may close the connection. A *handler*, ``async def
handler(conn)``, replaces the request loop altogether (for answers sent
before the request body was read). ``on_accept(conn)`` runs as a connection
is accepted, before any TLS: one it closes is served no further.

Over TLS (``tls=`` a server context) the server does TLS itself, over
``ssl.MemoryBIO`` on a plain TCP stream, so a test controls the bytes on the
wire: :meth:`Conn.encrypt` turns plaintext into the TLS records the next write
would send, and ``conn.later(..., raw=True)`` writes any slice of them (half a
record now, the rest later, as a congested network delivers them).
:meth:`Conn.close` sends close_notify before its FIN, as a TLS server's
keep-alive timeout does; ``close(notify=False)`` is a FIN alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from _waiting import wait_until

from plivo_phlo_async import PhloClient

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
AUTH_TOKEN = "tok-fastpath-suite"

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One complete request, as the server read it."""

    method: str
    path: str  # the request target, query included, as sent
    headers: dict[str, str]  # by lower-case name (the last value sent); Headers keeps all
    body: bytes
    connection: int  # 1 for the first connection the server accepted

    def header(self, name: str) -> list[str]:
        """Every value sent for ``name`` (names ignore case), in order."""
        fields = getattr(self.headers, "fields", self.headers.items())
        return [value for key, value in fields if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def tag(self) -> str:
        """What identifies the request: its PHLO id, else the ``to`` of its body."""
        parts = self.path.split("/")
        if "phlo" in parts:
            return parts[parts.index("phlo") + 1]
        if self.body:
            with contextlib.suppress(ValueError, AttributeError):
                return str(json.loads(self.body)["to"])
        return self.path

    @property
    def key(self) -> tuple[str, str, bytes]:
        return (self.method, self.path, self.body)


def answer_body(tag: str) -> bytes:
    """The JSON answer that belongs to the request with this tag (and to no other)."""
    return json.dumps(
        {
            "api_id": f"run-{tag}",
            "phlo_id": tag,
            "message": "ok",
            "error": "",
            "request_uuid": f"call-{tag}",
        },
        separators=(",", ":"),
    ).encode()


def response(
    status: int = 201,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    reason: str = "Whatever",
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A response; Content-Length is added unless ``length`` is false."""
    lines = [f"{version} {status} {reason}", "Content-Type: application/json"]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def own_answer(request: Request, status: int | None = None, **kw: Any) -> bytes:
    """The right answer to ``request``: 200 for a GET, 201 for a POST."""
    if status is None:
        status = 200 if request.method == "GET" else 201
    return response(status, answer_body(request.tag), **kw)


class Headers(dict[str, str]):
    """A request's headers by lower-case name (the last value sent), with
    :attr:`fields`: every one as sent, in order (value without its OWS)."""

    def __init__(self, fields: Iterable[tuple[str, str]]) -> None:
        self.fields = [(name, value.strip(" \t")) for name, value in fields]
        super().__init__((name.strip().lower(), value) for name, value in self.fields)


class Tally:
    """Open connections, possibly shared by several servers (one client, two origins).

    ``peak`` is sampled from the kernel's view: a connection the client has
    closed is not counted even if its server's loop (another thread) has not
    read the close yet, so the figure is the client's sockets, not the lag
    between two server threads.
    """

    def __init__(self) -> None:
        self.open = 0
        self.peak = 0
        self.samples = 0  # taken so far (one per request, a few milliseconds after it)
        self.conns: list[Conn] = []

    def sample(self) -> None:
        alive = sum(1 for conn in list(self.conns) if not conn.closed and not _peer_closed(conn))
        self.peak = max(self.peak, alive)
        self.samples += 1


def _peer_closed(conn: Conn) -> bool:
    """Whether the client has closed (or reset) this connection, as the kernel sees it.

    On Linux the TCP state says so even when the server's thread has not yet
    read the request that came before the client's FIN (a peek would return
    those bytes and count the socket as open); elsewhere, a peek.
    """
    transport_socket = conn.writer.get_extra_info("socket")
    if transport_socket is None:
        return True
    try:
        peek = socket.fromfd(transport_socket.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return True
    try:
        if _TCP_INFO is not None:
            return peek.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0] != _TCP_ESTABLISHED
        return peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # open, nothing to read
    except OSError:
        return True  # reset
    finally:
        peek.close()


#: ``struct tcp_info`` starts with the state; 1 is ESTABLISHED (CLOSE_WAIT once the FIN is in).
_TCP_INFO: int | None = getattr(socket, "TCP_INFO", None) if sys.platform == "linux" else None
_TCP_ESTABLISHED = 1


class Conn:
    """The server's side of one connection (used inside the server's loop).

    ``reader`` yields the plaintext (decrypted over TLS); ``writer`` is the
    TCP stream itself.
    """

    def __init__(
        self,
        server: Server,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.number = number
        self.raw = reader  # the TCP stream's bytes (ciphertext over TLS)
        self.reader = reader
        self.writer = writer
        self.closed = False
        self.served = 0  # complete requests read on this connection
        self.tls: ssl.SSLObject | None = None
        self.tickets = b""  # held back (Server.hold_tickets): TLS records, whole
        self._tls_in = ssl.MemoryBIO()
        self._tls_out = ssl.MemoryBIO()

    # TLS over memory BIOs ------------------------------------------------------
    async def start_tls(self, context: ssl.SSLContext) -> None:
        """The server's side of the handshake; then decrypt in a task of its own."""
        self.tls = tls = context.wrap_bio(self._tls_in, self._tls_out, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                data = await self.raw.read(65536)
                if not data:
                    raise ConnectionResetError("closed during the handshake") from None
                self._tls_in.write(data)
            except ssl.SSLError:
                self._flush()  # the alert, for the client to read
                raise
        if self.server.hold_tickets:  # TLS 1.3's session tickets, for the test to send
            self.tickets = self._tls_out.read()
        self._flush()
        self.reader = asyncio.StreamReader(limit=8 * 1024 * 1024)
        self.server._spawn(self._decrypt())

    async def _decrypt(self) -> None:
        """Feed the plaintext to :attr:`reader` until EOF or close_notify."""
        try:
            while self._tls_read():
                data = await self.raw.read(65536)
                if not data:
                    break
                self._tls_in.write(data)
        except (OSError, ValueError):
            pass
        finally:
            self.reader.feed_eof()

    def _tls_read(self) -> bool:
        """Decrypt what has arrived; False once the client's close_notify is read."""
        assert self.tls is not None
        try:
            while data := self.tls.read(65536):
                self.reader.feed_data(data)
        except ssl.SSLWantReadError:
            return True
        except ssl.SSLZeroReturnError:
            return False
        return False  # an empty read: close_notify

    def _flush(self) -> None:
        if self._tls_out.pending:
            self.writer.write(self._tls_out.read())

    def encrypt(self, data: bytes) -> bytes:
        """What writing ``data`` puts on the wire next: TLS records (plain HTTP: ``data``).

        The records are the TLS stream's next ones: write them, whole or in
        slices, before anything else is sent.
        """
        if self.tls is None:
            return data
        self.tls.write(data)
        return self._tls_out.read()

    # writing -------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.writer.write(self.encrypt(data))
        with contextlib.suppress(OSError):
            await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (over TLS: records from :meth:`encrypt`, or slices of them)."""
        if self.closed:
            return
        self.writer.write(data)
        with contextlib.suppress(OSError):
            await self.writer.drain()

    def later(self, delay: float, data: bytes | None, *, raw: bool = False) -> None:
        """Write ``data`` (or close, for None) ``delay`` seconds from now; the
        server's ``later_done`` counts it once done. ``raw``: written as it is
        (records from :meth:`encrypt`, or slices of them), not encrypted."""

        def act() -> None:
            if data is None:
                self.close()
            elif not self.closed:
                self.writer.write(data if raw else self.encrypt(data))
            self.server.later_done += 1

        asyncio.get_running_loop().call_later(delay, act)

    def close(self, *, notify: bool = True) -> None:
        """Close (FIN), as a keep-alive timeout does; over TLS, close_notify first
        unless ``notify`` is false (a FIN alone: the stream may be cut short)."""
        if self.tls is not None and notify and not self.closed:
            with contextlib.suppress(ssl.SSLError, ValueError):
                self.tls.unwrap()  # writes close_notify; the client's is not awaited
            self._flush()
        self._closed()
        self.writer.close()

    def abort(self) -> None:
        """Drop the connection at once (a FIN, or a reset if the client's bytes are unread)."""
        self._closed()
        self.writer.transport.abort()

    def reset(self) -> None:
        """Close with a reset, whatever was read (``SO_LINGER`` 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    @property
    def socket_closed(self) -> bool:
        """Whether this side's socket is really closed (its FIN or reset is sent),
        which comes a loop iteration after :meth:`close`."""
        sock = self.writer.get_extra_info("socket")
        return sock is None or sock.fileno() == -1

    def _closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.tally.open -= 1

    async def until_eof(self) -> None:
        """Say nothing: read and discard until the client goes away."""
        with contextlib.suppress(OSError):
            while await self.reader.read(65536):
                pass
        self.close()

    async def read_head(self) -> tuple[str, str, Headers] | None:
        """The request line and headers, or None if the client closed first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        return method, path, Headers(line.partition(":")[::2] for line in lines[1:] if line)

    async def read_request(self) -> Request | None:
        """The next complete request (recorded by the server), or None at EOF."""
        head = await self.read_head()
        if head is None:
            return None
        method, path, headers = head
        try:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, OSError):
            return None
        return self.record(Request(method, path, headers, body, self.number))

    def record(self, request: Request) -> Request:
        self.served += 1
        self.server.received.append(request)
        asyncio.get_running_loop().call_later(0.005, self.server.tally.sample)
        return request


Behaviour = Callable[[Request, Conn], Awaitable[None]]
Handler = Callable[[Conn], Awaitable[None]]


async def answer_each(request: Request, conn: Conn) -> None:
    """The well-behaved server: every request gets its own answer."""
    await conn.send(own_answer(request))


PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
#: One answer every result model accepts.
BODY = {
    "api_id": "a-1",
    "phlo_id": PHLO_ID,
    "node_id": NODE_ID,
    "run_id": "r-1",
    "error": "",
    "message": "ok",
    "request_uuid": "u-1",
}


@dataclass
class Canned:
    """The same answer to every request (by default one every result model
    accepts), which a test may change between two requests."""

    status: int = 201
    body: bytes = json.dumps(BODY).encode()
    headers: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, request: Request, conn: Conn) -> None:
        await conn.send(response(self.status, self.body, self.headers))


@dataclass
class Server:
    """A server in a thread of its own; see the module's docstring."""

    behaviour: Behaviour = answer_each
    handler: Handler | None = None
    tls: ssl.SSLContext | None = None
    tally: Tally = field(default_factory=Tally)
    host: str = "127.0.0.1"
    received: list[Request] = field(default_factory=list)
    connections: int = 0  # accepted
    bytes_sent: int = 0  # for handlers that count what they managed to write
    later_done: int = 0  # writes and closes scheduled with Conn.later, once done
    #: Over TLS 1.3, keep the session tickets the handshake ends with in ``conn.tickets``
    #: instead of sending them at once.
    hold_tickets: bool = False
    on_accept: Callable[[Conn], None] | None = None
    #: 0 for one the OS picks; a given one is bound with SO_REUSEADDR (to listen
    #: again where an earlier server stopped).
    port: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._conns: list[Conn] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self.call(self._start())
        self.port = self._server.sockets[0].getsockname()[1]

    # --- from the test's thread ------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/v1"

    def client(self, **options: Any) -> PhloClient:
        options.setdefault("base_url", self.base_url)
        options.setdefault("voice_base_url", self.base_url)
        options.setdefault("auth_id", AUTH_ID)
        options.setdefault("auth_token", AUTH_TOKEN)
        return PhloClient(**options)

    @property
    def open(self) -> int:
        return self.tally.open

    @property
    def peak(self) -> int:
        return self.tally.peak

    def count(self, method: str, tag: str) -> int:
        """How many complete requests with this method and tag arrived."""
        return sum(1 for r in list(self.received) if r.method == method and r.tag == tag)

    def sockets_closed(self) -> int:
        """How many of its connections this server has really closed (see
        :attr:`Conn.socket_closed`); a close by the client is not counted
        until the server's loop has seen it."""
        return sum(1 for conn in list(self._conns) if conn.socket_closed)

    def closes_done(self) -> bool:
        """Whether every connection this server has closed is really closed (its
        FIN or reset sent), not just about to be."""
        return all(conn.socket_closed for conn in list(self._conns) if conn.closed)

    def accepted_from(self, address: tuple[str, int]) -> Conn | None:
        """The server's side of the client's connection from ``address``, once accepted."""
        for conn in list(self._conns):
            if tuple(conn.writer.get_extra_info("peername")[:2]) == address:
                return conn
        return None

    def duplicates(self) -> list[tuple[str, str, bytes]]:
        """POSTs (same path and body) received more than once."""
        seen = Counter(r.key for r in list(self.received) if r.method == "POST")
        return [key for key, n in seen.items() if n > 1]

    def call(self, coro: Awaitable[T]) -> T:
        """Run a coroutine in the server's loop and wait for it."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=10)

    def stop_listening(self) -> None:
        """Close the listening socket (from the server's loop: a behaviour):
        connects are refused from now on."""
        self._server.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    # --- in the server's loop --------------------------------------------------
    async def _start(self) -> asyncio.Server:
        # TLS is done by each Conn itself (start_tls), over the plain TCP stream.
        return await asyncio.start_server(
            self._accepted, self.host, self.port, limit=8 * 1024 * 1024, reuse_address=True
        )

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Called synchronously by connection_made: counted in the order of events.
        self.connections += 1
        self.tally.open += 1
        conn = Conn(self, self.connections, reader, writer)
        self.tally.conns.append(conn)
        self._conns.append(conn)
        self._spawn(self._serve(conn))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: Conn) -> None:
        try:
            if self.on_accept is not None:
                self.on_accept(conn)
                if conn.closed:
                    return
            if self.tls is not None:
                await conn.start_tls(self.tls)
            if self.handler is not None:
                await self.handler(conn)
                return
            while not conn.closed:
                request = await conn.read_request()
                if request is None:
                    break
                await self.behaviour(request, conn)
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            if not conn.closed:
                conn.abort()
            raise
        finally:
            if not conn.closed:
                if self.handler is None:
                    conn.close()
                else:  # a handler that returned without closing: wait for the client
                    await conn.until_eof()

    async def _stop(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self._conns:
            if not conn.socket_closed:  # a close() with bytes still unsent included
                conn.abort()
        # A transport closes its socket a loop iteration after abort(): let it,
        # before the loop itself is closed.
        await wait_until(self.closes_done, what="the server's sockets to close")
