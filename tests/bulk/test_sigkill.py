"""Resume after ``kill -9``: only the missing jobs are sent, none twice.

The emulator runs in this process on a loopback socket, so its records
survive the kill; only the bulk run is in a child process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anyio
import pytest
from _waiting import emulator_idle, wait_until

from plivo_phlo_async import RateLimit
from plivo_phlo_async.bulk import Outcome, OutcomeStatus, derive_job_id

from ._sigkill_child import job, jobs

emulator_pkg = pytest.importorskip("plivo_phlo_async.emulator")

CHILD = Path(__file__).with_name("_sigkill_child.py")
ROOT = Path(__file__).resolve().parents[2]
COUNT = 1_000  # far more than the child can send before it is killed


def journal_rows(path: Path) -> dict[str, str]:
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
            return dict(db.execute("SELECT job_id, status FROM jobs"))
    except sqlite3.OperationalError:  # not created yet
        return {}


async def test_resume_after_sigkill_sends_only_missing_jobs(tmp_path: Path) -> None:
    emulator = emulator_pkg.PhloEmulator({"rate_limit": False})
    # Slow answers, so that several requests are in flight at the kill.
    emulator.set_faults(emulator_pkg.FaultConfig(latency=0.2, methods={"POST"}))
    journal = tmp_path / "campaign.sqlite"
    ids = {derive_job_id(job(n)): n for n in range(COUNT)}

    async with emulator_pkg.run_emulator(emulator=emulator) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        errors = tmp_path / "child.stderr"
        with errors.open("wb") as stderr:
            child = await anyio.open_process(
                [sys.executable, str(CHILD), server.base_url, str(journal), str(COUNT)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        async with child:

            def forty_succeeded() -> bool:
                if sum(s == "succeeded" for s in journal_rows(journal).values()) >= 40:
                    return True
                assert child.returncode is None, errors.read_text()
                return False

            try:  # each look reads the journal: a slower pace
                await wait_until(forty_succeeded, what="40 jobs done", timeout=60, interval=0.05)
            finally:
                child.send_signal(signal.SIGKILL)
                await child.wait()
        assert child.returncode == -signal.SIGKILL

        at_kill = {ids[job_id]: status for job_id, status in journal_rows(journal).items()}
        in_flight = {n for n, status in at_kill.items() if status == "in_flight"}
        done = {n for n, status in at_kill.items() if status == "succeeded"}
        # A worker claims its next job before it waits for the rate limit: one
        # waiting at the kill leaves a claim, of a job that was never sent.
        claimed = {n for n, status in at_kill.items() if status == "claimed"}
        missing = set(range(COUNT)) - set(at_kill)
        assert in_flight, "the kill should catch requests in flight"
        assert in_flight | done | claimed == set(at_kill)

        # The killed child's last requests are still being answered: wait for quiet.
        await wait_until(lambda: emulator_idle(server), what="the emulator to answer")
        before_resume = len(emulator.requests)
        assert not claimed & {r.json["job"] for r in emulator.requests}  # never sent
        emulator.set_faults(None)  # fast answers for the resumed run
        outcomes: list[Outcome] = []
        async with server.client() as client:
            runner = client.bulk(
                jobs(COUNT), concurrency=32, rate_limit=RateLimit(2_000, per=1.0), journal=journal
            )
            async with runner.stream() as stream:
                async for outcome in stream:
                    outcomes.append(outcome)

    # Only the jobs with no row at the kill were sent, and the dead child's
    # claims (taken over at once), once each.
    unsent = missing | claimed
    resumed = [r.json["job"] for r in emulator.requests[before_resume:]]
    assert sorted(resumed) == sorted(unsent)

    # Every job has one outcome; the kill's in-flight jobs are outcome unknown.
    assert sorted(o.ref for o in outcomes) == list(range(COUNT))
    by_ref = {o.ref: o for o in outcomes}
    for n in in_flight:
        assert by_ref[n].status is OutcomeStatus.OUTCOME_UNKNOWN
        assert by_ref[n].from_journal
    for n in done:
        assert by_ref[n].status is OutcomeStatus.SUCCEEDED
        assert by_ref[n].from_journal
    for n in unsent:
        assert by_ref[n].status is OutcomeStatus.SUCCEEDED
        assert not by_ref[n].from_journal
    assert sorted(o.ref for o in runner.report.unknown) == sorted(in_flight)
    assert runner.report.requests_sent == len(unsent)

    # Across both runs no trigger executed twice; all but the in-flight ones exactly once.
    executed = Counter(action.payload["job"] for action in emulator.executions("run"))
    assert max(executed.values()) == 1
    assert set(executed) >= done | unsent
    assert set(executed) <= set(range(COUNT))
