"""Several runners on one journal: claims, not checks.

Each test runs against both backends (a SQLite file; PostgreSQL from the
``postgres_url`` fixture, in tables of its own that are dropped afterwards)
and one emulator that records every request it receives and every action it
executes: no job may be executed twice, and every job has exactly one
outcome in each runner's report.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _waiting import emulator_idle, wait_until

from plivo_phlo_async import RateLimit
from plivo_phlo_async.bulk import (
    BulkReport,
    BulkRunner,
    Outcome,
    OutcomeStatus,
    derive_job_id,
    journal_counts,
    run_chunk,
)

from ._claims_child import job, jobs

emulator_pkg = pytest.importorskip("plivo_phlo_async.emulator")

CHILD = Path(__file__).with_name("_claims_child.py")
ROOT = Path(__file__).resolve().parents[2]
SUCCEEDED = OutcomeStatus.SUCCEEDED
SKIPPED = OutcomeStatus.SKIPPED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A journal location: a file, or PostgreSQL tables with a prefix of their own."""
    if request.param == "sqlite":
        yield str(tmp_path / "campaign.sqlite")
        return
    url: str = request.getfixturevalue("postgres_url")
    prefix = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{url}{'&' if '?' in url else '?'}journal_prefix={prefix}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {prefix}_jobs, {prefix}_meta")


@functools.cache
def job_numbers() -> dict[str, int]:
    return {derive_job_id(job(n)): n for n in range(1_000)}


def journal_rows(location: str) -> dict[int, str]:
    """job number -> status, read by a connection of its own."""
    ids = job_numbers()
    if location.startswith("postgresql"):
        import psycopg

        url, _, prefix = location.rpartition("journal_prefix=")
        with psycopg.connect(url.rstrip("?&"), autocommit=True) as db:
            try:
                found = db.execute(f"SELECT job_id, status FROM {prefix}_jobs").fetchall()  # noqa: S608
            except psycopg.errors.UndefinedTable:  # not created yet
                return {}
    else:
        try:
            with contextlib.closing(sqlite3.connect(location, timeout=10)) as db:
                found = db.execute("SELECT job_id, status FROM jobs").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return {}
    return {ids[job_id]: status for job_id, status in found}


def lease_expired(location: str, job_id: str) -> bool:
    """Whether the job's lease is over by the journal's own clock (the database's
    for PostgreSQL), read by a connection of its own."""
    if location.startswith("postgresql"):
        import psycopg

        url, _, prefix = location.rpartition("journal_prefix=")
        with psycopg.connect(url.rstrip("?&"), autocommit=True) as db:
            row = db.execute(
                f"SELECT lease_until <= extract(epoch from clock_timestamp()) "  # noqa: S608
                f"FROM {prefix}_jobs WHERE job_id = %s",
                (job_id,),
            ).fetchone()
        return bool(row and row[0])
    with contextlib.closing(sqlite3.connect(location, timeout=10)) as db:
        row = db.execute("SELECT lease_until FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return row is not None and row[0] is not None and row[0] <= time.time()


def executed(emulator: Any) -> Counter[int]:
    return Counter(action.payload["job"] for action in emulator.executions("run"))


def posted(emulator: Any) -> Counter[int]:
    return Counter(r.json["job"] for r in emulator.requests if r.method == "POST")


@contextlib.asynccontextmanager
async def serving(latency: float = 0.0) -> AsyncIterator[Any]:
    emulator = emulator_pkg.PhloEmulator({"rate_limit": False})
    if latency:
        emulator.set_faults(emulator_pkg.FaultConfig(latency=latency, methods={"POST"}))
    async with emulator_pkg.run_emulator(emulator=emulator) as server:
        yield server


async def start_child(
    server: Any,
    journal: str,
    count: int,
    out: Path,
    *,
    lease: float = 30.0,
    concurrency: int = 16,
    rate: int = 2_000,
) -> anyio.abc.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.with_suffix(".stderr").open("wb") as stderr:
        return await anyio.open_process(
            [
                sys.executable,
                str(CHILD),
                server.base_url,
                journal,
                str(count),
                str(lease),
                str(concurrency),
                str(rate),
                str(out),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def read_outcomes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def sent_by(records: list[dict[str, Any]]) -> set[int]:
    """The jobs this runner sent itself (an outcome not taken from the journal)."""
    return {r["ref"] for r in records if not r["from_journal"] and r["status"] != "skipped"}


# -- two processes, one journal ----------------------------------------------------------------


async def test_two_runner_processes_started_together_execute_each_job_once(
    journal: str, tmp_path: Path
) -> None:
    count = 1_000
    async with serving(latency=0.002) as server:
        outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
        children = [await start_child(server, journal, count, out) for out in outs]
        with anyio.fail_after(120):
            for child in children:
                assert await child.wait() == 0, (
                    outs[children.index(child)].with_suffix(".stderr").read_text()
                )
        emulator = server.emulator
        a, b = (read_outcomes(out) for out in outs)

        assert set(executed(emulator)) == set(range(count))
        assert max(executed(emulator).values()) == 1  # 0 executed twice
        assert max(posted(emulator).values()) == 1  # and none even sent twice
        for records in (a, b):  # each job has exactly one outcome in each report
            assert sorted(r["ref"] for r in records) == list(range(count))
        assert sent_by(a) | sent_by(b) == set(range(count))
        assert not sent_by(a) & sent_by(b)
        for records, other in ((a, b), (b, a)):
            mine = sent_by(records)
            for record in records:
                if record["ref"] not in mine:  # the other runner's outcome, or skipped
                    assert record["ref"] in sent_by(other)
                    assert record["from_journal"] or record["status"] == "skipped"
        assert await journal_counts(journal) == {"succeeded": count}
        print(f"\nsent by a: {len(sent_by(a))}, by b: {len(sent_by(b))}")


# -- a chunk delivered twice -----------------------------------------------------------------------


async def test_a_chunk_delivered_again_a_second_later_executes_nothing_twice(
    journal: str,
) -> None:
    """An at-least-once queue whose visibility timeout expired redelivers a
    chunk while the first delivery still runs."""
    count = 500
    reports: dict[str, BulkReport] = {}
    outcomes: dict[str, list[Outcome]] = {"first": [], "second": []}
    async with serving() as server:
        async with server.client() as client:

            async def deliver(name: str, delay: float) -> None:
                await anyio.sleep(delay)
                reports[name] = await run_chunk(
                    client,
                    jobs(count),
                    journal=journal,
                    concurrency=16,
                    rate_limit=RateLimit(200, per=1.0),
                    on_outcome=outcomes[name].append,
                )

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(deliver, "first", 0.0)
                    tg.start_soon(deliver, "second", 1.0)
        emulator = server.emulator

    assert set(executed(emulator)) == set(range(count))
    assert max(executed(emulator).values()) == 1
    first, second = outcomes["first"], outcomes["second"]
    assert sorted(o.ref for o in first) == sorted(o.ref for o in second) == list(range(count))
    sent = [
        {o.ref for o in run if not o.from_journal and o.status is SUCCEEDED}
        for run in (first, second)
    ]
    assert sent[0] | sent[1] == set(range(count))
    assert not sent[0] & sent[1]
    assert reports["first"].wall_time > 1.0  # the limiter's doing: they overlapped
    # The second delivery reports the first one's outcomes: nothing is left unknown.
    assert all(o.status is SUCCEEDED for o in second)
    assert reports["first"].requests_sent + reports["second"].requests_sent == count


# -- kill -9 ----------------------------------------------------------------------------------


async def test_after_kill_9_claimed_jobs_are_sent_once_and_in_flight_ones_are_unknown(
    journal: str, tmp_path: Path
) -> None:
    count = 200
    lease = 30.0 if not journal.startswith("postgresql") else 2.0
    out = tmp_path / "killed.jsonl"
    async with serving(latency=1.2) as server:
        emulator = server.emulator
        # Slow on purpose: 20 workers each hold a claim while the limiter lets
        # 8 requests a second through, each answered after 1.2 s: from the
        # second second on, requests are always in flight and claims wait.
        child = await start_child(server, journal, count, out, lease=lease, concurrency=20, rate=8)
        async with child:
            try:
                with anyio.fail_after(60):  # done, claimed and in-flight jobs at once
                    while (
                        not {"succeeded", "claimed", "in_flight"}
                        <= set(journal_rows(journal).values())
                        or list(journal_rows(journal).values()).count("succeeded") < 10
                    ):
                        assert child.returncode is None, out.with_suffix(".stderr").read_text()
                        await anyio.sleep(0.01)  # polls the journal (and the child's life)
            finally:
                child.send_signal(signal.SIGKILL)
                await child.wait()
        at_kill = journal_rows(journal)
        claimed = {n for n, status in at_kill.items() if status == "claimed"}
        in_flight = {n for n, status in at_kill.items() if status == "in_flight"}
        assert claimed, at_kill
        assert in_flight, at_kill
        # The emulator answers what was in flight at the kill (1.2 s after receiving it).
        await wait_until(lambda: emulator_idle(server), what="the emulator to answer")
        emulator.set_faults(None)  # fast answers for the resumed run
        posted_at_kill = posted(emulator)
        assert not set(posted_at_kill) & claimed  # claimed, never sent

        found: list[Outcome] = []
        async with server.client() as client:
            with anyio.fail_after(60):
                await BulkRunner(
                    client,
                    jobs(count),
                    concurrency=32,
                    lease=lease,
                    rate_limit=RateLimit(2_000, per=1.0),
                    journal=journal,
                    on_outcome=found.append,
                ).run()

    by_ref = {o.ref: o for o in found}
    assert sorted(by_ref) == list(range(count))
    for n in claimed:  # taken over from the dead owner and sent once
        assert executed(emulator)[n] == 1
        assert by_ref[n].status is SUCCEEDED
        assert not by_ref[n].from_journal
    for n in in_flight:  # may have run (or not: killed right before sending); never sent again
        assert posted(emulator)[n] == posted_at_kill[n] <= 1
        if by_ref[n].status is SUCCEEDED:
            # The dead runner's last write was in transit at the kill: the
            # database committed it after the snapshot. Recorded, not re-sent.
            assert by_ref[n].from_journal
            assert executed(emulator)[n] == 1
        else:
            assert by_ref[n].status is UNKNOWN
        assert by_ref[n].from_journal
    assert max(executed(emulator).values()) == 1
    assert set(executed(emulator)) >= set(range(count)) - in_flight


# -- leases --------------------------------------------------------------------------------------


async def test_claims_outlive_their_lease_while_the_runner_waits_for_the_rate_limit(
    journal: str,
) -> None:
    """The heartbeat renews them: a runner started later sends none of them."""
    count = 12
    found: dict[str, list[Outcome]] = {"slow": [], "late": []}
    async with serving() as server:
        async with server.client() as client:

            async def slow() -> None:  # 12 claims at once, then 4 requests a second
                await BulkRunner(
                    client,
                    jobs(count),
                    concurrency=count,
                    lease=0.4,
                    rate_limit=RateLimit(4, per=1.0),
                    journal=journal,
                    on_outcome=found["slow"].append,
                ).run()

            async def late() -> None:
                # Once the slow runner holds its claims, three leases pass: real
                # time is the point (only the heartbeat keeps the claims).
                await wait_until(
                    lambda: len(journal_rows(journal)) == count,
                    what="the slow runner's claims",
                    interval=0.02,
                )
                await anyio.sleep(1.2)
                await BulkRunner(
                    client,
                    jobs(count),
                    concurrency=count,
                    lease=0.4,
                    rate_limit=None,
                    journal=journal,
                    on_outcome=found["late"].append,
                ).run()

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow)
                    tg.start_soon(late)
        emulator = server.emulator

    assert max(executed(emulator).values()) == 1
    assert set(executed(emulator)) == set(range(count))
    assert all(not o.from_journal and o.status is SUCCEEDED for o in found["slow"])
    assert all(o.from_journal and o.status is SUCCEEDED for o in found["late"])


async def test_a_stopped_run_releases_the_jobs_it_claimed_and_did_not_send(
    journal: str,
) -> None:
    async with serving() as server, server.client() as client:
        runner = BulkRunner(
            client, jobs(50), concurrency=8, journal=journal, rate_limit=RateLimit(5, per=1.0)
        )
        async with runner.stream() as outcomes:
            async for outcome in outcomes:
                if outcome.status is SUCCEEDED:
                    runner.stop()
        sent = set(executed(server.emulator))
        assert await journal_counts(journal) == {"succeeded": len(sent)}  # no claim left

        again = await BulkRunner(client, jobs(50), journal=journal, rate_limit=None).run()

    assert again.succeeded == 50
    assert max(executed(server.emulator).values()) == 1


async def test_a_dead_runners_claim_on_a_failed_job_falls_back_to_failed(journal: str) -> None:
    """A run with retry_failed claimed a failed job and died before sending
    it: a run without retry_failed reports the failure, it does not send it."""
    from plivo_phlo_async.bulk._journal import open_journal

    job_id = derive_job_id(job(0))
    first = await open_journal(journal)
    assert (await first.claim(job_id, 0, retry_failed=False)).kind == "claimed"
    await first.finish(
        job_id,
        "failed",
        ref=0,
        http_status=400,
        api_id=None,
        attempts=1,
        error="BadRequestError: no",
    )
    await first.aclose()
    dying = await open_journal(journal, lease=0.01)
    assert (await dying.claim(job_id, 0, retry_failed=True)).kind == "claimed"
    # Its lease expires (it never renews it).
    await wait_until(lambda: lease_expired(journal, job_id), what="the lease to expire")

    later = await open_journal(journal)
    claim = await later.claim(job_id, 0, retry_failed=False)
    await later.aclose()
    await dying.aclose()

    assert (claim.kind, claim.status) == ("settled", "failed")
    assert await journal_counts(journal) == {"failed": 1}


async def test_a_job_in_flight_in_a_live_run_cannot_be_marked_or_resent(journal: str) -> None:
    """Its answer is on its way: the operator waits for the run to end."""
    from plivo_phlo_async import InvalidParameterError
    from plivo_phlo_async.bulk import allow_resend, mark_jobs
    from plivo_phlo_async.bulk._journal import open_journal

    job_id = derive_job_id(job(0))
    running = await open_journal(journal)
    assert (await running.claim(job_id, 0, retry_failed=False)).kind == "claimed"
    assert await running.start(job_id, 0, url="u", payload=b"{}")

    with pytest.raises(InvalidParameterError, match="in flight in a run that is still going"):
        await mark_jobs(journal, [job_id], "succeeded")
    with pytest.raises(InvalidParameterError, match="still going"):
        await allow_resend(journal, all_unknown=True)
    await running.aclose()  # the run ended without the answer: now it can be resolved

    assert await mark_jobs(journal, [job_id], "succeeded") == [job_id]
    assert await journal_counts(journal) == {"succeeded": 1}
