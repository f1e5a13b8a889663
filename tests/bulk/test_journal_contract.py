"""The journal's contract, the same for both backends: every test runs
against a SQLite file and against the real PostgreSQL (in tables of its own,
dropped afterwards), through the async :class:`~._journal.Journal` interface
the runner, the manifest and the resolution commands use.

Backend-specific behaviour stays in its own tests: WAL loss, checkpoints and
process checks (``test_journal_integrity.py``, ``test_journal_sharing.py``,
``test_sigkill.py``), reconnecting (``test_journal_reconnect.py``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async.bulk._journal import (
    CLAIMED,
    IN_FLIGHT,
    RESEND,
    Journal,
    JournalError,
    open_journal,
)

AUTH_ID = "MAXXXXXXXXXXXXXXXXXX"
BASE = "http://127.0.0.1/v1"
#: A lease over as soon as it is written: its owner counts as gone.
GONE = 0.0


@dataclass
class Backend:
    """A journal location, and raw statements on its tables (``{jobs}``, ``{meta}``)."""

    location: str
    prefix: str | None  # None: SQLite

    def execute(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.prefix is None:
            with contextlib.closing(sqlite3.connect(self.location)) as db:
                rows = db.execute(sql.format(jobs="jobs", meta="meta"), args).fetchall()
                db.commit()
                return rows
        import psycopg

        url = self.location.rpartition("journal_prefix=")[0].rstrip("?&")
        tables = {"jobs": f"{self.prefix}_jobs", "meta": f"{self.prefix}_meta"}
        with psycopg.connect(url, autocommit=True) as db:
            cursor = db.execute(sql.format(**tables).replace("?", "%s"), args)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend(str(tmp_path / "journal.sqlite"), None)
        return
    pytest.importorskip("psycopg")
    url: str = request.getfixturevalue("postgres_url")
    prefix = f"t_{uuid.uuid4().hex[:12]}"
    yield Backend(f"{url}{'&' if '?' in url else '?'}journal_prefix={prefix}", prefix)
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP TABLE IF EXISTS {prefix}_jobs, {prefix}_meta")


@contextlib.asynccontextmanager
async def opened(backend: Backend, **options: Any) -> AsyncIterator[Journal]:
    """A runner's journal, closed (its claims released) at the end."""
    journal = await open_journal(backend.location, auth_id=AUTH_ID, base_url=BASE, **options)
    try:
        yield journal
    finally:
        await journal.aclose()


async def finish(journal: Journal, job_id: str, status: str = "succeeded") -> None:
    await journal.finish(
        job_id, status, ref=1, http_status=201, api_id="api", attempts=1, error=None
    )


async def send(journal: Journal, job_id: str, status: str = "succeeded") -> None:
    assert (await journal.claim(job_id, 1, retry_failed=False)).kind == "claimed"
    assert await journal.start(job_id, 1, url="https://x/run", payload=b'{"n":1}')
    await finish(journal, job_id, status)


# -- claims ------------------------------------------------------------------------------------


async def test_a_claimed_job_is_owned_by_its_run_until_it_has_an_outcome(
    backend: Backend,
) -> None:
    async with opened(backend) as mine, opened(backend) as theirs:
        assert (await mine.claim("a", 1, retry_failed=False)).kind == "claimed"
        assert (await mine.claim("a", 1, retry_failed=False)).kind == "duplicate"
        assert (await theirs.claim("a", 1, retry_failed=False)).kind == "owned"
        assert await mine.start("a", 1, url="u", payload=b"{}")
        assert (await theirs.claim("a", 1, retry_failed=False)).kind == "owned"
        await finish(mine, "a")

        settled = await theirs.claim("a", 1, retry_failed=False)

        assert (settled.kind, settled.status) == ("settled", "succeeded")
        row = await theirs.get("a")
        assert row is not None
        assert (row.status, row.run_token, row.api_id) == ("succeeded", theirs.run_token, "api")


async def test_a_run_whose_claim_expired_may_not_send_it(backend: Backend) -> None:
    async with opened(backend, lease=GONE) as stalled, opened(backend) as other:
        assert (await stalled.claim("a", 1, retry_failed=False)).kind == "claimed"
        assert (await other.claim("a", 1, retry_failed=False)).kind == "claimed"  # taken

        assert not await stalled.start("a", 1, url="u", payload=b"{}")
        assert await other.start("a", 1, url="u", payload=b"{}")


async def test_a_job_in_flight_without_a_live_owner_is_unknown(backend: Backend) -> None:
    async with opened(backend, lease=GONE) as stalled, opened(backend) as other:
        await stalled.claim("a", 1, retry_failed=False)
        await stalled.start("a", 1, url="u", payload=b"{}")

        claim = await other.claim("a", 1, retry_failed=False)

        assert (claim.kind, claim.status) == ("settled", "outcome_unknown")


async def test_unsent_returns_the_job_to_claimed_and_release_gives_it_up(
    backend: Backend,
) -> None:
    async with opened(backend) as mine:
        await mine.claim("a", 1, retry_failed=False)
        await mine.start("a", 1, url="u", payload=b"{}")
        await mine.unsent("a")
        row = await mine.get("a")
        assert row is not None
        assert row.status == CLAIMED
        await mine.release("a")
        assert await mine.get("a") is None


async def test_a_released_failure_claimed_for_a_retry_is_a_failure_again(
    backend: Backend,
) -> None:
    async with opened(backend) as first:
        await send(first, "a", "failed")
    async with opened(backend) as retrying, opened(backend) as plain:
        assert (await retrying.claim("a", 1, retry_failed=True)).kind == "claimed"
        await retrying.release("a")
        claim = await plain.claim("a", 1, retry_failed=False)
        assert (claim.kind, claim.status) == ("settled", "failed")


async def test_closing_releases_claims_and_leaves_jobs_in_flight_unknown(
    backend: Backend,
) -> None:
    async with opened(backend) as crashed:
        await crashed.claim("claimed", 1, retry_failed=False)
        await crashed.claim("sent", 2, retry_failed=False)
        await crashed.start("sent", 2, url="u", payload=b"{}")
    async with opened(backend) as later:
        assert await later.get("claimed") is None
        entry = await later.get("sent")
        assert entry is not None
        assert (entry.status, entry.lease_until) == (IN_FLIGHT, None)
        claim = await later.claim("sent", 2, retry_failed=True)
        assert (claim.kind, claim.status) == ("settled", "outcome_unknown")


async def test_renew_extends_the_leases_this_run_holds(backend: Backend) -> None:
    async with opened(backend) as mine:
        await mine.claim("a", 1, retry_failed=False)
        before = await mine.get("a")
        await mine.renew()
        after = await mine.get("a")
        assert before is not None
        assert after is not None
        assert before.lease_until is not None
        assert after.lease_until is not None
        assert after.lease_until > before.lease_until


# -- the operator's ----------------------------------------------------------------------------


async def test_rows_counts_and_resolving_unknown_jobs(backend: Backend) -> None:
    async with opened(backend, lease=GONE) as crashed:
        await send(crashed, "done")
        for job_id in ("x", "y"):
            await crashed.claim(job_id, 1, retry_failed=False)
            await crashed.start(job_id, 1, url="u", payload=b'{"n":1}')
    async with opened(backend) as operator:
        assert await operator.counts() == {"succeeded": 1, IN_FLIGHT: 2}
        listed = await operator.rows([IN_FLIGHT, "outcome_unknown"])
        assert sorted(entry.job_id for entry in listed) == ["x", "y"]
        assert {(entry.url, entry.payload) for entry in listed} == {("u", '{"n":1}')}

        with pytest.raises(ValueError, match="not in journal") as refused:
            await operator.resolve(["x", "nope", "done"], "succeeded", "seen")
        assert "done (succeeded)" in str(refused.value)
        assert await operator.counts() == {"succeeded": 1, IN_FLIGHT: 2}  # all or none

        assert await operator.resolve(["x", "x"], "succeeded", "seen") == ["x"]
        assert await operator.resolve(["y"], RESEND, "again") == ["y"]
        x = await operator.get("x")
        assert x is not None
        assert (x.status, x.note) == ("succeeded", "seen")
        assert (await operator.claim("y", 1, retry_failed=False)).kind == "claimed"


async def test_an_empty_journal_opened_read_only_reads_as_empty(backend: Backend) -> None:
    backend.execute("SELECT 1")  # SQLite: a file with no tables (a missing one is refused)
    journal = await open_journal(backend.location, readonly=True)
    try:
        assert await journal.rows() == []
        assert await journal.counts() == {}
    finally:
        await journal.aclose()


async def test_no_journal_there_is_a_missing_journal_error(backend: Backend) -> None:
    with pytest.raises(JournalError, match="no journal at") as missing:
        await open_journal(backend.location, create=False)
    assert missing.value.missing


async def test_a_journal_of_another_account_is_refused(backend: Backend) -> None:
    async with opened(backend) as first:
        await send(first, "a")

    with pytest.raises(JournalError, match=f"was written for account {AUTH_ID}"):
        await open_journal(backend.location, auth_id="MAYYYYYYYYYYYYYYYYYY", base_url=BASE)


# -- schema versions ---------------------------------------------------------------------------

V1 = (
    "CREATE TABLE {jobs} (job_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "run_token TEXT NOT NULL, ref TEXT, http_status INTEGER, api_id TEXT, "
    "attempts INTEGER NOT NULL DEFAULT 0, error TEXT, updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE {meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT INTO {meta} VALUES ('schema', '1')",
    "INSERT INTO {jobs} VALUES ('done', 'succeeded', 'old', '1', 201, 'a', 1, NULL, 1)",
    "INSERT INTO {jobs} VALUES ('lost', 'outcome_unknown', 'old', '2', 503, NULL, 1, 'x', 2)",
)


async def test_a_version_1_journal_is_read_as_it_is_and_migrated_when_written(
    backend: Backend,
) -> None:
    for statement in V1:
        backend.execute(statement)

    reader = await open_journal(backend.location, create=False, readonly=True)
    try:
        (lost,) = await reader.rows("outcome_unknown")
    finally:
        await reader.aclose()
    assert (lost.job_id, lost.ref, lost.url, lost.note, lost.lease_until) == (
        "lost",
        "2",
        None,
        None,
        None,
    )
    assert backend.execute("SELECT value FROM {meta} WHERE key='schema'") == [("1",)]

    async with opened(backend) as runner:
        claim = await runner.claim("done", 1, retry_failed=False)
        assert (claim.kind, claim.status) == ("settled", "succeeded")
        await send(runner, "new")
        new = await runner.get("new")
        assert new is not None
        assert (new.url, new.payload) == ("https://x/run", '{"n":1}')
    meta = dict(backend.execute("SELECT key, value FROM {meta}"))
    assert (meta["schema"], meta["auth_id"], meta["base_url"]) == ("3", AUTH_ID, BASE)


async def test_a_journal_of_a_newer_schema_is_refused(backend: Backend) -> None:
    async with opened(backend) as first:
        await send(first, "a")
    backend.execute("UPDATE {meta} SET value='4' WHERE key='schema'")

    with pytest.raises(JournalError, match=r"newer version \(schema 4\)"):
        await open_journal(backend.location)
