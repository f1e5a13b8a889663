"""Fixtures shared by the core SDK's tests (tests/emulator and tests/bulk have their own).

Nothing here is autouse: the emulator's and the bulk runner's tests see none of it
unless they ask for it by name.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio.lowlevel
import httpx
import pytest
from _servers import Canned, Server
from _services import POSTGRES_URL, REDIS_URL, require

from plivo_phlo_async import PhloClient, _base_client

#: Credentials of the test account. The token is distinctive so that a leak is
#: found by a plain substring search.
TEST_AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
TEST_AUTH_TOKEN = "tok-Zq9-never-print-me-7Hk2"


@pytest.fixture
def auth_id() -> str:
    return TEST_AUTH_ID


@pytest.fixture
def auth_token() -> str:
    return TEST_AUTH_TOKEN


@pytest.fixture
def no_plivo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test runs as if PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN were not set."""
    monkeypatch.delenv("PLIVO_AUTH_ID", raising=False)
    monkeypatch.delenv("PLIVO_AUTH_TOKEN", raising=False)


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., PhloClient]]:
    """Build clients with the test credentials; every one is closed afterwards."""
    made: list[PhloClient] = []

    def make(**options: Any) -> PhloClient:
        options.setdefault("auth_id", TEST_AUTH_ID)
        options.setdefault("auth_token", TEST_AUTH_TOKEN)
        client = PhloClient(**options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start scripted servers (``Server(...)`` arguments, see tests/_servers.py);
    all are stopped afterwards."""
    servers: list[Server] = []

    def start(*args: Any, **kwargs: Any) -> Server:
        servers.append(Server(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def loopback(serve: Callable[..., Server]) -> Server:
    """A server that gives every request the same answer, ``canned``, and
    records every request whole (headers in order: ``request.header(name)``)."""
    return serve(Canned())


@pytest.fixture
def canned(loopback: Server) -> Canned:
    """The answer ``loopback`` gives; a test may change it."""
    assert isinstance(loopback.behaviour, Canned)
    return loopback.behaviour


@pytest.fixture(params=["fast", "httpx"])
def send_path(request: pytest.FixtureRequest) -> str:
    """Which path a test's client sends by: the SDK's own pool, or httpx."""
    return str(request.param)


@pytest.fixture
async def on_path(
    send_path: str, loopback: Server, make_client: Callable[..., PhloClient]
) -> AsyncIterator[Callable[..., PhloClient]]:
    """``on_path(**options)``: a client on the loopback server, sending by ``send_path``."""
    async with httpx.AsyncClient() as http:

        def make(**options: Any) -> PhloClient:
            options.setdefault("base_url", loopback.base_url)
            options.setdefault("voice_base_url", loopback.base_url)
            if send_path == "httpx":
                options["http_client"] = http
            return make_client(**options)

        yield make


@pytest.fixture
async def client(make_client: Callable[..., PhloClient]) -> PhloClient:
    """A client with the default (Plivo) base URLs and retry policy."""
    return make_client()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits, recorded instead of slept (works under asyncio and trio)."""
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_base_client, "_sleep", record)
    return waits


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis (``PLIVO_PHLO_TEST_REDIS_URL``); tests use their own key prefix."""
    return require("Redis", REDIS_URL)


@pytest.fixture
def postgres_url() -> str:
    """A reachable PostgreSQL (``PLIVO_PHLO_TEST_POSTGRES_URL``); tests use their own tables
    or schema."""
    return require("PostgreSQL", POSTGRES_URL)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound by nobody listening: every connect to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The bulk runner's waits (backoffs, the circuit breaker's cool-downs),
    recorded instead of slept."""
    from plivo_phlo_async.bulk import _runner

    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_runner, "_sleep", record)
    return waits
