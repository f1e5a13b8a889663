"""Campaign tests: a taskiq-redis broker on a stream of the test's own (deleted
afterwards), the emulator over TCP (it records every request), and the
worker's environment (credentials and base URL) pointing at it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _redis_keys import redis_prefix  # noqa: F401 - a fixture
from taskiq.api import run_receiver_task

from plivo_phlo_async.bulk import RateLimit, RunJob
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_PHLO_ID,
    run_emulator,
)
from plivo_phlo_async.emulator._server import EmulatorServer
from plivo_phlo_async.integrations.campaign import campaign_status
from plivo_phlo_async.integrations.taskiq import campaign_broker

PHLO_ID = DEFAULT_PHLO_ID
#: Outcome statuses: a job with one of them is finished.
FINAL = ("succeeded", "failed", "outcome_unknown", "skipped")


@pytest.fixture
def queue(redis_url: str) -> Iterator[str]:
    """A stream and consumer group of the test's own; deleted afterwards."""
    import redis

    name = f"plivo-phlo-test-campaign:{uuid.uuid4().hex[:12]}"
    yield name
    with redis.Redis.from_url(redis_url) as connection:
        keys = [name, *connection.scan_iter(match=f"autoclaim:{name}:*")]
        connection.delete(*keys)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with run_emulator() as running:
        yield running


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, server: EmulatorServer) -> dict[str, str]:
    """The account a worker runs chunks on, from its environment only."""
    env = {
        "PLIVO_AUTH_ID": DEFAULT_AUTH_ID,
        "PLIVO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
        "PLIVO_PHLO_BASE_URL": server.base_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def shared_limit(redis_url: str, redis_prefix: str) -> RateLimit:  # noqa: F811
    """A limit in Redis of the test's own: 20 requests a second, so a chunk of
    20 takes about a second (long enough to kill a worker in the middle)."""
    return RateLimit(20, per=1.0, redis=redis_url, key_prefix=redis_prefix)


@pytest.fixture
def journal(tmp_path: Path) -> str:
    return str(tmp_path / "campaign.sqlite")


def make_jobs(count: int) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"to": f"+1415555{n:04d}", "n": n}, ref=n) for n in range(count)]


def executions(server: EmulatorServer) -> Counter[int]:
    """How many times the emulator executed each job (by its ``n``)."""
    return Counter(run.payload["n"] for run in server.emulator.executions("run"))


async def wait_for_outcomes(journal: str, count: int, *, deadline: float = 120.0) -> dict[str, int]:
    """The journal's counts once ``count`` jobs are finished (a hang fails
    after ``deadline`` seconds instead of blocking the suite)."""
    with anyio.fail_after(deadline):
        while True:
            with contextlib.suppress(Exception):  # not created yet
                counts = await campaign_status(journal)
                if sum(counts.get(status, 0) for status in FINAL) >= count:
                    return counts
            await asyncio.sleep(0.2)


def pending(redis_url: str, queue: str) -> int:
    """Chunks delivered and not acknowledged."""
    import redis

    with redis.Redis.from_url(redis_url) as connection:
        info: Any = connection.xpending(queue, queue)
        return int(info["pending"])


@pytest.fixture
async def in_process_worker(
    redis_url: str, queue: str
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Start (on demand) a taskiq receiver in this process on the test's
    queue, one chunk at a time; stopped when the test ends."""
    from plivo_phlo_async.integrations.taskiq import register_chunk_task

    broker = campaign_broker(redis_url, queue=queue)
    register_chunk_task(broker)
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        await broker.startup()
        tasks.append(asyncio.create_task(run_receiver_task(broker, max_async_tasks=1)))

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    await broker.shutdown()


async def until(check: Callable[[], bool], *, deadline: float = 60.0) -> None:
    """Return once ``check()`` holds (a hang fails after ``deadline`` seconds)."""
    with anyio.fail_after(deadline):
        while True:
            if check():
                return
            await asyncio.sleep(0.05)
