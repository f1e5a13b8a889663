"""How answers are framed, and every way a server gets it wrong.

Rules checked here (RFC 9112, and h11 as the reference reader: stricter is
fine, looser is not):

* a malformed answer to a POST is ``ConnectionOutcomeUnknownError`` at once
  (never a read timeout, never a retry), and the POST was received once;
* what is accepted is read exactly, and the next request gets its own answer;
* bytes after a complete answer mean the connection is never reused: the next
  request opens a new connection (the server counts its connections);
* no answer makes the client read (or inflate) more than its 16 MiB cap, or
  hold the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from _servers import Conn, Request, Server, answer_body, own_answer, response
from _waiting import wait_until

from plivo_phlo_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConnectionOutcomeUnknownError,
    InternalServerError,
    PhloClient,
    PlivoError,
    ServerOutcomeUnknownError,
)

from .conftest import outcome

Answerer = Callable[[Request], bytes]
SHORT_READ = httpx.Timeout(5.0, read=2.0)


def first_request_gets(
    weird: Answerer, *, then_close: bool = False
) -> Callable[[Request, Conn], Awaitable[None]]:
    """The server's first request gets ``weird(request)``; later ones their own answer.

    The connection stays open afterwards (unless ``then_close``), so that a
    client that waits for more, or reuses it, is caught.
    """
    state = {"first": True}

    async def behaviour(request: Request, conn: Conn) -> None:
        if state["first"]:
            state["first"] = False
            await conn.send(weird(request))
            if then_close:
                conn.close()
            return
        await conn.send(own_answer(request))

    return behaviour


def head(status_line: bytes, *lines: bytes) -> bytes:
    return status_line + b"\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


async def refused(server: Server, client: PhloClient, tag: str) -> ConnectionOutcomeUnknownError:
    """Run a POST that must be refused as malformed (at once: a wait for the read
    timeout would end in a timeout error instead); return the error."""
    with pytest.raises(PlivoError) as caught:
        await client.phlo(tag).run(tag=tag)
    error = caught.value
    assert not isinstance(error, APITimeoutError), f"waited for a timeout instead: {error!r}"
    assert isinstance(error, ConnectionOutcomeUnknownError), repr(error)
    assert server.count("POST", tag) == 1
    return error


# --------------------------------------------------------------------------- refused

CT = b"Content-Type: application/json"
BODY = answer_body("malformed")

MALFORMED: dict[str, Answerer] = {
    "content-length-conflicting": lambda r: (
        head(
            b"HTTP/1.1 201 Created",
            CT,
            b"Content-Length: %d" % len(BODY),
            b"Content-Length: %d" % (len(BODY) + 2),
        )
        + BODY
        + b"xx"
    ),
    "content-length-list-conflicting": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Content-Length: %d, %d" % (len(BODY), len(BODY) + 2))
        + BODY
        + b"xx"
    ),
    "content-length-negative": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Content-Length: -1") + BODY
    ),
    "content-length-not-a-number": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Content-Length: 1e3") + BODY
    ),
    "chunk-size-not-hex": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked") + b"zz\r\n" + BODY
    ),
    "chunk-size-negative": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked") + b"-5\r\nhello\r\n"
    ),
    "chunk-size-0x-prefix": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked") + b"0x5\r\nhello\r\n"
    ),
    "chunk-size-empty": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked") + b"\r\nhello\r\n"
    ),
    "chunk-size-huge": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
        + b"ffffffffffffffffffff\r\n"
        + BODY
    ),
    "chunk-data-without-crlf": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
        + b"%x\r\n%bXX0\r\n\r\n" % (len(BODY), BODY)
    ),
    "transfer-encoding-unknown": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: gzip, chunked") + chunked(BODY)
    ),
    "101-switching-protocols": lambda r: (
        head(b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket", b"Connection: upgrade")
        + own_answer(r)
    ),
    "status-099": lambda r: head(b"HTTP/1.1 099 Below Informational") + own_answer(r),
    "status-not-three-digits": lambda r: (
        head(b"HTTP/1.1 2010 Created", CT, b"Content-Length: %d" % len(BODY)) + BODY
    ),
    "status-line-garbage": lambda r: (
        head(b"HTTP/1.1 20X Created", CT, b"Content-Length: %d" % len(BODY)) + BODY
    ),
    "not-http": lambda r: b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "http-2-version": lambda r: (
        head(b"HTTP/2.0 201 Created", CT, b"Content-Length: %d" % len(BODY)) + BODY
    ),
    "nul-in-header-value": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"X-Note: a\x00b", b"Content-Length: %d" % len(BODY))
        + BODY
    ),
    "lone-cr-in-header-value": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"X-Note: a\rb", b"Content-Length: %d" % len(BODY)) + BODY
    ),
    "space-before-colon": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Content-Length : %d" % len(BODY)) + BODY
    ),
    "header-without-colon": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"NoColonHere", b"Content-Length: %d" % len(BODY)) + BODY
    ),
    "head-over-64-kib": lambda r: (
        head(
            b"HTTP/1.1 201 Created",
            CT,
            b"X-Big: " + b"b" * (70 * 1024),
            b"Content-Length: %d" % len(BODY),
        )
        + BODY
    ),
    "head-without-end": lambda r: b"HTTP/1.1 201 Created\r\n" + b"X-More: yes\r\n" * 100_000,
}


@pytest.mark.parametrize("kind", list(MALFORMED), ids=list(MALFORMED))
async def test_a_malformed_answer_to_a_post_is_outcome_unknown_at_once(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    kind: str,
    retry_waits: list[float],
) -> None:
    server = serve(first_request_gets(MALFORMED[kind]))
    client = connect(server, timeout=SHORT_READ)
    await refused(server, client, f"bad-{kind}")
    assert retry_waits == []
    after = await client.phlo("after").run()  # the client still works, on a fresh connection
    assert after.run_id == "run-after"
    assert server.count("POST", "after") == 1


async def test_a_body_cut_short_by_a_close_is_outcome_unknown(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve(
        first_request_gets(lambda r: response(201, answer_body(r.tag))[:-10], then_close=True)
    )
    client = connect(server, timeout=SHORT_READ)
    await refused(server, client, "cut-short")


async def test_a_head_cut_short_by_a_close_is_outcome_unknown(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve(
        first_request_gets(lambda r: b"HTTP/1.1 201 Created\r\nContent-Le", then_close=True)
    )
    client = connect(server, timeout=SHORT_READ)
    await refused(server, client, "head-cut-short")


# --------------------------------------------------------------------------- accepted or refused

EITHER: dict[str, Answerer] = {
    # RFC 9112 6.3: Transfer-Encoding overrides Content-Length (or the answer is refused).
    "content-length-and-chunked": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Content-Length: 7", b"Transfer-Encoding: chunked")
        + chunked(answer_body(r.tag)[:9], answer_body(r.tag)[9:])
    ),
    # obs-fold: unfolded into the value, or refused; never a header of its own.
    "obs-fold": lambda r: (
        head(
            b"HTTP/1.1 201 Created",
            CT,
            b"X-Folded: one,",
            b" Content-Length: 3",
            b"Content-Length: %d" % len(answer_body(r.tag)),
        )
        + answer_body(r.tag)
    ),
    # Bare LF line endings (h11 reads them).
    "bare-lf": lambda r: (
        b"HTTP/1.1 201 Created\nContent-Type: application/json\n"
        b"Content-Length: %d\n\n%b" % (len(answer_body(r.tag)), answer_body(r.tag))
    ),
    "bare-lf-chunked": lambda r: (
        b"HTTP/1.1 201 Created\nTransfer-Encoding: chunked\n\n" + chunked(answer_body(r.tag))
    ),
    "identical-content-lengths": lambda r: (
        head(
            b"HTTP/1.1 201 Created",
            CT,
            b"Content-Length: %d" % len(answer_body(r.tag)),
            b"Content-Length: %d" % len(answer_body(r.tag)),
        )
        + answer_body(r.tag)
    ),
}


@pytest.mark.parametrize("kind", list(EITHER), ids=list(EITHER))
async def test_a_dubious_answer_is_read_exactly_or_refused_at_once(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    kind: str,
) -> None:
    server = serve(first_request_gets(EITHER[kind]))
    client = connect(server, timeout=SHORT_READ)
    tag = f"dubious-{kind}"
    result = await outcome(client.phlo(tag).run(tag=tag))
    # Refusing is stricter: allowed, but only at once (a wait for the read timeout
    # would end in a timeout error).
    if isinstance(result, PlivoError):
        assert type(result) is ConnectionOutcomeUnknownError, repr(result)
    else:
        assert result.run_id == f"run-{tag}"
    assert server.count("POST", tag) == 1
    after = await client.phlo("after").run()
    assert after.run_id == "run-after"


# --------------------------------------------------------------------------- accepted

VALID: dict[str, Answerer] = {
    "chunked-with-trailers": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked", b"Trailer: X-One, X-Two")
        + b"%x\r\n%b\r\n0\r\nX-One: 1\r\nX-Two: 2\r\n\r\n"
        % (len(answer_body(r.tag)), answer_body(r.tag))
    ),
    "chunk-extensions": lambda r: (
        head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
        + b"%x;name=value;other\r\n%b\r\n0;last\r\n\r\n"
        % (len(answer_body(r.tag)), answer_body(r.tag))
    ),
    "100-continue": lambda r: head(b"HTTP/1.1 100 Continue") + own_answer(r),
    "103-early-hints": lambda r: (
        head(b"HTTP/1.1 103 Early Hints", b"Link: </style.css>; rel=preload") + own_answer(r)
    ),
    "several-1xx": lambda r: (
        head(b"HTTP/1.1 100 Continue")
        + head(b"HTTP/1.1 102 Processing")
        + head(b"HTTP/1.1 103 Early Hints", b"Link: </a>; rel=preload")
        + own_answer(r)
    ),
    "no-reason-phrase": lambda r: (
        head(b"HTTP/1.1 201 ", CT, b"Content-Length: %d" % len(answer_body(r.tag)))
        + answer_body(r.tag)
    ),
    "gzip-with-length": lambda r: response(
        201, gzip.compress(answer_body(r.tag)), [("Content-Encoding", "gzip")]
    ),
}


@pytest.mark.parametrize("kind", list(VALID), ids=list(VALID))
async def test_a_valid_answer_is_read_and_its_connection_reused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    kind: str,
) -> None:
    server = serve(lambda request, conn: conn.send(VALID[kind](request)))
    client = connect(server, timeout=SHORT_READ)
    first = await client.phlo("valid-1").run()
    second = await client.phlo("valid-2").run()
    assert (first.run_id, second.run_id) == ("run-valid-1", "run-valid-2")
    assert server.connections == 1  # kept alive and reused


# --------------------------------------------------------------------------- never reused

AFTER_THE_END = own_answer(Request("POST", "/v1/phlo/somebody-else", {}, b"", 0))

NOT_REUSABLE: dict[str, Answerer] = {
    # Content-Length shorter than what follows: the rest is not an answer to anything.
    "content-length-long": lambda r: own_answer(r) + AFTER_THE_END,
    # 204 and 304 have no body, whatever their headers say.
    "204-with-a-body": lambda r: response(204, answer_body("somebody-else"), reason="No Content"),
    "http-1.0-with-length": lambda r: own_answer(r, version="HTTP/1.0"),
    "connection-close-with-length": lambda r: own_answer(r, headers=[("Connection", "close")]),
}


@pytest.mark.parametrize("kind", list(NOT_REUSABLE), ids=list(NOT_REUSABLE))
async def test_a_connection_out_of_step_or_not_kept_alive_is_never_reused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    kind: str,
) -> None:
    server = serve(first_request_gets(NOT_REUSABLE[kind]))  # the connection stays open
    client = connect(server, timeout=SHORT_READ)
    first = await outcome(client.phlo("first").run())
    if isinstance(first, APIResponseValidationError):
        # The 204, read without a body: a run answer without its api_id (it did run).
        assert kind == "204-with-a-body", repr(first)
    elif isinstance(first, PlivoError):  # refusing is stricter: allowed, but only this way
        assert type(first) is ConnectionOutcomeUnknownError, repr(first)
    else:
        assert first.run_id == "run-first"
    second = await client.phlo("second").run()
    assert second.run_id == "run-second"  # not the bytes left on the first connection
    assert server.connections == 2
    assert server.count("POST", "first") == server.count("POST", "second") == 1


async def test_a_304_with_a_body_is_an_error_and_its_connection_is_not_reused(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve(
        first_request_gets(
            lambda r: response(304, answer_body("somebody-else"), reason="Not Modified")
        )
    )
    client = connect(server, timeout=SHORT_READ)
    with pytest.raises(PlivoError) as caught:
        await client.phlo("cached").get()
    assert isinstance(caught.value, APIStatusError | APIConnectionError), repr(caught.value)
    if isinstance(caught.value, APIStatusError):
        assert caught.value.status_code == 304
    details = await client.phlo("fresh").get()
    assert details.phlo_id == "fresh"
    assert server.connections == 2


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
async def test_a_body_delimited_by_the_close_is_read_and_a_new_connection_follows(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    version: str,
) -> None:
    server = serve(
        first_request_gets(lambda r: own_answer(r, version=version, length=False), then_close=True)
    )
    client = connect(server, timeout=SHORT_READ)
    first = await client.phlo("until-close").run()
    second = await client.phlo("next").run()
    assert (first.run_id, second.run_id) == ("run-until-close", "run-next")
    assert server.connections == 2


async def test_a_server_error_delimited_by_the_close_is_server_outcome_unknown(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve(
        first_request_gets(
            lambda r: response(500, b'{"error":"boom"}', length=False), then_close=True
        )
    )
    client = connect(server, timeout=SHORT_READ)
    with pytest.raises(ServerOutcomeUnknownError) as caught:
        await client.phlo("boom").run()
    assert caught.value.status_code == 500
    assert server.count("POST", "boom") == 1


# --------------------------------------------------------------------------- size caps

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024


def endless(framing: str) -> Callable[[Conn], Awaitable[None]]:
    """A handler that answers one request with a 1 GiB body, written as fast as
    the client takes it, counting what it managed to write."""

    async def handler(conn: Conn) -> None:
        request = await conn.read_request()
        if request is None:
            return
        if framing == "length":
            start = head(b"HTTP/1.1 201 Created", CT, b"Content-Length: %d" % GIB)
        elif framing == "chunked":
            start = head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
        else:
            start = head(b"HTTP/1.1 201 Created", CT, b"Connection: close")
        piece = b"0" * MIB
        if framing == "chunked":
            piece = b"%x\r\n%b\r\n" % (len(piece), piece)
        conn.writer.write(start)
        try:
            while conn.server.bytes_sent < GIB and not conn.writer.is_closing():
                conn.writer.write(piece)
                conn.server.bytes_sent += len(piece)
                await conn.writer.drain()
        except OSError:
            pass
        conn.abort()

    return handler


@pytest.mark.parametrize("framing", ["length", "chunked", "until-close"])
async def test_a_1_gib_body_is_refused_without_reading_it(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    framing: str,
) -> None:
    server = serve(handler=endless(framing))
    client = connect(server, timeout=SHORT_READ)
    with pytest.raises(ConnectionOutcomeUnknownError):  # refused, not timed out
        await client.phlo("huge").run()
    # The handler writes until the client's close stops it: count once it has.
    await wait_until(lambda: server.open == 0, what="the server to stop writing")
    # The cap is 16 MiB; socket buffers hold a few more. Far from 1 GiB.
    assert server.bytes_sent < 96 * MIB
    assert server.count("POST", "huge") == 1


@functools.cache
def _bomb(megabytes: int, layers: int = 1) -> bytes:
    data = b"\0" * (megabytes * MIB)
    for _ in range(layers):
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip
        data = compressor.compress(data) + compressor.flush()
    return data


@pytest.mark.parametrize(
    ("status", "coding", "layers"),
    [(201, "gzip", 1), (201, "gzip, gzip", 2), (500, "gzip", 1), (201, "deflate", 1)],
)
async def test_a_compression_bomb_is_a_typed_error_not_a_memory_blow_up(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    status: int,
    coding: str,
    layers: int,
) -> None:
    bomb = _bomb(64, layers)  # 64 MiB of zeros, 4x the cap, in a few KiB
    if coding == "deflate":
        bomb = zlib.compress(b"\0" * (64 * MIB), 9)
    server = serve(
        first_request_gets(lambda r: response(status, bomb, [("Content-Encoding", coding)]))
    )
    client = connect(server, timeout=SHORT_READ)
    with pytest.raises(PlivoError) as caught:
        await client.phlo("bomb").run()
    # Either way the POST is never repeated: a 2xx whose body cannot be read, or
    # the answer refused as malformed; a 500 stays a server error.
    allowed: tuple[type[PlivoError], ...] = (
        (ServerOutcomeUnknownError, ConnectionOutcomeUnknownError)
        if status >= 500
        else (APIResponseValidationError, ConnectionOutcomeUnknownError)
    )
    assert isinstance(caught.value, allowed), repr(caught.value)
    assert server.count("POST", "bomb") == 1


async def test_a_server_error_with_an_undecodable_double_gzip_is_a_typed_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    body = gzip.compress(b'{"error":"boom"}')  # gzip once, announced twice
    server = serve(
        first_request_gets(lambda r: response(500, body, [("Content-Encoding", "gzip, gzip")]))
    )
    client = connect(server, timeout=SHORT_READ)
    with pytest.raises(PlivoError) as caught:  # never a raw httpx.DecodingError
        await client.phlo("double-gzip").run()
    assert isinstance(caught.value, ServerOutcomeUnknownError | ConnectionOutcomeUnknownError)
    assert server.count("POST", "double-gzip") == 1


@pytest.mark.parametrize("path", ["fast path", "httpx"])
async def test_an_undecodable_coding_keeps_the_status_on_both_paths(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    path: str,
) -> None:
    """The status is what the SDK acts on: a body it cannot decode is kept as sent."""
    body = gzip.compress(b'{"error":"boom"}')  # gzip once, announced twice
    server = serve(
        first_request_gets(lambda r: response(500, body, [("Content-Encoding", "gzip, gzip")]))
    )
    options: dict[str, Any] = {}
    if path == "httpx":
        options["http_client"] = http_client = httpx.AsyncClient()
    client = connect(server, timeout=SHORT_READ, **options)
    try:
        with pytest.raises(ServerOutcomeUnknownError) as caught:
            await client.phlo("double-gzip").run()
    finally:
        if path == "httpx":
            await http_client.aclose()
    assert caught.value.status_code == 500
    assert caught.value.response.content == body
    assert server.count("POST", "double-gzip") == 1


async def test_a_server_error_with_an_undecodable_body_on_a_get_is_a_typed_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve(
        lambda request, conn: conn.send(
            response(503, b"not gzip at all", [("Content-Encoding", "gzip")], reason="Unavailable")
        )
    )
    client = connect(server, timeout=SHORT_READ, max_retries=1)
    with pytest.raises(PlivoError) as caught:
        await client.phlo("bad-gzip").get()
    assert isinstance(caught.value, InternalServerError | APIConnectionError), repr(caught.value)
    assert server.count("GET", "bad-gzip") == 2  # a GET is retried


# --------------------------------------------------------------------------- the event loop


async def test_40000_one_byte_chunks_do_not_freeze_the_loop(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    def many_chunks(request: Request) -> bytes:
        body = json.dumps({"api_id": f"run-{request.tag}", "pad": "x" * 40_000}).encode()
        return (
            head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
            + b"".join(b"1\r\n%b\r\n" % body[i : i + 1] for i in range(len(body)))
            + b"0\r\n\r\n"
        )

    server = serve(lambda request, conn: conn.send(many_chunks(request)))
    client = connect(server, timeout=httpx.Timeout(30.0))
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)  # the ticker's own pace: what it measures is the lateness
            longest = max(longest, time.perf_counter() - before)

    task = asyncio.create_task(ticker())
    try:
        result = await client.phlo("chunky").run()
    finally:
        done = True
        await task
    assert result.run_id == "run-chunky"
    assert longest < 0.5, f"the event loop was held for {longest:.2f} s"


async def test_a_connection_that_yielded_mid_answer_is_reused_afterwards(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    """Parsing pauses reading to yield to the loop; the next request must find it reading."""

    def many_chunks(request: Request) -> bytes:
        body = json.dumps({"api_id": f"run-{request.tag}", "pad": "x" * 5_000}).encode()
        return (
            head(b"HTTP/1.1 201 Created", CT, b"Transfer-Encoding: chunked")
            + b"".join(b"1\r\n%b\r\n" % body[i : i + 1] for i in range(len(body)))
            + b"0\r\n\r\n"
        )

    server = serve(lambda request, conn: conn.send(many_chunks(request)))
    client = connect(server, timeout=httpx.Timeout(5.0))
    first = await client.phlo("chunky-1").run()
    second = await client.phlo("chunky-2").run()
    assert (first.run_id, second.run_id) == ("run-chunky-1", "run-chunky-2")
    assert server.connections == 1
    assert server.duplicates() == []
