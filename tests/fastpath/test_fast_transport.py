"""FastTransport in a plain httpx.AsyncClient, and under the SDK, against counting servers.

The transport must keep the fast path's promises through httpx: a stray answer
on an idle connection is never read as an answer, errors map to httpx's
classes the way the SDK's retry table expects (so a POST is never sent
twice), and httpx's own features (hooks, auth, content decoding) still work.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from _servers import Conn, Request, Server, answer_body, own_answer, response
from _waiting import wait_until

from plivo_phlo_async import (
    APIConnectionError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    FastTransport,
    PhloClient,
    TimeoutOutcomeUnknownError,
)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=FastTransport(max_connections=4)) as client:
        yield client


async def test_requests_reuse_one_kept_alive_connection(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    server = serve()
    for n in range(3):
        answer = await http.post(f"{server.base_url}/phlo/p{n}", content=b'{"n":1}')
        assert answer.status_code == 201
        assert answer.json()["phlo_id"] == f"p{n}"
    got = await http.get(f"{server.base_url}/phlo/g")
    assert got.json()["phlo_id"] == "g"
    assert server.connections == 1
    assert [r.connection for r in server.received] == [1, 1, 1, 1]
    assert server.received[0].body == b'{"n":1}'
    assert server.received[0].headers["content-length"] == "7"


async def test_a_stray_429_on_an_idle_connection_is_never_an_answer(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request))
        if conn.served == 1:
            conn.later(0.02, response(429, b'{"error":"slow down"}', [("Retry-After", "1")]))

    server = serve(behaviour)
    await http.post(f"{server.base_url}/phlo/first", content=b"{}")
    # The stray 429 is in the idle socket (written 20 ms after the answer).
    await wait_until(lambda: server.later_done == 1, what="the stray 429")
    second = await http.post(f"{server.base_url}/phlo/second", content=b"{}")
    assert second.status_code == 201
    assert second.json()["phlo_id"] == "second"
    assert server.count("POST", "second") == 1
    assert server.connections == 2  # the polluted connection was discarded unread


async def test_event_hooks_and_auth_run_around_the_fast_pool(serve: Callable[..., Server]) -> None:
    server = serve()
    seen: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(f"request {request.method}")

    async def on_response(answer: httpx.Response) -> None:
        seen.append(f"response {answer.status_code}")

    async with httpx.AsyncClient(
        transport=FastTransport(),
        auth=("user", "secret"),
        event_hooks={"request": [on_request], "response": [on_response]},
    ) as http:
        answer = await http.get(f"{server.base_url}/phlo/hooked")
    assert answer.status_code == 200
    assert seen == ["request GET", "response 200"]
    assert server.received[0].headers["authorization"] == "Basic dXNlcjpzZWNyZXQ="


async def test_a_gzip_body_is_decoded_once_by_httpx(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    body = answer_body("zipped")

    async def behaviour(request: Request, conn: Conn) -> None:
        await conn.send(response(200, gzip.compress(body), [("Content-Encoding", "gzip")]))

    server = serve(behaviour)
    answer = await http.get(f"{server.base_url}/phlo/zipped")
    assert answer.content == body
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.http_version == "HTTP/1.1"
    assert answer.reason_phrase == "Whatever"


async def test_a_streaming_body_is_read_whole_and_sent_with_a_length(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    server = serve()

    async def body() -> AsyncIterator[bytes]:
        yield b'{"to":'
        yield b'"streamed"}'

    answer = await http.post(f"{server.base_url}/calls", content=body())
    assert answer.status_code == 201
    received = server.received[0]
    assert received.body == b'{"to":"streamed"}'
    assert received.headers["content-length"] == str(len(received.body))
    assert "transfer-encoding" not in received.headers


async def test_a_silent_server_is_a_read_timeout_from_httpx_options(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    async def silent(request: Request, conn: Conn) -> None:
        return None

    server = serve(silent)
    with pytest.raises(httpx.ReadTimeout) as caught:
        await http.post(f"{server.base_url}/phlo/slow", content=b"{}", timeout=0.2)
    assert caught.value.request.url == f"{server.base_url}/phlo/slow"  # the caller's request
    assert server.count("POST", "slow") == 1


async def test_a_refused_connection_is_a_connect_error(http: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await http.get("http://127.0.0.1:1/nothing-listens")


async def test_cancelling_mid_request_leaves_no_connection_for_reuse(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    async def late(request: Request, conn: Conn) -> None:
        if request.tag == "slow":
            conn.later(0.3, own_answer(request))
        else:
            await conn.send(own_answer(request))

    server = serve(late)
    task = asyncio.ensure_future(http.post(f"{server.base_url}/phlo/slow", content=b"{}"))
    await wait_until(lambda: server.count("POST", "slow") == 1, what="the request")  # in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The late answer arrives on the aborted connection (0.3 s after the request), unread.
    await wait_until(lambda: server.later_done == 1, what="the late answer")
    answer = await http.post(f"{server.base_url}/phlo/next", content=b"{}")
    assert answer.json()["phlo_id"] == "next"
    assert server.count("POST", "slow") == 1
    assert server.connections == 2


async def test_the_sdk_through_fast_transport_never_sends_a_post_twice(
    serve: Callable[..., Server], retry_waits: list[float]
) -> None:
    async def silent(request: Request, conn: Conn) -> None:
        return None

    server = serve(silent)
    async with (
        httpx.AsyncClient(transport=FastTransport()) as http,
        server.client(http_client=http, timeout=0.2, max_retries=3) as client,
    ):
        with pytest.raises(TimeoutOutcomeUnknownError):
            await client.phlo("once").run(n=1)
    assert server.count("POST", "once") == 1
    assert retry_waits == []


async def test_a_post_whose_connection_drops_is_outcome_unknown_and_sent_once(
    serve: Callable[..., Server], retry_waits: list[float]
) -> None:
    async def drop(request: Request, conn: Conn) -> None:
        conn.abort()  # read it whole, then vanish: it may have run

    server = serve(drop)
    async with (
        httpx.AsyncClient(transport=FastTransport()) as http,
        server.client(http_client=http, max_retries=3) as client,
    ):
        with pytest.raises(ConnectionOutcomeUnknownError):
            await client.phlo("dropped").run(n=1)
        with pytest.raises(APIConnectionError):  # a GET is retried: each attempt sent once
            await client.phlo("dropped-get").get()
    assert server.count("POST", "dropped") == 1
    assert server.count("GET", "dropped-get") == 4
    assert len(retry_waits) == 3


async def test_the_sdk_keeps_its_answers_through_fast_transport_and_a_hook(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    statuses: list[int] = []

    async def on_response(answer: httpx.Response) -> None:
        statuses.append(answer.status_code)

    async with (
        httpx.AsyncClient(
            transport=FastTransport(), event_hooks={"response": [on_response]}
        ) as http,
        server.client(http_client=http) as client,
    ):
        run = await client.phlo("hooked-run").run(n=1)
    assert isinstance(client, PhloClient)
    assert run.run_id == "run-hooked-run"
    assert statuses == [201]
    assert server.received[0].headers["authorization"].startswith("Basic ")


async def test_head_is_refused_before_anything_is_sent(
    serve: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    server = serve()
    with pytest.raises(httpx.UnsupportedProtocol, match="HEAD"):
        await http.head(f"{server.base_url}/phlo/x")
    assert server.connections == 0


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nX-Injected: 1", "a\rb", "a\x00b"])
async def test_a_line_break_or_nul_in_a_header_is_refused_before_sending(
    serve: Callable[..., Server], http: httpx.AsyncClient, value: str
) -> None:
    server = serve()
    with pytest.raises(httpx.LocalProtocolError):
        await http.get(f"{server.base_url}/phlo/x", headers={"X-Evil": value})
    assert server.connections == 0


async def test_closing_the_client_closes_the_pool(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    transport = FastTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        await http.get(f"{server.base_url}/phlo/x")
        assert transport.open_connections == 1
    assert transport.open_connections == 0
    with pytest.raises(RuntimeError, match="closed"):
        await transport.handle_async_request(httpx.Request("GET", f"{server.base_url}/phlo/y"))


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "100"])
def test_max_connections_is_checked(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_connections"):
        FastTransport(max_connections=bad)  # type: ignore[arg-type]


def test_under_trio_it_refuses_clearly() -> None:
    trio = pytest.importorskip("trio")

    async def main() -> None:
        async with httpx.AsyncClient(transport=FastTransport()) as http:
            with pytest.raises(RuntimeError, match="only under asyncio"):
                await http.get("http://127.0.0.1:1/")

    trio.run(main)
