"""A connect that yields nothing usable sent nothing: the request is retried
(a never-sent error), never reported as outcome unknown.

* A new connection the server closes (FIN or reset) before reading anything,
  over plain HTTP and TLS (``serve_over``); over TLS the handshake fails.
* No free descriptor: the same "too many open files" connect error for a host
  name as for an IP address, even where the resolver calls the name unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
from collections.abc import Callable, Iterator

import pytest
from _servers import Conn, Server
from _waiting import wait_until_sync

from plivo_phlo_async import (
    CannotConnectError,
    NameResolutionError,
    PhloClient,
    PlivoError,
)
from plivo_phlo_async._fastpath._connection import Connection, has_pending_input
from plivo_phlo_async._fastpath._reader import Response

CLOSED_FIRST = 2  # new connections the server closes before the request reaches it


def close_just_before_the_request(
    monkeypatch: pytest.MonkeyPatch, server: Server, close: Callable[[Conn], None]
) -> None:
    """``server`` closes each of its first new connections as the client is about
    to write the request on it: the close is in the client's socket, unread by
    the loop, when the request would be written. (Left to chance, the client
    mostly writes before a close right after the accept arrives; a request
    written into a connection the server then resets may have reached it:
    outcome unknown, rightly.)"""
    exchange = Connection.exchange

    async def exchange_after_the_close(
        self: Connection, data: bytes, **timeouts: float | None
    ) -> tuple[Response, bytes]:
        assert self.transport is not None
        if self._reader is None:  # a new connection
            address = tuple(self.transport.get_extra_info("sockname")[:2])
            wait_until_sync(lambda: server.accepted_from(address), what="the accept")
            accepted = server.accepted_from(address)
            assert accepted is not None
            if accepted.number <= CLOSED_FIRST:

                async def close_it() -> None:  # in the server's loop
                    close(accepted)

                server.call(close_it())
                wait_until_sync(lambda: has_pending_input(self.fd), what="the server's close")
        return await exchange(self, data, **timeouts)  # type: ignore[arg-type]

    monkeypatch.setattr(Connection, "exchange", exchange_after_the_close)


@pytest.mark.parametrize("close", [Conn.close, Conn.reset], ids=["fin", "reset"])
async def test_a_post_on_connections_closed_before_use_is_sent_once(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
    retry_waits: list[float],
    close: Callable[[Conn], None],
) -> None:
    if scheme == "https":  # closed as it is accepted: the TLS handshake fails

        def on_accept(conn: Conn) -> None:
            if conn.number <= CLOSED_FIRST:
                close(conn)

        server = serve_over(on_accept=on_accept)
    else:
        server = serve_over()
        close_just_before_the_request(monkeypatch, server, close)
    client = connect(server, max_retries=CLOSED_FIRST)
    result = await client.phlo("after-closes").run()
    assert result.run_id == "run-after-closes"
    assert server.count("POST", "after-closes") == 1
    assert [request.connection for request in server.received] == [CLOSED_FIRST + 1]
    assert len(retry_waits) == CLOSED_FIRST  # each close was a never-sent error, retried


# --------------------------------------------------------------------------- descriptors


@contextlib.contextmanager
def no_free_descriptor() -> Iterator[None]:
    """Every descriptor the process may open is taken (the limit lowered to a few
    thousand first, so that filling it is quick)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 4096), hard))
    held: list[int] = []
    try:
        with contextlib.suppress(OSError):
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def post_without_descriptors(server: Server, host: str) -> PlivoError | None:
    """A POST to ``server`` by ``host`` with no descriptor free (none retried): its error."""
    base_url = f"http://{host}:{server.port}/v1"
    async with server.client(base_url=base_url, voice_base_url=base_url, max_retries=0) as client:
        with no_free_descriptor():
            try:
                await client.phlo("no-descriptor").run()
            except PlivoError as error:
                return error
    return None


async def warm_up_resolver(server: Server, host: str) -> None:
    """Start the loop's resolver (its thread, its imports) while files can be opened."""
    await asyncio.get_running_loop().getaddrinfo(host, server.port)


def skip_under_uvloop() -> None:
    """The tests that replace ``socket.getaddrinfo`` (asyncio's resolver, in a thread)."""
    if type(asyncio.get_running_loop()).__module__.startswith("uvloop"):
        pytest.skip("uvloop resolves names in libuv: its resolver cannot be replaced")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_no_free_descriptor_is_a_never_sent_connect_error(
    serve: Callable[..., Server], host: str
) -> None:
    server = serve()
    await warm_up_resolver(server, host)
    error = await post_without_descriptors(server, host)
    assert type(error) is CannotConnectError
    assert "Too many open files" in str(error)
    assert not error.outcome_unknown
    assert server.received == []


async def test_an_unknown_name_for_want_of_descriptors_is_a_descriptor_error(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_under_uvloop()
    server = serve()
    await warm_up_resolver(server, "localhost")
    monkeypatch.setattr(socket, "getaddrinfo", name_unknown)
    error = await post_without_descriptors(server, "localhost")
    assert type(error) is CannotConnectError  # not NameResolutionError
    assert "Too many open files" in str(error)
    assert server.received == []


async def test_an_unknown_name_with_descriptors_free_is_still_unknown(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_under_uvloop()
    server = serve()
    monkeypatch.setattr(socket, "getaddrinfo", name_unknown)
    base_url = f"http://localhost:{server.port}/v1"
    async with server.client(base_url=base_url, voice_base_url=base_url, max_retries=0) as client:
        with pytest.raises(NameResolutionError) as caught:
            await client.phlo("unknown-name").run()
    assert caught.value.host == "localhost"


def name_unknown(*args: object, **kwargs: object) -> list[object]:
    """``socket.getaddrinfo`` as some resolvers answer when they cannot open
    /etc/hosts or a DNS socket: the name is unknown (EAI_NONAME)."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
