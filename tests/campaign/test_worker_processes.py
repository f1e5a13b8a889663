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

from plivo_phlo_async import RateLimit
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
    await wait_for_outcomes(journal, 60)
    await until(lambda: pending(redis_url, queue) == 0)

    await _assert_each_job_ran_as_its_outcome_says(journal, server, 60)


async def test_a_dead_workers_last_chunk_is_taken_over_with_no_new_message(
    redis_url: str,
    queue: str,
    server: EmulatorServer,
    shared_limit: RateLimit,
    journal: str,
    spawn_worker: Spawn,
) -> None:
    """The campaign's only chunk: nothing else ever arrives on the stream, so
    only the broker's timer can give the dead worker's chunk to the new one."""
    doomed = spawn_worker()
    await submit(redis_url, queue, make_jobs(20), journal, shared_limit, chunk_size=20)
    await until(lambda: len(server.emulator.requests) >= 3)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()
    assert pending(redis_url, queue) == 1

    spawn_worker()
    await wait_for_outcomes(journal, 20, deadline=60)
    await until(lambda: pending(redis_url, queue) == 0)

    await _assert_each_job_ran_as_its_outcome_says(journal, server, 20)


async def _assert_each_job_ran_as_its_outcome_says(
    journal: str, server: EmulatorServer, count: int
) -> None:
    """Every job has one outcome; a succeeded one ran exactly once; one whose
    outcome is unknown (in flight when its worker died) ran once or never;
    none ran twice."""
    from plivo_phlo_async.bulk._journal import open_journal

    opened = await open_journal(journal, create=False, readonly=True)
    try:
        rows = await opened.rows()
    finally:
        await opened.aclose()
    outcomes = {int(row.ref or -1): row.status for row in rows}
    runs = executions(server)
    assert sorted(outcomes) == list(range(count))
    assert {n for n, times in runs.items() if times > 1} == set()
    assert set(outcomes.values()) <= {"succeeded", "outcome_unknown"}
    for n, status in outcomes.items():
        if status == "succeeded":
            assert runs[n] == 1, n
        else:
            assert runs[n] in (0, 1), n
