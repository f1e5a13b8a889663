"""The read timeout bounds the gap between two reads; ``attempt_deadline`` bounds
an attempt whole, so a server dripping its answer cannot hold a request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
import trio
from _servers import Conn, Request, Server, own_answer

from plivo_phlo_async import (
    APITimeoutError,
    FastTransport,
    PhloClient,
    TimeoutOutcomeUnknownError,
)
from plivo_phlo_async._fastpath._transport import ATTEMPT_DEADLINE

DRIP = 0.1  # seconds between two bytes: never a read timeout


async def drip(request: Request, conn: Conn) -> None:
    """The answer (about 200 bytes), one byte every DRIP seconds: about 20 s in all."""
    for byte in own_answer(request):
        await conn.send(bytes([byte]))
        await asyncio.sleep(DRIP)


async def test_a_dripping_answer_to_a_post_ends_at_the_deadline_as_outcome_unknown(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(drip)
    client = connect(server, timeout=httpx.Timeout(5.0, read=0.5), attempt_deadline=0.6)
    started = time.monotonic()
    with pytest.raises(TimeoutOutcomeUnknownError):
        await client.phlo("dripped").run()
    assert time.monotonic() - started < 3.0
    assert server.count("POST", "dripped") == 1


async def test_a_dripping_answer_to_a_get_is_retried_then_a_timeout(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
    retry_waits: list[float],
) -> None:
    server = serve_over(drip)
    client = connect(
        server, timeout=httpx.Timeout(5.0, read=0.5), attempt_deadline=0.6, max_retries=1
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await client.phlo("dripped").get()
    assert not caught.value.outcome_unknown
    assert time.monotonic() - started < 4.0
    assert server.count("GET", "dripped") == 2
    assert len(retry_waits) == 1


async def test_the_default_deadline_is_twice_the_read_timeout(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    server = serve_over(drip)
    client = connect(server, timeout=httpx.Timeout(5.0, read=0.3))  # deadline: 0.6 s
    started = time.monotonic()
    with pytest.raises(TimeoutOutcomeUnknownError):
        await client.phlo("dripped-default").run()
    elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 3.0
    assert server.count("POST", "dripped-default") == 1


def test_the_deadline_also_bounds_the_httpx_path_under_trio(
    serve_over: Callable[..., Server],
) -> None:
    server = serve_over(drip)

    async def use() -> float:
        async with server.client(
            timeout=httpx.Timeout(5.0, read=0.5), attempt_deadline=0.6
        ) as client:
            started = time.monotonic()
            with pytest.raises(TimeoutOutcomeUnknownError):
                await client.phlo("dripped-trio").run()
            return time.monotonic() - started

    assert trio.run(use) < 3.0
    assert server.count("POST", "dripped-trio") == 1


@pytest.mark.parametrize("transport", ["FastTransport", "httpx's own"])
async def test_the_deadline_bounds_an_injected_http_client_too(
    serve_over: Callable[..., Server], transport: str
) -> None:
    """Over FastTransport the pool bounds the exchange (the attempt_deadline
    extension); over any other transport the SDK's own cancel scope does."""
    server = serve_over(drip)
    chosen = FastTransport() if transport == "FastTransport" else httpx.AsyncHTTPTransport()
    async with (
        httpx.AsyncClient(transport=chosen) as http,
        server.client(
            http_client=http, timeout=httpx.Timeout(5.0, read=0.5), attempt_deadline=0.6
        ) as client,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutOutcomeUnknownError):
            await client.phlo(f"dripped-{transport[:4]}").run()
        elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 3.0
    assert server.count("POST", f"dripped-{transport[:4]}") == 1


async def test_fast_transport_honours_the_attempt_deadline_extension(
    serve_over: Callable[..., Server],
) -> None:
    server = serve_over(drip)
    async with httpx.AsyncClient(transport=FastTransport()) as http:
        request = http.build_request(
            "POST",
            f"{server.base_url}/phlo/ext",
            content=b"{}",
            timeout=httpx.Timeout(5.0, read=0.5),
            extensions={ATTEMPT_DEADLINE: 0.6},
        )
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            await http.send(request)
        assert time.monotonic() - started < 3.0
    assert server.count("POST", "ext") == 1
