"""Campaign tests: a taskiq-redis broker on a stream of the test's own (deleted
afterwards), the emulator over TCP (it records every request), and the
worker's environment (credentials and base URL) pointing at it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _redis_keys import redis_prefix  # noqa: F401 - a fixture
from _waiting import wait_until, wait_until_sync
from taskiq.api import run_receiver_task

from plivo_phlo_async import RateLimit
from plivo_phlo_async.bulk import RunJob
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
CAMPAIGN = "test-campaign"
#: Outcome states: a job in one of them is finished.
FINAL = ("succeeded", "failed", "outcome_unknown")


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


async def states(journal: str, campaign: str = CAMPAIGN) -> dict[str, int]:
    """The campaign's jobs by state, the states with no job left out."""
    found = await campaign_status(journal, campaign)
    return {state: count for state, count in found.counts.items() if count}


async def wait_for_outcomes(
    journal: str, count: int, *, campaign: str = CAMPAIGN, deadline: float = 120.0
) -> dict[str, int]:
    """The campaign's states once ``count`` jobs have their outcome (a hang
    fails after ``deadline`` seconds instead of blocking the suite)."""
    counts: dict[str, int] = {}

    async def enough() -> bool:
        nonlocal counts
        counts = await states(journal, campaign)
        return sum(counts.get(state, 0) for state in FINAL) >= count

    # Each look reads the journal: a slower pace.
    await wait_until(enough, what=f"{count} outcomes", timeout=deadline, interval=0.2)
    return counts


def pending(redis_url: str, queue: str) -> int:
    """Chunks delivered and not acknowledged."""
    import redis

    with redis.Redis.from_url(redis_url) as connection:
        info: Any = connection.xpending(queue, queue)
        return int(info["pending"])


class OwnRedis:
    """A ``redis-server`` of the test's own on a free port, keeping nothing on
    disk (as the machines' Redis): killed and restarted empty at will."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        if self._process is not None and self._process.poll() is None:
            return  # running already
        self._process = subprocess.Popen(  # noqa: S603
            [  # noqa: S607 - the machine's redis-server
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            try:
                with redis.Redis.from_url(self.url) as connection:
                    return bool(connection.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until_sync(listening, what="redis-server to listen", timeout=30, interval=0.02)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on this machine")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def in_process_worker(
    redis_url: str, queue: str
) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Start (on demand) a taskiq receiver in this process on the test's
    queue (or on ``broker_url``), one chunk at a time; stopped when the test ends."""
    from plivo_phlo_async.integrations.taskiq import register_chunk_task

    brokers: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    async def start(broker_url: str = redis_url, redeliver_after: float = 60.0) -> None:
        broker = campaign_broker(broker_url, queue=queue, redeliver_after=redeliver_after)
        register_chunk_task(broker)
        brokers.append(broker)
        await broker.startup()
        tasks.append(asyncio.create_task(run_receiver_task(broker, max_async_tasks=1)))

    yield start
    for task in tasks:
        await _cancelled(task)
    for broker in brokers:
        with contextlib.suppress(Exception):
            await broker.shutdown()


async def _cancelled(receiver: asyncio.Task[None], *, deadline: float = 30.0) -> None:
    """Cancel the receiver and return once it has ended.

    On stopping, taskiq cancels its pending XREADGROUP read and waits for it,
    shielded. That cancellation can be lost in the Redis client (seen on
    Python 3.10: the read went on, the receiver and the test's teardown
    waited forever), so while the receiver has not ended, the other tasks
    still pending in this test's loop (the read among them) are cancelled
    again; a receiver still running after ``deadline`` seconds fails the test.
    """
    receiver.cancel()
    with anyio.fail_after(deadline):
        while not receiver.done():
            await asyncio.wait({receiver}, timeout=0.5)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task() and not task.done():
                    task.cancel()
    with contextlib.suppress(BaseException):
        receiver.result()


async def until(check: Callable[[], bool], *, deadline: float = 60.0) -> None:
    """``wait_until`` with the generous limit of worker processes on a loaded
    machine, at a pace for checks that open a Redis connection each."""
    await wait_until(check, timeout=deadline, interval=0.05)
