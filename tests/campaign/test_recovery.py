"""What a campaign survives: its broker's Redis restarted empty mid-campaign
(the manifest in the journal lets ``resume`` requeue what was lost)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from plivo_phlo_async import RateLimit
from plivo_phlo_async.emulator._server import EmulatorServer

from .conftest import executions, make_jobs, states, until, wait_for_outcomes
from .test_campaign import resume, submit

Start = Callable[..., Awaitable[None]]


async def test_a_broker_restarted_empty_loses_nothing_the_journal_knows(
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
    own_redis: Any,
    in_process_worker: Start,
) -> None:
    await submit(own_redis.url, queue, make_jobs(60), journal, shared_limit, chunk_size=10)
    await in_process_worker(own_redis.url)
    await until(lambda: len(server.emulator.requests) >= 15)

    own_redis.kill()
    own_redis.start()  # no persistence: every queued chunk is gone
    await until(lambda: len(server.emulator.requests) >= 20)  # the chunk in hand goes on

    lost = await states(journal)
    assert lost.get("not_started", 0) > 0  # status sees the jobs the broker lost
    resumed = await resume(own_redis.url, queue, journal)
    assert resumed.chunks > 0

    assert await wait_for_outcomes(journal, 60) == {"succeeded": 60}
    assert executions(server) == {n: 1 for n in range(60)}
    assert len(server.emulator.requests) == 60
