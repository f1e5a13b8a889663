"""Closing is final: no request, no retry and no pool after ``aclose()``; and a
client used from two ``asyncio.run()`` calls closes what the first one opened."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from _servers import Conn, Request, Server, own_answer
from _waiting import wait_until, wait_until_sync

import plivo_phlo_async
from plivo_phlo_async import APIConnectionError, PhloClient, PlivoError

from .conftest import loop_factories, outcome, settle

T = TypeVar("T")


def client_closed_error() -> type[PlivoError]:
    """``ClientClosedError``, as a user's code reaches it."""
    return plivo_phlo_async.ClientClosedError


class Runner:
    """``asyncio.Runner`` (3.11+) for 3.10 too: one loop for several ``run`` calls, then
    closed as ``asyncio.run`` closes it (async generators first)."""

    def __init__(self, loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self._loop = loop_factory()

    def __enter__(self) -> Runner:
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()


def drop_gets_once(closed: threading.Event) -> Callable[[Request, Conn], Awaitable[None]]:
    """A GET is held until ``closed`` is set, then its connection dropped (a GET
    is retried)."""

    async def behaviour(request: Request, conn: Conn) -> None:
        if request.method == "GET":
            await wait_until(closed.is_set, what="the client to be closed")
            conn.abort()
        else:
            await conn.send(own_answer(request))

    return behaviour


async def test_aclose_during_a_get_lets_no_retry_open_a_new_pool(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    closed = threading.Event()
    server = serve(drop_gets_once(closed))
    client = connect(server, max_retries=3, timeout=httpx.Timeout(5.0, read=1.0))
    task = asyncio.create_task(outcome(client.phlo("in-flight").get()))
    # The GET is in flight: the server has it, and holds it until the client is closed.
    await wait_until(lambda: server.count("GET", "in-flight") >= 1, what="the GET")
    await client.aclose()
    closed.set()
    result = await asyncio.wait_for(task, 5)
    await settle(server, open_at_most=0)
    assert isinstance(result, PlivoError), result  # it failed, with a typed error
    assert server.connections == 1  # its retries opened nothing
    assert server.count("GET", "in-flight") <= 1


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda c: c.phlo("after").get(), id="get"),
        pytest.param(lambda c: c.phlo("after").run(n=1), id="run"),
        pytest.param(
            lambda c: c.phlo("after").multi_party_call("n1").call("+1415", "+1416"),
            id="node-action",
        ),
        pytest.param(
            lambda c: c.calls.create("+1415", "+1416", "https://example.com/a.xml"),
            id="calls.create",
        ),
        pytest.param(lambda c: c.with_options(timeout=3.0).phlo("after").run(), id="copy-after"),
    ],
)
async def test_any_use_after_aclose_raises_client_closed_error(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
    use: Callable[[PhloClient], object],
) -> None:
    closed_error = client_closed_error()
    server = serve()
    client = connect(server)
    await client.phlo("before").get()
    await client.aclose()
    with pytest.raises(closed_error) as caught:
        await use(client)  # type: ignore[misc]
    assert not isinstance(caught.value, APIConnectionError)  # nothing retries it
    assert not caught.value.outcome_unknown
    assert [r.tag for r in server.received] == ["before"]
    assert server.connections == 1


async def test_a_copy_made_before_aclose_is_closed_with_its_client(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    closed_error = client_closed_error()
    server = serve()
    client = connect(server)
    copy = client.with_options(max_retries=0)
    await copy.phlo("via-copy").run()
    await client.aclose()
    assert copy.is_closed
    with pytest.raises(closed_error):
        await copy.phlo("after").run()
    assert server.count("POST", "after") == 0


async def test_closing_a_copy_leaves_its_client_open(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve()
    client = connect(server)
    await client.with_options(timeout=3.0).aclose()
    result = await client.phlo("still-open").run()
    assert result.run_id == "run-still-open"


@pytest.mark.parametrize("loop", list(loop_factories()))
def test_closing_is_final_across_event_loops(
    serve: Callable[..., Server],
    loop: str,
) -> None:
    closed_error = client_closed_error()
    server = serve()
    client = server.client()
    with Runner(loop_factories()[loop]) as runner:
        runner.run(client.phlo("first-loop").get())
        runner.run(client.aclose())
    with Runner(loop_factories()[loop]) as runner, pytest.raises(closed_error):
        runner.run(client.phlo("second-loop").get())
    assert [r.tag for r in server.received] == ["first-loop"]


@pytest.mark.parametrize("loop", list(loop_factories()))
def test_a_client_used_from_two_asyncio_runs_leaves_no_resource_warning(
    serve: Callable[..., Server],
    loop: str,
) -> None:
    server = serve()
    client = server.client()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Runner(loop_factories()[loop]) as runner:
            first = runner.run(client.phlo("run-one").get())  # leaves a kept-alive socket
        with Runner(loop_factories()[loop]) as runner:
            second = runner.run(client.phlo("run-two").get())
            runner.run(client.aclose())
        gc.collect()
    assert (first.phlo_id, second.phlo_id) == ("run-one", "run-two")
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == [], [str(w.message) for w in leaks]
    wait_until_sync(lambda: server.open == 0, what="the server to see every close")
    assert server.open == 0  # every socket was closed, none left to the garbage collector
