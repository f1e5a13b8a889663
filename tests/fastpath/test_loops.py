"""One client used from several event loops (issue 17, item 3).

Every asyncio loop that uses a client gets its own pool: the fast path's, and
the SDK's own ``httpx.AsyncClient`` where httpx is used (here: a proxy in the
environment that ``NO_PROXY`` bypasses). Before, a second loop went through
the one shared ``httpx.AsyncClient``: once a loop that had opened one of its
connections closed, the next request raised a raw ``RuntimeError: Event loop
is closed`` although the server had the POST, and so did ``aclose()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
from _servers import Server

from plivo_phlo_async import PhloClient, PlivoError

from .conftest import loop_factories


@pytest.fixture(params=["fast", "httpx"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "httpx":
        monkeypatch.setenv("HTTP_PROXY", "http://192.0.2.1:3128")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return str(request.param)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.stop()


async def post_each(client: PhloClient, tags: list[str]) -> list[str]:
    """POST each tag: its run id, or the SDK error's class name (anything else raises)."""
    results = []
    for tag in tags:
        try:
            results.append((await client.phlo(tag).run(n=1)).run_id)
        except PlivoError as exc:
            results.append(type(exc).__name__)
    return results


class LoopThread:
    """An event loop running in a thread of its own."""

    def __init__(self, name: str) -> None:
        self.loop = loop_factories()[name]()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=20)  # type: ignore[arg-type]

    def close(self) -> None:
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.mark.parametrize("loop_name", list(loop_factories()))
def test_two_threads_with_their_own_loops_share_one_client(
    server: Server, path: str, loop_name: str
) -> None:
    client = server.client(max_retries=0)
    one, two = LoopThread(loop_name), LoopThread(loop_name)
    tags_one = [f"one-{i}" for i in range(20)]
    tags_two = [f"two-{i}" for i in range(20)]
    try:
        first = asyncio.run_coroutine_threadsafe(post_each(client, tags_one), one.loop)
        second = asyncio.run_coroutine_threadsafe(post_each(client, tags_two), two.loop)
        assert first.result(timeout=20) == [f"run-{tag}" for tag in tags_one]
        assert second.result(timeout=20) == [f"run-{tag}" for tag in tags_two]
        one.close()  # a loop that opened connections goes away: the other goes on
        assert two.run(post_each(client, ["two-after"])) == ["run-two-after"]
        two.run(client.aclose())  # no raw RuntimeError for the closed loop's pool
    finally:
        if not one.loop.is_closed():
            one.close()
        two.close()
    assert server.duplicates() == []
    assert len(server.received) == 41
    assert client.is_closed


@pytest.mark.parametrize("loop_name", list(loop_factories()))
def test_asyncio_run_twice_with_one_client_then_aclose(
    server: Server, path: str, loop_name: str
) -> None:
    client = server.client(max_retries=0)
    for round_ in ("first", "second"):
        loop = loop_factories()[loop_name]()
        try:
            result = loop.run_until_complete(post_each(client, [f"{round_}-{i}" for i in range(3)]))
            assert result == [f"run-{round_}-{i}" for i in range(3)]
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
    loop = loop_factories()[loop_name]()
    try:
        loop.run_until_complete(client.aclose())  # never a raw RuntimeError
    finally:
        loop.close()
    assert server.duplicates() == []
    assert len(server.received) == 6


@pytest.mark.parametrize("loop_name", list(loop_factories()))
def test_aclose_from_another_thread_while_a_loop_keeps_the_client(
    server: Server, path: str, loop_name: str
) -> None:
    client = server.client(max_retries=0)
    worker = LoopThread(loop_name)
    try:
        assert worker.run(post_each(client, ["in-thread"])) == ["run-in-thread"]
        closer = loop_factories()[loop_name]()
        try:
            closer.run_until_complete(client.aclose())  # the pool is the other loop's
        finally:
            closer.close()
        assert worker.run(post_each(client, ["after-close"])) == ["ClientClosedError"]
    finally:
        worker.close()
    assert [r.tag for r in server.received] == ["in-thread"]


@pytest.mark.parametrize("loop_name", list(loop_factories()))
def test_an_injected_http_client_is_refused_in_a_second_open_loop_before_sending(
    server: Server, loop_name: str
) -> None:
    http_client = httpx.AsyncClient()
    client = server.client(http_client=http_client, max_retries=0)
    one, two = LoopThread(loop_name), LoopThread(loop_name)
    try:
        assert one.run(post_each(client, ["first-loop"])) == ["run-first-loop"]
        assert two.run(post_each(client, ["second-loop"])) == ["ConfigurationError"]
        assert one.run(post_each(client, ["first-again"])) == ["run-first-again"]
        one.run(client.aclose())
        one.run(http_client.aclose())
    finally:
        one.close()
        two.close()
    assert [r.tag for r in server.received] == ["first-loop", "first-again"]
