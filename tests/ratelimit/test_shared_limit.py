"""One rate limit per account, shared through Redis by every client and process.

Against the real Redis (the ``redis_url`` fixture) and the emulator, which
records every request it receives and answers 429 beyond its own limit: a
limiter that overran the shared limit would be caught by both counts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import anyio
import pytest
import redis.asyncio
from _redis_keys import max_in_window, redis_prefix

from plivo_phlo_async import (
    ConfigurationError,
    PhloClient,
    RateLimit,
    RateLimitError,
    RateLimiterUnavailableError,
)
from plivo_phlo_async._ratelimit._redis import RedisLimiter, limit_key
from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_PHLO_ID, PhloEmulator

__all__ = ["redis_prefix"]

#: Nothing listens on port 1: connecting is refused at once.
DOWN = "redis://127.0.0.1:1/0"


def emulator_with_limit(requests: int, window: float) -> PhloEmulator:
    return PhloEmulator({"rate_limit": {"requests": requests, "window": window}})


async def run_many(client: PhloClient, count: int) -> None:
    async with anyio.create_task_group() as tg:
        for n in range(count):
            tg.start_soon(_run, client, n)


async def _run(client: PhloClient, n: int) -> None:
    await client.phlo(DEFAULT_PHLO_ID).run(to=f"+1415555{n:04d}")


def test_importing_the_sdk_does_not_import_redis() -> None:
    code = "import sys, plivo_phlo_async; print('redis' in sys.modules)"
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_shared_limit_without_redis_py_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        from plivo_phlo_async import ConfigurationError, RateLimit
        RateLimit(300, per=5.0)  # an in-process limit needs nothing
        try:
            RateLimit(300, per=5.0, redis="redis://127.0.0.1:6379/0")
        except ConfigurationError as exc:
            print(exc)
        """
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install "plivo-phlo-async[redis]"' in out


@pytest.mark.parametrize(
    "options",
    [
        {"redis": "http://127.0.0.1:6379"},
        {"redis": 6379},
        {"bulk_share": 0},
        {"bulk_share": 1.5},
        {"bulk_share": True},
        {"requests": 1, "bulk_share": 0.5},  # leaves bulk runners nothing
        {"key_prefix": 7},
        {"burst": 0},
        {"burst": 11},
        {"burst": 2.5},
    ],
)
def test_rate_limit_rejects_nonsense_sharing(options: dict[str, object]) -> None:
    options = {"requests": 10, **options}
    with pytest.raises(ConfigurationError):
        RateLimit(**options)  # type: ignore[arg-type]


def test_a_shared_limit_starts_a_tenth_of_its_window_at_once_by_default() -> None:
    assert RateLimit(300, per=5.0).burst_requests == 300
    assert RateLimit(300, per=5.0, redis="redis://127.0.0.1:6379/0").burst_requests == 30
    assert RateLimit(5, per=5.0, redis="redis://127.0.0.1:6379/0").burst_requests == 1
    assert RateLimit(300, per=5.0, redis="redis://127.0.0.1:6379/0", burst=300).burst_requests == (
        300
    )


async def test_past_the_burst_shared_starts_are_paced(redis_url: str, redis_prefix: str) -> None:
    limit = RateLimit(20, per=60.0, redis=redis_url, key_prefix=redis_prefix)  # burst 2
    one = RedisLimiter(limit, DEFAULT_AUTH_ID)
    other = RedisLimiter(limit, DEFAULT_AUTH_ID)  # another process: the same pace
    try:
        assert await one.try_once() == 0.0
        assert await other.try_once() == 0.0
        wait = await one.try_once()  # the window has room, but 2 just started
        assert 5.0 < wait <= 2 * 61.2 / 20  # two paces (3 s each, guard included)
        assert await other.try_once() > 5.0
    finally:
        await one.aclose()
        await other.aclose()


def test_a_shared_limit_never_shows_the_redis_password() -> None:
    limit = RateLimit(300, per=5.0, redis="redis://user:hunter2@cache:6379/0", bulk_share=0.8)
    assert "hunter2" not in str(limit) + repr(limit)
    assert str(limit) == (
        "300 requests per 5 s (240 for bulk), shared through redis://***@cache:6379/0"
    )


async def test_two_clients_on_one_key_never_exceed_the_limit(
    redis_url: str, redis_prefix: str
) -> None:
    emulator = emulator_with_limit(20, 1.0)
    limit = RateLimit(20, per=1.0, redis=redis_url, key_prefix=redis_prefix)
    # Two clients, two limiters, one key: as two processes would have.
    async with (
        emulator.client(rate_limit=limit) as first,
        emulator.client(rate_limit=limit) as second,
    ):
        assert first.limiter is not second.limiter
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_many, first, 30)
            tg.start_soon(run_many, second, 30)
    received = emulator.requests
    assert len(received) == 60
    assert emulator.rate_limited() == 0
    assert max_in_window([r.received_at for r in received], 1.0) <= 20


async def test_a_429_pauses_every_client_sharing_the_key(redis_url: str, redis_prefix: str) -> None:
    emulator = emulator_with_limit(300, 5.0)
    limit = RateLimit(20, per=1.0, redis=redis_url, key_prefix=redis_prefix)
    emulator.inject("rate_limit", retry_after=30)
    async with (
        emulator.client(rate_limit=limit, max_retries=0) as first,
        emulator.client(rate_limit=limit) as second,
    ):
        with pytest.raises(RateLimitError):
            await _run(first, 1)
        with anyio.move_on_after(1.0) as waited:
            await _run(second, 2)
    assert waited.cancelled_caught  # held by the pause the other client set
    assert len(emulator.requests) == 1
    other = RedisLimiter(limit, DEFAULT_AUTH_ID)  # a third process: paused too
    try:
        assert await other.try_once() > 25.0
    finally:
        await other.aclose()


async def test_a_restarted_limiter_does_not_burst(redis_url: str, redis_prefix: str) -> None:
    limit = RateLimit(5, per=60.0, redis=redis_url, key_prefix=redis_prefix, burst=5)
    crashed = RedisLimiter(limit, DEFAULT_AUTH_ID)
    for _ in range(5):
        await crashed.acquire()
    await crashed.aclose()
    restarted = RedisLimiter(limit, DEFAULT_AUTH_ID)
    try:
        assert await restarted.try_once() > 50.0  # the window is still full
    finally:
        await restarted.aclose()


async def test_bulk_share_leaves_the_rest_of_the_window_to_single_requests(
    redis_url: str, redis_prefix: str
) -> None:
    limit = RateLimit(
        10, per=60.0, redis=redis_url, key_prefix=redis_prefix, bulk_share=0.8, burst=10
    )
    limiter = RedisLimiter(limit, DEFAULT_AUTH_ID)
    try:
        assert [await limiter.try_once(bulk=True) for _ in range(8)] == [0.0] * 8
        assert await limiter.try_once(bulk=True) > 50.0  # bulk has its 80%
        assert [await limiter.try_once() for _ in range(2)] == [0.0, 0.0]
        assert await limiter.try_once() > 50.0  # and the account its 100%
    finally:
        await limiter.aclose()


async def test_the_limit_is_keyed_by_auth_id_and_prefix(redis_url: str, redis_prefix: str) -> None:
    limit = RateLimit(1, per=60.0, redis=redis_url, key_prefix=redis_prefix)
    one = RedisLimiter(limit, "MAONEXXXXXXXXXXXXXXX")
    other = RedisLimiter(limit, "MAOTHERXXXXXXXXXXXXX")
    try:
        assert await one.try_once() == 0.0
        assert await other.try_once() == 0.0  # another account: its own limit
        assert await one.try_once() > 0.0
    finally:
        await one.aclose()
        await other.aclose()
    assert limit_key(limit, "MAONEXXXXXXXXXXXXXXX") == (
        f"{redis_prefix}plivo-phlo:rate-limit:{{MAONEXXXXXXXXXXXXXXX}}"
    )
    connection = redis.asyncio.Redis.from_url(redis_url)
    async with connection:
        keys = {key.decode() async for key in connection.scan_iter(match=f"{redis_prefix}*")}
    assert keys == {
        f"{redis_prefix}plivo-phlo:rate-limit:{{MAONEXXXXXXXXXXXXXXX}}:starts",
        f"{redis_prefix}plivo-phlo:rate-limit:{{MAOTHERXXXXXXXXXXXXX}}:starts",
    }


async def test_redis_down_is_a_typed_error_and_nothing_is_sent() -> None:
    emulator = emulator_with_limit(300, 5.0)
    async with emulator.client(rate_limit=RateLimit(20, per=1.0, redis=DOWN)) as client:
        with pytest.raises(
            RateLimiterUnavailableError, match=r"127\.0\.0\.1:1/0.*nothing was sent"
        ):
            await _run(client, 1)
    assert emulator.requests == []


async def test_a_redis_client_passed_in_is_used_and_left_open(
    redis_url: str, redis_prefix: str
) -> None:
    emulator = emulator_with_limit(300, 5.0)
    connection = redis.asyncio.Redis.from_url(redis_url)
    async with connection:
        limit = RateLimit(1, per=60.0, redis=connection, key_prefix=redis_prefix)
        async with emulator.client(rate_limit=limit) as client:
            await _run(client, 1)
        assert await connection.zcard(f"{limit_key(limit, DEFAULT_AUTH_ID)}:starts") == 1
    assert len(emulator.requests) == 1


async def test_an_in_process_limit_holds_every_request_of_the_client() -> None:
    emulator = emulator_with_limit(300, 5.0)
    async with emulator.client(rate_limit=RateLimit(3, per=60.0)) as client:
        with anyio.move_on_after(1.0) as waited:
            await run_many(client, 4)
    assert waited.cancelled_caught
    assert len(emulator.requests) == 3


async def test_with_options_shares_the_limiter_unless_told_otherwise() -> None:
    emulator = emulator_with_limit(300, 5.0)
    async with emulator.client(rate_limit=RateLimit(3, per=60.0)) as client:
        copy = client.with_options(max_retries=0)
        unlimited = client.with_options(rate_limit=None)
        assert copy.limiter is client.limiter
        assert copy.rate_limit == RateLimit(3, per=60.0)
        assert unlimited.limiter is None
        await run_many(copy, 3)
        with anyio.move_on_after(1.0) as waited:
            await _run(client, 4)  # the copy used the client's three
        assert waited.cancelled_caught
        await run_many(unlimited, 5)
    assert len(emulator.requests) == 8


async def test_a_client_rejects_a_rate_limit_that_is_not_one() -> None:
    with pytest.raises(ConfigurationError, match="rate_limit must be a RateLimit"):
        PhloClient("MAXXXXXXXXXXXXXXXXXX", "token", rate_limit=300)  # type: ignore[arg-type]


async def test_a_retried_429_waits_the_shared_pause_then_sends_once_more(
    sleeps: list[float],
) -> None:
    emulator = emulator_with_limit(300, 5.0)
    emulator.inject("rate_limit", retry_after=1)
    async with emulator.client(rate_limit=RateLimit(300, per=5.0), max_retries=1) as client:
        await _run(client, 1)
    first, second = emulator.requests
    assert (first.status, second.status) == (429, 201)
    assert second.received_at - first.received_at >= 1.0  # the limiter's pause, not a sleep
    assert sleeps == []
