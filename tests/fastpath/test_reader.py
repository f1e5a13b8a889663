"""Unit tests of the fast path's I/O-free HTTP/1.1 response reader.

Every test feeds bytes (split as the test says) and checks the events, the
``keep_alive`` verdict and ``trailing_data``, or the :class:`ProtocolError` and
part of its message. ``test_reader_fuzz.py`` holds the same reader against h11.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from plivo_phlo_async._fastpath import _reader
from plivo_phlo_async._fastpath._reader import (
    NEED_DATA,
    Data,
    EndOfMessage,
    ProtocolError,
    Response,
    ResponseReader,
)

KIB = 1024
MIB = 1024 * KIB

# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Answer:
    """What a complete answer came to."""

    status_code: int
    reason: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool
    trailing_data: bytes
    #: "Response" / "Data" / "EndOfMessage", in order; how the body is cut into
    #: Data events follows the reads, so answers compare equal without it.
    events: tuple[str, ...] = field(compare=False)


def drain(reader: ResponseReader) -> list[Any]:
    """Every event available now (stops at NEED_DATA or after EndOfMessage)."""
    events: list[Any] = []
    while True:
        event = reader.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, EndOfMessage):
            return events


def read(
    pieces: Iterable[bytes],
    *,
    eof: bool = False,
    max_head: int = 64 * KIB,
    max_body: int = 16 * MIB,
) -> Answer:
    """Feed ``pieces`` (then EOF if asked) to a new reader; the answer must complete.

    A :class:`ProtocolError` propagates. Pieces left once the answer is complete
    are still fed (they become ``trailing_data``).
    """
    reader = ResponseReader(max_head=max_head, max_body=max_body)
    events: list[Any] = []
    done = False
    for piece in pieces:
        reader.feed(piece)
        if not done:
            events += drain(reader)
            done = bool(events) and isinstance(events[-1], EndOfMessage)
    if eof:
        reader.feed_eof()
        if not done:
            events += drain(reader)
            done = bool(events) and isinstance(events[-1], EndOfMessage)
    assert done, f"the answer did not complete: {events!r}"
    return answer_of(reader, events)


def answer_of(reader: ResponseReader, events: Sequence[Any]) -> Answer:
    names = tuple(type(event).__name__ for event in events)
    assert names[0] == "Response", names
    assert names[-1] == "EndOfMessage", names
    assert set(names[1:-1]) <= {"Data"}, names
    response = events[0]
    assert isinstance(response, Response)
    body = b"".join(event.data for event in events if isinstance(event, Data))
    assert all(event.data for event in events if isinstance(event, Data)), "an empty Data"
    return Answer(
        status_code=response.status_code,
        reason=response.reason,
        http_version=response.http_version,
        headers=response.headers,
        body=body,
        keep_alive=reader.keep_alive,
        trailing_data=reader.trailing_data,
        events=names,
    )


def refuse(
    pieces: Iterable[bytes],
    *,
    eof: bool = True,
    max_head: int = 64 * KIB,
    max_body: int = 16 * MIB,
) -> str:
    """Feed ``pieces`` (then EOF); the reader must raise a ProtocolError: its message."""
    with pytest.raises(ProtocolError) as caught:
        read(pieces, eof=eof, max_head=max_head, max_body=max_body)
    return str(caught.value)


def head(*lines: bytes, status: bytes = b"HTTP/1.1 200 OK") -> bytes:
    """A response head: the status line, the header lines, the empty line."""
    return b"".join(line + b"\r\n" for line in (status, *lines)) + b"\r\n"


CHUNKED = b"Transfer-Encoding: chunked"


def chunked(*chunks: bytes, trailers: Sequence[bytes] = ()) -> bytes:
    """A chunked body (the chunks as given, then the last chunk and trailers)."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return out + b"0\r\n" + b"".join(line + b"\r\n" for line in trailers) + b"\r\n"


# --------------------------------------------------------------------------- the answer


def test_status_line_headers_and_version_are_reported() -> None:
    lines = [b"Content-Type:  application/json \t", b"X-Empty:", b"x-lower:v", b"Content-Length: 2"]
    answer = read([head(*lines) + b"{}"])
    assert answer.status_code == 200
    assert answer.reason == b"OK"
    assert answer.http_version == b"1.1"
    # Names as received, values stripped of optional whitespace on both sides.
    assert answer.headers == [
        (b"Content-Type", b"application/json"),
        (b"X-Empty", b""),
        (b"x-lower", b"v"),
        (b"Content-Length", b"2"),
    ]
    assert answer.body == b"{}"


@pytest.mark.parametrize(
    ("status_line", "reason"),
    [
        (b"HTTP/1.1 201 Created", b"Created"),
        (b"HTTP/1.1 404 Not  Found ", b"Not  Found "),  # the reason is kept as sent
        (b"HTTP/1.1 200 ", b""),
        (b"HTTP/1.1 200", b""),  # no reason phrase at all
        (b"HTTP/1.1 599 \t\x80\xff", b"\t\x80\xff"),  # HTAB and obs-text are allowed
    ],
)
def test_reason_phrase(status_line: bytes, reason: bytes) -> None:
    answer = read([head(b"Content-Length: 0", status=status_line)])
    assert answer.reason == reason


def test_http_1_0_answer() -> None:
    answer = read([head(b"Content-Length: 1", status=b"HTTP/1.0 200 OK") + b"x"])
    assert (answer.http_version, answer.body) == (b"1.0", b"x")


# --------------------------------------------------------------------------- framing


def test_content_length_body() -> None:
    answer = read([head(b"Content-Length: 11") + b"hello world"])
    assert answer.body == b"hello world"
    assert answer.events == ("Response", "Data", "EndOfMessage")
    assert answer.keep_alive
    assert answer.trailing_data == b""


def test_content_length_body_arrives_in_pieces() -> None:
    reader = ResponseReader()
    reader.feed(head(b"Content-Length: 6") + b"ab")
    events = drain(reader)
    assert [type(event) for event in events] == [Response, Data]
    assert reader.next_event() is NEED_DATA
    reader.feed(b"cd")
    assert [event.data for event in drain(reader)] == [b"cd"]
    reader.feed(b"ef")
    events = drain(reader)
    assert [type(event) for event in events] == [Data, EndOfMessage]
    assert reader.complete


@pytest.mark.parametrize(
    "lines",
    [
        [b"Content-Length: 0"],
        [b"content-length:0"],
        [b"CONTENT-LENGTH: 000"],
    ],
)
def test_content_length_zero_has_no_data_event(lines: list[bytes]) -> None:
    answer = read([head(*lines)])
    assert answer.events == ("Response", "EndOfMessage")
    assert answer.body == b""
    assert answer.keep_alive


@pytest.mark.parametrize(
    "lines",
    [
        [b"Content-Length: 3, 3"],
        [b"Content-Length: 3 ,3,  3"],
        [b"Content-Length: 3", b"content-length: 3"],
    ],
)
def test_agreeing_content_lengths_are_accepted(lines: list[bytes]) -> None:
    assert read([head(*lines) + b"abc"]).body == b"abc"


def test_chunked_body() -> None:
    answer = read([head(CHUNKED) + chunked(b"hello", b" ", b"world" * 4)])
    assert answer.body == b"hello world" + b"world" * 3
    assert answer.keep_alive
    assert answer.trailing_data == b""


@pytest.mark.parametrize("value", [b"chunked", b"Chunked", b"CHUNKED", b"  chunked\t"])
def test_transfer_encoding_is_case_insensitive(value: bytes) -> None:
    answer = read([head(b"transfer-ENCODING: " + value) + chunked(b"ab")])
    assert answer.body == b"ab"


@pytest.mark.parametrize(
    "size_line",
    [
        b"a",
        b"A",
        b"00a",
        b"a;name=value",
        b'a;name="quoted;value"',
        b"a;a;b=c;",
        b"a; ext",
        b"a;\t\x80\xff",  # HTAB and obs-text in an extension
        b"a \t",  # trailing whitespace after the size
        b"a;x=y  ",
        b"00000000000000a",  # 15 hex digits
    ],
)
def test_chunk_size_lines(size_line: bytes) -> None:
    body = size_line + b"\r\n0123456789\r\n0;last=yes\r\n\r\n"
    assert read([head(CHUNKED) + body]).body == b"0123456789"


@pytest.mark.parametrize(
    "trailers",
    [
        [b"Expires: never"],
        [b"X-A: 1", b"x-b:", b"X-C:  spaced  out  "],
        [b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ=="],
    ],
)
def test_chunked_trailers_are_consumed(trailers: list[bytes]) -> None:
    answer = read([head(CHUNKED) + chunked(b"abc", trailers=trailers) + b"NEXT"])
    assert answer.body == b"abc"
    assert answer.trailing_data == b"NEXT"


def test_chunked_answer_waits_for_the_empty_line_after_the_last_chunk() -> None:
    reader = ResponseReader()
    reader.feed(head(CHUNKED) + b"3\r\nabc\r\n0\r\n")
    events = drain(reader)
    assert [type(event) for event in events] == [Response, Data]
    assert reader.next_event() is NEED_DATA
    reader.feed(b"\r")
    assert reader.next_event() is NEED_DATA
    reader.feed(b"\n")
    assert isinstance(reader.next_event(), EndOfMessage)


def test_until_close_body() -> None:
    reader = ResponseReader()
    reader.feed(head(b"Server: x") + b"part one, ")
    events = drain(reader)
    assert [type(event) for event in events] == [Response, Data]
    reader.feed(b"part two")
    assert [event.data for event in drain(reader)] == [b"part two"]
    assert reader.next_event() is NEED_DATA  # no end without the peer's close
    reader.feed_eof()
    assert isinstance(reader.next_event(), EndOfMessage)
    assert not reader.keep_alive


def test_until_close_empty_body() -> None:
    answer = read([head()], eof=True)
    assert answer.events == ("Response", "EndOfMessage")
    assert not answer.keep_alive


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize(
    "lines",
    [
        [],
        [b"Content-Length: 5"],
        [CHUNKED],
        [b"Content-Length: 5", CHUNKED],
    ],
)
def test_no_body_statuses_ignore_framing_headers(status: int, lines: list[bytes]) -> None:
    answer = read([head(*lines, status=b"HTTP/1.1 %d X" % status)])
    assert answer.status_code == status
    assert answer.events == ("Response", "EndOfMessage")
    assert answer.keep_alive


def test_bytes_after_a_no_body_answer_are_trailing_data() -> None:
    answer = read([head(b"Content-Length: 5", status=b"HTTP/1.1 304 Not Modified") + b"hello"])
    assert answer.body == b""
    assert answer.trailing_data == b"hello"
    assert not answer.keep_alive


def test_chunked_wins_over_content_length() -> None:
    answer = read([head(b"Content-Length: 100", CHUNKED) + chunked(b"abc")])
    assert answer.body == b"abc"


# --------------------------------------------------------------------------- informational answers


@pytest.mark.parametrize(
    "informational",
    [
        head(status=b"HTTP/1.1 100 Continue"),
        head(b"Link: </style.css>; rel=preload", status=b"HTTP/1.1 103 Early Hints"),
        head(status=b"HTTP/1.1 102 Processing") + head(status=b"HTTP/1.1 100 Continue"),
        head(b"Content-Length: 10", status=b"HTTP/1.1 199"),  # framing of a 1xx is ignored
        head(status=b"HTTP/1.0 100 Continue"),
    ],
)
def test_informational_answers_are_skipped(informational: bytes) -> None:
    final = head(b"Content-Length: 2", status=b"HTTP/1.1 201 Created") + b"ok"
    whole = read([informational + final])
    assert (whole.status_code, whole.body, whole.events[0]) == (201, b"ok", "Response")
    assert whole.keep_alive
    one_by_one = read([informational, final])
    assert one_by_one == whole


def test_informational_answer_alone_is_not_an_answer() -> None:
    reader = ResponseReader()
    reader.feed(head(status=b"HTTP/1.1 100 Continue"))
    assert reader.next_event() is NEED_DATA
    assert reader.response is None


# --------------------------------------------------------------------------- refusals

#: Each refusal the reader's docstring lists: the bytes, and part of the message.
DOCUMENTED_REFUSALS: list[Any] = [
    # Line endings other than CRLF, and lone CRs, in the head, chunk lines, trailers.
    pytest.param(
        b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
        "invalid byte b'\\n'",
        id="bare-LF-after-status-line",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\n\n", "invalid byte b'\\n'", id="bare-LF-end-of-head"
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
        "invalid byte b'\\n'",
        id="CRLF-LF-end-of-head",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
        "invalid byte b'\\r'",
        id="lone-CR-in-value",
    ),
    pytest.param(
        b"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n",
        "invalid byte b'\\r'",
        id="lone-CR-in-reason",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\r\nContent-Length: 0\r\n\r\n", "invalid byte b'\\r'", id="CR-CR-LF"
    ),
    pytest.param(
        head(CHUNKED) + b"3\nabc\r\n0\r\n\r\n", "invalid chunk size line", id="bare-LF-chunk-line"
    ),
    pytest.param(
        head(CHUNKED) + b"3;a\rb\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="lone-CR-chunk-extension",
    ),
    pytest.param(
        head(CHUNKED) + b"3\r\nabc\r\n0\r\nX: 1\n\r\n", "in the trailers", id="bare-LF-trailers"
    ),
    pytest.param(
        head(CHUNKED) + b"3\r\nabc\r\n0\r\n\n", "in the trailers", id="bare-LF-empty-trailers"
    ),
    pytest.param(
        head(CHUNKED) + b"3\r\nabc\r\n0\r\nX: a\rb\r\n\r\n",
        "in the trailers",
        id="lone-CR-trailers",
    ),
    # Control characters in a header value, a reason phrase, a chunk extension.
    *(
        pytest.param(
            head(b"X: a" + bytes([c]) + b"b", b"Content-Length: 0"),
            f"invalid byte {bytes([c])!r}",
            id=f"control-{c:#04x}-in-value",
        )
        for c in (0x00, 0x01, 0x08, 0x0B, 0x0C, 0x0E, 0x1B, 0x1F, 0x7F)
    ),
    pytest.param(
        head(b"Content-Length: 0", status=b"HTTP/1.1 200 O\x07K"),
        "invalid byte b'\\x07'",
        id="control-in-reason",
    ),
    pytest.param(
        head(b"Content-Length: 0", status=b"HTTP/1.1 200 O\x00K"),
        "invalid byte b'\\x00'",
        id="NUL-in-reason",
    ),
    pytest.param(
        head(CHUNKED) + b"3;x=\x01\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="control-in-chunk-extension",
    ),
    pytest.param(
        head(CHUNKED) + b"3;x=\x00\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="NUL-in-chunk-extension",
    ),
    pytest.param(
        head(CHUNKED) + chunked(b"abc", trailers=[b"X: \x7f"]),
        "in the trailers",
        id="control-in-trailer",
    ),
    # Obsolete line folding.
    pytest.param(
        head(b"X: a", b" b", b"Content-Length: 0"), "obsolete line folding", id="obs-fold-SP"
    ),
    pytest.param(
        head(b"X: a", b"\tb", b"Content-Length: 0"), "obsolete line folding", id="obs-fold-HTAB"
    ),
    pytest.param(
        head(b" X: a", b"Content-Length: 0"), "obsolete line folding", id="continuation-first"
    ),
    pytest.param(
        head(CHUNKED) + chunked(b"abc", trailers=[b"X: a", b" b"]),
        "invalid trailer line",
        id="obs-fold-trailers",
    ),
    # HTTP versions other than 1.0 and 1.1.
    *(
        pytest.param(
            head(b"Content-Length: 0", status=version + b" 200 OK"),
            "invalid status line",
            id=f"version-{version.decode()}",
        )
        for version in (b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"HTTP/2", b"http/1.1", b"HTTP/1.10")
    ),
    # A status below 100, and 101 Switching Protocols.
    pytest.param(head(status=b"HTTP/1.1 099 Low"), "invalid status code 099", id="status-099"),
    pytest.param(head(status=b"HTTP/1.1 000 Zero"), "invalid status code 000", id="status-000"),
    pytest.param(
        head(b"Upgrade: h2c", b"Connection: upgrade", status=b"HTTP/1.1 101 Switching"),
        "unexpected protocol switch (101)",
        id="status-101",
    ),
]


@pytest.mark.parametrize(("data", "message"), DOCUMENTED_REFUSALS)
def test_documented_refusal(data: bytes, message: str) -> None:
    assert message in refuse([data])


#: Refusals h11 makes too (the answer is not valid HTTP/1.1).
INVALID_ANSWERS: list[Any] = [
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
        "conflicting Content-Length",
        id="conflicting-list",
    ),
    pytest.param(
        head(b"Content-Length: 1", b"Content-Length: 2") + b"xx",
        "conflicting Content-Length",
        id="conflicting-headers",
    ),
    pytest.param(
        head(b"Content-Length: 1,") + b"x", "conflicting Content-Length", id="empty-list-member"
    ),
    *(
        pytest.param(
            head(b"Content-Length: " + value) + b"x",
            "invalid Content-Length",
            id=f"content-length-{value.decode()!r}",
        )
        for value in (b"abc", b"-1", b"+1", b"1.0", b"0x1", b"1 1", b"")
    ),
    pytest.param(head(b"Transfer-Encoding: gzip"), "unsupported Transfer-Encoding", id="te-gzip"),
    pytest.param(
        head(b"Transfer-Encoding: gzip, chunked"),
        "unsupported Transfer-Encoding",
        id="te-gzip-chunked",
    ),
    pytest.param(
        head(b"Transfer-Encoding: chunked, chunked"),
        "unsupported Transfer-Encoding",
        id="te-chunked-twice-in-list",
    ),
    pytest.param(head(b"Transfer-Encoding:"), "unsupported Transfer-Encoding", id="te-empty"),
    pytest.param(
        head(CHUNKED, CHUNKED) + chunked(b"x"), "multiple Transfer-Encoding", id="te-twice"
    ),
    pytest.param(
        head(CHUNKED) + b"3\r\nabcX\r\n0\r\n\r\n", "not followed by CRLF", id="chunk-overrun"
    ),
    pytest.param(
        head(CHUNKED) + b"3\r\nabc\rX0\r\n\r\n", "not followed by CRLF", id="chunk-CR-then-junk"
    ),
    pytest.param(head(CHUNKED) + b"x\r\n\r\n", "invalid chunk size line", id="chunk-size-x"),
    pytest.param(head(CHUNKED) + b";a\r\n\r\n", "invalid chunk size line", id="chunk-size-none"),
    pytest.param(
        head(CHUNKED) + b" 3\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="chunk-size-leading-space",
    ),
    pytest.param(
        head(CHUNKED) + b"3 ;a\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="chunk-size-space-before-extension",
    ),
    pytest.param(
        head(CHUNKED) + b"-3\r\nabc\r\n0\r\n\r\n",
        "invalid chunk size line",
        id="chunk-size-negative",
    ),
    pytest.param(
        head(CHUNKED) + chunked(b"abc", trailers=[b"no colon"]),
        "invalid trailer line",
        id="trailer-without-colon",
    ),
    pytest.param(b"SMTP ready\r\n\r\n", "invalid status line", id="not-http"),
    pytest.param(b"\r\nHTTP/1.1 200 OK\r\n\r\n", "invalid status line", id="leading-CRLF"),
    pytest.param(head(status=b"HTTP/1.1 2000 OK"), "invalid status line", id="status-4-digits"),
    pytest.param(head(status=b"HTTP/1.1 20 OK"), "invalid status line", id="status-2-digits"),
    pytest.param(head(status=b"HTTP/1.1  200 OK"), "invalid status line", id="double-space"),
    pytest.param(head(status=b"HTTP/1.1 200OK"), "invalid status line", id="no-space-reason"),
    pytest.param(head(b"No-Colon"), "invalid header line", id="header-no-colon"),
    pytest.param(head(b"X : a"), "invalid header line", id="space-before-colon"),
    pytest.param(head(b": a"), "invalid header line", id="empty-name"),
    pytest.param(head(b"X(y): a"), "invalid header line", id="separator-in-name"),
    pytest.param(head(b"X\x80: a"), "invalid header line", id="obs-text-in-name"),
]


@pytest.mark.parametrize(("data", "message"), INVALID_ANSWERS)
def test_invalid_answer_is_refused(data: bytes, message: str) -> None:
    assert message in refuse([data])


#: Framing headers h11 validates wherever they appear: in an informational
#: answer and in the trailers too (h11 refuses every one of these).
INVALID_FRAMING_HEADERS = [
    pytest.param(b"Content-Length: x", "Content-Length", id="content-length-x"),
    pytest.param(b"Content-Length: 1, 2", "Content-Length", id="content-length-conflict"),
    pytest.param(b"Content-Length: " + b"1" * 21, "Content-Length", id="content-length-21-digits"),
    pytest.param(b"Transfer-Encoding: gzip", "Transfer-Encoding", id="te-gzip"),
]


@pytest.mark.parametrize(("line", "message"), INVALID_FRAMING_HEADERS)
def test_invalid_framing_header_in_an_informational_answer_is_refused(
    line: bytes, message: str
) -> None:
    data = head(line, status=b"HTTP/1.1 100 Continue") + head(b"Content-Length: 0")
    assert message in refuse([data])


@pytest.mark.parametrize(("line", "message"), INVALID_FRAMING_HEADERS)
def test_invalid_framing_header_in_the_trailers_is_refused(line: bytes, message: str) -> None:
    data = head(CHUNKED) + chunked(b"abc", trailers=[line])
    assert message in refuse([data])


@pytest.mark.parametrize(
    "line", [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked \t", b"Content-Length: 7 "]
)
def test_valid_framing_header_in_the_trailers_is_accepted(line: bytes) -> None:
    """h11 reads these (values stripped of whitespace first); nothing documented refuses them."""
    data = head(CHUNKED) + chunked(b"abc", trailers=[line])
    assert read([data]).body == b"abc"


def test_two_transfer_encodings_in_the_trailers_are_refused() -> None:
    data = head(CHUNKED) + chunked(b"abc", trailers=[CHUNKED, CHUNKED])
    assert "Transfer-Encoding" in refuse([data])


def test_refusal_is_final() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/9.9 200 OK\r\n\r\n")
    with pytest.raises(ProtocolError):
        reader.next_event()
    with pytest.raises(ProtocolError, match="failed earlier"):
        reader.next_event()


def test_invalid_byte_is_refused_before_the_head_is_complete() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nX: \x00")
    with pytest.raises(ProtocolError, match="invalid byte"):
        reader.next_event()


def test_bare_lf_head_is_refused_at_once_not_left_waiting() -> None:
    """A bare-LF answer is refused as it arrives (never a read timeout)."""
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\n")
    with pytest.raises(ProtocolError, match="invalid byte"):
        reader.next_event()


def test_lone_cr_at_the_end_of_the_input_waits_for_its_lf() -> None:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r")
    assert reader.next_event() is NEED_DATA
    reader.feed(b"X")
    with pytest.raises(ProtocolError, match=r"invalid byte b'\\r'"):
        reader.next_event()


# --------------------------------------------------------------------------- keep-alive


@pytest.mark.parametrize(
    "value",
    [
        b"close",
        b"Close",
        b"CLOSE",
        b"keep-alive, close",
        b"close, upgrade",
        b" foo ,\tClose ,bar",
        b",close,",
    ],
)
def test_connection_close_in_a_token_list(value: bytes) -> None:
    assert not read([head(b"Connection: " + value, b"Content-Length: 0")]).keep_alive


@pytest.mark.parametrize(
    "value", [b"keep-alive", b"closed", b"x-close", b"close-ish", b"clo se", b""]
)
def test_connection_without_close_token_keeps_alive(value: bytes) -> None:
    assert read([head(b"Connection: " + value, b"Content-Length: 0")]).keep_alive


def test_connection_close_in_a_second_header() -> None:
    answer = read([head(b"Connection: keep-alive", b"connection: close", b"Content-Length: 0")])
    assert not answer.keep_alive


@pytest.mark.parametrize("lines", [[], [b"Connection: keep-alive"]])
def test_http_1_0_never_keeps_alive(lines: list[bytes]) -> None:
    answer = read([head(*lines, b"Content-Length: 0", status=b"HTTP/1.0 200 OK")])
    assert not answer.keep_alive


def test_content_length_with_chunked_does_not_keep_alive() -> None:
    answer = read([head(b"Content-Length: 3", CHUNKED) + chunked(b"abc")])
    assert answer.body == b"abc"
    assert not answer.keep_alive


def test_close_delimited_body_does_not_keep_alive() -> None:
    assert not read([head() + b"abc"], eof=True).keep_alive


@pytest.mark.parametrize(
    "data",
    [
        head(b"Content-Length: 3") + b"abc",
        head(CHUNKED) + chunked(b"abc"),
        head(b"Content-Length: 0", status=b"HTTP/1.1 204 No Content"),
    ],
)
def test_trailing_data_ends_keep_alive(data: bytes) -> None:
    assert read([data]).keep_alive
    answer = read([data + b"HTTP/1.1 429 Too Many Requests\r\n"])
    assert answer.trailing_data == b"HTTP/1.1 429 Too Many Requests\r\n"
    assert not answer.keep_alive


def test_bytes_arriving_after_the_end_end_keep_alive() -> None:
    reader = ResponseReader()
    reader.feed(head(b"Content-Length: 0"))
    assert [type(event) for event in drain(reader)] == [Response, EndOfMessage]
    assert reader.keep_alive
    reader.feed(b"")
    assert reader.keep_alive  # nothing arrived
    reader.feed(b"X")
    assert not reader.keep_alive
    assert reader.trailing_data == b"X"
    assert reader.next_event() is NEED_DATA  # the reader reads one answer only


# --------------------------------------------------------------------------- limits


def test_head_at_max_head_is_accepted_and_one_more_byte_is_not() -> None:
    limit = 1000
    base = head(b"Content-Length: 0", b"X: ")
    exact = head(b"Content-Length: 0", b"X: " + b"a" * (limit - len(base)))
    assert len(exact) == limit
    assert read([exact], max_head=limit).status_code == 200
    over = head(b"Content-Length: 0", b"X: " + b"a" * (limit - len(base) + 1))
    assert "response head too large" in refuse([over], max_head=limit)


def test_head_over_max_head_is_refused_before_it_ends() -> None:
    reader = ResponseReader(max_head=1000)
    reader.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 1000)
    with pytest.raises(ProtocolError, match="response head too large"):
        reader.next_event()


@pytest.mark.parametrize("reads", ["one read", "one byte at a time"])
def test_trailers_over_max_head_are_refused(reads: str) -> None:
    """The docstring's limit holds however the trailer block arrives."""
    data = head(CHUNKED) + chunked(b"abc", trailers=[b"X: " + b"a" * 2000])
    pieces = [data] if reads == "one read" else one_byte_pieces(data)
    assert "trailers too large" in refuse(pieces, max_head=1000)


@pytest.mark.parametrize("body_size", [1000, 1001])
def test_content_length_body_limit(body_size: int) -> None:
    data = head(b"Content-Length: %d" % body_size) + b"a" * body_size
    if body_size <= 1000:
        assert len(read([data], max_body=1000).body) == body_size
    else:
        assert "response body too large" in refuse([data], max_body=1000)


def test_content_length_over_max_body_is_refused_before_the_body() -> None:
    reader = ResponseReader(max_body=1000)
    reader.feed(head(b"Content-Length: 1001"))
    with pytest.raises(ProtocolError, match="response body too large"):
        drain(reader)


@pytest.mark.parametrize("total", [1000, 1001])
def test_chunked_body_limit(total: int) -> None:
    data = head(CHUNKED) + chunked(*[b"a" * 100] * 10, b"a" * (total - 1000))
    if total <= 1000:
        assert len(read([data], max_body=1000).body) == total
    else:
        assert "response body too large" in refuse([data], max_body=1000)


def test_chunk_over_max_body_is_refused_before_its_data() -> None:
    reader = ResponseReader(max_body=1000)
    reader.feed(head(CHUNKED) + b"3e9\r\n")  # 1001
    with pytest.raises(ProtocolError, match="response body too large"):
        drain(reader)


@pytest.mark.parametrize("total", [1000, 1001])
def test_until_close_body_limit(total: int) -> None:
    data = [head(), *[b"a" * 100] * 10, b"a" * (total - 1000)]
    if total <= 1000:
        assert len(read(data, eof=True, max_body=1000).body) == total
    else:
        assert "response body too large" in refuse(data, max_body=1000)


def test_content_length_of_18_digits_is_read() -> None:
    answer = read([head(b"Content-Length: " + b"5".zfill(18)) + b"12345"])
    assert answer.body == b"12345"


@pytest.mark.parametrize("value", [b"5".zfill(19), b"9" * 19, b"1" * 20, b"1" * 40])
def test_content_length_of_19_digits_or_more_is_refused(value: bytes) -> None:
    assert "invalid Content-Length" in refuse([head(b"Content-Length: " + value) + b"12345"])


def test_content_length_of_18_digits_over_max_body() -> None:
    assert "response body too large" in refuse([head(b"Content-Length: " + b"9" * 18)])


def test_chunk_size_of_15_hex_digits_is_read() -> None:
    data = head(CHUNKED) + b"3".zfill(15) + b"\r\nabc\r\n0\r\n\r\n"
    assert read([data]).body == b"abc"


@pytest.mark.parametrize("size", [b"3".zfill(16), b"f" * 16, b"1" * 20])
def test_chunk_size_of_16_hex_digits_is_refused(size: bytes) -> None:
    data = head(CHUNKED) + size + b"\r\nabc\r\n0\r\n\r\n"
    assert "invalid chunk size line" in refuse([data])


def test_chunk_size_of_15_hex_digits_over_max_body() -> None:
    data = head(CHUNKED) + b"f" * 15 + b"\r\n"
    assert "response body too large" in refuse([data])


def test_chunk_size_line_over_4096_bytes_is_refused() -> None:
    """Not in the reader's docstring (h11 reads such a line): see the fuzz suite's list."""
    ok = head(CHUNKED) + b"3;" + b"e" * 4000 + b"\r\nabc\r\n0\r\n\r\n"
    assert read([ok]).body == b"abc"
    long = head(CHUNKED) + b"3;" + b"e" * 4100 + b"\r\nabc\r\n0\r\n\r\n"
    assert "chunk size line too long" in refuse([long])


# --------------------------------------------------------------------------- end of the stream


def test_eof_before_any_byte() -> None:
    assert refuse([]) == "Server disconnected without sending a response."


def test_eof_after_an_informational_answer_only() -> None:
    assert "Server disconnected" in refuse([head(status=b"HTTP/1.1 100 Continue")])


@pytest.mark.parametrize(
    "prefix",
    [
        b"H",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK\r",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r",
    ],
)
def test_eof_in_the_middle_of_the_head(prefix: bytes) -> None:
    assert "in the middle of a head" in refuse([prefix])


@pytest.mark.parametrize("received", [b"", b"a", b"abcd"])
def test_eof_in_the_middle_of_a_content_length_body(received: bytes) -> None:
    message = refuse([head(b"Content-Length: 5") + received])
    assert "without sending complete message body" in message


@pytest.mark.parametrize(
    "cut",
    [
        b"",
        b"3",
        b"3;ext",
        b"3\r",
        b"3\r\n",
        b"3\r\nab",
        b"3\r\nabc",
        b"3\r\nabc\r",
        b"3\r\nabc\r\n",
        b"3\r\nabc\r\n0\r\n",
        b"3\r\nabc\r\n0\r\nX: 1\r\n",
        b"3\r\nabc\r\n0\r\n\r",
    ],
)
def test_eof_in_the_middle_of_a_chunked_body(cut: bytes) -> None:
    assert "incomplete chunked read" in refuse([head(CHUNKED) + cut])


def test_eof_after_the_end_is_harmless() -> None:
    answer = read([head(b"Content-Length: 1") + b"x"], eof=True)
    assert answer.body == b"x"
    assert answer.keep_alive  # the verdict is the answer's; the pool sees the close itself


def test_data_after_eof_is_refused() -> None:
    reader = ResponseReader()
    reader.feed_eof()
    with pytest.raises(ProtocolError, match="after the end of the stream"):
        reader.feed(b"HTTP/1.1 200 OK\r\n\r\n")


# --------------------------------------------------------------------------- splits


SAMPLES = {
    "content-length": (
        head(b"Link: <x>", status=b"HTTP/1.1 103 Early Hints")
        + head(b"Content-Type: application/json", b"Content-Length: 27")
        + b'{"api_id": "a", "ok": true}'
        + b"extra"
    ),
    "chunked": (
        head(status=b"HTTP/1.1 100 Continue")
        + head(b"Transfer-Encoding: chunked", b"Connection: keep-alive")
        + b"5;a=b\r\nhello\r\n1\r\n \r\nA \r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n"
    ),
    "until-close": head(b"Server: s", status=b"HTTP/1.0 200 OK") + b"until the close\r\n",
}


def splits(data: bytes, count: int) -> Iterator[list[bytes]]:
    """Every way to cut ``data`` into ``count`` pieces (empty pieces included)."""
    if count == 1:
        yield [data]
        return
    for cut in range(len(data) + 1):
        for rest in splits(data[cut:], count - 1):
            yield [data[:cut], *rest]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_two_way_split_gives_the_same_answer(name: str) -> None:
    data = SAMPLES[name]
    whole = read([data], eof=True)
    for pieces in splits(data, 2):
        assert read(pieces, eof=True) == whole, pieces


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_three_way_split_gives_the_same_answer(name: str) -> None:
    data = SAMPLES[name][:130]  # the cases grow with the square of the length
    whole = _outcome([data])
    for pieces in splits(data, 3):
        assert _outcome(pieces) == whole, pieces


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_one_byte_at_a_time_gives_the_same_answer(name: str) -> None:
    data = SAMPLES[name]
    bytewise = read([data[i : i + 1] for i in range(len(data))], eof=True)
    assert bytewise == read([data], eof=True)
    assert bytewise.events.count("Data") > 1  # the body came out as it arrived


def _outcome(pieces: Sequence[bytes]) -> Answer | str:
    """The answer (with EOF), or the refusal's message."""
    try:
        return read(pieces, eof=True)
    except ProtocolError as error:
        return f"ProtocolError: {error}"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n",
        head(CHUNKED) + b"3\r\nabcX",
        head(b"Content-Length: 1, 2"),
        head(CHUNKED) + b"3;\x01\r\nabc\r\n0\r\n\r\n",
    ],
)
def test_every_split_of_an_invalid_answer_gives_the_same_refusal(data: bytes) -> None:
    whole = _outcome([data])
    assert isinstance(whole, str)
    for pieces in splits(data, 2):
        assert _outcome(pieces) == whole, pieces


# --------------------------------------------------------------------------- linear work


class ScanCounter:
    """Stands in for the reader's forbidden-byte pattern and counts the bytes it scans.

    Every check of the head, a chunk line or the trailers goes through this
    pattern, so its total is a deterministic measure of re-reading: linear
    work scans each byte a bounded number of times.
    """

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.scanned = 0
        self.calls = 0

    def search(self, string: bytes | bytearray, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self.calls += 1
        self.scanned += max(0, min(endpos, len(string)) - pos)
        return self.pattern.search(string, pos, endpos)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> ScanCounter:
    pattern = getattr(_reader, "_FORBIDDEN", None)
    if not isinstance(pattern, re.Pattern):  # pragma: no cover - the reader was reworked
        pytest.skip("the reader has no _FORBIDDEN pattern to count")
    counter = ScanCounter(pattern)
    monkeypatch.setattr(_reader, "_FORBIDDEN", counter)
    return counter


def feed_within(reader: ResponseReader, pieces: Sequence[bytes], budget: float) -> list[Any]:
    """Feed ``pieces`` one by one, reading events after each; fail once over ``budget`` s.

    The budget is checked as the feeding goes, so a quadratic reader fails in
    ``budget`` seconds, not in the minutes it would take to finish.
    """
    events: list[Any] = []
    start = time.perf_counter()
    for index, piece in enumerate(pieces):
        reader.feed(piece)
        events += drain(reader)
        if index % 256 == 0:
            elapsed = time.perf_counter() - start
            assert elapsed < budget, (
                f"{elapsed:.1f} s for the first {index} of {len(pieces)} pieces"
            )
        if events and isinstance(events[-1], EndOfMessage):
            break
    elapsed = time.perf_counter() - start
    assert elapsed < budget, f"{elapsed:.1f} s for {len(pieces)} pieces"
    return events


def one_byte_pieces(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


#: Bytes the forbidden-byte pattern may scan per byte fed (re-reading a few
#: bytes at a boundary is fine; re-reading the whole buffer is not).
SCANS_PER_BYTE = 4


def test_40000_one_byte_chunks_parse_in_linear_time(scans: ScanCounter) -> None:
    data = head(CHUNKED) + b"1\r\nx\r\n" * 40_000 + b"0\r\n\r\n"
    events = feed_within(ResponseReader(), [data], budget=2.0)
    assert b"".join(e.data for e in events if isinstance(e, Data)) == b"x" * 40_000
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def test_40000_one_byte_chunks_read_in_4_kib_pieces(scans: ScanCounter) -> None:
    data = head(CHUNKED) + b"1\r\nx\r\n" * 40_000 + b"0\r\n\r\n"
    pieces = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    events = feed_within(ResponseReader(), pieces, budget=2.0)
    assert isinstance(events[-1], EndOfMessage)
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def test_40000_one_byte_chunks_fed_one_byte_at_a_time(scans: ScanCounter) -> None:
    data = head(CHUNKED) + b"1\r\nx\r\n" * 40_000 + b"0\r\n\r\n"
    events = feed_within(ResponseReader(), one_byte_pieces(data), budget=2.0)
    assert isinstance(events[-1], EndOfMessage)
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def test_64_kib_head_fed_one_byte_at_a_time(scans: ScanCounter) -> None:
    filler = b"X-Filler: " + b"a" * 90
    lines = [filler] * (64 * KIB // (len(filler) + 2) - 1)
    data = head(*lines, b"Content-Length: 0")
    assert 63 * KIB < len(data) <= 64 * KIB
    events = feed_within(ResponseReader(), one_byte_pieces(data), budget=2.0)
    assert isinstance(events[-1], EndOfMessage)
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def test_64_kib_of_trailers_fed_one_byte_at_a_time(scans: ScanCounter) -> None:
    filler = b"X-Trailer: " + b"t" * 89
    trailers = [filler] * (63 * KIB // (len(filler) + 2))
    data = head(CHUNKED) + chunked(b"abc", trailers=trailers)
    events = feed_within(ResponseReader(), one_byte_pieces(data), budget=2.0)
    assert isinstance(events[-1], EndOfMessage)
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def test_long_chunk_extensions_fed_one_byte_at_a_time(scans: ScanCounter) -> None:
    line = b"1;" + b"e" * 4000 + b"\r\nx\r\n"  # just under the chunk line limit
    data = head(CHUNKED) + line * 16 + b"0\r\n\r\n"
    events = feed_within(ResponseReader(), one_byte_pieces(data), budget=2.0)
    assert isinstance(events[-1], EndOfMessage)
    assert scans.scanned <= SCANS_PER_BYTE * len(data)


def refuse_within(data: bytes, budget: float) -> str:
    """Feed ``data`` in one read: a ProtocolError must come within ``budget`` seconds."""
    start = time.perf_counter()
    message = refuse([data])
    elapsed = time.perf_counter() - start
    assert elapsed < budget, f"{elapsed:.2f} s to refuse {len(data)} bytes"
    return message


#: Lines that match the field grammar in more than one way (the whitespace
#: split between the two sides of an empty value), then a line that fails it:
#: a backtracking grammar tries every combination (exponential in the lines).
WHITESPACE_LINES = b"X:  \r\n" * 14
BAD_LINES = [
    pytest.param(b" folded", id="obs-fold"),
    pytest.param(b"(bad): name", id="bad-name"),
    pytest.param(b"X: \x01", id="control-byte"),
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_whitespace_only_header_lines_then_a_bad_line_are_refused_at_once(bad: bytes) -> None:
    data = b"HTTP/1.1 200 OK\r\n" + WHITESPACE_LINES + bad + b"\r\n\r\n"
    refuse_within(data, budget=0.25)


@pytest.mark.parametrize("bad", BAD_LINES)
def test_whitespace_only_trailer_lines_then_a_bad_line_are_refused_at_once(bad: bytes) -> None:
    data = head(CHUNKED) + b"0\r\n" + WHITESPACE_LINES + bad + b"\r\n\r\n"
    refuse_within(data, budget=0.25)


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"\x01\r\n", id="control-byte"),
        pytest.param(b"\rx\r\n", id="lone-CR"),
        pytest.param(b"\r\n folded\r\n", id="obs-fold-next"),
        pytest.param(b"\r\n(bad)\r\n", id="bad-name-next"),
    ],
)
@pytest.mark.parametrize("where", ["head", "trailers"])
def test_long_whitespace_then_a_bad_byte_is_refused_in_linear_time(tail: bytes, where: str) -> None:
    line = b"X:" + b" " * 16_000 + tail  # a 16 kB line of a head well under max_head
    if where == "head":
        data = b"HTTP/1.1 200 OK\r\n" + line + b"\r\n"
    else:
        data = head(CHUNKED) + b"0\r\n" + line + b"\r\n"
    refuse_within(data, budget=0.25)


def test_large_body_in_one_read_is_one_data_event() -> None:
    body = b"z" * (8 * MIB)
    events = feed_within(ResponseReader(), [head(b"Content-Length: %d" % len(body)) + body], 2.0)
    assert [type(event) for event in events] == [Response, Data, EndOfMessage]
    assert events[1].data == body
