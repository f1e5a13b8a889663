"""The fast path's adversarial suite: every asyncio test runs under asyncio's
own loop and under uvloop, against misbehaving servers (``serve``: see tests/_servers.py).

The loops come from pytest-asyncio's ``pytest_asyncio_loop_factories`` hook
(pytest-asyncio >= 1.3; overriding ``event_loop_policy`` is deprecated). A
hook in this conftest applies to the tests under this directory only, so
moving a test module here is all it takes to run it under both loops.

Tests that take ``serve_over`` instead of ``serve`` run over plain HTTP and
over HTTPS (the ``scheme`` parameter): the TLS server signs with a trustme CA
that the client trusts through ``SSL_CERT_FILE``, as a corporate CA would be.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from _servers import Server, Tally
from _waiting import wait_until

from plivo_phlo_async import PhloClient, PlivoError

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the dev extra (not on Windows)
    uvloop = None

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factories() -> dict[str, LoopFactory]:
    """The loops every asyncio test of this directory runs under."""
    factories: dict[str, LoopFactory] = {"asyncio": asyncio.new_event_loop}
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, LoopFactory]:
    return loop_factories()


@pytest.fixture(autouse=True)
def retry_waits(sleeps: list[float]) -> list[float]:
    """Retry waits are recorded (tests/conftest.py's ``sleeps``), never slept."""
    return sleeps


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trust(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test CA the one the client trusts."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def tls_context(ca: trustme.CA, *hostnames: str) -> ssl.SSLContext:
    """A server context with a certificate from ``ca`` for ``hostnames``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*hostnames).configure_cert(context)
    return context


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve_over(
    serve: Callable[..., Server], scheme: str, request: pytest.FixtureRequest
) -> Callable[..., Server]:
    """``serve``, over the test's ``scheme``: over https with a trusted certificate."""
    if scheme == "http":
        return serve
    request.getfixturevalue("trust")
    return functools.partial(serve, tls=tls_context(request.getfixturevalue("ca"), "127.0.0.1"))


@pytest.fixture
async def clients() -> AsyncIterator[list[PhloClient]]:
    """Append a client here to have it closed at the end of the test."""
    made: list[PhloClient] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture
def connect(clients: list[PhloClient]) -> Callable[..., PhloClient]:
    """``connect(server, **options)``: a client for ``server``, closed afterwards."""

    def make(server: Server, **options: Any) -> PhloClient:
        client = server.client(**options)
        clients.append(client)
        return client

    return make


async def settle(server: Server | Tally, *, open_at_most: int) -> None:
    """Wait until the server has seen every close but ``open_at_most``.

    The client's loop is free meanwhile, and the server's thread may lag on a
    loaded machine; a socket the client leaked never closes, so a leak still
    fails here, after the deadline.
    """
    await wait_until(
        lambda: server.open <= open_at_most,
        what=f"at most {open_at_most} connection(s) open, as the server sees them",
    )


def block_loop(seconds: float) -> None:
    """Hold the client's loop, as a CPU-bound handler in a busy service does."""
    time.sleep(seconds)


async def outcome(awaitable: Awaitable[T]) -> T | PlivoError:
    """The result, or the SDK error raised instead (anything else propagates)."""
    try:
        return await awaitable
    except PlivoError as error:
        return error
