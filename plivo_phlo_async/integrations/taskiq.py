"""Campaigns on taskiq workers (needs the ``taskiq`` extra).

::

    from plivo_phlo_async.integrations.taskiq import campaign_broker, register_chunk_task

    broker = campaign_broker("redis://127.0.0.1:6379/0")
    chunk_task = register_chunk_task(broker)
    await broker.startup()
    await submit_campaign(chunk_task, jobs, campaign_id="spring-2026", phlo_id=PHLO_ID,
                          journal="campaign.sqlite",
                          rate_limit=RateLimit(300, per=5.0, redis="redis://127.0.0.1:6379/0"))

Submitting writes the manifest to the journal first, then queues the chunks
that still have work. A chunk's message is acknowledged only once every job
of it has its outcome in the journal (``ack_type="manual"``, acknowledged by
the task itself); a chunk that cannot finish yet is paused and run again in
its worker. A worker killed mid-chunk leaves its message pending, and any
idle worker takes it over after ``redeliver_after`` seconds (on a timer, not
only when new messages arrive: :class:`~._taskiq_broker.CampaignBroker`).
:func:`resume_campaign` requeues from the manifest whatever the broker lost.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, Context, TaskiqDepends

from .._exceptions import InvalidParameterError
from .._ratelimit import RateLimit
from ..bulk import DEFAULT_CONCURRENCY, RunJob
from ._taskiq_broker import CampaignBroker
from .campaign import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_QUEUE,
    chunk_message,
    chunks_to_run_in,
    finish_campaign_chunk,
    write_manifest,
)

# live_chunks is resume_campaign's look into the broker (the benchmarks use it
# too): not public API.
__all__ = [
    "CHUNK_TASK_NAME",
    "DEFAULT_QUEUE",
    "DEFAULT_REDELIVER_AFTER",
    "CampaignBroker",
    "CampaignSubmission",
    "broker_persists",
    "campaign_broker",
    "register_chunk_task",
    "resume_campaign",
    "submit_campaign",
]

CHUNK_TASK_NAME = "plivo_phlo_async.campaign_chunk"
#: Seconds a delivered chunk's worker may stay silent before another worker
#: takes the chunk over. A live worker keeps its chunks (a heartbeat resets
#: their idle time), so this bounds how long a dead worker's chunk waits,
#: not how long a chunk may run.
DEFAULT_REDELIVER_AFTER = 60.0

ChunkTask = AsyncTaskiqDecoratedTask[[dict[str, Any]], Any]
#: taskiq fills the task's ``context`` argument (its dependency injection).
_CONTEXT: Any = TaskiqDepends()
_log = logging.getLogger("plivo_phlo_async.campaign")


def campaign_broker(
    url: str,
    *,
    queue: str = DEFAULT_QUEUE,
    redeliver_after: float = DEFAULT_REDELIVER_AFTER,
    **options: Any,
) -> CampaignBroker:
    """A taskiq-redis stream broker that gives a dead worker's chunk to
    another worker ``redeliver_after`` seconds after its worker fell silent;
    the consumer group and stream are named after ``queue``."""
    if not isinstance(redeliver_after, (int, float)) or not 1 <= redeliver_after <= 86_400:
        raise InvalidParameterError(
            "redeliver_after", f"must be seconds from 1 to 86400, not {redeliver_after!r}"
        )
    return CampaignBroker(
        url,
        queue_name=queue,
        consumer_group_name=queue,
        idle_timeout=int(redeliver_after * 1000),
        # One chunk per read: a chunk read but waiting in a busy worker ages
        # towards its redelivery all the same.
        **{"xread_count": 1, **options},
    )


def register_chunk_task(broker: AsyncBroker, *, task_name: str = CHUNK_TASK_NAME) -> ChunkTask:
    """Register the chunk function on ``broker`` as ``task_name``.

    The task acknowledges its message itself, once every job of the chunk
    has its outcome in the journal (:func:`~.campaign.finish_campaign_chunk`
    pauses and runs it again until then). A malformed chunk, or one its
    journal does not know, is logged as an error and acknowledged: it can
    never run, and the manifest still shows its jobs.
    """

    async def campaign_chunk(chunk: dict[str, Any], context: Context = _CONTEXT) -> dict[str, Any]:
        try:
            summary = await finish_campaign_chunk(chunk)
        except InvalidParameterError as exc:
            _log.error("chunk dropped, it can never run: %s", exc)
            summary = {"error": str(exc)}
        if context.is_ackable and not context.is_acked:
            await context.ack()
        return summary

    task: ChunkTask = broker.task(task_name=task_name, ack_type="manual")(campaign_chunk)
    return task


@dataclass(frozen=True, slots=True)
class CampaignSubmission:
    """What a submit or a resume did."""

    campaign_id: str
    #: Jobs in the manifest that this submit brought (new or already there).
    jobs: int
    #: Chunks put on the queue (chunks with work left, not already queued).
    chunks: int
    #: Chunks with work left that were already on the queue.
    live: int = 0


async def submit_campaign(
    task: ChunkTask,
    jobs: Iterable[RunJob],
    *,
    campaign_id: str,
    phlo_id: str,
    journal: str | os.PathLike[str],
    rate_limit: RateLimit | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> CampaignSubmission:
    """Write the manifest (every job, before anything is queued), then queue
    the campaign's chunks that have work left.

    The broker must be started. Submitting the same jobs again (after a
    failed submit) is safe: nothing is added, and only chunks with work
    left that the broker does not hold already are queued. An id already in
    the campaign with another payload raises
    :class:`~.campaign.ManifestConflictError` and queues nothing.
    """
    written = await write_manifest(
        jobs,
        campaign_id=campaign_id,
        phlo_id=phlo_id,
        journal=journal,
        rate_limit=rate_limit,
        chunk_size=chunk_size,
        concurrency=concurrency,
    )
    queued = await resume_campaign(task, journal=journal, campaign_id=campaign_id)
    return CampaignSubmission(
        campaign_id, written.added + written.existing, queued.chunks, queued.live
    )


async def resume_campaign(
    task: ChunkTask, *, journal: str | os.PathLike[str], campaign_id: str
) -> CampaignSubmission:
    """Queue every chunk of the manifest that holds a job still to be sent
    and that the broker does not hold (unread or delivered and not
    acknowledged): after a broker lost its messages, nothing the journal
    knows is lost. Harmless when nothing was lost (returns 0 chunks)."""
    wanted = await chunks_to_run_in(journal, campaign_id)
    live = await live_chunks(task.broker, campaign_id) if wanted else set()
    queued = 0
    for chunk in wanted:
        if chunk not in live:
            await task.kiq(chunk_message(journal, campaign_id, chunk))
            queued += 1
    return CampaignSubmission(campaign_id, 0, queued, len(wanted) - queued)


async def live_chunks(broker: AsyncBroker, campaign_id: str) -> set[int]:
    """The campaign's chunks a stream broker holds: not yet read, or read and
    not acknowledged. Empty for another kind of broker (a resume then queues
    every chunk with work left; a chunk queued twice sends nothing twice)."""
    if not isinstance(broker, CampaignBroker):
        return set()
    found: set[int] = set()
    for data in await _unfinished_messages(broker):
        try:
            message = broker.formatter.loads(data)
        except Exception:  # noqa: S112 - another application's message
            continue
        if message.task_name != CHUNK_TASK_NAME or not message.args:
            continue
        chunk = message.args[0]
        if isinstance(chunk, dict) and chunk.get("campaign") == campaign_id:
            index = chunk.get("chunk")
            if isinstance(index, int):
                found.add(index)
    return found


async def broker_persists(broker: AsyncBroker) -> bool | None:
    """Whether the broker's Redis keeps an append-only file (a restart then
    loses no queued chunk); None when it cannot be told (not a stream
    broker, or ``CONFIG`` is not allowed, as on managed services)."""
    if not isinstance(broker, CampaignBroker):
        return None
    async with Redis(connection_pool=broker.connection_pool) as redis:
        try:
            config = await redis.config_get("appendonly")
        except ResponseError:  # CONFIG disabled or renamed
            return None
    values: dict[Any, Any] = dict(config)
    value = values.get("appendonly", values.get(b"appendonly"))
    return None if value is None else value in ("yes", b"yes")


async def _unfinished_messages(broker: CampaignBroker) -> list[bytes]:
    """The data of the stream's entries its consumer group has not finished:
    after the last one delivered, or delivered and pending."""
    stream, group = broker.queue_name, broker.consumer_group_name
    async with Redis(connection_pool=broker.connection_pool) as redis:
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:  # no stream (a restarted Redis): nothing is held
            return []
        last = next(
            (str(_text(g["last-delivered-id"])) for g in groups if _text(g["name"]) == group),
            "0-0",
        )
        entries: list[Any] = list(await redis.xrange(stream, min=f"({last}", max="+") or [])
        start = "-"
        while True:
            pending = await redis.xpending_range(stream, group, min=start, max="+", count=1000)
            if not pending:
                break
            for item in pending:
                entries.extend(
                    await redis.xrange(stream, min=item["message_id"], max=item["message_id"]) or []
                )
            start = f"({_text(pending[-1]['message_id'])}"
    return [fields[b"data"] for _, fields in entries if fields and b"data" in fields]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
