"""The broker-agnostic chunk function: a chunk names its campaign and number,
its jobs come from the manifest in the journal, credentials only from the
worker's environment; bad chunks are refused before anything is sent; a chunk
is acknowledged only once every job of it has its outcome."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from plivo_phlo_async import ConfigurationError, InvalidParameterError, RateLimit
from plivo_phlo_async.bulk import JournalError, RunJob
from plivo_phlo_async.emulator._server import EmulatorServer
from plivo_phlo_async.integrations.campaign import (
    ChunkNotFinishedError,
    ManifestConflictError,
    chunk_message,
    finish_campaign_chunk,
    run_campaign_chunk,
    write_manifest,
)

from .conftest import CAMPAIGN, PHLO_ID, executions, make_jobs, states, until

FAST = RateLimit(1000, per=1.0)


async def manifest(
    jobs: list[RunJob], journal: str, size: int = 10, limit: RateLimit | None = FAST
) -> list[dict[str, Any]]:
    """Write the campaign's manifest; the messages of its chunks."""
    await write_manifest(
        jobs,
        campaign_id=CAMPAIGN,
        phlo_id=PHLO_ID,
        journal=journal,
        rate_limit=limit,
        chunk_size=size,
    )
    return [chunk_message(journal, CAMPAIGN, n) for n in range(-(-len(jobs) // size))]


async def test_a_chunk_runs_from_plain_json_and_returns_a_json_summary(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    [chunk] = await manifest(make_jobs(10), journal)
    chunk = json.loads(json.dumps(chunk))  # as a broker carries it

    summary = await run_campaign_chunk(chunk)

    assert summary == {"campaign": CAMPAIGN, "chunk": 0, "jobs": 10, "counts": {"succeeded": 10}}
    assert executions(server) == {n: 1 for n in range(10)}
    assert await states(journal) == {"succeeded": 10}


async def test_running_a_chunk_again_sends_nothing(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    [chunk] = await manifest(make_jobs(10), journal)
    await run_campaign_chunk(chunk)

    again = await run_campaign_chunk(chunk)

    assert again["jobs"] == 10
    assert len(server.emulator.requests) == 10
    assert await states(journal) == {"succeeded": 10}


async def test_a_chunk_message_holds_no_job_and_no_secret(
    worker_env: dict[str, str], journal: str
) -> None:
    [chunk] = await manifest(make_jobs(3), journal)

    assert chunk == {"version": 2, "journal": journal, "campaign": CAMPAIGN, "chunk": 0}


async def test_every_submitted_job_is_not_started_until_a_chunk_runs(journal: str) -> None:
    await manifest(make_jobs(25), journal)

    assert await states(journal) == {"not_started": 25}


async def test_a_job_for_another_phlo_is_refused_and_nothing_is_written(journal: str) -> None:
    jobs = [*make_jobs(3), RunJob("another-phlo", {"to": "+14155550100"})]
    with pytest.raises(InvalidParameterError, match="a job for PHLO"):
        await manifest(jobs, journal)

    with pytest.raises(InvalidParameterError, match="no campaign"):
        await states(journal)


@pytest.mark.parametrize("concurrency", [0, 10_001])
async def test_a_concurrency_outside_1_to_10000_is_refused_and_nothing_is_written(
    journal: str, concurrency: int
) -> None:
    with pytest.raises(InvalidParameterError, match="from 1 to 10000") as caught:
        await write_manifest(
            make_jobs(3),
            campaign_id=CAMPAIGN,
            phlo_id=PHLO_ID,
            journal=journal,
            rate_limit=FAST,
            concurrency=concurrency,
        )

    assert caught.value.field == "concurrency"
    with pytest.raises(JournalError, match="no journal at"):  # refused before it was opened
        await states(journal)


async def test_a_job_that_json_cannot_carry_is_refused_before_queueing(journal: str) -> None:
    with pytest.raises(InvalidParameterError, match="must be JSON"):
        await manifest([RunJob(PHLO_ID, {"to": "+14155550100"}, ref=object())], journal)


@pytest.mark.parametrize("payload", [{1: "x"}, {"to": float("nan")}, {"to": object()}])
async def test_a_payload_a_run_would_refuse_is_refused_at_submit(
    journal: str, payload: dict[Any, Any]
) -> None:
    jobs = [*make_jobs(3), RunJob(PHLO_ID, payload, job_id="bad")]
    with pytest.raises(InvalidParameterError, match="job 'bad'"):
        await manifest(jobs, journal)

    with pytest.raises(InvalidParameterError, match="no campaign"):
        await states(journal)  # nothing was written


async def test_a_limit_with_a_redis_connection_is_refused(journal: str, redis_url: str) -> None:
    import redis.asyncio

    limit = RateLimit(300, per=5.0, redis=redis.asyncio.Redis.from_url(redis_url))
    with pytest.raises(InvalidParameterError, match="by URL"):
        await manifest(make_jobs(1), journal, limit=limit)


async def test_a_reused_id_with_another_payload_is_refused_and_nothing_changes(
    journal: str,
) -> None:
    await manifest([RunJob(PHLO_ID, {"to": "+14155550100"}, job_id="7")], journal)

    with pytest.raises(ManifestConflictError) as caught:
        await manifest([RunJob(PHLO_ID, {"to": "+14155550199"}, job_id="7")], journal)

    assert caught.value.job_ids == ["7"]
    assert caught.value.campaign_id == CAMPAIGN
    assert await states(journal) == {"not_started": 1}


async def test_the_same_id_in_two_campaigns_is_two_jobs(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    first = [RunJob(PHLO_ID, {"to": f"+1415555{n:04d}", "n": n}, job_id=str(n)) for n in range(5)]
    second = [
        RunJob(PHLO_ID, {"to": f"+1415666{n:04d}", "n": 100 + n}, job_id=str(n)) for n in range(5)
    ]
    await run_campaign_chunk((await manifest(first, journal))[0])
    await write_manifest(
        second, campaign_id="another", phlo_id=PHLO_ID, journal=journal, rate_limit=FAST
    )

    await run_campaign_chunk(chunk_message(journal, "another", 0))

    # Each id ran once per campaign: the second campaign borrowed no outcome.
    assert executions(server) == {n: 1 for n in [*range(5), *range(100, 105)]}
    assert await states(journal, "another") == {"succeeded": 5}
    assert await states(journal) == {"succeeded": 5}


@pytest.mark.parametrize(
    "damage",
    [
        lambda chunk: chunk.update(version=1),
        lambda chunk: chunk.pop("journal"),
        lambda chunk: chunk.update(campaign="no/such"),
        lambda chunk: chunk.update(campaign="unknown-campaign"),
        lambda chunk: chunk.update(chunk=-1),
        lambda chunk: chunk.update(chunk="0"),
    ],
    ids=["version", "journal", "bad_campaign", "unknown_campaign", "negative", "text_number"],
)
async def test_a_malformed_chunk_is_refused_before_any_request(
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    damage: Callable[[dict[str, Any]], object],
) -> None:
    [chunk] = await manifest(make_jobs(10), journal)
    damage(chunk)

    with pytest.raises(InvalidParameterError):
        await run_campaign_chunk(chunk)
    assert server.emulator.requests == []


async def test_a_worker_without_credentials_sends_nothing(
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PLIVO_AUTH_TOKEN")
    [chunk] = await manifest(make_jobs(3), journal)

    with pytest.raises(ConfigurationError, match="PLIVO_AUTH_TOKEN"):
        await run_campaign_chunk(chunk)
    assert server.emulator.requests == []


async def test_a_chunk_stopped_by_an_unreachable_limit_is_not_finished(
    server: EmulatorServer, worker_env: dict[str, str], journal: str, own_redis: Any
) -> None:
    limit = RateLimit(1000, per=1.0, redis=own_redis.url)
    [chunk] = await manifest(make_jobs(10), journal, limit=limit)
    own_redis.kill()

    with pytest.raises(ChunkNotFinishedError) as caught:
        await run_campaign_chunk(chunk)

    assert (caught.value.chunk, caught.value.unfinished) == (0, 10)
    assert server.emulator.requests == []
    assert await states(journal) == {"not_started": 10}


UNKNOWN_PHLO = "00000000-0000-4000-8000-00000000a0ff"


async def unknown_phlo_chunk(journal: str, count: int) -> dict[str, Any]:
    """A campaign of ``count`` jobs, two in flight at most, for a PHLO the
    emulator does not have (a typo)."""
    jobs = [RunJob(UNKNOWN_PHLO, {"to": f"+1415555{n:04d}", "n": n}, ref=n) for n in range(count)]
    await write_manifest(
        jobs,
        campaign_id=CAMPAIGN,
        phlo_id=UNKNOWN_PHLO,
        journal=journal,
        rate_limit=FAST,
        chunk_size=count,
        concurrency=2,
    )
    return chunk_message(journal, CAMPAIGN, 0)


async def test_a_chunk_for_an_unknown_phlo_stops_like_one_with_a_refused_token(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    chunk = await unknown_phlo_chunk(journal, 10)

    with pytest.raises(ChunkNotFinishedError) as caught:
        await run_campaign_chunk(chunk)

    sent = len(server.emulator.requests)
    assert 1 <= sent <= 2  # the requests in flight when the first 404 came
    assert {r.status for r in server.emulator.requests} == {404}
    assert caught.value.reason == f"stopped: PHLO {UNKNOWN_PHLO} not found (404)"
    assert caught.value.unfinished == 10 - sent
    assert await states(journal) == {"failed": sent, "not_started": 10 - sent}


async def test_finishing_a_chunk_for_an_unknown_phlo_ends_with_each_job_failed_once(
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chunk = await unknown_phlo_chunk(journal, 6)
    caplog.set_level(logging.WARNING, logger="plivo_phlo_async.campaign")

    summary = await asyncio.wait_for(finish_campaign_chunk(chunk, max_pause=0.01), 60)

    # Each run fails the jobs it sent and stops; the next run sends the next
    # ones: every job is sent once, and the chunk ends instead of looping.
    assert summary["counts"] == {"failed": 6}
    sent = Counter(r.json["n"] for r in server.emulator.requests)
    assert sent == {n: 1 for n in range(6)}
    assert await states(journal) == {"failed": 6}
    assert all(
        f"PHLO {UNKNOWN_PHLO} not found (404)" in r.message
        for r in caplog.records
        if "running the chunk again" in r.message
    )


async def _deliver(
    redis_url: str, queue: str, chunk: dict[str, Any], on_ack: Callable[[], Any]
) -> None:
    """Hand ``chunk`` as a raw message to a taskiq receiver (what a worker
    does) with an ``ack`` that calls ``on_ack``; return once the task ends."""
    import redis
    from taskiq.acks import AckableMessage
    from taskiq.receiver import Receiver

    from plivo_phlo_async.integrations.taskiq import campaign_broker, register_chunk_task

    async def ack() -> None:
        on_ack()

    broker = campaign_broker(redis_url, queue=queue)
    task = register_chunk_task(broker)
    await broker.startup()
    try:
        await task.kiq(chunk)
    finally:
        await broker.shutdown()
    with redis.Redis.from_url(redis_url) as connection:
        [(_, fields)] = connection.xrange(queue)
    receiver = Receiver(broker, run_startup=False)
    await receiver.callback(AckableMessage(data=fields[b"data"], ack=ack))


async def test_a_chunk_is_acknowledged_once_after_every_outcome_is_in_the_journal(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
) -> None:
    seen_at_ack: list[dict[str, int]] = []
    [chunk] = await manifest(make_jobs(5), journal)

    def on_ack() -> None:  # what another process would read in the journal right now
        import sqlite3

        with sqlite3.connect(journal) as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        db.close()
        seen_at_ack.append(dict(rows))

    await _deliver(redis_url, queue, chunk, on_ack)

    assert seen_at_ack == [{"succeeded": 5}]
    assert len(server.emulator.requests) == 5


async def test_a_chunk_that_cannot_finish_is_paused_not_acknowledged(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    own_redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = RateLimit(1000, per=1.0, redis=own_redis.url)
    [chunk] = await manifest(make_jobs(5), journal, limit=limit)
    own_redis.kill()
    acks: list[None] = []
    caplog.set_level(logging.WARNING, logger="plivo_phlo_async.campaign")

    delivery = asyncio.create_task(_deliver(redis_url, queue, chunk, lambda: acks.append(None)))
    await until(lambda: any("running the chunk again" in r.message for r in caplog.records))
    assert not delivery.done()
    assert acks == []  # paused, never acknowledged unfinished
    assert server.emulator.requests == []

    own_redis.start()  # the limit is back: the paused chunk finishes
    await asyncio.wait_for(delivery, 60)

    assert acks == [None]
    assert executions(server) == {n: 1 for n in range(5)}
    assert await states(journal) == {"succeeded": 5}


async def test_a_chunk_that_can_never_run_is_acknowledged_with_an_error(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await manifest(make_jobs(5), journal)
    acks: list[None] = []

    await _deliver(
        redis_url, queue, chunk_message(journal, "never-submitted", 0), lambda: acks.append(None)
    )

    assert acks == [None]
    assert any("can never run" in record.message for record in caplog.records)
    assert server.emulator.requests == []
