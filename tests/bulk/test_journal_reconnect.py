"""The PostgreSQL journal outlives its connections.

A connection that breaks mid-run (``pg_terminate_backend``, a restarted
server, a network blip) is replaced and the operation tried again
(``RECONNECT_PAUSES``): no chunk fails with a ``JournalError``, no job is
sent twice, and an answer that arrived just before the break is recorded as
it was. A claim whose first attempt committed before its connection broke
recognises its own row (``decide(..., in_doubt=True)``). A database that
stays unreachable ends the operation in a ``JournalError`` naming the
journal, and nothing is sent.

Each test's journal has tables of its own (dropped afterwards) and an
``application_name`` of its own in its URL, so the backends it terminates
are this journal's connections and nobody else's.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest

from plivo_phlo_async.bulk import (
    JournalError,
    Outcome,
    OutcomeStatus,
    _journal_postgres,
    derive_job_id,
    journal_counts,
    run_chunk,
)
from plivo_phlo_async.bulk._journal import (
    CLAIMED,
    IN_FLIGHT,
    Claim,
    JournalEntry,
    decide,
    open_journal,
)
from plivo_phlo_async.bulk._journal_postgres import PostgresJournal

from ._claims_child import job, jobs

psycopg = pytest.importorskip("psycopg")
emulator_pkg = pytest.importorskip("plivo_phlo_async.emulator")

SUCCEEDED = OutcomeStatus.SUCCEEDED
SKIPPED = OutcomeStatus.SKIPPED
#: What ``_retrying`` logs for every attempt whose connection broke.
RETRIED = "trying again on a new connection"
#: Long enough for anything awaited here on a loaded machine; reached only on a hang.
DEADLINE = 60.0


@dataclass(frozen=True)
class Journal:
    """A journal URL whose connections carry ``app`` as their application_name."""

    url: str
    app: str
    prefix: str
    database: str  # the plain URL, for the test's own connections


@pytest.fixture
def journal(postgres_url: str) -> Iterator[Journal]:
    tag = uuid.uuid4().hex[:12]
    prefix, app = f"t_{tag}", f"reconnect_{tag}"
    glue = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{glue}application_name={app}&journal_prefix={prefix}"
    yield Journal(url, app, prefix, postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {prefix}_jobs, {prefix}_meta")


@pytest.fixture
def retries(caplog: pytest.LogCaptureFixture) -> Callable[[], int]:
    """How many times the journal has tried an operation again so far."""
    caplog.set_level(logging.WARNING, logger="plivo_phlo_async.journal")
    return lambda: sum(RETRIED in record.getMessage() for record in caplog.records)


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> tuple[float, ...]:
    """Retries without waits (as many as by default)."""
    pauses = (0.0,) * len(_journal_postgres.RECONNECT_PAUSES)
    monkeypatch.setattr(_journal_postgres, "RECONNECT_PAUSES", pauses)
    return pauses


async def cut(journal: Journal) -> int:
    """Terminate every backend of ``journal``'s connections, and return once they
    are gone (their sockets closed); the number terminated."""
    async with await psycopg.AsyncConnection.connect(journal.database, autocommit=True) as db:
        cursor = await db.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name = %s",
            (journal.app,),
        )
        found = await cursor.fetchall()
        # False: that backend ended by itself between the listing and the
        # terminate (the journal closed a connection meanwhile): not cut.
        pids = [pid for pid, terminated in found if terminated]
        deadline = time.monotonic() + DEADLINE
        while True:
            cursor = await db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            )
            row = await cursor.fetchone()
            assert row is not None
            if row[0] == 0:
                return len(pids)
            assert time.monotonic() < deadline, f"backends {pids} still there"
            await anyio.sleep(0.001)  # the poll's pace


async def statuses(journal: Journal) -> dict[str, tuple[str, str, str | None]]:
    """job_id -> (status, run_token, api_id), read by a connection of the test's own."""
    async with await psycopg.AsyncConnection.connect(journal.database, autocommit=True) as db:
        cursor = await db.execute(
            f"SELECT job_id, status, run_token, api_id FROM {journal.prefix}_jobs"  # noqa: S608
        )
        return {str(r[0]): (str(r[1]), str(r[2]), r[3]) for r in await cursor.fetchall()}


@functools.cache
def numbers() -> dict[str, int]:
    return {derive_job_id(job(n)): n for n in range(1_000)}


def executed(emulator: Any) -> Counter[int]:
    return Counter(action.payload["job"] for action in emulator.executions("run"))


def posted(emulator: Any) -> Counter[int]:
    return Counter(r.json["job"] for r in emulator.requests if r.method == "POST")


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Any]:
    emulator = emulator_pkg.PhloEmulator({"rate_limit": False})
    async with emulator_pkg.run_emulator(emulator=emulator) as server:
        yield server


# -- a run whose connections are cut -----------------------------------------------------------


async def test_a_run_whose_journal_connections_are_terminated_twice_sends_every_job_once(
    journal: Journal, retries: Callable[[], int]
) -> None:
    count = 200
    found: list[Outcome] = []
    cuts: list[tuple[int, int]] = []  # (jobs executed then, backends terminated)

    async with serving() as server:
        emulator = server.emulator

        async def on_outcome(outcome: Outcome) -> None:
            found.append(outcome)
            if len(found) in (50, 120):  # the run waits for its outcome stream meanwhile
                cuts.append((len(emulator.executions("run")), await cut(journal)))

        async with server.client() as client:
            runner = client.bulk(
                jobs(count),
                journal=journal.url,
                concurrency=16,
                rate_limit=None,
                on_outcome=on_outcome,
            )
            with anyio.fail_after(DEADLINE):
                report = await runner.run()  # no JournalError

    assert len(cuts) == 2
    for executed_then, terminated in cuts:
        assert terminated >= 1  # the journal's connections were cut...
        assert executed_then < count  # ...while the run was going
    assert retries() >= 2  # and the run felt it
    assert sorted(o.ref for o in found) == list(range(count))  # one outcome per job
    assert {o.status for o in found} == {SUCCEEDED}
    assert not any(o.from_journal for o in found)
    assert all(o.reason is None for o in found), [o.reason for o in found if o.reason]
    assert report.succeeded == count
    assert executed(emulator) == Counter(range(count))  # each executed exactly once
    assert posted(emulator) == Counter(range(count))  # and not even sent twice
    assert await journal_counts(journal.url) == {"succeeded": count}


async def test_an_answer_that_arrived_just_before_the_connection_was_cut_is_recorded(
    journal: Journal, retries: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    count, target = 20, 5
    original = PostgresJournal.finish
    cut_at: list[int] = []  # the target's executions when the cut came
    retried_in_finish: list[int] = []

    async with serving() as server:
        emulator = server.emulator

        async def finish(self: PostgresJournal, job_id: str, status: str, **fields: Any) -> None:
            if fields["ref"] != target:
                return await original(self, job_id, status, **fields)
            cut_at.append(executed(emulator)[target])  # its answer is in
            assert await cut(journal) >= 1
            before = retries()
            await original(self, job_id, status, **fields)
            retried_in_finish.append(retries() - before)

        monkeypatch.setattr(PostgresJournal, "finish", finish)
        found: list[Outcome] = []
        async with server.client() as client:
            with anyio.fail_after(DEADLINE):
                report = await run_chunk(
                    client,
                    jobs(count),
                    journal=journal.url,
                    concurrency=1,  # the finish is the first operation after the cut
                    rate_limit=None,
                    on_outcome=found.append,
                )

    assert cut_at == [1]
    assert len(retried_in_finish) == 1
    assert retried_in_finish[0] >= 1  # the finish met the cut
    by_ref = {o.ref: o for o in found}
    assert (by_ref[target].status, by_ref[target].reason) == (SUCCEEDED, None)
    assert report.succeeded == count
    rows = await statuses(journal)
    assert {status for status, _, _ in rows.values()} == {"succeeded"}  # none unknown
    assert rows[derive_job_id(job(target))][2] == by_ref[target].api_id
    assert executed(emulator) == Counter(range(count))


# -- decide() ------------------------------------------------------------------------------------


def entry(status: str, owner: str = "mine", lease_until: float | None = 1_030.0) -> JournalEntry:
    return JournalEntry(
        job_id="job-1",
        status=status,
        run_token=owner,
        ref="1",
        http_status=201 if status == "succeeded" else None,
        api_id="api-1" if status == "succeeded" else None,
        attempts=1,
        error=None,
        updated_at=1_000.0,
        url=None,
        payload=None,
        note=None,
        lease_until=lease_until,
    )


def test_a_claim_in_doubt_takes_its_own_committed_claimed_row() -> None:
    row = entry(CLAIMED)

    assert decide(row, "mine", 1_000.0, False, None, in_doubt=True) == (
        Claim("claimed", row),
        None,  # nothing to write: the row is already this run's claim
    )


@pytest.mark.parametrize("status", ["succeeded", "failed", "outcome_unknown"])
def test_a_claim_in_doubt_reports_its_own_settled_row_as_settled(status: str) -> None:
    row = entry(status, lease_until=None)

    assert decide(row, "mine", 1_000.0, False, None, in_doubt=True) == (
        Claim("settled", row, status),
        None,
    )


@pytest.mark.parametrize("status", [CLAIMED, "succeeded", "failed", "outcome_unknown"])
def test_a_claim_not_in_doubt_finds_its_own_row_a_duplicate(status: str) -> None:
    row = entry(status)

    assert decide(row, "mine", 1_000.0, False, None) == (Claim("duplicate", row), None)


def test_a_claim_in_doubt_finds_its_own_row_in_flight_a_duplicate() -> None:
    """A row this run already started is no first attempt of a claim."""
    row = entry(IN_FLIGHT)

    assert decide(row, "mine", 1_000.0, False, None, in_doubt=True) == (
        Claim("duplicate", row),
        None,
    )


def test_being_in_doubt_changes_nothing_about_another_runs_live_claim() -> None:
    row = entry(CLAIMED, owner="theirs")

    assert decide(row, "mine", 1_000.0, False, None, in_doubt=True) == (Claim("owned", row), None)


# -- a claim committed, its answer lost ---------------------------------------------------------


def commit_then_break(
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    calls: list[tuple[str, bool]],
    before_break: Any = None,
) -> None:
    """The first claim attempt of ``key`` commits its row, then its connection
    "breaks" before the answer is read (as when the server commits and dies
    before replying): the attempt raises psycopg.OperationalError."""
    original = PostgresJournal._claim

    async def _claim(
        self: PostgresJournal, db: Any, job_key: str, ref: Any, retry_failed: bool, in_doubt: bool
    ) -> Claim:
        calls.append((job_key, in_doubt))
        if job_key != key or [k for k, _ in calls].count(key) > 1:
            return await original(self, db, job_key, ref, retry_failed, in_doubt)
        other = await self._connect()  # committed on a connection of its own...
        try:
            async with other.transaction():
                claim = await original(self, other, job_key, ref, retry_failed, in_doubt)
        finally:
            await other.close()
        assert claim.kind == "claimed"
        if before_break is not None:
            await before_break()
        raise psycopg.OperationalError("server closed the connection unexpectedly")  # ...lost

    monkeypatch.setattr(PostgresJournal, "_claim", _claim)


async def test_a_claim_whose_commit_outlived_its_connection_is_claimed_once(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, no_pauses: tuple[float, ...]
) -> None:
    calls: list[tuple[str, bool]] = []
    commit_then_break(monkeypatch, "job-1", calls)
    opened = await open_journal(journal.url)
    try:
        claim = await opened.claim("job-1", 1, retry_failed=False)
        again = await opened.claim("job-1", 1, retry_failed=False)
        rows = await statuses(journal)
    finally:
        await opened.aclose()

    assert claim.kind == "claimed"
    assert calls[:2] == [("job-1", False), ("job-1", True)]  # tried again, in doubt
    assert rows == {"job-1": (CLAIMED, opened.run_token, None)}
    assert again.kind == "duplicate"  # and it is this run's, once


async def test_a_second_claim_of_a_job_while_its_first_is_in_doubt_is_a_duplicate(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, no_pauses: tuple[float, ...]
) -> None:
    """The first claim's retry takes the row this run owns; a claim of the same
    job made meanwhile by the same run must not take it too."""
    calls: list[tuple[str, bool]] = []
    committed, go_on = anyio.Event(), anyio.Event()

    async def hold() -> None:
        committed.set()
        await go_on.wait()

    commit_then_break(monkeypatch, "job-1", calls, before_break=hold)
    opened = await open_journal(journal.url)
    claims: list[Claim] = []
    try:
        with anyio.fail_after(DEADLINE):
            async with anyio.create_task_group() as tg:

                async def first() -> None:
                    claims.append(await opened.claim("job-1", 1, retry_failed=False))

                tg.start_soon(first)
                await committed.wait()
                second = await opened.claim("job-1", 1, retry_failed=False)
                go_on.set()
    finally:
        await opened.aclose()

    assert second.kind == "duplicate"
    assert [c.kind for c in claims] == ["claimed"]
    assert calls == [("job-1", False), ("job-1", True)]  # the second never reached the table


async def test_a_job_whose_claim_commit_outlived_its_connection_is_sent_once(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, no_pauses: tuple[float, ...]
) -> None:
    count, target = 10, 3
    calls: list[tuple[str, bool]] = []
    key = derive_job_id(job(target))
    commit_then_break(monkeypatch, key, calls)
    found: list[Outcome] = []

    async with serving() as server:
        async with server.client() as client:
            with anyio.fail_after(DEADLINE):
                report = await run_chunk(
                    client,
                    jobs(count),
                    journal=journal.url,
                    concurrency=4,
                    rate_limit=None,
                    on_outcome=found.append,
                )
        emulator = server.emulator

    assert [in_doubt for k, in_doubt in calls if k == key] == [False, True]
    by_ref = {o.ref: o for o in found}
    assert sorted(by_ref) == list(range(count))
    assert by_ref[target].status is SUCCEEDED
    assert not by_ref[target].from_journal
    assert report.succeeded == count
    assert executed(emulator) == Counter(range(count))  # the target too, once
    assert posted(emulator) == Counter(range(count))
    assert await journal_counts(journal.url) == {"succeeded": count}


# -- a database that stays unreachable -----------------------------------------------------------


def unreachable(opened: PostgresJournal, attempts: list[str]) -> None:
    """Every new connection of ``opened`` is refused from now on."""

    async def refuse() -> Any:
        attempts.append("connect")
        raise psycopg.OperationalError("connection failed: Connection refused")

    opened._connect = refuse


async def test_an_unreachable_database_ends_a_claim_in_a_journal_error_after_the_retries(
    journal: Journal, no_pauses: tuple[float, ...]
) -> None:
    opened = await open_journal(journal.url)
    assert isinstance(opened, PostgresJournal)
    attempts: list[str] = []
    unreachable(opened, attempts)
    await opened._drop_idle()  # its one connection "broke" too

    with pytest.raises(JournalError) as failure:
        await opened.claim("job-1", 1, retry_failed=False)
    tried = len(attempts)
    with pytest.raises(JournalError):  # nor can it release anything
        await opened.aclose()

    assert tried == len(no_pauses) + 1  # the first try, then one per pause
    assert failure.value.path == opened.name == journal.url
    message = str(failure.value)
    assert message.startswith(f"journal {journal.url}: could not claim job job-1: ")
    assert "OperationalError: connection failed: Connection refused" in message
    assert "job-1" not in opened.held
    assert await statuses(journal) == {}  # nothing claimed


async def test_a_run_whose_database_stays_unreachable_sends_nothing(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, no_pauses: tuple[float, ...]
) -> None:
    count = 10
    attempts: list[str] = []
    original = PostgresJournal.open

    async def open_then_lose(cls: type[PostgresJournal], /, url: str, **options: Any) -> Any:
        opened = await original(url, **options)
        unreachable(opened, attempts)
        await opened._drop_idle()
        return opened

    monkeypatch.setattr(PostgresJournal, "open", classmethod(open_then_lose))
    found: list[Outcome] = []

    async with serving() as server:
        async with server.client() as client:
            runner = client.bulk(
                jobs(count),
                journal=journal.url,
                concurrency=4,
                rate_limit=None,
                on_outcome=found.append,
            )
            with anyio.fail_after(DEADLINE), pytest.raises(JournalError) as failure:
                await runner.run()
        emulator = server.emulator

    assert attempts  # it did try to reconnect
    assert failure.value.path == journal.url
    assert "could not claim job" in str(failure.value)
    assert "Connection refused" in str(failure.value)
    assert emulator.requests == []  # nothing sent
    refs = [o.ref for o in found]  # a journal failure stops the run: the rest is not read
    assert len(refs) == len(set(refs))
    assert set(refs) <= set(range(count))
    assert {o.status for o in found} == {SKIPPED}
    assert runner.report.stopped_early
    assert await statuses(journal) == {}
