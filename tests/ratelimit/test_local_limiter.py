"""The sliding-window rate limiter and the shared pause, on a fake clock."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from _redis_keys import max_in_window

from plivo_phlo_async import DEFAULT_RATE_LIMIT, ConfigurationError, RateLimit
from plivo_phlo_async._ratelimit import LocalLimiter

from .conftest import FakeClock


async def _take(limiter: LocalLimiter, count: int, workers: int) -> list[float]:
    starts: list[float] = []

    async def worker(share: int) -> None:
        for _ in range(share):
            starts.append(await limiter.acquire())

    async with anyio.create_task_group() as tg:
        for i in range(workers):
            tg.start_soon(worker, count // workers + (1 if i < count % workers else 0))
    assert len(starts) == count
    return starts


async def test_never_more_than_n_starts_in_any_window() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(10, per=1.0), clock=clock, sleep=clock.sleep)
    starts = await _take(limiter, 95, workers=7)
    assert max_in_window(starts, 1.0) == 10
    ordered = sorted(starts)
    # The i-th and (i + N)-th starts are at least one window apart.
    assert all(b - a >= 1.0 for a, b in zip(ordered, ordered[10:], strict=False))


async def test_no_initial_burst_beyond_n() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(5, per=2.0), clock=clock, sleep=clock.sleep)
    starts = await _take(limiter, 6, workers=6)
    assert sorted(starts)[:5] == [0.0] * 5  # the first N go at once...
    assert sorted(starts)[5] >= 2.0  # ...and the next waits for the window


async def test_no_limit_never_waits() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(None, clock=clock, sleep=clock.sleep)
    starts = await _take(limiter, 1000, workers=10)
    assert set(starts) == {0.0}
    assert clock.sleeps == []


async def test_pause_holds_every_start_until_it_ends() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(None, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    await limiter.pause(3.0)
    assert limiter.paused_until == 3.0
    starts = await _take(limiter, 5, workers=5)
    assert min(starts) >= 3.0


async def test_pause_is_never_shortened() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(2, per=1.0), clock=clock, sleep=clock.sleep)
    await limiter.pause(5.0)
    await limiter.pause(1.0)
    assert limiter.paused_until == 5.0
    assert await limiter.acquire() >= 5.0


async def test_pause_and_window_combine() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(2, per=10.0), clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    await limiter.acquire()
    await limiter.pause(1.0)  # shorter than the window: the window decides
    assert await limiter.acquire() >= 10.0


async def test_cancelled_waiter_takes_no_slot() -> None:
    limiter = LocalLimiter(RateLimit(1, per=60.0))  # real clock: the waiter really waits
    await limiter.acquire()
    with anyio.move_on_after(0.05):
        await limiter.acquire()
    assert len(limiter._starts) == 1


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(1, per=1.0), clock=clock, sleep=clock.sleep)
    order: list[int] = []

    async def worker(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(worker, i)
            await anyio.lowlevel.checkpoint()
    assert order == list(range(6))


def test_default_is_plivos_account_limit() -> None:
    assert RateLimit(300, per=5.0) == DEFAULT_RATE_LIMIT
    assert DEFAULT_RATE_LIMIT.rate == 60.0
    assert str(DEFAULT_RATE_LIMIT) == "300 requests per 5 s"


@pytest.mark.parametrize(
    ("requests", "per"),
    [(0, 1.0), (-1, 1.0), (1.5, 1.0), (True, 1.0), (10, 0), (10, -1.0), (10, float("inf"))],
)
def test_rate_limit_rejects_nonsense(requests: object, per: object) -> None:
    with pytest.raises(ConfigurationError):
        RateLimit(requests, per=per)  # type: ignore[arg-type]


async def test_bulk_share_keeps_the_rest_of_the_window_for_single_requests() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(10, per=1.0, bulk_share=0.6), clock=clock, sleep=clock.sleep)
    bulk = [await limiter.acquire(bulk=True) for _ in range(6)]
    assert limiter.try_acquire(bulk=True) is None  # bulk has its 6 of 10
    single = [limiter.try_acquire() for _ in range(4)]
    assert bulk == [0.0] * 6
    assert single == [0.0] * 4  # the other 4 at once, no waiting
    assert limiter.try_acquire() is None  # the window is full for everyone
    assert await limiter.acquire(bulk=True) >= 1.0


async def test_past_the_burst_starts_are_spaced_at_the_average_pace() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(RateLimit(10, per=1.0, burst=2), clock=clock, sleep=clock.sleep)
    starts = await _take(limiter, 30, workers=5)
    ordered = sorted(starts)
    assert ordered[:2] == [0.0, 0.0]
    assert max_in_window(starts, 1.0) == 10
    # Never more than 2 starts within two paces of 0.1 s (1.02 s / 10, guard included).
    assert all(b - a >= 0.2 for a, b in zip(ordered, ordered[2:], strict=False))
