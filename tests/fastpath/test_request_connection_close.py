"""A request saying ``Connection: close`` through FastTransport (RFC 9112 9.6):
its connection is closed after the answer, never handed to the next request
while the server closes it. Over plain HTTP and over TLS (``serve_over``).

(The SDK's own requests cannot say it: ``Connection`` is refused in
``default_headers`` and ``extra_headers``, see ``tests/test_escape_hatches.py``.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from _servers import Conn, Request, Server, own_answer

from plivo_phlo_async import FastTransport


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=FastTransport(max_connections=4)) as client:
        yield client


async def closes_when_asked(request: Request, conn: Conn) -> None:
    """Answers without saying ``Connection: close`` itself, then closes if the request did."""
    await conn.send(own_answer(request))
    if request.headers.get("connection", "").lower() == "close":
        conn.close()


async def test_back_to_back_posts_saying_connection_close_all_succeed_once(
    serve_over: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    server = serve_over(closes_when_asked)
    tags = [f"close-{n}" for n in range(100)]
    for tag in tags:
        answer = await http.post(
            f"{server.base_url}/phlo/{tag}", content=b"{}", headers={"Connection": "close"}
        )
        assert answer.status_code == 201
        assert answer.json()["phlo_id"] == tag
    assert [request.tag for request in server.received] == tags  # each POST exactly once
    assert {request.headers["connection"] for request in server.received} == {"close"}
    assert [request.connection for request in server.received] == list(range(1, 101))


async def test_a_connection_whose_request_said_close_is_not_reused(
    serve_over: Callable[..., Server], http: httpx.AsyncClient
) -> None:
    server = serve_over()  # keeps every connection open: only the client can end it
    await http.post(f"{server.base_url}/phlo/first", content=b"{}", headers={"Connection": "close"})
    await http.post(f"{server.base_url}/phlo/second", content=b"{}")
    await http.post(f"{server.base_url}/phlo/third", content=b"{}")
    assert [(r.tag, r.connection) for r in server.received] == [
        ("first", 1),
        ("second", 2),
        ("third", 2),  # a request that did not say close keeps its connection
    ]
