"""A campaign on a real taskiq-redis broker, run by a taskiq receiver in this
process, against the emulator: every job once, and status from the journal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from plivo_phlo_async import RateLimit
from plivo_phlo_async.emulator import DEFAULT_AUTH_TOKEN
from plivo_phlo_async.emulator._server import EmulatorServer
from plivo_phlo_async.integrations.campaign import chunk_message
from plivo_phlo_async.integrations.taskiq import (
    campaign_broker,
    register_chunk_task,
    resume_campaign,
    submit_campaign,
)

from .conftest import (
    CAMPAIGN,
    PHLO_ID,
    executions,
    make_jobs,
    pending,
    states,
    until,
    wait_for_outcomes,
)

Start = Callable[[], Awaitable[None]]


async def submit(
    redis_url: str,
    queue: str,
    jobs: Any,
    journal: str,
    limit: RateLimit,
    chunk_size: int = 20,
    campaign: str = CAMPAIGN,
) -> Any:
    broker = campaign_broker(redis_url, queue=queue)
    task = register_chunk_task(broker)
    await broker.startup()
    try:
        return await submit_campaign(
            task,
            jobs,
            campaign_id=campaign,
            phlo_id=PHLO_ID,
            journal=journal,
            rate_limit=limit,
            chunk_size=chunk_size,
        )
    finally:
        await broker.shutdown()


async def resume(redis_url: str, queue: str, journal: str, campaign: str = CAMPAIGN) -> Any:
    broker = campaign_broker(redis_url, queue=queue)
    task = register_chunk_task(broker)
    await broker.startup()
    try:
        return await resume_campaign(task, journal=journal, campaign_id=campaign)
    finally:
        await broker.shutdown()


async def test_every_job_of_a_campaign_runs_once_and_status_shows_them(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
    in_process_worker: Start,
) -> None:
    submitted = await submit(redis_url, queue, make_jobs(60), journal, shared_limit)
    assert (submitted.jobs, submitted.chunks) == (60, 3)
    await in_process_worker()

    counts = await wait_for_outcomes(journal, 60)

    assert counts == {"succeeded": 60}
    assert executions(server) == {n: 1 for n in range(60)}
    assert len(server.emulator.requests) == 60
    # Every chunk acknowledged: a chunk is acknowledged after run_chunk returns,
    # a moment after the journal holds its last outcome.
    await until(lambda: pending(redis_url, queue) == 0)


async def test_a_chunk_delivered_twice_sends_nothing_twice(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
    in_process_worker: Start,
) -> None:
    await submit(redis_url, queue, make_jobs(20), journal, shared_limit)
    broker = campaign_broker(redis_url, queue=queue)
    task = register_chunk_task(broker)
    await broker.startup()
    await task.kiq(chunk_message(journal, CAMPAIGN, 0))  # the same chunk again
    await broker.shutdown()
    await in_process_worker()

    await wait_for_outcomes(journal, 20)
    # Both deliveries done (acknowledged) before looking at what was sent.
    await until(lambda: not pending(redis_url, queue) and not _stream_unread(redis_url, queue))

    assert executions(server) == {n: 1 for n in range(20)}
    assert len(server.emulator.requests) == 20
    assert await states(journal) == {"succeeded": 20}


async def test_a_chunk_message_holds_neither_jobs_nor_credentials(
    redis_url: str,
    queue: str,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
) -> None:
    import redis

    await submit(redis_url, queue, make_jobs(3), journal, shared_limit)

    with redis.Redis.from_url(redis_url) as connection:
        messages = connection.xrange(queue)
    assert len(messages) == 1
    data = messages[0][1][b"data"]
    assert DEFAULT_AUTH_TOKEN.encode() not in data
    assert journal.encode() in data
    assert b"+1415555" not in data  # the jobs are in the manifest, not in the message


async def test_resubmitting_a_finished_campaign_sends_nothing(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
    in_process_worker: Start,
) -> None:
    await submit(redis_url, queue, make_jobs(40), journal, shared_limit)
    await in_process_worker()
    await wait_for_outcomes(journal, 40)

    # Resubmitted from the same input (new RunJob objects): same derived ids.
    again = await submit(redis_url, queue, make_jobs(40), journal, shared_limit)
    await until(lambda: not pending(redis_url, queue) and not _stream_unread(redis_url, queue))

    assert (again.jobs, again.chunks) == (40, 0)  # nothing left to queue
    assert len(server.emulator.requests) == 40
    assert await states(journal) == {"succeeded": 40}


def _stream_unread(redis_url: str, queue: str) -> int:
    """Chunks on the stream not yet delivered to the consumer group."""
    import redis

    with redis.Redis.from_url(redis_url) as connection:
        groups: Any = connection.xinfo_groups(queue)
    return int(groups[0].get("lag") or 0) if groups else 0


@pytest.mark.parametrize("chunk_size", [0, -1, True, 10_001])
async def test_a_bad_chunk_size_is_refused_before_anything_is_queued(
    redis_url: str, queue: str, shared_limit: RateLimit, journal: str, chunk_size: Any
) -> None:
    import redis

    from plivo_phlo_async import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="chunk_size"):
        await submit(redis_url, queue, make_jobs(3), journal, shared_limit, chunk_size=chunk_size)
    with redis.Redis.from_url(redis_url) as connection:
        assert connection.xlen(queue) == 0


async def test_a_chunk_delivered_twice_at_the_same_time_sends_nothing_twice(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
) -> None:
    import asyncio

    from plivo_phlo_async.integrations.campaign import run_campaign_chunk

    await submit(redis_url, queue, make_jobs(20), journal, shared_limit)
    chunk = chunk_message(journal, CAMPAIGN, 0)

    await asyncio.gather(run_campaign_chunk(chunk), run_campaign_chunk(chunk))

    assert executions(server) == {n: 1 for n in range(20)}
    assert len(server.emulator.requests) == 20
    assert await states(journal) == {"succeeded": 20}


async def test_resume_leaves_alone_the_chunks_a_worker_holds_and_those_unread(
    redis_url: str, queue: str, shared_limit: RateLimit, journal: str
) -> None:
    import redis

    await submit(redis_url, queue, make_jobs(30), journal, shared_limit, chunk_size=10)
    with redis.Redis.from_url(redis_url) as connection:  # a worker takes one chunk, no ack
        connection.xreadgroup(queue, "a-worker", {queue: ">"}, count=1)

    resumed = await resume(redis_url, queue, journal)

    assert (resumed.chunks, resumed.live) == (0, 3)  # 1 pending + 2 unread: all still held
    with redis.Redis.from_url(redis_url) as connection:
        assert connection.xlen(queue) == 3
