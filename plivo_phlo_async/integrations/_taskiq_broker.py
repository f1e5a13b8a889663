"""The campaign's taskiq broker: taskiq-redis's stream broker, made to keep chunks moving.

A chunk's message is acknowledged by its task once the chunk has finished, so
a worker killed mid-chunk leaves it pending in the consumer group, to be taken
over by another worker once it has been idle for ``idle_timeout``.
:class:`taskiq_redis.RedisStreamBroker` falls short of that in two ways:

* it looks for stranded messages (``XAUTOCLAIM``) only after a read that
  returned something, so near the end of a campaign, when nothing new
  arrives, a stranded chunk waits forever;
* a chunk running for longer than ``idle_timeout`` looks stranded and is
  given to a second worker while the first still runs it.

And while Redis is down its ``listen()`` raises, and taskiq's worker processes
crash and restart in a loop, a traceback each time.

:class:`CampaignBroker` looks for stranded messages on every pass of its loop
(waiting for new ones a few seconds at most), keeps the messages its worker
holds alive with a heartbeat, and waits out a Redis outage with one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq_redis import RedisStreamBroker

__all__ = ["CampaignBroker"]

logger = logging.getLogger("plivo_phlo_async.campaign")
_T = TypeVar("_T")

#: What a Redis that is down (restarting, unreachable, still loading its data:
#: ``BusyLoadingError`` is a ``ConnectionError``) raises; all of it passes.
REDIS_DOWN: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

#: The first pause after a failed call to Redis; doubled after each further one.
FIRST_PAUSE = 0.5
MAX_PAUSE = 5.0
#: How long an acknowledgement is retried before it is given up (the message
#: then stays pending and is delivered again later, which the journal makes harmless).
ACK_PATIENCE = 10.0
#: Bounds of one wait for new messages, in ms: short enough that stranded
#: messages are looked for every few seconds, long enough not to spin.
MAX_BLOCK_MS = 5000
MIN_BLOCK_MS = 50

_START = "0-0"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _payload(fields: Mapping[Any, Any] | None) -> bytes | None:
    """A stream entry's task message (None: the entry has no ``data`` field)."""
    if not fields:
        return None
    data = fields.get(b"data", fields.get("data"))
    if isinstance(data, str):
        return data.encode()
    return data if isinstance(data, bytes) else None


def _is_nogroup(exc: ResponseError) -> bool:
    return str(exc).startswith("NOGROUP")


async def _cancellable(call: Awaitable[_T]) -> _T:
    """``await call``, where a cancellation is never lost.

    redis-py bounds its calls with ``asyncio.wait_for`` or ``async_timeout``,
    which return normally when cancelled just as the call finishes (Python
    3.10 has no ``Task.cancelling()`` to notice it afterwards): a loop that
    awaited the call directly could then run on for good, and whoever
    cancelled it (a worker shutting down) wait forever. Shielded, the call
    runs as its own task; the caller's cancellation always raises here, and
    the call is cancelled after it (what it fetched stays pending in Redis,
    to be taken over later).
    """
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except BaseException:
        task.cancel()
        raise


def _raise_lost_cancellation() -> None:
    """Raise the cancellation of the current task if a call swallowed it.

    Under Python 3.11, ``asyncio.wait_for`` (which redis-py wraps around every
    write) returns normally when it is cancelled just as its call finishes;
    the loops below would then run on for good, and whoever cancelled them
    (a worker shutting down) wait forever. ``Task.cancelling()`` still counts
    the request.
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


@dataclass(frozen=True, slots=True)
class _Entry:
    """A stream entry this worker received, with the id of the task it carries."""

    stream: str
    msg_id: str
    data: bytes
    task_id: str | None


class _Outage:
    """Whether Redis is known to be down: one warning when it goes away, one
    info line when it answers again, whatever noticed it (listen, heartbeat, ack)."""

    def __init__(self) -> None:
        self._since: float | None = None

    def begin(self, exc: BaseException) -> None:
        if self._since is None:
            self._since = time.monotonic()
            logger.warning(
                "Redis cannot be reached (%s: %s); the campaign broker waits for it",
                type(exc).__name__,
                exc,
            )

    def end(self) -> None:
        if self._since is not None:
            logger.info(
                "Redis answers again after %.1f s; the campaign broker goes on",
                time.monotonic() - self._since,
            )
            self._since = None


class _Held:
    """The messages this worker received and has not acknowledged yet (the
    heartbeat keeps them from looking stranded), with the task each carries."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], str | None] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: _Entry) -> None:
        self._entries[entry.stream, entry.msg_id] = entry.task_id

    def discard(self, stream: str, msg_id: str) -> None:
        self._entries.pop((stream, msg_id), None)

    def release_task(self, task_id: str) -> None:
        """Let go of one message carrying ``task_id`` (the oldest, if the
        same one was received twice)."""
        for key, held_task in self._entries.items():
            if held_task == task_id:
                del self._entries[key]
                return

    def by_stream(self) -> dict[str, list[str]]:
        streams: dict[str, list[str]] = {}
        for stream, msg_id in self._entries:
            streams.setdefault(stream, []).append(msg_id)
        return streams

    def keep_only(self, stream: str, asked: list[str], kept: set[str]) -> None:
        """After a heartbeat: ``asked`` ids not in ``kept`` are no longer
        pending (acknowledged by another worker, deleted): forget them."""
        for msg_id in asked:
            if msg_id not in kept:
                self.discard(stream, msg_id)


class _ReleaseFinished(TaskiqMiddleware):
    """Stops the heartbeat of a message whose task ended without acknowledging
    it (a chunk that raised): it must be delivered again after ``idle_timeout``,
    not held for as long as this worker lives."""

    def __init__(self, held: _Held) -> None:
        super().__init__()
        self._held = held

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        self._held.release_task(message.task_id)


class CampaignBroker(RedisStreamBroker):
    """A :class:`taskiq_redis.RedisStreamBroker` (same arguments) whose stranded
    messages are taken over on time, whose long-running ones are not, and
    which waits out Redis outages instead of raising.

    * :meth:`listen` claims messages idle for ``idle_timeout`` ms (``XAUTOCLAIM``)
      on every pass, and waits for new messages at most
      ``min(xread_block, idle_timeout / 4, 5 s)``: an idle worker takes a
      stranded message over within ``idle_timeout`` and a few seconds, whether
      or not anything new arrives. ``XAUTOCLAIM`` gives an entry to one
      consumer only, so no lock is taken (``unacknowledged_lock_timeout`` is
      accepted and unused). taskiq's receiver asks for a message only when it
      has a free slot, so a busy worker takes nothing over.
    * A message received and not yet acknowledged is held: every
      ``idle_timeout / 3`` its idle time is reset (``XCLAIM ... JUSTID``), so
      no other worker takes it while this one lives. A task that ends without
      acknowledging its message lets go of it (it is delivered again later).
    * ``ConnectionError``, ``TimeoutError`` and ``OSError`` from Redis pause
      listening (0.5 s, doubling to 5 s) with one warning per outage; an
      acknowledgement is retried for about 10 s, then given up with a
      warning. A consumer group that Redis lost (restarted without
      persistence) is created again.
    """

    def __init__(self, url: str, *args: Any, wait_for_redis: bool = False, **kwargs: Any) -> None:
        super().__init__(url, *args, **kwargs)
        #: A worker's broker waits at start-up for Redis to answer (one
        #: warning) instead of raising: a worker started during an outage
        #: would otherwise crash and be restarted in a loop. A submit's fails.
        self.wait_for_redis = wait_for_redis
        self._held = _Held()
        self._outage = _Outage()
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._listeners = 0
        self._pause = FIRST_PAUSE
        self._group_lost = False
        #: Where each stream's scan for stranded messages goes on from.
        self._cursors: dict[str, str] = {}
        self.add_middlewares(_ReleaseFinished(self._held))

    async def _declare_consumer_group(self) -> None:
        """Create the consumer group (at start-up); with ``wait_for_redis``,
        wait for an unreachable Redis instead of raising."""
        pause = FIRST_PAUSE
        while True:
            try:
                await super()._declare_consumer_group()
            except REDIS_DOWN as exc:
                if not self.wait_for_redis:
                    raise
                self._outage.begin(exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
            else:
                self._outage.end()
                return

    async def shutdown(self) -> None:
        """Stop the heartbeat, then close the connection pool."""
        await self._stop_heartbeat()
        await super().shutdown()

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield the messages for this worker, stranded ones first; never
        raises for a Redis outage (it waits for Redis to come back)."""
        self._listeners += 1
        self._start_heartbeat()
        redis = Redis(connection_pool=self.connection_pool)
        batch: list[_Entry] = []
        try:
            while True:
                for fetch in (self._reclaim, self._read):
                    batch = await self._guarded(fetch, redis)
                    _raise_lost_cancellation()
                    while batch:
                        yield self._deliverable(batch.pop(0))
        finally:
            # Received but never yielded: not this worker's to keep alive.
            for entry in batch:
                self._held.discard(entry.stream, entry.msg_id)
            self._listeners -= 1
            if not self._listeners:
                await self._stop_heartbeat()
            await redis.aclose()

    # -- fetching ---------------------------------------------------------

    def _streams(self) -> list[str]:
        return [self.queue_name, *self.additional_streams]

    def _block_ms(self) -> int:
        """How long one read waits for new messages: never 0 (forever)."""
        block = self.block if self.block and self.block > 0 else MAX_BLOCK_MS
        return max(MIN_BLOCK_MS, min(block, self.idle_timeout // 4, MAX_BLOCK_MS))

    def _claim_count(self) -> int:
        """Claim no more than one read would fetch: claimed messages wait in
        this worker until it has room for them."""
        batch = max(1, self.unacknowledged_batch_size)
        return min(batch, self.count) if self.count else batch

    async def _guarded(
        self, fetch: Callable[[Redis], Coroutine[Any, Any, list[_Entry]]], redis: Redis
    ) -> list[_Entry]:
        """``fetch(redis)``, with an outage waited out and a lost group made
        again (both answer no messages, for the loop to go on)."""
        try:
            if self._group_lost:
                await self._recreate_group(redis)
                self._group_lost = False
            entries = await _cancellable(fetch(redis))
        except REDIS_DOWN as exc:
            self._outage.begin(exc)
            await asyncio.sleep(self._pause)
            self._pause = min(self._pause * 2, MAX_PAUSE)
            return []
        except ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            self._group_lost = True
            return []
        self._outage.end()
        self._pause = FIRST_PAUSE
        return entries

    async def _recreate_group(self, redis: Redis) -> None:
        """Create the consumer group where Redis lost it (a restart without
        persistence loses the stream and its group). It starts from the
        stream's first entry, not its last: a message added after the restart
        and before this call must not be skipped."""
        for stream in self._streams():
            try:
                await redis.xgroup_create(stream, self.consumer_group_name, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            else:
                logger.info(
                    "Consumer group %s created again on stream %s (Redis had lost it)",
                    self.consumer_group_name,
                    stream,
                )

    async def _read(self, redis: Redis) -> list[_Entry]:
        streams: dict[Any, Any] = {self.queue_name: ">", **self.additional_streams}
        fetched: Any = await redis.xreadgroup(
            self.consumer_group_name,
            self.consumer_name,
            streams,
            count=self.count,
            block=self._block_ms(),
            noack=False,
        )
        received = [
            (_text(stream), _text(msg_id), fields)
            for stream, messages in fetched or []
            for msg_id, fields in messages
        ]
        return await self._usable(redis, received)

    async def _reclaim(self, redis: Redis) -> list[_Entry]:
        """Messages idle for ``idle_timeout`` (their worker died), now this worker's."""
        for stream in self._streams():
            claimed = await self._autoclaim(redis, stream)
            if claimed:
                return await self._usable(redis, claimed)
        return []

    async def _autoclaim(self, redis: Redis, stream: str) -> list[tuple[str, str, Any]]:
        """Scan ``stream``'s pending entries (from where the last scan stopped
        to the end) until some are claimed."""
        cursor = self._cursors.get(stream, _START)
        while True:
            reply = await redis.xautoclaim(
                stream,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=self.idle_timeout,
                start_id=cursor,
                count=self._claim_count(),
            )
            cursor = _text(reply[0])
            if len(reply) > 2 and reply[2]:
                logger.info(
                    "Stream %s: %d stranded message(s) deleted before they could be taken over",
                    stream,
                    len(reply[2]),
                )
            claimed = [(stream, _text(msg_id), fields) for msg_id, fields in reply[1]]
            if claimed or cursor == _START:
                self._cursors[stream] = cursor
                return claimed

    async def _usable(self, redis: Redis, received: list[tuple[str, str, Any]]) -> list[_Entry]:
        """The received entries that carry a task message, now held. An entry
        without one (deleted, written by something else) can never run: it is
        acknowledged, or it would be taken over again and again."""
        entries: list[_Entry] = []
        for stream, msg_id, fields in received:
            data = _payload(fields)
            if data is None:
                logger.warning("Stream %s: entry %s has no task message; dropped", stream, msg_id)
                await redis.xack(stream, self.consumer_group_name, msg_id)
            else:
                entries.append(_Entry(stream, msg_id, data, self._task_id(data)))
        # Held only now, after the last call that could fail: an entry that is
        # never yielded must not be kept alive.
        for entry in entries:
            self._held.add(entry)
        return entries

    def _task_id(self, data: bytes) -> str | None:
        """The task's id, for the task's end to let go of its message (None
        when unreadable: the receiver then acknowledges it itself)."""
        try:
            return self.formatter.loads(data).task_id
        except Exception:
            return None

    # -- acknowledging ----------------------------------------------------

    def _deliverable(self, entry: _Entry) -> AckableMessage:
        async def ack() -> None:
            try:
                await self._acknowledge(entry)
            finally:
                self._held.discard(entry.stream, entry.msg_id)

        return AckableMessage(data=entry.data, ack=ack)

    async def _acknowledge(self, entry: _Entry) -> None:
        """``XACK``, retried through a short outage; then given up with a warning."""
        give_up_at = time.monotonic() + ACK_PATIENCE
        pause = FIRST_PAUSE
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as redis:
                    await redis.xack(entry.stream, self.consumer_group_name, entry.msg_id)
            except REDIS_DOWN as exc:
                self._outage.begin(exc)
                if time.monotonic() + pause > give_up_at:
                    logger.warning(
                        "Stream %s: message %s could not be acknowledged (Redis is down); "
                        "it stays pending and will be delivered again",
                        entry.stream,
                        entry.msg_id,
                    )
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
            else:
                self._outage.end()
                return

    # -- heartbeat --------------------------------------------------------

    def _start_heartbeat(self) -> None:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.create_task(
                self._heartbeat(), name=f"campaign-broker-heartbeat-{self.consumer_name}"
            )

    async def _stop_heartbeat(self) -> None:
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    async def _heartbeat(self) -> None:
        """Every ``idle_timeout / 3``, reset the idle time of the held messages;
        never raises."""
        interval = self.idle_timeout / 3000
        redis = Redis(connection_pool=self.connection_pool)
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await _cancellable(self._beat(redis))
                except REDIS_DOWN as exc:
                    self._outage.begin(exc)
                except Exception:
                    logger.warning("Campaign broker heartbeat failed", exc_info=True)
                _raise_lost_cancellation()
        finally:
            with contextlib.suppress(*REDIS_DOWN):
                await redis.aclose()

    async def _beat(self, redis: Redis) -> None:
        for stream, msg_ids in self._held.by_stream().items():
            asked: list[Any] = list(msg_ids)
            kept: Any
            try:
                kept = await redis.xclaim(
                    stream,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=0,
                    message_ids=asked,
                    justid=True,
                )
            except ResponseError as exc:
                if not _is_nogroup(exc):
                    raise
                logger.warning(
                    "Stream %s or its consumer group is gone (Redis restarted empty?): "
                    "%d message(s) this worker runs are no longer in Redis",
                    stream,
                    len(msg_ids),
                )
                kept = []
            self._outage.end()
            self._held.keep_only(stream, msg_ids, {_text(msg_id) for msg_id in kept})
