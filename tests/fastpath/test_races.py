"""Keep-alive races and early answers: whenever the server closes, a POST is
either answered, reported as outcome unknown, or never received; never twice.
The keep-alive race runs over plain HTTP and over TLS (``serve_over``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _servers import Conn, Request, Server, own_answer, response

from plivo_phlo_async import (
    APIConnectionError,
    BadRequestError,
    OutcomeUnknownError,
    PhloClient,
    PlivoError,
    RateLimitError,
)
from plivo_phlo_async.resources._resource import send_prepared
from plivo_phlo_async.resources.phlo import prepare_run

from .conftest import block_loop, outcome


def check_each_post(server: Server, results: dict[str, object]) -> None:
    """Answered: received once with its own answer. Failed without "outcome
    unknown": never received. Outcome unknown: received at most once."""
    for tag, result in results.items():
        received = server.count("POST", tag)
        assert received <= 1, f"{tag} received {received} times"
        if isinstance(result, OutcomeUnknownError):
            continue
        if isinstance(result, PlivoError):
            assert received == 0, f"{tag} was received, yet {result!r} says it was not"
        else:
            assert received == 1, tag
            assert result.run_id == f"run-{tag}", (tag, result)  # type: ignore[attr-defined]


async def test_a_server_closing_idle_connections_as_the_client_writes(
    serve_over: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    async def answer_then_close_after(request: Request, conn: Conn) -> None:
        await conn.send(own_answer(request))  # no Connection: close
        delay_ms = int(request.tag.rsplit("-", 1)[1]) % 12
        conn.later(delay_ms / 1000, None)

    server = serve_over(answer_then_close_after)
    client = connect(server, timeout=httpx.Timeout(5.0))
    results: dict[str, object] = {}
    for n in range(48):
        tag = f"race-{n}"
        results[tag] = await outcome(client.phlo(tag).run(n=n))
        if n % 2:
            block_loop((n % 12) / 1000)  # the close may be in the socket, unseen
        else:
            await asyncio.sleep((n % 12) / 1000)
    check_each_post(server, results)
    assert server.duplicates() == []


BLOB = "x" * (1024 * 1024)


def upload(client: PhloClient) -> Awaitable[Any]:
    """A run with a body over the validation cap (1 MiB): sent as prepared bytes, since
    what is tested here is the socket, not validation."""
    return send_prepared(
        client, prepare_run(client.phlo("upload"), json.dumps({"blob": BLOB}).encode())
    )


def early_answer(answer: bytes, *, half_close: bool) -> Callable[[Conn], object]:
    """Answers the first request after reading its head only, then closes: at
    once (the unread upload makes it a reset) or after discarding the rest.
    Later requests are read in full and answered."""

    async def handler(conn: Conn) -> None:
        while True:
            head = await conn.read_head()
            if head is None:
                return
            method, path, headers = head
            length = int(headers.get("content-length", "0"))
            if conn.server.connections == 1 and conn.served == 0:
                await conn.send(answer)
                if half_close:
                    conn.writer.write_eof()
                    await conn.until_eof()  # discarded, not processed: not counted
                else:
                    conn.close()
                return
            body = await conn.reader.readexactly(length)
            request = conn.record(Request(method, path, headers, body, conn.number))
            await conn.send(own_answer(request))

    return handler


async def test_a_429_before_the_upload_is_read_is_not_a_duplicate(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    for half_close in (False, True):
        server = serve(
            handler=early_answer(
                response(429, b'{"error":"slow down"}', [("Retry-After", "0")]),
                half_close=half_close,
            )
        )
        client = connect(server, max_retries=2)
        result = await outcome(upload(client))
        assert server.count("POST", "upload") <= 1  # received in full at most once
        if isinstance(result, PlivoError):
            assert isinstance(result, RateLimitError | OutcomeUnknownError | APIConnectionError)
        else:
            assert result.run_id == "run-upload"
            assert server.count("POST", "upload") == 1


async def test_a_400_before_the_upload_is_read_is_not_retried(
    serve: Callable[..., Server],
    connect: Callable[..., PhloClient],
) -> None:
    for half_close in (False, True):
        server = serve(
            handler=early_answer(
                response(400, b'{"error":"too big"}', reason="Bad Request"), half_close=half_close
            )
        )
        client = connect(server, max_retries=2)
        result = await outcome(upload(client))
        assert isinstance(result, BadRequestError | OutcomeUnknownError), repr(result)
        assert server.count("POST", "upload") == 0  # never received in full
