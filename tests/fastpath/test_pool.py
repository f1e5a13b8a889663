"""Pool bookkeeping: ``max_connections`` bounds the sockets of every origin
together, and a connection the server closed is never reused (nor counted).
Each case runs over plain HTTP and over TLS (``serve_over``)."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable, Iterator

import httpx
import pytest
from _servers import Conn, Request, Server, Tally, own_answer
from _waiting import wait_until

from plivo_phlo_async import PhloClient

from .conftest import settle


async def test_two_origins_share_max_connections(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    retry_waits: list[float],
) -> None:
    tally = Tally()  # open sockets across both servers
    phlo, voice = serve_over(tally=tally), serve_over(tally=tally)
    client = connect(
        phlo, voice_base_url=voice.base_url, max_connections=2, timeout=httpx.Timeout(5.0, pool=2.0)
    )
    # One idle connection per origin, then two PHLO requests at once: one
    # Voice connection must go to make room.
    await client.phlo("p-0").run()
    await client.calls.create("+14155550100", "+14155550000", "https://example.com/a.xml")
    await asyncio.gather(client.phlo("p-1").run(), client.phlo("p-2").run())
    await asyncio.gather(
        *(client.phlo(f"p-{n}").run() for n in range(3, 13)),
        *(
            client.calls.create("+14155550100", f"+141555502{n:02d}", "https://example.com/a.xml")
            for n in range(10)
        ),
    )
    await settle(tally, open_at_most=2)
    assert tally.peak <= 2
    assert phlo.duplicates() == voice.duplicates() == []
    assert len(phlo.received) == 13
    assert len(voice.received) == 11
    # No connect sat out its timeout waiting for room: a connection going idle
    # makes room (it may be closed for the other origin), and wakes the waiter.
    assert retry_waits == []


async def closes_soon_after_answering(request: Request, conn: Conn) -> None:
    """Answers without ``Connection: close``, then closes 20 ms later (a keep-alive timeout)."""
    await conn.send(own_answer(request))
    conn.later(0.02, None)


async def test_a_connection_the_server_closed_is_not_reused(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(closes_soon_after_answering)
    client = connect(server)
    first = await client.phlo("before-close").run()
    # The server has closed it (20 ms after answering): the FIN is in the client's socket.
    await wait_until(lambda: server.sockets_closed() == 1, what="the server's close")
    second = await client.phlo("after-close").run()
    assert (first.run_id, second.run_id) == ("run-before-close", "run-after-close")
    assert server.connections == 2
    assert server.count("POST", "after-close") == 1


async def test_closed_connections_do_not_hold_pool_slots(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(closes_soon_after_answering)
    client = connect(server, max_connections=1, timeout=httpx.Timeout(5.0, pool=0.5))
    for n in range(5):
        result = await client.phlo(f"closed-{n}").run()
        assert result.run_id == f"run-closed-{n}"
        await wait_until(lambda n=n: server.sockets_closed() == n + 1, what="the server's close")
    await settle(server, open_at_most=0)
    assert server.connections == 5
    assert server.peak <= 1
    assert server.duplicates() == []


@pytest.fixture
def high_descriptors() -> Iterator[None]:
    """Occupy descriptors so that the client's next sockets get numbers >= 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the descriptor limit ({hard}) is too low to reach 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("high_descriptors")
async def test_connections_on_descriptors_above_1024_are_reused(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    """select() fails for such descriptors; the reuse check must not (nor refuse reuse)."""
    server = serve_over()
    client = connect(server)
    for n in range(3):
        result = await client.phlo(f"high-{n}").run()
        assert result.run_id == f"run-high-{n}"
    assert server.connections == 1
    assert server.duplicates() == []
