"""Fixtures: every SDK-level test runs twice, in-process and over a real socket."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from plivo_phlo_async import PhloClient, _base_client
from plivo_phlo_async.emulator import EmulatorServer, PhloEmulator, run_emulator

Connect = Callable[..., Awaitable[PhloClient]]


class FakeClock:
    """A monotonic clock the tests move by hand (the rate limit reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retry waits, recorded instead of slept."""
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(_base_client, "_sleep", record)
    return waits


@pytest.fixture(scope="module")
def live_server() -> Iterator[EmulatorServer]:
    """One socket server per module; each test resets its emulator."""
    with run_emulator() as server:
        yield server


@pytest.fixture(params=["asgi", "socket"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(mode: str, request: pytest.FixtureRequest) -> PhloEmulator:
    if mode == "socket":
        server: EmulatorServer = request.getfixturevalue("live_server")
        server.emulator.reset()
        return server.emulator
    return PhloEmulator()


@pytest.fixture
async def connect(mode: str, request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    """``await connect(emulator, **client_options)``: a client in this test's mode.

    Over the socket, the module's server is reused for its own emulator and a
    dedicated server is started for any other one.
    """
    async with contextlib.AsyncExitStack() as stack:

        async def factory(emulator: PhloEmulator, **options: Any) -> PhloClient:
            if mode == "asgi":
                return await stack.enter_async_context(emulator.client(**options))
            live: EmulatorServer = request.getfixturevalue("live_server")
            server = live
            if live.emulator is not emulator:
                server = await stack.enter_async_context(run_emulator(emulator=emulator))
            return await stack.enter_async_context(server.client(**options))

        yield factory


@pytest.fixture
async def client(connect: Connect, emulator: PhloEmulator) -> PhloClient:
    return await connect(emulator)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def raw(
    mode: str, emulator: PhloEmulator, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """A bare httpx client with the emulator's credentials (no SDK validation)."""
    import httpx

    auth = (emulator.auth_id, emulator.auth_token)
    if mode == "asgi":
        http = httpx.AsyncClient(
            transport=emulator.transport(), base_url="http://127.0.0.1", auth=auth
        )
    else:
        live: EmulatorServer = request.getfixturevalue("live_server")
        http = httpx.AsyncClient(base_url=live.url, auth=auth)
    async with http:
        yield http
