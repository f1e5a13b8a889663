"""Campaigns on taskiq workers (needs the ``taskiq`` extra).

::

    from plivo_phlo_async.integrations.taskiq import campaign_broker, register_chunk_task

    broker = campaign_broker("redis://127.0.0.1:6379/0")
    chunk_task = register_chunk_task(broker)
    await broker.startup()
    await submit_campaign(chunk_task, jobs, phlo_id=PHLO_ID, journal="campaign.sqlite",
                          rate_limit=RateLimit(300, per=5.0, redis="redis://127.0.0.1:6379/0"))

A chunk's message is acknowledged only after the chunk function returned
(``ack_type="manual"``, acknowledged by the task itself), so every outcome is
in the journal by then; a worker killed mid-chunk leaves its message pending,
and :class:`taskiq_redis.RedisStreamBroker` gives it to another worker after
``idle_timeout``. The journal sends none of its jobs twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, Context, TaskiqDepends
from taskiq_redis import RedisStreamBroker

from ..bulk import DEFAULT_CONCURRENCY, RateLimit, RunJob
from .campaign import DEFAULT_CHUNK_SIZE, campaign_chunks, run_campaign_chunk

__all__ = [
    "CHUNK_TASK_NAME",
    "DEFAULT_QUEUE",
    "DEFAULT_REDELIVER_AFTER",
    "CampaignSubmission",
    "campaign_broker",
    "register_chunk_task",
    "submit_campaign",
]

CHUNK_TASK_NAME = "plivo_phlo_async.campaign_chunk"
DEFAULT_QUEUE = "plivo-phlo-campaign"
#: Seconds a delivered chunk may stay unacknowledged before another worker
#: takes it over. Longer than a chunk can take (100 jobs at 60/s: 2 s, more
#: behind a busy limit), or a slow chunk is delivered to a second worker
#: while the first still runs it.
DEFAULT_REDELIVER_AFTER = 600.0

ChunkTask = AsyncTaskiqDecoratedTask[[dict[str, Any]], Any]
#: taskiq fills the task's ``context`` argument (its dependency injection).
_CONTEXT: Any = TaskiqDepends()


def campaign_broker(
    url: str,
    *,
    queue: str = DEFAULT_QUEUE,
    redeliver_after: float = DEFAULT_REDELIVER_AFTER,
    **options: Any,
) -> RedisStreamBroker:
    """A taskiq-redis stream broker that redelivers unacknowledged chunks
    after ``redeliver_after`` seconds (``idle_timeout``, in ms, and
    ``XAUTOCLAIM``); the consumer group and stream are named after ``queue``."""
    if redeliver_after <= 0:
        raise ValueError(f"redeliver_after must be positive, not {redeliver_after!r}")
    return RedisStreamBroker(
        url,
        queue_name=queue,
        consumer_group_name=queue,
        idle_timeout=int(redeliver_after * 1000),
        # A lock left by a killed worker must not stop redelivery for good.
        unacknowledged_lock_timeout=max(1.0, min(redeliver_after, 30.0)),
        # One chunk per read: a chunk read but waiting in a busy worker ages
        # towards its redelivery all the same.
        **{"xread_count": 1, **options},
    )


def register_chunk_task(broker: AsyncBroker, *, task_name: str = CHUNK_TASK_NAME) -> ChunkTask:
    """Register the chunk function on ``broker`` as ``task_name``.

    The task acknowledges its message itself, and only once the chunk ran to
    its end (every outcome committed to the journal). If it raises (a journal
    that cannot be reached, a malformed chunk) the message stays pending and
    is delivered again after the broker's idle timeout.
    """

    async def campaign_chunk(chunk: dict[str, Any], context: Context = _CONTEXT) -> dict[str, Any]:
        summary = await run_campaign_chunk(chunk)
        if context.is_ackable and not context.is_acked:
            await context.ack()
        return summary

    task: ChunkTask = broker.task(task_name=task_name, ack_type="manual")(campaign_chunk)
    return task


@dataclass(frozen=True, slots=True)
class CampaignSubmission:
    """What was put on the queue."""

    jobs: int
    chunks: int


async def submit_campaign(
    task: ChunkTask,
    jobs: Iterable[RunJob],
    *,
    phlo_id: str,
    journal: str | os.PathLike[str],
    rate_limit: RateLimit | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> CampaignSubmission:
    """Put ``jobs`` on the queue as chunks of ``chunk_size``.

    The broker must be started. Submitting the same jobs again (a rerun after
    a failed submit) is safe: the ids are the same and the journal skips
    every job that already has its outcome.
    """
    count = chunks = 0
    for chunk in campaign_chunks(
        jobs,
        phlo_id=phlo_id,
        journal=journal,
        rate_limit=rate_limit,
        chunk_size=chunk_size,
        concurrency=concurrency,
    ):
        await task.kiq(chunk)
        count += len(chunk["jobs"])
        chunks += 1
    return CampaignSubmission(jobs=count, chunks=chunks)
