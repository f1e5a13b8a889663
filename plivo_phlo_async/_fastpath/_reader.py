"""An I/O-free HTTP/1.1 response reader, in h11's manner.

Bytes go in with :meth:`ResponseReader.feed` (and :meth:`~ResponseReader.feed_eof`
when the peer closes); events come out of :meth:`~ResponseReader.next_event`:
one :class:`Response` (informational 1xx answers are skipped), any number of
:class:`Data`, then :class:`EndOfMessage`. Nothing here touches a socket, so
the reader is tested by feeding it bytes, split anywhere, side by side with h11.

Stricter than h11 where a PHLO answer never needs the leniency, and never
looser (``tests/fastpath/test_reader_fuzz.py`` holds it to that). Refused,
each with a :class:`ProtocolError` naming the reason:

* line endings other than CRLF in the head, chunk lines and trailers (h11
  accepts a bare LF); a lone CR anywhere in them;
* control characters in a header value, reason phrase or chunk extension
  (h11 accepts all but NUL);
* obsolete line folding (h11 unfolds it);
* HTTP versions other than 1.0 and 1.1, a status below 100, and 101
  Switching Protocols (the SDK never asks to switch);
* a head (or trailer block) over ``max_head`` bytes, a body over
  ``max_body`` bytes, a Content-Length of more than 18 digits, a chunk size
  of more than 15 hex digits and a chunk-size line of 4 KiB or more (no valid
  answer under the body cap needs more).

Work is linear in the bytes fed: the search for the end of the head resumes
where the last one stopped, and no event re-reads earlier input.
"""

from __future__ import annotations

import re
from typing import Final, NoReturn

__all__ = [
    "NEED_DATA",
    "Data",
    "EndOfMessage",
    "ProtocolError",
    "Response",
    "ResponseReader",
    "says_close",
]


class ProtocolError(Exception):
    """The peer's answer is not valid HTTP/1.1 (or is beyond the reader's limits)."""


class _NeedData:
    """Sentinel event: feed more bytes (or EOF) to go on."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


class Response:
    """The final answer's status line and headers (names as received, values stripped)."""

    __slots__ = ("coded", "headers", "http_version", "idle_timeout", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        http_version: bytes,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.http_version = http_version
        #: A Content-Encoding header is present: the body may need decoding.
        self.coded = False
        #: Seconds the server keeps the connection open idle (``Keep-Alive: timeout=N``),
        #: None when it did not say (or said something malformed).
        self.idle_timeout: int | None = None

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, headers={self.headers!r})"


class Data:
    """A piece of the body, as framed on the wire (content codings not undone)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Data(<{len(self.data)} bytes>)"


class EndOfMessage:
    """The answer is complete."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EndOfMessage()"


_END_OF_MESSAGE: Final = EndOfMessage()

Event = Response | Data | EndOfMessage | _NeedData

# --------------------------------------------------------------------------- grammar

#: What may not appear in a head, a chunk line or a trailer: control characters
#: other than HTAB, a LF not after CR, a CR not before LF (a CR at the very end
#: of the input may still be followed by its LF).
_FORBIDDEN: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|(?<!\r)\n|\r(?!\n|\Z)")
#: Text without control bytes other than HTAB: a reason phrase, a field value.
_TEXT: Final = rb"[\t\x20-\x7e\x80-\xff]*"
_STATUS_LINE: Final = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: (" + _TEXT + rb"))?\r\n")
_TOKEN: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VISIBLE: Final = rb"[\x21-\x7e\x80-\xff]"
#: A field line, its value captured without the whitespace around it. The
#: grammar is unambiguous (a value starts and ends with a visible byte; trailing
#: whitespace only follows a value), so a refused line costs linear time, not
#: the exponential backtracking of ``[ \t]*(.*?)[ \t]*`` across many lines.
_FIELD_LINE: Final = (
    rb"(" + _TOKEN + rb"):[ \t]*"
    rb"(?:(" + _VISIBLE + rb"(?:" + _TEXT + _VISIBLE + rb")?)[ \t]*)?\r\n"
)
_FIELD_LINES: Final = re.compile(rb"(?:" + _FIELD_LINE + rb")*")
_FIELD: Final = re.compile(_FIELD_LINE)
_CONTENT_LENGTH: Final = re.compile(rb"[0-9]{1,18}")
_CHUNK_LINE: Final = re.compile(rb"([0-9A-Fa-f]{1,15})(?:;[^\r\n]*|[ \t]*)\r\n")
_MAX_CHUNK_LINE: Final = 4096

# Reader states (one request's answer).
_AWAIT_HEAD: Final = "await head"
_BODY: Final = "body"
_DONE: Final = "done"
_ERROR: Final = "error"


class ResponseReader:
    """Reads one answer. Create a new reader for each request.

    After :class:`EndOfMessage`, :attr:`keep_alive` says whether the
    connection may carry another request: not when the peer said
    ``Connection: close``, spoke HTTP/1.0, framed the body by closing, sent
    both Content-Length and chunked, or sent bytes beyond the answer
    (:attr:`trailing_data`: the stream is out of step).
    """

    __slots__ = (
        "_body_reader",
        "_buffer",
        "_eof",
        "_eof_unclean",
        "_max_body",
        "_max_head",
        "_scanned",
        "_searched",
        "keep_alive",
        "response",
        "state",
    )

    def __init__(self, *, max_head: int = 64 * 1024, max_body: int = 16 * 1024 * 1024) -> None:
        self._max_head = max_head
        self._max_body = max_body
        self._buffer = bytearray()
        self._eof = False
        self._eof_unclean = False  # the stream ended without TLS close_notify
        self._searched = 0  # where the next search for the end of the head starts
        self._scanned = 0  # how far the head has been checked for forbidden bytes
        self._body_reader: _BodyReader | None = None
        self.state = _AWAIT_HEAD
        self.response: Response | None = None
        self.keep_alive = True

    @property
    def complete(self) -> bool:
        return self.state is _DONE

    @property
    def trailing_data(self) -> bytes:
        """Bytes received beyond the end of the answer (only meaningful once complete)."""
        return bytes(self._buffer) if self.state is _DONE else b""

    def feed(self, data: bytes) -> None:
        if self._eof:
            raise ProtocolError("data after the end of the stream")
        self._buffer += data
        if self.state is _DONE and self._buffer:
            self.keep_alive = False

    def feed_eof(self, *, unclean: bool = False) -> None:
        """The peer closed. ``unclean``: over TLS, without close_notify, so the
        stream may have been cut by anyone on the path: a body framed by the
        close is then refused, not taken as complete."""
        self._eof = True
        self._eof_unclean = unclean

    def next_event(self) -> Event:
        """The next event, :data:`NEED_DATA`, or a :class:`ProtocolError`."""
        try:
            if self.state is _BODY:
                assert self._body_reader is not None
                return self._body_reader.read(self)
            if self.state is _AWAIT_HEAD:
                return self._read_head()
            if self.state is _DONE:
                return NEED_DATA
            raise ProtocolError("the reader failed earlier")
        except ProtocolError:
            self.state = _ERROR
            raise

    # head ----------------------------------------------------------------------
    def _read_head(self) -> Event:
        while True:  # loops only past informational answers
            buf = self._buffer
            end = buf.find(b"\r\n\r\n", self._searched)
            if end < 0:
                # Checked as it arrives, so that a bare LF fails now, not at a timeout.
                bad = _FORBIDDEN.search(buf, self._scanned)
                if bad is not None:
                    raise ProtocolError(f"invalid byte {bad.group()!r} in the response head")
                if len(buf) > self._max_head:
                    raise ProtocolError("response head too large")
                if self._eof:
                    if buf:
                        raise ProtocolError("peer closed connection in the middle of a head")
                    raise ProtocolError("Server disconnected without sending a response.")
                self._searched = max(0, len(buf) - 3)
                self._scanned = max(0, len(buf) - 1)
                return NEED_DATA
            if end + 4 > self._max_head:
                raise ProtocolError("response head too large")
            head = bytes(buf[: end + 2])
            del buf[: end + 4]
            self._searched = self._scanned = 0
            response = self._parse_head(head)
            if response is not None:
                return response

    def _parse_head(self, head: bytes) -> Response | None:  # noqa: C901 - the hot path, inline
        # The grammar admits no control byte, bare LF or lone CR: one C-level
        # match per part; _refuse_head says what was wrong only when it fails.
        status_line = _STATUS_LINE.match(head)
        if status_line is None:
            _refuse_head(head, "invalid status line")
        minor, status_text, reason = status_line.groups()
        fields = head[status_line.end() :]
        if _FIELD_LINES.fullmatch(fields) is None:
            _refuse_head(fields, "invalid header line (or obsolete line folding)")
        status = int(status_text)
        if status < 100:
            raise ProtocolError(f"invalid status code {status_text.decode()}")
        if status == 101:
            raise ProtocolError("unexpected protocol switch (101)")
        headers: list[tuple[bytes, bytes]] = _FIELD.findall(fields)
        length: bytes | None = None
        chunked = close = coded = False
        idle_timeout: int | None = None
        for name, value in headers:
            size = len(name)
            if size == 14 and name.lower() == b"content-length":
                if length is None and value.isdigit() and len(value) <= 18:
                    length = value  # the common case, checked without a regex
                else:
                    length = _content_length(value, length)
            elif size == 17 and name.lower() == b"transfer-encoding":
                if chunked:
                    raise ProtocolError("multiple Transfer-Encoding headers")
                if value.lower() != b"chunked":
                    raise ProtocolError(f"unsupported Transfer-Encoding {value[:50]!r}")
                chunked = True
            elif size == 10:
                lowered = name.lower()
                if lowered == b"connection":
                    close = close or says_close(value)
                elif lowered == b"keep-alive":
                    timeout = _keep_alive_timeout(value)
                    if timeout is not None and (idle_timeout is None or timeout < idle_timeout):
                        idle_timeout = timeout  # several: the shortest
            elif size == 16 and name.lower() == b"content-encoding":
                coded = True
        if status < 200:
            return None  # informational (100, 103), validated as h11 does: the answer follows
        response = Response(status, reason or b"", headers, b"1." + minor)
        response.coded = coded
        response.idle_timeout = idle_timeout
        self.response = response
        # HTTP/1.0, Connection: close, a body ended by closing, or Content-Length
        # beside chunked framing a body (RFC 9112 6.3: close after it): never reused.
        self.keep_alive = minor == b"1" and not close
        self.state = _BODY
        if status in (204, 304):  # never a body (the SDK sends no HEAD)
            self._body_reader = _EndReader()
        elif chunked:
            self.keep_alive = self.keep_alive and length is None
            self._body_reader = _ChunkedReader()
        elif length is not None:
            size = int(length)
            if size > self._max_body:
                raise ProtocolError("response body too large")
            self._body_reader = _LengthReader(size) if size else _EndReader()
        else:
            self.keep_alive = False
            self._body_reader = _UntilCloseReader()
        return response

    def _end(self) -> EndOfMessage:
        self.state = _DONE
        self._body_reader = None
        if self._buffer:  # bytes beyond the answer: the stream is out of step
            self.keep_alive = False
        return _END_OF_MESSAGE


def _refuse_head(part: bytes, reason: str) -> NoReturn:
    bad = _FORBIDDEN.search(part)
    if bad is not None:
        raise ProtocolError(f"invalid byte {bad.group()!r} in the response head")
    if reason == "invalid status line":
        first_line = part.split(b"\r\n", 1)[0]
        reason = f"invalid status line {first_line[:100]!r}"
    raise ProtocolError(reason)


def says_close(connection: bytes) -> bool:
    """Whether a ``Connection`` header's value has the ``close`` option."""
    lowered = connection.lower()
    if b"close" not in lowered:  # keep-alive, the common case: no split
        return False
    return b"close" in (token.strip(b" \t") for token in lowered.split(b","))


def _keep_alive_timeout(value: bytes) -> int | None:
    """The ``timeout=N`` of a ``Keep-Alive`` header (``timeout=5, max=100``): how
    long the server keeps an idle connection open; None if absent or malformed
    (a value of more than 9 digits too: a limit that far out is no limit)."""
    for parameter in value.split(b","):
        name, equals, seconds = parameter.partition(b"=")
        if equals and name.strip(b" \t").lower() == b"timeout":
            seconds = seconds.strip(b" \t")
            return int(seconds) if seconds.isdigit() and len(seconds) <= 9 else None
    return None


def _content_length(value: bytes, seen: bytes | None) -> bytes:
    """A Content-Length value (a list of equal values allowed, as h11), checked
    against an earlier one."""
    items = {item.strip(b" \t") for item in value.split(b",")}
    if len(items) != 1:
        raise ProtocolError("conflicting Content-Length headers")
    item = items.pop()
    if _CONTENT_LENGTH.fullmatch(item) is None:
        raise ProtocolError(f"invalid Content-Length {item[:30]!r}")
    if seen is not None and seen != item:
        raise ProtocolError("conflicting Content-Length headers")
    return item


def _check_fields(headers: list[tuple[bytes, bytes]]) -> None:
    """Validate framing headers where they frame nothing (trailers), as h11 does."""
    length: bytes | None = None
    chunked = False
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            length = _content_length(value, length)
        elif lname == b"transfer-encoding":
            if chunked:
                raise ProtocolError("multiple Transfer-Encoding headers")
            if value.lower() != b"chunked":
                raise ProtocolError(f"unsupported Transfer-Encoding {value[:50]!r}")
            chunked = True


# --------------------------------------------------------------------------- body readers


class _BodyReader:
    """One framing of the body: what to read next, and what end of input means."""

    __slots__ = ()

    def read(self, reader: ResponseReader) -> Event:
        raise NotImplementedError


class _LengthReader(_BodyReader):
    __slots__ = ("remaining",)

    def __init__(self, length: int) -> None:
        self.remaining = length

    def read(self, reader: ResponseReader) -> Event:
        buf = reader._buffer
        if not buf:
            if reader._eof:
                raise ProtocolError("peer closed connection without sending complete message body")
            return NEED_DATA
        data = _take(buf, self.remaining)
        self.remaining -= len(data)
        if self.remaining == 0:
            reader._body_reader = _EndReader()
        return Data(data)


def _take(buf: bytearray, most: int) -> bytes:
    """Remove and return up to ``most`` bytes from the front of ``buf`` (one copy)."""
    if len(buf) <= most:
        data = bytes(buf)
        buf.clear()
    else:
        data = bytes(buf[:most])
        del buf[:most]
    return data


class _EndReader(_BodyReader):
    """The last Data was returned; the end of the message comes next."""

    __slots__ = ()

    def read(self, reader: ResponseReader) -> Event:
        return reader._end()


# Where a chunked body is.
_SIZE_LINE: Final = "chunk size line"
_CHUNK: Final = "chunk data"
_CHUNK_END: Final = "CRLF after chunk data"
_TRAILERS: Final = "trailers"


class _ChunkedReader(_BodyReader):
    __slots__ = ("phase", "received", "remaining")

    def __init__(self) -> None:
        self.phase = _SIZE_LINE
        self.remaining = 0
        self.received = 0

    def read(self, reader: ResponseReader) -> Event:
        buf = reader._buffer
        while True:
            phase = self.phase
            if phase is _CHUNK:
                if not buf:
                    return self._need(reader)
                data = _take(buf, self.remaining)
                self.remaining -= len(data)
                if self.remaining == 0:
                    self.phase = _CHUNK_END
                return Data(data)
            if phase is _CHUNK_END:
                if len(buf) < 2:
                    if buf and buf[0] != 0x0D:
                        raise ProtocolError("chunk data not followed by CRLF")
                    return self._need(reader)
                if buf[0] != 0x0D or buf[1] != 0x0A:
                    raise ProtocolError("chunk data not followed by CRLF")
                del buf[:2]
                self.phase = _SIZE_LINE
            elif phase is _SIZE_LINE:
                end = buf.find(b"\n", 0, _MAX_CHUNK_LINE)
                if end < 0:
                    if len(buf) >= _MAX_CHUNK_LINE:
                        raise ProtocolError("chunk size line too long")
                    return self._need(reader)
                match = _CHUNK_LINE.fullmatch(buf, 0, end + 1)
                if match is None or _FORBIDDEN.search(buf, 0, end + 1) is not None:
                    raise ProtocolError(f"invalid chunk size line {bytes(buf[:end][:50])!r}")
                size = int(match.group(1), 16)
                del buf[: end + 1]
                if size == 0:
                    self.phase = _TRAILERS
                    continue
                self.received += size
                if self.received > reader._max_body:
                    raise ProtocolError("response body too large")
                self.remaining = size
                self.phase = _CHUNK
            else:
                return self._read_trailers(reader)

    def _read_trailers(self, reader: ResponseReader) -> Event:
        """Header lines up to an empty line, then the end; searched where the last search
        stopped, validated like the head's fields (framing headers included, as h11)."""
        buf = reader._buffer
        if buf[:2] == b"\r\n":
            del buf[:2]
            return reader._end()
        end = buf.find(b"\r\n\r\n", reader._searched)
        limit = len(buf) if end < 0 else end + 4
        bad = _FORBIDDEN.search(buf, reader._scanned, limit)
        if bad is not None:
            raise ProtocolError(f"invalid byte {bad.group()!r} in the trailers")
        if limit > reader._max_head:
            raise ProtocolError("trailers too large")
        if end < 0:
            reader._searched = max(0, len(buf) - 3)
            reader._scanned = max(0, len(buf) - 1)
            return self._need(reader)
        block = bytes(buf[: end + 2])
        if _FIELD_LINES.fullmatch(block) is None:
            raise ProtocolError("invalid trailer line (or obsolete line folding)")
        _check_fields(_FIELD.findall(block))
        del buf[: end + 4]
        reader._searched = reader._scanned = 0
        return reader._end()

    @staticmethod
    def _need(reader: ResponseReader) -> Event:
        if reader._eof:
            raise ProtocolError(
                "peer closed connection without sending complete message body "
                "(incomplete chunked read)"
            )
        return NEED_DATA


class _UntilCloseReader(_BodyReader):
    """HTTP/1.0-style framing: the body is everything until the peer closes."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received = 0

    def read(self, reader: ResponseReader) -> Event:
        buf = reader._buffer
        if buf:
            self.received += len(buf)
            if self.received > reader._max_body:
                raise ProtocolError("response body too large")
            data = bytes(buf)
            buf.clear()
            return Data(data)
        if reader._eof:
            if reader._eof_unclean:
                raise ProtocolError(
                    "the connection was closed without TLS close_notify: "
                    "a body framed by the close may be cut short"
                )
            return reader._end()
        return NEED_DATA
