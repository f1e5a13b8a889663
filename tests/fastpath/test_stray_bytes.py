"""Bytes a server writes on an idle kept-alive connection belong to no request.

The server answers request 1 and then, 20 ms later, writes something nobody
asked for (or closes). Request 2, a POST, must get its own answer, be received
exactly once, and raise nothing: whether the client's loop was busy when the
stray bytes arrived (the close or the bytes are in the socket, but no callback
has seen them yet) or free. Each case runs over plain HTTP and over TLS.

Over TLS a stray answer may arrive as half a TLS record, the rest some
milliseconds later: half a record decrypts to nothing, yet it is a byte
that arrived while the connection was idle, and rules it out just the same.
"""

from __future__ import annotations

import fcntl
import struct
import termios
from collections.abc import Callable

import pytest
from _servers import Conn, Request, Server, answer_body, own_answer, response
from _waiting import wait_until, wait_until_sync

from plivo_phlo_async import PhloClient
from plivo_phlo_async._fastpath import FastPool

STRAYS: dict[str, bytes | None] = {
    "429-retry-after": response(
        429,
        b'{"api_id":"stray","error":"slow down"}',
        [("Retry-After", "1")],
        reason="Too Many Requests",
    ),
    "201-other-run": response(201, answer_body("somebody-else")),
    "408": response(408, b'{"api_id":"stray","error":"timeout"}', reason="Request Timeout"),
    "close": None,
}


def stray_after_first_answer(stray: bytes | None) -> Callable[[Request, Conn], object]:
    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request))
        if conn.served == 1:  # once per connection, after its first answer
            conn.later(0.02, stray)

    return behaviour


async def stray_arrived(server: Server, client: PhloClient, loop_state: str) -> None:
    """Return once the stray bytes (or the close) are in the client's socket.

    ``busy``: the loop is held meanwhile (no ``await``), so no callback has
    seen them. ``free``: the loop runs, and has seen them: the client has
    dropped the connection.
    """
    if loop_state == "busy":
        wait_until_sync(
            lambda: server.later_done == 1 and server.closes_done(), what="the stray bytes"
        )
        return
    pool = client._requester.sender.fast_pool()
    assert pool is not None
    await wait_until(
        lambda: server.later_done == 1 and pool.open_connections == 0,
        what="the client to drop the connection",
    )


@pytest.mark.parametrize("stray", list(STRAYS), ids=list(STRAYS))
@pytest.mark.parametrize("loop_state", ["busy", "free"])
async def test_stray_bytes_on_an_idle_connection_are_never_an_answer(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    stray: str,
    loop_state: str,
    retry_waits: list[float],
) -> None:
    server = serve_over(stray_after_first_answer(STRAYS[stray]))
    client = connect(server)
    first = await client.phlo("first-run").run(n=1)
    assert first.run_id == "run-first-run"

    await stray_arrived(server, client, loop_state)

    second = await client.phlo("second-run").run(n=2)
    assert second.run_id == "run-second-run"  # its own answer, not the stray one
    assert server.count("POST", "second-run") == 1  # never sent twice
    assert server.count("POST", "first-run") == 1
    assert retry_waits == []  # nothing was worth a retry: the POST was sent once, cleanly


@pytest.mark.parametrize("loop_state", ["busy", "free"])
async def test_a_stray_answer_is_not_handed_to_a_get_either(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    loop_state: str,
) -> None:
    server = serve_over(stray_after_first_answer(response(200, answer_body("somebody-else"))))
    client = connect(server)
    await client.phlo("get-one").get()
    await stray_arrived(server, client, loop_state)
    details = await client.phlo("get-two").get()
    assert details.phlo_id == "get-two"
    assert server.count("GET", "get-two") == 1


#: Retry-After: 0, so the client would retry at once a POST it took it for.
STRAY_429 = response(
    429,
    b'{"api_id":"stray","error":"slow down"}',
    [("Retry-After", "0")],
    reason="Too Many Requests",
)
#: Where the stray is cut: inside the 5-byte TLS record header, or in the record
#: (over plain HTTP: inside the status line either way).
CUTS = {"in-the-header": 3, "in-the-record": 10}


def split_stray_after_first_answer(stray: bytes, cut: int) -> Callable[[Request, Conn], object]:
    """After a connection's first answer, the first ``cut`` bytes of ``stray``
    on the wire (half a TLS record over TLS); the rest only once a second request
    has arrived on that connection (received, so processed), before its answer."""
    rest: dict[int, bytes] = {}

    async def behaviour(request: Request, conn: Conn) -> None:
        if conn.served == 1:
            await conn.send(own_answer(request))
            wire = conn.encrypt(stray)
            rest[conn.number] = wire[cut:]
            conn.later(0.02, wire[:cut], raw=True)
            return
        if conn.number in rest:
            await conn.send_raw(rest.pop(conn.number))
        await conn.send(own_answer(request))

    return behaviour


def unread(pool: FastPool) -> int:
    """Bytes waiting in the kernel for the client's open sockets to read them."""
    total = 0
    for conn in list(pool._open):
        if conn.fd >= 0:
            answer = fcntl.ioctl(conn.fd, termios.FIONREAD, b"\0\0\0\0")
            total += struct.unpack("i", answer)[0]
    return total


@pytest.mark.parametrize("cut", list(CUTS.values()), ids=list(CUTS))
@pytest.mark.parametrize("loop_state", ["busy", "free"])
async def test_half_a_stray_record_on_an_idle_connection_makes_it_unusable(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    loop_state: str,
    cut: int,
    retry_waits: list[float],
) -> None:
    """Issue 17: over TLS, half a record of a stray 429 arrived while the connection
    was idle and decrypted to nothing; the connection was reused, the rest of the 429
    completed it and was taken as the answer to the next POST, which was then sent
    again (Retry-After: 0) though the server had processed it."""
    server = serve_over(split_stray_after_first_answer(STRAY_429, cut))
    client = connect(server)
    assert (await client.phlo("first-run").run(n=1)).run_id == "run-first-run"
    pool = client._requester.sender.fast_pool()
    assert pool is not None

    # The first part is on the wire; busy: in the client's socket, unread; free:
    # read by the client's loop (out of the socket, or the socket closed).
    if loop_state == "busy":
        wait_until_sync(
            lambda: server.later_done == 1 and unread(pool) == cut, what="the first part"
        )
    else:
        await wait_until(
            lambda: server.later_done == 1 and unread(pool) == 0, what="the first part read"
        )

    second = await client.phlo("second-run").run(n=2)
    assert second.run_id == "run-second-run"
    assert server.count("POST", "second-run") == 1  # never sent twice
    assert retry_waits == []
