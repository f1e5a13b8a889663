"""The campaign broker on real Redis: a stranded chunk is taken over on time
with nothing else arriving, a running one is kept alive by its worker's
heartbeat, and a Redis restart only pauses a listening worker."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
from _waiting import wait_until
from taskiq import AckableMessage
from taskiq.api import run_receiver_task

from plivo_phlo_async import InvalidParameterError, PlivoError
from plivo_phlo_async.integrations import _taskiq_broker
from plivo_phlo_async.integrations._taskiq_broker import CampaignBroker

from .conftest import OwnRedis, until

LOGGER = "plivo_phlo_async.campaign"
#: Small, for fast tests; the heartbeat's interval is a third of it.
IDLE_MS = 1000
#: Enough for a takeover's own wait (a read blocks idle / 4) on a loaded machine.
MARGIN = 4.0
#: The longest a listening worker can take to notice Redis is back (its pause
#: is at most 5 s), with room for a loaded machine.
MAX_PAUSE_WAIT = 5.0 + MARGIN

Listener = AsyncGenerator[AckableMessage, None]


class Brokers:
    """Started campaign brokers, their listen() generators and the tasks
    reading them; all stopped when the test ends."""

    def __init__(self) -> None:
        self._brokers: list[CampaignBroker] = []
        self._listeners: list[Listener] = []
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self, url: str, queue: str, *, idle_ms: int = IDLE_MS) -> CampaignBroker:
        """A started broker as the campaign builds it (one chunk per read)."""
        broker = CampaignBroker(
            url,
            queue_name=queue,
            consumer_group_name=queue,
            idle_timeout=idle_ms,
            unacknowledged_lock_timeout=1.0,
            xread_count=1,
        )
        await broker.startup()
        self._brokers.append(broker)
        return broker

    def listen(self, broker: CampaignBroker) -> Listener:
        listener = broker.listen()
        self._listeners.append(listener)
        return listener

    def spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.append(task)
        return task

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        for listener in self._listeners:
            await listener.aclose()
        for broker in self._brokers:
            await broker.shutdown()


@pytest.fixture
async def brokers() -> AsyncIterator[Brokers]:
    made = Brokers()
    yield made
    await made.close()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the test Redis: a dead worker's stand-in, and the
    test's view of the consumer group."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def pending_entries(client: aioredis.Redis, queue: str) -> list[dict[str, Any]]:
    """The group's pending entries: message_id, consumer, time_since_delivered, times_delivered."""
    entries: list[dict[str, Any]] = await client.xpending_range(queue, queue, "-", "+", 100)
    return entries


async def next_message(listener: Listener, *, deadline: float) -> AckableMessage:
    try:
        with anyio.fail_after(deadline):
            return await anext(listener)
    except TimeoutError:
        pytest.fail(f"listen() yielded nothing within {deadline} s")


async def test_stranded_message_is_taken_over_with_nothing_else_arriving(
    queue: str, redis_url: str, raw: aioredis.Redis, brokers: Brokers
) -> None:
    taker = await brokers.start(redis_url, queue)
    await raw.xadd(queue, {b"data": b"chunk-1"})
    # A worker that read the chunk, then died: no ack, no heartbeat.
    await raw.xreadgroup(queue, "dead-worker", {queue: ">"}, count=1)
    delivered = time.monotonic()

    message = await next_message(brokers.listen(taker), deadline=IDLE_MS / 1000 + MARGIN)

    assert message.data == b"chunk-1"
    # Taken because it was idle, not early (Redis measured the idle time from
    # the delivery, just before ``delivered``).
    assert time.monotonic() - delivered >= IDLE_MS / 1000 * 0.9
    [entry] = await pending_entries(raw, queue)
    assert entry["consumer"].decode() == taker.consumer_name
    assert entry["times_delivered"] == 2


async def test_held_message_is_kept_while_its_worker_lives(
    queue: str, redis_url: str, raw: aioredis.Redis, brokers: Brokers
) -> None:
    idle_ms = 1500
    holder = await brokers.start(redis_url, queue, idle_ms=idle_ms)
    other = await brokers.start(redis_url, queue, idle_ms=idle_ms)
    await raw.xadd(queue, {b"data": b"long-chunk"})
    holding = brokers.listen(holder)
    held = await next_message(holding, deadline=MARGIN)
    assert held.data == b"long-chunk"
    # The other worker is idle and looking for stranded messages all along.
    other_next = brokers.spawn(anext(brokers.listen(other)))

    # The behaviour is over a span of time: three idle timeouts, watched throughout.
    longest_idle = 0
    watch_until = time.monotonic() + 3 * idle_ms / 1000
    while time.monotonic() < watch_until:
        [entry] = await pending_entries(raw, queue)
        assert entry["consumer"].decode() == holder.consumer_name
        longest_idle = max(longest_idle, entry["time_since_delivered"])
        assert not other_next.done(), "the other worker took the held message"
        await asyncio.sleep(0.05)
    assert longest_idle < idle_ms
    assert entry["times_delivered"] == 1

    # The holder dies (its listen() ends, and its heartbeat with it): now the
    # other worker, which was looking all along, takes the message over.
    await holding.aclose()
    with anyio.fail_after(idle_ms / 1000 + MARGIN):
        taken = await other_next
    assert taken.data == b"long-chunk"
    [entry] = await pending_entries(raw, queue)
    assert entry["consumer"].decode() == other.consumer_name


async def test_acknowledged_message_is_no_longer_pending_nor_heartbeated(
    queue: str, redis_url: str, raw: aioredis.Redis, brokers: Brokers
) -> None:
    worker = await brokers.start(redis_url, queue)
    acked_id = (await raw.xadd(queue, {b"data": b"first"})).decode()
    kept_id = (await raw.xadd(queue, {b"data": b"second"})).decode()
    listener = brokers.listen(worker)
    first = await next_message(listener, deadline=MARGIN)
    second = await next_message(listener, deadline=MARGIN)
    assert (first.data, second.data) == (b"first", b"second")

    ack = first.ack()
    assert ack is not None
    await ack

    async def pending_ids() -> dict[str, int]:
        return {
            e["message_id"].decode(): e["time_since_delivered"]
            for e in await pending_entries(raw, queue)
        }

    assert set(await pending_ids()) == {kept_id}
    # Watch two heartbeats (the held message's idle time drops back twice):
    # the acknowledged one never comes back.
    resets = 0
    last_idle = 0

    async def two_heartbeats_later() -> bool:
        nonlocal resets, last_idle
        ids = await pending_ids()
        assert acked_id not in ids
        if ids[kept_id] < last_idle:
            resets += 1
        last_idle = ids[kept_id]
        return resets >= 2

    await wait_until(
        two_heartbeats_later,
        interval=0.02,
        timeout=4 * IDLE_MS / 1000 + MARGIN,
        what="2 heartbeats",
    )
    assert set(await pending_ids()) == {kept_id}


async def test_task_ending_without_ack_releases_its_message(
    queue: str, redis_url: str, brokers: Brokers
) -> None:
    """A chunk that raised never acknowledges its message: the heartbeat must
    let it go, for it to be delivered again after the idle timeout."""
    worker = await brokers.start(redis_url, queue)
    runs: list[int] = []

    async def failing_chunk() -> None:
        runs.append(len(runs))
        raise RuntimeError("journal unreachable")

    task = worker.task(task_name=f"failing-{uuid.uuid4().hex}", ack_type="manual")(failing_chunk)
    brokers.spawn(run_receiver_task(worker, max_async_tasks=1))
    await task.kiq()

    async def delivered_again() -> bool:
        return len(runs) >= 2

    await wait_until(
        delivered_again, interval=0.02, timeout=2 * IDLE_MS / 1000 + 2 * MARGIN, what="a redelivery"
    )


# -- a Redis of the test's own (conftest's own_redis), killed and restarted ----


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


async def test_listen_waits_out_a_redis_restart(
    own_redis: OwnRedis, brokers: Brokers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    queue = f"plivo-phlo-test-broker:{uuid.uuid4().hex[:12]}"
    own_redis.start()
    worker = await brokers.start(own_redis.url, queue)
    received: list[AckableMessage] = []

    async def consume() -> None:
        async for message in brokers.listen(worker):
            received.append(message)

    consuming = brokers.spawn(consume())
    view = aioredis.Redis.from_url(own_redis.url)

    async def worker_is_reading() -> bool:
        # (Redis 7.0 lists a consumer only once something was delivered to it.)
        clients = await view.client_list()
        return any(c["cmd"] in ("xreadgroup", "xautoclaim") for c in clients)

    await wait_until(
        worker_is_reading, interval=0.02, timeout=MARGIN, what="the worker's first read"
    )
    await view.aclose()

    own_redis.kill()

    async def outage_noticed() -> bool:
        return bool(our_warnings(caplog))

    await wait_until(outage_noticed, interval=0.02, timeout=10.0, what="the outage's warning")
    own_redis.start()  # empty: the stream and its group are gone
    async with aioredis.Redis.from_url(own_redis.url) as client:
        await client.xadd(queue, {b"data": b"after-restart"})

    async def arrived() -> bool:
        assert not consuming.done(), f"listen() ended: {consuming}"
        return bool(received)

    await wait_until(
        arrived, interval=0.02, timeout=MAX_PAUSE_WAIT, what="the message added after the restart"
    )

    assert [m.data for m in received] == [b"after-restart"]
    warnings = our_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].exc_info is None
    assert any("answers again" in r.getMessage() for r in caplog.records if r.name == LOGGER)


async def test_ack_while_redis_is_down_gives_up_with_a_warning(
    own_redis: OwnRedis,
    brokers: Brokers,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chunk's outcomes are in the journal by then: an acknowledgement
    that cannot be made must not fail the task (the message is delivered
    again later, and the journal skips its jobs)."""
    monkeypatch.setattr(_taskiq_broker, "ACK_PATIENCE", 1.0)
    caplog.set_level(logging.INFO, logger=LOGGER)
    queue = f"plivo-phlo-test-broker:{uuid.uuid4().hex[:12]}"
    own_redis.start()
    worker = await brokers.start(own_redis.url, queue)
    async with aioredis.Redis.from_url(own_redis.url) as client:
        await client.xadd(queue, {b"data": b"chunk"})
    message = await next_message(brokers.listen(worker), deadline=MARGIN)
    own_redis.kill()

    ack = message.ack()
    assert ack is not None
    with anyio.fail_after(1.0 + MARGIN):
        await ack  # returns: no exception

    warnings = [r.getMessage() for r in our_warnings(caplog)]
    assert len(warnings) == 2, warnings
    assert "cannot be reached" in warnings[0]
    assert "could not be acknowledged" in warnings[1]


async def test_a_workers_broker_started_while_redis_is_down_waits_for_it(
    own_redis: OwnRedis, queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    from plivo_phlo_async.integrations.taskiq import campaign_broker

    own_redis.kill()
    broker = campaign_broker(own_redis.url, queue=queue, wait_for_redis=True)
    starting = asyncio.create_task(broker.startup())
    await until(lambda: any("cannot be reached" in r.message for r in caplog.records))
    assert not starting.done()

    own_redis.start()
    await asyncio.wait_for(starting, 30)
    await broker.shutdown()


async def test_a_submits_broker_fails_at_once_while_redis_is_down(
    own_redis: OwnRedis, queue: str
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from plivo_phlo_async.integrations.taskiq import campaign_broker

    own_redis.kill()
    broker = campaign_broker(own_redis.url, queue=queue)
    with pytest.raises(RedisConnectionError):
        await broker.startup()
    await broker.shutdown()


async def test_a_cancellation_swallowed_inside_a_redis_call_still_stops_the_caller() -> None:
    """redis-py's timeouts (``wait_for``, ``async_timeout``) can return normally
    when cancelled as the call ends; a listening loop must stop all the same
    (on Python 3.10 a worker's shutdown, and a test's teardown, hung for good)."""
    started = asyncio.Event()

    async def swallowing_read() -> list[str]:
        started.set()
        try:
            await asyncio.Event().wait()  # a read that blocks until cancelled
        except asyncio.CancelledError:
            return ["a message read as the cancellation came"]  # swallowed
        return []

    async def loop_forever() -> None:
        while True:
            await _taskiq_broker._cancellable(swallowing_read())

    looping = asyncio.ensure_future(loop_forever())
    await started.wait()
    looping.cancel()
    with anyio.fail_after(10):
        await asyncio.wait({looping})
    assert looping.cancelled()


def test_a_bad_redeliver_after_is_one_of_the_packages_errors_and_a_value_error() -> None:
    from plivo_phlo_async.integrations.taskiq import campaign_broker

    with pytest.raises(InvalidParameterError, match="redeliver_after") as caught:
        campaign_broker("redis://127.0.0.1:6379/0", redeliver_after=0)

    assert isinstance(caught.value, PlivoError)
    assert isinstance(caught.value, ValueError)
