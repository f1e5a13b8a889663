"""How long an idle connection is reused: never up to the moment the server
closes it, where a POST written into it would end "outcome unknown".

The limit is :data:`KEEPALIVE_EXPIRY` (below the 5 s of uvicorn and Node),
shorter when the server says ``Keep-Alive: timeout=N`` (retired a second
early; never reused at N <= 1). The pool reads the loop's clock, which a
test cannot move: :func:`idle_for` ages the idle connections instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _servers import Conn, Request, Server, own_answer

from plivo_phlo_async import PhloClient
from plivo_phlo_async._fastpath import KEEPALIVE_EXPIRY, FastPool
from plivo_phlo_async._fastpath._pool import _idle_limit
from plivo_phlo_async._fastpath._reader import EndOfMessage, Response, ResponseReader

# --------------------------------------------------------------------------- the header


def answer_with(*lines: bytes) -> Response:
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n")
    response = reader.next_event()
    assert isinstance(response, Response)
    assert isinstance(reader.next_event(), EndOfMessage)
    assert reader.keep_alive
    return response


@pytest.mark.parametrize(
    ("lines", "seconds"),
    [
        ([b"Keep-Alive: timeout=5"], 5),
        ([b"Keep-Alive: timeout=5, max=1000"], 5),
        ([b"keep-alive: max=100,TIMEOUT = 3"], 3),
        ([b"Keep-Alive: timeout=0"], 0),
        ([b"Keep-Alive: timeout=30", b"Keep-Alive: timeout=7"], 7),  # the shortest
        ([b"Keep-Alive: timeout=2", b"Keep-Alive: timeout=abc"], 2),
    ],
)
def test_a_keep_alive_timeout_is_read(lines: list[bytes], seconds: int) -> None:
    assert answer_with(b"Content-Length: 0", *lines).idle_timeout == seconds


@pytest.mark.parametrize(
    "line",
    [
        b"Keep-Alive: timeout=abc",
        b"Keep-Alive: timeout=-1",
        b"Keep-Alive: timeout=1.5",
        b"Keep-Alive: timeout=",
        b"Keep-Alive: timeout=" + b"9" * 4000,
        b"Keep-Alive: max=100",
        b"Keep-Alive:",
        b"Keep-Alive: timeout=\xd9\xa3",  # a non-ASCII digit
        b"X-Keep-Alive: timeout=1",
    ],
)
def test_a_malformed_or_absent_keep_alive_timeout_is_ignored(line: bytes) -> None:
    assert answer_with(b"Content-Length: 0", line).idle_timeout is None


@pytest.mark.parametrize(
    ("server_timeout", "limit"),
    [(0, -1.0), (1, 0.0), (2, 1.0), (3, 2.0), (5, KEEPALIVE_EXPIRY), (75, KEEPALIVE_EXPIRY)],
)
def test_the_idle_limit_is_a_second_inside_the_server_s(server_timeout: int, limit: float) -> None:
    assert _idle_limit(server_timeout) == limit


def test_the_default_idle_limit_is_below_common_server_timeouts() -> None:
    assert KEEPALIVE_EXPIRY < 5.0  # uvicorn's and Node's default keep-alive


async def test_the_sdk_s_own_httpx_client_has_the_same_idle_limit() -> None:
    async with PhloClient("MAXXXXXXXXXXXXXXXXXX", "t") as client:
        pool = client._requester.sender.http_client._transport._pool  # type: ignore[attr-defined]
        assert pool._keepalive_expiry == KEEPALIVE_EXPIRY


# --------------------------------------------------------------------------- the pool


def idle_for(client: PhloClient, seconds: float) -> None:
    """As if the client's idle connections had been idle ``seconds`` longer."""
    pool = client._requester.sender.fast_pool()
    assert isinstance(pool, FastPool)
    for idle in pool._idle.values():
        for conn in idle:
            conn.retire_at -= seconds


def answering_with(*headers: tuple[str, str]) -> Callable[[Request, Conn], object]:
    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request, headers=headers))

    return behaviour


async def test_a_server_that_keeps_connections_for_a_second_gets_each_request_on_a_new_one(
    serve_over: Callable[..., Server], connect: Callable[..., PhloClient]
) -> None:
    async def handler(conn: Conn) -> None:
        """One answer per connection, saying ``Keep-Alive: timeout=1``; a second
        request is taken to arrive as the server's idle timeout closes the
        connection: reset, unread (the race a client reusing it loses)."""
        request = await conn.read_request()
        if request is not None:
            await conn.send(own_answer(request, headers=[("Keep-Alive", "timeout=1")]))
            if await conn.reader.read(1):
                conn.reset()

    server = serve_over(handler=handler)
    client = connect(server, max_retries=0)
    tags = [f"short-{n}" for n in range(3)]
    for tag in tags:
        assert (await client.phlo(tag).run()).run_id == f"run-{tag}"
    assert [(r.tag, r.connection) for r in server.received] == [
        ("short-0", 1),
        ("short-1", 2),
        ("short-2", 3),
    ]


@pytest.mark.parametrize(
    ("headers", "limit"),
    [
        pytest.param([("Keep-Alive", "timeout=3")], 2.0, id="timeout=3"),
        pytest.param([("Keep-Alive", "timeout=10, max=100")], KEEPALIVE_EXPIRY, id="timeout=10"),
        pytest.param([], KEEPALIVE_EXPIRY, id="no-header"),
        pytest.param([("Keep-Alive", "timeout=abc")], KEEPALIVE_EXPIRY, id="timeout=abc"),
        pytest.param([("Keep-Alive", "timeout=-1")], KEEPALIVE_EXPIRY, id="timeout=-1"),
        pytest.param([("Keep-Alive", "timeout=" + "9" * 30)], KEEPALIVE_EXPIRY, id="huge"),
    ],
)
async def test_an_idle_connection_is_reused_up_to_its_limit_and_not_after(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    headers: list[tuple[str, str]],
    limit: float,
) -> None:
    server = serve_over(answering_with(*headers))
    client = connect(server)
    await client.phlo("first").run()
    idle_for(client, limit - 0.5)
    await client.phlo("within").run()
    idle_for(client, limit + 0.5)
    await client.phlo("beyond").run()
    assert [(r.tag, r.connection) for r in server.received] == [
        ("first", 1),
        ("within", 1),
        ("beyond", 2),
    ]
