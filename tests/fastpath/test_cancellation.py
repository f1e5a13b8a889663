"""Cancelling requests at any point never leaks a socket or a pool slot.

The server counts the connections open right now (accepted minus closed by
either side) and their peak, sampled a few milliseconds after each request.
With ``max_connections=N`` the client must never hold more than N sockets,
whatever is cancelled when, and must still work afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import httpx
from _servers import Conn, Request, Server, own_answer
from _waiting import wait_until

from plivo_phlo_async import PhloClient

from .conftest import block_loop, settle

#: A request whose tag starts with this gets no answer: the server reads on
#: until the client goes away.
SILENT = "silent-"
POOL_WAIT = httpx.Timeout(5.0, pool=1.0)


async def silent_or_answer(request: Request, conn: Conn) -> None:
    if request.tag.startswith(SILENT):
        await conn.until_eof()
    else:
        await conn.send(own_answer(request))


async def still_works(client: PhloClient, server: Server) -> None:
    """A request after the storm: fails with a pool timeout if a slot leaked."""
    details = await client.phlo("afterwards").get()
    assert details.phlo_id == "afterwards"
    assert server.count("GET", "afterwards") == 1


async def test_cancelled_after_the_answer_arrived_but_before_resuming(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=1, timeout=POOL_WAIT)
    await client.phlo("warm-up").get()  # one kept-alive connection
    for i in range(20):
        task = asyncio.create_task(client.phlo(f"answered-{i}").get())
        for _ in range(i % 3 + 1):
            await asyncio.sleep(0)  # the request is written
        block_loop(0.02)  # its answer arrives in the socket meanwhile
        for _ in range(i % 4):
            await asyncio.sleep(0)  # read by the protocol, maybe not by the task
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await settle(server, open_at_most=1)
    assert server.peak <= 1
    await still_works(client, server)


async def test_cancelled_in_the_loop_iteration_its_answer_arrives(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    """The server signals on a side channel right after answering; with the
    loop held meanwhile, the answer and the signal are seen in one iteration,
    so the task is cancelled after its answer arrived but before it resumed."""
    receive, signal = socket.socketpair()
    receive.setblocking(False)

    async def answer_then_signal(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request))
        signal.send(b"!")

    server = serve_over(answer_then_signal)
    client = connect(server, max_connections=1, timeout=POOL_WAIT)
    loop = asyncio.get_running_loop()
    try:
        for i in range(20):
            task = asyncio.create_task(client.phlo(f"answered-{i}").get())

            def cancel(task: asyncio.Task[object] = task) -> None:
                receive.recv(16)
                task.cancel()

            loop.add_reader(receive.fileno(), cancel)
            await asyncio.sleep(0)
            await asyncio.sleep(0)  # the request is written
            block_loop(0.03)  # the answer and the signal arrive meanwhile
            await asyncio.wait([task])
            loop.remove_reader(receive.fileno())
    finally:
        receive.close()
        signal.close()
    await settle(server, open_at_most=1)
    assert server.peak <= 1
    await still_works(client, server)


async def test_cancelled_mid_request_against_a_silent_server(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=1, timeout=POOL_WAIT)
    tasks = [asyncio.create_task(client.phlo(f"{SILENT}{i}").run(i=i)) for i in range(20)]
    # One is in flight (the server has it whole, and has counted the open
    # sockets since), nineteen wait for the connection.
    await wait_until(lambda: server.tally.samples >= 1, what="the first request")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await settle(server, open_at_most=1)
    assert server.peak <= 1
    assert server.duplicates() == []
    await still_works(client, server)


async def test_cancelled_one_by_one_at_different_points(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=1, timeout=POOL_WAIT)
    for i in range(20):
        task = asyncio.create_task(client.phlo(f"{SILENT}{i}").run(i=i))
        for _ in range(i):  # cancelled before connecting, while connecting, after writing...
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task])
        # Swallowing the cancellation would let the request go on (and be sent).
        assert task.cancelled(), f"cancel after {i} steps ignored: {task.exception()!r}"
    await settle(server, open_at_most=1)
    assert server.peak <= 1
    await still_works(client, server)


async def test_wait_for_timeouts_leak_nothing(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=1, timeout=POOL_WAIT)
    for i in range(20):
        with contextlib.suppress(asyncio.TimeoutError):  # not TimeoutError on 3.10
            await asyncio.wait_for(client.phlo(f"{SILENT}{i}").run(i=i), 0.05)
    await settle(server, open_at_most=1)
    assert server.peak <= 1
    assert server.duplicates() == []
    await still_works(client, server)


async def test_64_concurrent_runs_cancelled_five_times_stay_within_the_pool(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=8, timeout=POOL_WAIT)
    for round_ in range(5):
        tasks = [
            asyncio.create_task(client.phlo(f"{SILENT}{round_}-{i}").run(i=i)) for i in range(64)
        ]
        # Eight are in flight (the server has them whole, and has counted the
        # open sockets since), 56 wait for a connection.
        in_flight = 8 * (round_ + 1)  # so far
        await wait_until(lambda n=in_flight: server.tally.samples >= n, what="8 requests")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await settle(server, open_at_most=8)
    assert server.peak <= 8
    assert server.duplicates() == []
    await still_works(client, server)


async def test_a_cancelled_bulk_run_leaks_no_socket(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    from plivo_phlo_async.bulk import RunJob

    server = serve_over(silent_or_answer)
    client = connect(server, max_connections=8, timeout=POOL_WAIT)
    for round_ in range(3):
        jobs = [RunJob(f"{SILENT}{round_}-{i}", {"i": i}) for i in range(64)]
        runner = client.bulk(jobs, concurrency=64, rate_limit=None)
        with contextlib.suppress(asyncio.TimeoutError):  # not TimeoutError on 3.10
            await asyncio.wait_for(runner.run(), 0.1)
    await settle(server, open_at_most=8)
    assert server.peak <= 8
    assert server.duplicates() == []
    await still_works(client, server)
