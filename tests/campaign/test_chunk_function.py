"""The broker-agnostic chunk function: plain data in, a JSON summary out,
credentials only from the worker's environment, bad chunks refused before
anything is sent; and a chunk that raises is never acknowledged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async import ConfigurationError, InvalidParameterError
from plivo_phlo_async.bulk import RateLimit, RunJob
from plivo_phlo_async.emulator._server import EmulatorServer
from plivo_phlo_async.integrations.campaign import (
    campaign_chunks,
    campaign_status,
    run_campaign_chunk,
)

from .conftest import PHLO_ID, executions, make_jobs
from .test_campaign import submit


def chunks_of(jobs: list[RunJob], journal: str, size: int = 10) -> list[dict[str, Any]]:
    return list(
        campaign_chunks(
            jobs,
            phlo_id=PHLO_ID,
            journal=journal,
            rate_limit=RateLimit(1000, per=1.0),
            chunk_size=size,
        )
    )


async def test_a_chunk_runs_from_plain_json_and_returns_a_json_summary(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    [chunk] = chunks_of(make_jobs(10), journal)
    chunk = json.loads(json.dumps(chunk))  # as a broker carries it

    summary = await run_campaign_chunk(chunk)

    assert summary == {"jobs": 10, "counts": {"succeeded": 10}}
    assert json.loads(json.dumps(summary)) == summary
    assert executions(server) == {n: 1 for n in range(10)}
    assert await campaign_status(journal) == {"succeeded": 10}


async def test_running_a_chunk_again_sends_nothing(
    server: EmulatorServer, worker_env: dict[str, str], journal: str
) -> None:
    [chunk] = chunks_of(make_jobs(10), journal)
    await run_campaign_chunk(chunk)

    again = await run_campaign_chunk(chunk)

    assert again["jobs"] == 10
    assert len(server.emulator.requests) == 10
    assert await campaign_status(journal) == {"succeeded": 10}


def test_chunk_ids_are_the_same_for_the_same_input(journal: str) -> None:
    first = chunks_of(make_jobs(25), journal)
    second = chunks_of(make_jobs(25), journal)

    assert [len(chunk["jobs"]) for chunk in first] == [10, 10, 5]
    assert first == second
    ids = [job["job_id"] for chunk in first for job in chunk["jobs"]]
    assert len(set(ids)) == 25


def test_a_job_for_another_phlo_is_refused(journal: str) -> None:
    with pytest.raises(InvalidParameterError, match="a job for PHLO"):
        chunks_of([RunJob("another-phlo", {"to": "+14155550100"})], journal)


def test_a_job_that_json_cannot_carry_is_refused_before_queueing(journal: str) -> None:
    with pytest.raises(InvalidParameterError, match="must be JSON"):
        chunks_of([RunJob(PHLO_ID, {"to": "+14155550100"}, ref=object())], journal)


def test_a_limit_with_a_redis_connection_cannot_travel(journal: str, redis_url: str) -> None:
    import redis.asyncio

    limit = RateLimit(300, per=5.0, redis=redis.asyncio.Redis.from_url(redis_url))
    with pytest.raises(InvalidParameterError, match="by URL"):
        list(campaign_chunks(make_jobs(1), phlo_id=PHLO_ID, journal=journal, rate_limit=limit))


@pytest.mark.parametrize(
    "damage",
    [
        lambda chunk: chunk.update(version=99),
        lambda chunk: chunk.pop("journal"),
        lambda chunk: chunk["jobs"][3].pop("job_id"),
        lambda chunk: chunk.update(jobs="not a list"),
        lambda chunk: chunk["jobs"][0].update(payload=[1, 2]),
        lambda chunk: chunk.update(rate_limit={"requests": 300, "unknown": 1}),
        lambda chunk: chunk.update(rate_limit={"requests": -1}),
    ],
    ids=["version", "journal", "job_id", "jobs", "payload", "rate_limit", "negative_limit"],
)
async def test_a_malformed_chunk_is_refused_before_any_request(
    server: EmulatorServer,
    worker_env: dict[str, str],
    journal: str,
    damage: Callable[[dict[str, Any]], object],
) -> None:
    [chunk] = chunks_of(make_jobs(10), journal)
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
    [chunk] = chunks_of(make_jobs(3), journal)

    with pytest.raises(ConfigurationError, match="PLIVO_AUTH_TOKEN"):
        await run_campaign_chunk(chunk)
    assert server.emulator.requests == []


async def _deliver(
    redis_url: str, queue: str, journal: str, limit: RateLimit, on_ack: Callable[[], Any]
) -> None:
    """Queue a chunk of 5 jobs on the real stream, then hand its raw message
    to a taskiq receiver (what a worker does) with an ``ack`` that calls
    ``on_ack``; return once the task finished."""
    import redis
    from taskiq.acks import AckableMessage
    from taskiq.receiver import Receiver

    from plivo_phlo_async.integrations.taskiq import campaign_broker, register_chunk_task

    await submit(redis_url, queue, make_jobs(5), journal, limit)
    with redis.Redis.from_url(redis_url) as connection:
        [(_, fields)] = connection.xrange(queue)

    async def ack() -> None:
        on_ack()

    broker = campaign_broker(redis_url, queue=queue)
    register_chunk_task(broker)
    receiver = Receiver(broker, run_startup=False)
    await receiver.callback(AckableMessage(data=fields[b"data"], ack=ack))


async def test_a_chunk_is_acknowledged_once_after_every_outcome_is_in_the_journal(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    journal: str,
) -> None:
    import sqlite3

    seen_at_ack: list[dict[str, int]] = []

    def on_ack() -> None:  # what another process would read in the journal right now
        with sqlite3.connect(journal) as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        db.close()
        seen_at_ack.append(dict(rows))

    await _deliver(redis_url, queue, journal, shared_limit, on_ack)

    assert seen_at_ack == [{"succeeded": 5}]
    assert len(server.emulator.requests) == 5


async def test_a_chunk_that_raises_is_not_acknowledged(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    worker_env: dict[str, str],
    shared_limit: RateLimit,
    tmp_path: Path,
) -> None:
    unusable = tmp_path / "a-directory"
    unusable.mkdir()  # a journal that cannot be opened: JournalError in the task
    acks: list[None] = []

    await _deliver(redis_url, queue, str(unusable), shared_limit, lambda: acks.append(None))

    assert acks == []  # left pending: the broker redelivers it
    assert server.emulator.requests == []
