"""One keep-alive HTTP/1.1 connection as an asyncio protocol: one request at a time.

The protocol owns the timers (read timeout between two reads, the attempt's
deadline, the write timeout while the kernel's buffer is full) and feeds what
arrives to a :class:`~._reader.ResponseReader`. Parsing is bounded per event
loop callback: a flood of tiny chunks yields to other tasks between batches,
so no answer freezes the loop.

Bytes that arrive while no request is outstanding mean the server is closing
or out of step: the connection is closed and never reused.

TLS is done here too, over ``ssl.MemoryBIO`` on a plain TCP transport (not
asyncio's or uvloop's SSL protocol), so every byte the server sends reaches
:meth:`Connection.data_received`, whether or not it decrypts to anything:
half a TLS record of a stray answer, which an SSL layer would buffer out of
sight, rules an idle connection out like any other byte. The TLS records are
followed on the wire (their 5-byte headers) to tell a complete record from
part of one. While idle, a complete record that decrypts to nothing (a TLS
1.3 session ticket, a key update) is tolerated; application data,
close_notify, an alert or part of a record is not. A FIN without
close_notify does not complete a body framed by the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from typing import TYPE_CHECKING, Final, cast

import httpx

from ._answer import MAX_BODY_BYTES
from ._reader import NEED_DATA, Data, EndOfMessage, ProtocolError, Response, ResponseReader
from ._timeout import within

if TYPE_CHECKING:
    from ._pool import FastPool

__all__ = ["Connection", "has_pending_input"]

MAX_HEAD_BYTES: Final = 64 * 1024
#: Reader events handled per loop callback before yielding to other tasks.
_EVENT_BUDGET: Final = 512
#: Plaintext asked of the TLS object per read: a record's most (2**14) and then some.
_TLS_READ: Final = 17 * 1024


class Connection(asyncio.Protocol):
    """A connection of the pool; :meth:`exchange` sends one request and reads its answer."""

    def __init__(
        self,
        pool: FastPool,
        origin: tuple[str, str, int],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.fd = -1  # the socket's descriptor, polled before each reuse
        #: Closed, closing, or out of step: never to be used again.
        self.closed = False
        #: The loop time from which this idle connection is too old to reuse.
        self.retire_at = 0.0
        self._loop = pool.loop
        self._reader: ResponseReader | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._response: Response | None = None
        self._body: list[bytes] = []
        self._last_read = 0.0
        self._read_timeout: float | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._paused_for_budget = False
        self._reading_paused = False
        self._writing_paused = False
        self._drain: asyncio.Future[None] | None = None
        # TLS (None over plain HTTP): the context, then the object over two memory BIOs.
        self._tls_context = tls
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        #: Done once the TLS handshake is (then the connection is usable), None over plain HTTP.
        self.handshake: asyncio.Future[None] | None = None
        self._shaking = False
        self._close_notified = False  # the server's close_notify was read
        # Where the incoming stream is in its TLS records: bytes left of the current
        # record, or the first bytes of a record header.
        self._record_left = 0
        self._record_head = b""

    # asyncio callbacks -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
        if self._tls_context is None:
            self.pool._opened(self)
            return
        self.handshake = self._loop.create_future()
        self.handshake.add_done_callback(_retrieve)  # a failure nobody awaits any more
        self._shaking = True
        try:
            # SNI and the hostname check (the context's check_hostname) as asyncio's own TLS.
            self._tls = self._tls_context.wrap_bio(
                self._incoming, self._outgoing, server_hostname=self.origin[1]
            )
        except (ssl.SSLError, ValueError) as exc:
            self._handshake_failed(exc)
            return
        self._shake()

    def data_received(self, data: bytes) -> None:
        if self._tls is not None:
            self._tls_received(data)
            return
        reader = self._reader
        if reader is None or reader.complete:
            # Nothing was asked: the server is closing or confused; never reuse.
            self.abort()
            return
        self._last_read = self._loop.time()
        reader.feed(data)
        if not self._paused_for_budget:
            self._pump()

    def eof_received(self) -> bool | None:
        if self._shaking:
            self._handshake_failed(
                ConnectionResetError("the server closed the connection during the TLS handshake")
            )
            return None
        reader = self._reader
        if reader is not None and not reader.complete:
            reader.feed_eof(unclean=self._tls is not None and not self._close_notified)
            if not self._paused_for_budget:
                self._pump()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._shaking:
            self._handshake_failed(
                exc or ConnectionResetError("the connection was lost during the TLS handshake")
            )
        self.pool._lost(self)
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is not None:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
            return
        reader = self._reader
        assert reader is not None
        # An until-close body ends here (over TLS, only after close_notify);
        # anything else is cut short.
        reader.feed_eof(unclean=self._tls is not None and not self._close_notified)
        if not self._paused_for_budget:  # else the pending batch settles it
            self._pump()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # the exchange ------------------------------------------------------------
    async def exchange(
        self,
        data: bytes,
        *,
        write_timeout: float | None,
        read_timeout: float | None,
        deadline: float | None,
    ) -> tuple[Response, bytes]:
        """Write one request and read its answer: the head and the raw body.

        Raises ``httpx.TransportError`` subclasses; every one of them but
        ``httpx.ConnectError`` (the server closed this new connection before
        the request was written) means the request may have reached the
        server. On any exit but success the caller must :meth:`abort` the
        connection.
        """
        transport = self.transport
        assert transport is not None
        assert self._waiter is None
        if self._reader is None and self._closed_before_use():
            raise httpx.ConnectError("connection closed by the server before use")
        self._waiter = waiter = self._loop.create_future()
        self._reader = ResponseReader(max_head=MAX_HEAD_BYTES, max_body=MAX_BODY_BYTES)
        self._response = None
        self._body = []
        self._read_timeout = read_timeout
        self._deadline = deadline
        try:
            if self._tls is None:
                transport.write(data)  # from here on a byte may reach the server
            else:
                self._tls_write(transport, data)
            if self._writing_paused and not self.closed:
                await self._wait_for_drain(write_timeout, deadline)
            self._last_read = self._loop.time()
            self._arm_timer()
            await waiter
            response = self._response
            assert response is not None
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            return response, body
        finally:
            self._disarm_timer()
            self._waiter = None
            self._body = []
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # retrieved, whichever way we leave

    @property
    def reusable(self) -> bool:
        """Whether the answer just read leaves the connection ready for another request."""
        reader = self._reader
        transport = self.transport
        return (
            not self.closed
            and reader is not None
            and reader.complete
            and reader.keep_alive
            and transport is not None
            and not transport.is_closing()
            # over TLS: no part of a record after the answer, no close_notify
            and not self._record_left
            and not self._record_head
            and not self._close_notified
        )

    def _closed_before_use(self) -> bool:
        """Whether this new connection, on which nothing was written yet, is closing."""
        transport = self.transport
        return (
            self.closed
            or (transport is not None and transport.is_closing())
            # Over plain HTTP the server says nothing before the request: anything
            # readable is its close (a FIN or a reset the loop has not read yet).
            # Over TLS it may be a session ticket: only a close already read counts.
            or (self._tls_context is None and has_pending_input(self.fd))
        )

    def close(self) -> None:
        self.closed = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self._tls is not None and not self._shaking:
                with contextlib.suppress(ssl.SSLError, ValueError):
                    self._tls.unwrap()  # writes our close_notify; the server's is not awaited
                if self._outgoing.pending:
                    transport.write(self._outgoing.read())
            transport.close()
        self.pool._closing(self)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self.pool._closing(self)

    # TLS ---------------------------------------------------------------------
    def _shake(self) -> None:
        """Go on with the handshake as far as what arrived allows."""
        tls = self._tls
        handshake = self.handshake
        assert tls is not None
        assert handshake is not None
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush_tls()
            return
        except ssl.SSLError as exc:  # certificate, hostname, protocol version, alert
            self._flush_tls()  # the alert, for the server to read
            self._handshake_failed(exc)
            return
        self._flush_tls()
        self._shaking = False
        if handshake.done():  # abandoned meanwhile (its awaiter was cancelled)
            self.abort()
            return
        handshake.set_result(None)
        self.pool._opened(self)
        if self._incoming.pending:  # records that came with the server's last flight
            self._tls_unasked()

    def _handshake_failed(self, exc: BaseException) -> None:
        self._shaking = False
        self.closed = True
        handshake = self.handshake
        if handshake is not None and not handshake.done():
            handshake.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    def _flush_tls(self) -> None:
        if self._outgoing.pending and self.transport is not None:
            self.transport.write(self._outgoing.read())

    def _tls_write(self, transport: asyncio.Transport, data: bytes) -> None:
        tls = self._tls
        assert tls is not None
        try:
            written = tls.write(data)
            while written < len(data):  # a memory BIO takes everything; never taken
                written += tls.write(memoryview(data)[written:])
        except ssl.SSLError as exc:
            raise httpx.WriteError(f"TLS: {exc}") from exc
        transport.write(self._outgoing.read())  # from here on a byte may reach the server

    def _tls_received(self, data: bytes) -> None:
        self._incoming.write(data)
        left = self._record_left - len(data)
        if left >= 0:  # all of it inside the current record: the usual case
            self._record_left = left
        else:
            self._follow_records(data)
        if self._shaking:
            self._shake()
            return
        reader = self._reader
        if reader is None or reader.complete:
            self._tls_unasked()
            return
        self._last_read = self._loop.time()
        tls = self._tls
        assert tls is not None
        incoming = self._incoming
        try:
            while True:
                plain = tls.read(_TLS_READ)
                if not plain:  # close_notify: the server closes its side
                    self._close_notified = True
                    reader.feed_eof()
                    break
                reader.feed(plain)
                if not incoming.pending:  # (no plaintext is left over: a read takes a record's all)
                    break
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:  # a bad record, an alert
            self._fail(httpx.ReadError(f"TLS: {exc}"))
            self.abort()
            return
        if self._outgoing.pending:  # a key update's answer
            self._flush_tls()
        if not self._paused_for_budget:
            self._pump()

    def _tls_unasked(self) -> None:
        """Records that arrived while no request is outstanding: fresh after the
        handshake, or idle after an answer. Only whole records that decrypt to
        nothing (session tickets, a key update) leave the connection usable; on
        a fresh connection a record may also be incomplete (a ticket in two reads)."""
        tls = self._tls
        assert tls is not None
        usable = False
        try:
            tls.read(_TLS_READ)  # application data (b"": close_notify): out of step
        except ssl.SSLWantReadError:  # nothing to read: good
            usable = self._reader is None or not (self._record_left or self._record_head)
        except ssl.SSLError:  # an alert, a bad record
            pass
        if usable:
            self._flush_tls()
        else:
            self.abort()

    def _follow_records(self, data: bytes) -> None:
        """Move past the records in ``data`` (which reaches past the current one)."""
        head = self._record_head
        if head:  # a header cut in two (the current record is all read)
            data = head + data
            self._record_head = b""
        end = len(data)
        at = self._record_left  # where the next record starts
        while at + 5 <= end:
            at += 5 + (data[at + 3] << 8 | data[at + 4])
        if at > end:
            self._record_left = at - end
        else:
            self._record_left = 0
            if at < end:
                self._record_head = data[at:]

    # internals ---------------------------------------------------------------
    def _pump(self) -> None:
        """Handle the reader's events, at most :data:`_EVENT_BUDGET` in this callback."""
        self._paused_for_budget = False
        reader = self._reader
        waiter = self._waiter
        if reader is None or waiter is None or waiter.done():
            return
        try:
            for _ in range(_EVENT_BUDGET):
                event = reader.next_event()
                if event is NEED_DATA:
                    self._resume_reading()
                    return
                if type(event) is Data:
                    self._body.append(event.data)
                elif type(event) is Response:
                    self._response = event
                elif type(event) is EndOfMessage:
                    self._resume_reading()  # idle, it must see what comes (a close, stray bytes)
                    waiter.set_result(None)
                    return
        except ProtocolError as exc:
            self._fail(httpx.RemoteProtocolError(str(exc)))
            self.abort()
            return
        # Out of budget: stop reading and go on in a later callback.
        self._paused_for_budget = True
        if not self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()
        self._loop.call_soon(self._resume_pump, reader)

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def _resume_pump(self, reader: ResponseReader) -> None:
        if self._reader is reader and self._paused_for_budget:
            self._pump()

    def _fail(self, error: httpx.TransportError) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)

    async def _wait_for_drain(self, timeout: float | None, deadline: float | None) -> None:
        """Wait until the kernel has taken the request (only when its buffer is full)."""
        if deadline is not None:
            left = deadline - self._loop.time()
            timeout = left if timeout is None else min(timeout, left)
        self._drain = self._loop.create_future()
        try:
            await within(self._drain, timeout)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out while sending the request") from None
        finally:
            self._drain = None

    def _arm_timer(self) -> None:
        when = self._next_check()
        if when is not None:
            self._timer = self._loop.call_at(when, self._check_timeouts)

    def _disarm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _next_check(self) -> float | None:
        read_by = None if self._read_timeout is None else self._last_read + self._read_timeout
        if self._deadline is None:
            return read_by
        return self._deadline if read_by is None else min(read_by, self._deadline)

    def _check_timeouts(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        now = self._loop.time()
        if self._deadline is not None and now >= self._deadline:
            self._fail(httpx.ReadTimeout("timed out: the attempt deadline passed mid-answer"))
            self.abort()
            return
        when = self._next_check()
        assert when is not None
        if when > now:  # bytes arrived meanwhile: count from the last ones
            self._timer = self._loop.call_at(when, self._check_timeouts)
            return
        self._fail(httpx.ReadTimeout("timed out"))
        self.abort()


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


if hasattr(select, "poll"):

    def has_pending_input(fd: int) -> bool:
        """Whether an idle socket has something to read: stray bytes, a close or an error.

        ``poll`` rather than ``select``: ``select`` fails for descriptors >= 1024.
        An unknown descriptor (-1) counts as "something": never reused unchecked.
        """
        if fd < 0:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))

else:  # Windows: select has no descriptor limit there

    def has_pending_input(fd: int) -> bool:
        """Whether an idle socket has something to read: stray bytes, a close or an error."""
        if fd < 0:
            return True
        readable, _, errored = select.select([fd], [], [fd], 0)
        return bool(readable or errored)
