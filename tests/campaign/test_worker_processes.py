"""``taskiq worker plivo_phlo_async.integrations.taskiq_worker:broker`` as real
processes: a campaign end to end, and a worker killed (SIGKILL) in the middle
of a chunk whose chunk the broker then redelivers to another worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plivo_phlo_async.bulk import RateLimit
from plivo_phlo_async.emulator._server import EmulatorServer

from .conftest import executions, make_jobs, pending, until, wait_for_outcomes
from .test_campaign import submit

TASKIQ = str(Path(sys.executable).with_name("taskiq"))
REDELIVER_AFTER = 2.0

Spawn = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def spawn_worker(
    redis_url: str, queue: str, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Spawn]:
    """Start ``taskiq worker`` processes (one worker, one chunk at a time) on
    the test's queue; every one still running is killed when the test ends."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        **worker_env,
        "PLIVO_PHLO_BROKER_URL": redis_url,
        "PLIVO_PHLO_QUEUE": queue,
        "PLIVO_PHLO_REDELIVER_AFTER": str(REDELIVER_AFTER),
    }

    def spawn() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - the venv's own taskiq
                [
                    TASKIQ,
                    "worker",
                    "plivo_phlo_async.integrations.taskiq_worker:broker",
                    "--workers",
                    "1",
                    "--max-async-tasks",
                    "1",
                    "--no-configure-logging",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only its processes
            process.wait()


async def test_worker_processes_run_a_campaign_end_to_end(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    shared_limit: RateLimit,
    journal: str,
    spawn_worker: Spawn,
) -> None:
    spawn_worker()
    spawn_worker()
    await submit(redis_url, queue, make_jobs(60), journal, shared_limit)

    counts = await wait_for_outcomes(journal, 60)

    assert counts == {"succeeded": 60}
    assert executions(server) == {n: 1 for n in range(60)}
    assert len(server.emulator.requests) == 60


async def test_a_worker_killed_mid_chunk_leaves_its_chunk_to_another_and_nothing_runs_twice(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    shared_limit: RateLimit,
    journal: str,
    spawn_worker: Spawn,
) -> None:
    doomed = spawn_worker()
    await submit(redis_url, queue, make_jobs(60), journal, shared_limit)
    await until(lambda: len(server.emulator.requests) >= 5)  # the first chunk is being sent
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    sent_before = len(server.emulator.requests)
    assert sent_before < 60  # killed mid-campaign
    assert pending(redis_url, queue) >= 1  # its chunk was never acknowledged

    spawn_worker()  # takes the chunk over after REDELIVER_AFTER
    counts = await wait_for_outcomes(journal, 60)
    await until(lambda: pending(redis_url, queue) == 0)

    runs = executions(server)
    assert [n for n, times in runs.items() if times > 1] == []  # 0 executed twice
    # Every job has exactly one outcome: sent by one worker or the other, or
    # "outcome_unknown" if it was in flight when the first one died.
    assert sum(counts.values()) == 60
    assert set(counts) <= {"succeeded", "outcome_unknown"}
    assert counts["succeeded"] == len(runs)
    assert counts.get("outcome_unknown", 0) == 60 - len(runs)
