"""The auth token never shows (reprs, errors, logs), and the SDK logs one line per attempt."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from _servers import Conn, Request, Server

from plivo_phlo_async import PhloClient, PlivoError

PHLO_ID = "4c1a9f23-7f56-4879-bb80-db856e1e7701"
NODE_ID = "b4b48fc2-f47a-4a93-97c3-749ed9a40fa8"
MEMBER = "sip:bob@example.com"
GET_URL = f"https://phlorunner.plivo.com/v1/phlo/{PHLO_ID}"
LOGGER = "plivo_phlo_async"


@pytest.fixture
def secrets(auth_id: str, auth_token: str) -> list[str]:
    """The token, and the Basic credentials that embed it."""
    basic = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode()
    return [auth_token, basic]


def assert_hidden(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text


def describe(error: BaseException) -> str:
    """Everything a user might print about an error, its cause included."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for name in ("request", "response"):
        value = getattr(error, name, None)
        if value is not None:
            parts += [str(value), repr(value), repr(getattr(value, "headers", ""))]
    return "\n".join(parts)


# --------------------------------------------------------------------------- reprs


async def test_client_repr_and_str_hide_the_token(client: PhloClient, secrets: list[str]) -> None:
    for text in (str(client), repr(client)):
        assert_hidden(text, secrets)
    assert client.auth_id in repr(client)  # the id is not a secret and helps debugging


async def test_a_with_options_copy_hides_the_token(client: PhloClient, secrets: list[str]) -> None:
    copy = client.with_options(timeout=3.0, max_retries=0)

    assert_hidden(repr(copy) + str(copy), secrets)


async def test_handles_hide_the_token(client: PhloClient, secrets: list[str]) -> None:
    phlo = client.phlo(PHLO_ID)
    node = phlo.multi_party_call(NODE_ID)
    member = node.member(MEMBER)

    for thing in (phlo, node, member, client.phlo, client.calls):
        assert_hidden(repr(thing) + str(thing), secrets)
    assert repr(member) == f"Member(member_address={MEMBER!r})"


async def test_the_header_set_hides_the_token(client: PhloClient, secrets: list[str]) -> None:
    headers = client._requester.post_headers

    assert_hidden(repr(headers) + str(headers), secrets)
    assert "[redacted]" in repr(headers)


# --------------------------------------------------------------------------- errors

FAILURES: list[Any] = [
    pytest.param("GET", lambda: httpx.Response(401, json={"error": "bad login"}), id="get-401"),
    pytest.param("GET", lambda: httpx.Response(404, text="not found"), id="get-404"),
    pytest.param("GET", lambda: httpx.Response(429, json={"api_id": "a"}), id="get-429"),
    pytest.param("GET", lambda: httpx.Response(503, text="<html>busy</html>"), id="get-503"),
    pytest.param("GET", lambda: httpx.Response(200, text="<html>"), id="get-unreadable-2xx"),
    pytest.param("GET", lambda: httpx.ConnectError("refused"), id="get-connect-error"),
    pytest.param("GET", lambda: httpx.ReadTimeout("timed out"), id="get-read-timeout"),
    pytest.param("POST", lambda: httpx.Response(500, json={"error": "boom"}), id="post-500"),
    pytest.param("POST", lambda: httpx.Response(408), id="post-408"),
    pytest.param("POST", lambda: httpx.ReadTimeout("timed out"), id="post-read-timeout"),
    pytest.param("POST", lambda: httpx.RemoteProtocolError("closed"), id="post-connection-lost"),
]


def sender(method: str) -> Callable[[PhloClient], Awaitable[Any]]:
    if method == "GET":
        return lambda c: c.phlo(PHLO_ID).get()
    return lambda c: c.phlo(PHLO_ID).multi_party_call(NODE_ID).member(MEMBER).hangup()


@pytest.mark.parametrize(("method", "make_effect"), FAILURES)
async def test_errors_hide_the_token(
    make_client: Callable[..., PhloClient],
    respx_mock: respx.MockRouter,
    secrets: list[str],
    method: str,
    make_effect: Callable[[], Any],
) -> None:
    client = make_client(max_retries=0)
    effect = make_effect()
    if isinstance(effect, httpx.Response):
        respx_mock.route().mock(return_value=effect)
    else:
        respx_mock.route().mock(side_effect=effect)

    with pytest.raises(PlivoError) as info:
        await sender(method)(client)

    assert_hidden(describe(info.value), secrets)


# --------------------------------------------------------------------------- logs


@pytest.mark.parametrize(("method", "make_effect"), FAILURES)
async def test_debug_logs_of_failing_requests_hide_the_token(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    sleeps: list[float],
    secrets: list[str],
    method: str,
    make_effect: Callable[[], Any],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the SDK's, httpx's, httpcore's
    effect = make_effect()
    if isinstance(effect, httpx.Response):
        respx_mock.route().mock(return_value=effect)
    else:
        respx_mock.route().mock(side_effect=effect)

    with pytest.raises(PlivoError):
        await sender(method)(client)

    assert [r for r in caplog.records if r.name == LOGGER]
    assert_hidden(caplog.text, secrets)


async def test_debug_logs_of_successful_requests_hide_the_token(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    secrets: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    respx_mock.route().respond(201, json={"api_id": "a", "phlo_id": PHLO_ID, "error": ""})

    await client.phlo(PHLO_ID).get()
    await client.phlo(PHLO_ID).run(secret_looking="value")
    await client.phlo(PHLO_ID).multi_party_call(NODE_ID).call("+14155550111", "+14155550100")
    await client.calls.create("+14155550111", "+14155550100", "https://example.com/a")

    assert len([r for r in caplog.records if r.name == LOGGER]) == 4
    assert_hidden(caplog.text, secrets)


async def test_one_debug_line_per_attempt(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    sleeps: list[float],
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    respx_mock.route().mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"phlo_id": PHLO_ID}),
        ]
    )

    await client.phlo(PHLO_ID).get()

    lines = [r for r in caplog.records if r.name == LOGGER]
    assert [r.levelno for r in lines] == [logging.DEBUG] * 3
    messages = [r.getMessage() for r in lines]
    assert messages[0].startswith(f"GET {GET_URL} attempt 1/3: 503 in ")
    assert messages[0].endswith(f"; retrying in {sleeps[0]:.2f} s")
    assert messages[1].startswith(f"GET {GET_URL} attempt 2/3: ConnectError('refused') in ")
    assert messages[1].endswith(f"; retrying in {sleeps[1]:.2f} s")
    assert messages[2].startswith(f"GET {GET_URL} attempt 3/3: 200 in ")
    assert "retrying" not in messages[2]


async def test_a_post_that_is_not_retried_logs_one_line(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    respx_mock.route().respond(500)

    with pytest.raises(PlivoError):
        await client.phlo(PHLO_ID).run()

    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1
    assert " attempt 1/3: 500 in " in lines[0]


async def test_nothing_is_logged_unless_debug_is_enabled(
    client: PhloClient,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    sleeps: list[float],
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    respx_mock.route().mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"phlo_id": PHLO_ID})]
    )

    await client.phlo(PHLO_ID).get()

    assert [r for r in caplog.records if r.name == LOGGER] == []


# --------------------------------------------------------------------------- a real socket

LOOPBACK_ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    b'{"phlo_id":"p1"}',
    b'HTTP/1.1 401 Unauthorized\r\nContent-Length: 21\r\n\r\n{"error":"bad login"}',
]


@pytest.fixture
def loopback_base(serve: Callable[..., Server]) -> str:
    """A server on 127.0.0.1 giving the answers above in turn, each closing its connection."""
    answers = iter(LOOPBACK_ANSWERS)

    async def in_turn(request: Request, conn: Conn) -> None:
        await conn.send(next(answers).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
        conn.close()

    return serve(in_turn).base_url


async def test_debug_logs_over_a_real_socket_hide_the_token(
    make_client: Callable[..., PhloClient],
    loopback_base: str,
    caplog: pytest.LogCaptureFixture,
    secrets: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(base_url=loopback_base, max_retries=0)

    await client.phlo("p1").get()
    with pytest.raises(PlivoError) as info:
        await client.phlo("p1").get()

    assert len([r for r in caplog.records if r.name == LOGGER]) == 2
    assert_hidden(caplog.text, secrets)
    assert_hidden(describe(info.value), secrets)
