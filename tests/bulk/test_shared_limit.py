"""Bulk runners sharing one account's limit through Redis (and with single requests).

Against the real Redis and the in-process emulator, which records every
request it receives and answers 429 beyond its own limit.
"""

from __future__ import annotations

import anyio
import pytest
from _redis_keys import max_in_window, redis_prefix

from plivo_phlo_async import RateLimit, RateLimiterUnavailableError
from plivo_phlo_async._ratelimit._redis import RedisLimiter
from plivo_phlo_async.bulk import OutcomeStatus, RunJob, run_chunk

emulator_pkg = pytest.importorskip("plivo_phlo_async.emulator")
DEFAULT_AUTH_ID = emulator_pkg.DEFAULT_AUTH_ID
DEFAULT_PHLO_ID = emulator_pkg.DEFAULT_PHLO_ID
PhloEmulator = emulator_pkg.PhloEmulator

__all__ = ["redis_prefix"]

DOWN = "redis://127.0.0.1:1/0"


def jobs(first: int, count: int) -> list[RunJob]:
    return [
        RunJob(DEFAULT_PHLO_ID, {"to": f"+1415555{n:04d}", "job": n}, ref=n)
        for n in range(first, first + count)
    ]


async def test_two_runners_on_one_key_never_exceed_the_limit(
    redis_url: str, redis_prefix: str
) -> None:
    emulator = PhloEmulator({"rate_limit": {"requests": 20, "window": 1.0}})
    limit = RateLimit(20, per=1.0, redis=redis_url, key_prefix=redis_prefix)
    reports = []

    async def runner(first: int) -> None:
        async with emulator.client() as client:
            reports.append(await run_chunk(client, jobs(first, 30), journal=None, rate_limit=limit))

    async with anyio.create_task_group() as tg:
        tg.start_soon(runner, 0)
        tg.start_soon(runner, 100)
    assert [report.succeeded for report in reports] == [30, 30]
    received = emulator.requests
    assert len(received) == 60
    assert emulator.rate_limited() == 0
    assert max_in_window([r.received_at for r in received], 1.0) <= 20


async def test_single_requests_find_room_while_bulk_saturates_its_share(
    redis_url: str, redis_prefix: str
) -> None:
    emulator = PhloEmulator()
    limit = RateLimit(
        10, per=60.0, redis=redis_url, key_prefix=redis_prefix, bulk_share=0.5, burst=10
    )
    bulk_saturated = anyio.Event()

    def watch(_: object) -> None:
        if runner.report.succeeded == 5:  # bulk took its half of the window
            bulk_saturated.set()

    async with emulator.client(rate_limit=limit) as client:
        runner = client.bulk(jobs(0, 20), on_outcome=watch)  # the client's limit, as bulk
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            await bulk_saturated.wait()
            with anyio.fail_after(30):  # far less than the 60 s window bulk waits for
                for n in range(5):
                    await client.phlo(DEFAULT_PHLO_ID).run(to=f"+1415666{n:04d}")
            runner.stop()
    assert len(emulator.requests) == 10
    assert runner.report.succeeded == 5
    assert runner.report.skipped == 15
    assert emulator.rate_limited() == 0


async def test_client_bulk_shares_the_clients_limiter(redis_url: str, redis_prefix: str) -> None:
    emulator = PhloEmulator()
    limit = RateLimit(10, per=60.0, redis=redis_url, key_prefix=redis_prefix, burst=10)
    async with emulator.client(rate_limit=limit) as client:
        runner = client.bulk(jobs(0, 3))
        assert runner.rate_limit == limit
        report = await runner.run()
        assert runner._limiter is client.limiter
        assert client.limiter is not None
    assert report.succeeded == 3


async def test_a_429_in_a_run_pauses_every_process_on_the_key(
    redis_url: str, redis_prefix: str
) -> None:
    emulator = PhloEmulator()
    emulator.inject("rate_limit", retry_after=30)
    limit = RateLimit(20, per=1.0, redis=redis_url, key_prefix=redis_prefix)
    async with emulator.client() as client:
        report = await run_chunk(client, jobs(0, 1), journal=None, rate_limit=limit, max_retries=0)
    assert report.failed == 1
    other = RedisLimiter(limit, DEFAULT_AUTH_ID)
    try:
        assert await other.try_once(bulk=True) > 25.0
    finally:
        await other.aclose()


async def test_redis_down_stops_the_run_and_sends_nothing() -> None:
    emulator = PhloEmulator()
    async with emulator.client() as client:
        report = await run_chunk(
            client, jobs(0, 10), journal=None, rate_limit=RateLimit(20, per=1.0, redis=DOWN)
        )
    assert emulator.requests == []
    assert isinstance(report.stopped_by, RateLimiterUnavailableError)
    assert report.total == report.skipped == 10
    assert report.requests_sent == 0
    assert "nothing was sent" in (report.stop_reason or "")


async def test_outcomes_of_a_run_stopped_by_redis_name_it() -> None:
    emulator = PhloEmulator()
    outcomes = []
    async with emulator.client() as client:
        await run_chunk(
            client,
            jobs(0, 3),
            journal=None,
            rate_limit=RateLimit(20, per=1.0, redis=DOWN),
            on_outcome=outcomes.append,
        )
    assert {o.status for o in outcomes} == {OutcomeStatus.SKIPPED}
    assert all("Redis" in (o.reason or "") for o in outcomes)
