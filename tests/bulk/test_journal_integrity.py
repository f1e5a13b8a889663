"""A journal that cannot be trusted is refused before anything is sent.

Damaged pages, a main file copied without its ``-wal``, a journal written for
another account or endpoint, and journal writes that fail mid-run: each is a
typed ``JournalError`` naming the file, and the counting fake Plivo shows
what (if anything) was sent.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import plivo_phlo_async
import plivo_phlo_async.emulator
from plivo_phlo_async import PhloClient, PlivoError
from plivo_phlo_async.bulk import (
    JournalError,
    Outcome,
    OutcomeStatus,
    RunJob,
    _journal_sqlite,
    derive_job_id,
    unknown_jobs,
)
from plivo_phlo_async.bulk._journal_sqlite import SqliteFile as Journal

from .conftest import AUTH_ID, BASE, PHLO_ID, FakePlivo

SUCCEEDED = OutcomeStatus.SUCCEEDED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
SKIPPED = OutcomeStatus.SKIPPED
OTHER_AUTH_ID = "MAYYYYYYYYYYYYYYYYYY"
SECRET = "s3cr3t-TOKEN-never-stored-5d2e"
#: The lease of a journal that "crashes": expired by the time the next run reads it.
LEASE = 0.001


def jobs(numbers: range | list[int]) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"to": "+14155550100", "n": n}, ref=n) for n in numbers]


def raw(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows read from the main file alone, as it is on disk (no WAL, no recovery)."""
    uri = f"{path.resolve().as_uri()}?immutable=1"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(sql, args).fetchall()


def wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def fill(path: Path, count: int, *, auth_id: str = AUTH_ID) -> None:
    """A closed journal of ``count`` succeeded jobs."""
    journal = Journal(path, auth_id=auth_id, base_url=BASE)
    for job in jobs(range(count)):
        job_id = derive_job_id(job)
        journal.claim(job_id, job.ref, retry_failed=False)
        journal.start(job_id, job.ref, url="https://x/run", payload=b'{"to":"+1"}')
        journal.finish(
            job_id, "succeeded", ref=job.ref, http_status=201, api_id="a", attempts=1, error=None
        )
    journal.close()


async def run_all(client: PhloClient, numbers: range, journal: Path, **options: Any) -> Any:
    outcomes: list[Outcome] = []
    runner = client.bulk(
        jobs(numbers), rate_limit=None, journal=journal, on_outcome=outcomes.append, **options
    )
    error: BaseException | None = None
    try:
        await runner.run()
    except JournalError as exc:
        error = exc
    return outcomes, runner.report, error


# -- the error type --------------------------------------------------------------------------


def test_journal_error_is_a_public_plivo_error() -> None:
    assert issubclass(JournalError, PlivoError)
    assert plivo_phlo_async.JournalError is JournalError
    assert not JournalError.outcome_unknown


# -- damage ---------------------------------------------------------------------------------------


def damage(path: Path, size: int = 8192, seed: int = 9) -> None:
    """Overwrite ``size`` bytes in the middle of the file with random bytes."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = random.Random(seed).randbytes(size)
    path.write_bytes(bytes(data))


async def test_a_damaged_journal_is_refused_at_open_and_nothing_is_sent(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    path = tmp_path / "campaign.sqlite"
    fill(path, 3000)
    assert path.stat().st_size > 40 * 4096  # many pages: the damage is mid-file
    assert not wal(path).exists()
    damage(path)

    outcomes, report, error = await run_all(plivo.client(), range(3100), path)

    assert isinstance(error, JournalError)
    assert "damaged" in str(error)
    assert str(path) in str(error)
    assert error.path == str(path)
    assert plivo.requests == []
    assert outcomes == []
    assert report.requests_sent == 0


def test_a_damaged_journal_is_refused_even_read_only(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    fill(path, 3000)
    damage(path)
    with pytest.raises(JournalError, match="damaged"):
        Journal(path, readonly=True)


@pytest.mark.parametrize("kind", ["text", "other-sqlite"])
async def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(
    plivo: FakePlivo, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "precious.db"
    if kind == "text":
        path.write_text("not a database at all, but long enough to look like a header" * 10)
    else:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE customers (name TEXT)")
            db.commit()
    before = path.read_bytes()

    _, _, error = await run_all(plivo.client(), range(3), path)

    assert isinstance(error, JournalError)
    assert "is not a plivo-phlo journal" in str(error)
    assert path.read_bytes() == before
    assert plivo.requests == []


async def test_a_journal_from_a_newer_version_is_refused(plivo: FakePlivo, tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    fill(path, 1)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE meta SET value='4' WHERE key='schema'")
        db.commit()
    _, _, error = await run_all(plivo.client(), range(3), path)
    assert isinstance(error, JournalError)
    assert "newer version (schema 4)" in str(error)
    assert plivo.requests == []


# -- the write-ahead log ------------------------------------------------------------------------


async def test_a_clean_close_leaves_the_whole_journal_in_the_main_file(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    path = tmp_path / "campaign.sqlite"
    client = plivo.client()
    await client.bulk(jobs(range(300)), rate_limit=None, journal=path).run()
    assert len(plivo.requests) == 300
    assert not wal(path).exists() or wal(path).stat().st_size == 0
    assert raw(path, "SELECT value FROM meta WHERE key='state'") == [("closed",)]

    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(path, moved / path.name)  # the main file alone
    outcomes, report, error = await run_all(client, range(300), moved / path.name)

    assert error is None
    assert len(plivo.requests) == 300  # nothing sent again
    assert report.succeeded == 300
    assert all(outcome.from_journal for outcome in outcomes)


def write_in_flight(journal: Journal, numbers: range) -> None:
    for job in jobs(numbers):
        journal.claim(derive_job_id(job), job.ref, retry_failed=False)
        journal.start(derive_job_id(job), job.ref, url="u", payload=b"{}")


async def test_a_main_file_copied_without_its_wal_is_refused(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    """A run is alive (or was killed): its latest rows are only in the -wal
    file. The main file alone must not be taken for the whole journal."""
    path = tmp_path / "campaign.sqlite"
    live = Journal(path, auth_id=AUTH_ID, base_url=BASE)
    try:
        write_in_flight(live, range(127))
        assert raw(path, "SELECT count(*) FROM jobs") == [(0,)]  # only in the WAL
        copy = tmp_path / "copy"
        copy.mkdir()
        shutil.copy(path, copy / path.name)
    finally:
        live.close()

    _, _, error = await run_all(plivo.client(), range(200), copy / path.name)

    assert isinstance(error, JournalError)
    assert f"{path.name}-wal is missing" in str(error)
    assert "-shm" in str(error)
    assert plivo.requests == []
    with pytest.raises(JournalError, match="-wal is missing"):
        Journal(copy / path.name, readonly=True)
    # Refusing it (a status command reads it first) left no empty log beside
    # it, which the next run would take for the real one.
    assert not wal(copy / path.name).exists()
    _, _, again = await run_all(plivo.client(), range(200), copy / path.name)
    assert isinstance(again, JournalError)
    assert plivo.requests == []


async def test_the_journal_checkpoints_itself_and_the_main_file_still_says_open(
    plivo: FakePlivo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's automatic checkpoint would copy a "running" marker into the main
    file mid-run; the journal's own checkpoints leave it saying "open"."""
    monkeypatch.setattr(_journal_sqlite, "CHECKPOINT_EVERY", 10)
    path = tmp_path / "campaign.sqlite"
    live = Journal(path, auth_id=AUTH_ID, base_url=BASE)
    try:
        write_in_flight(live, range(54))  # a claim and a start each: 108 writes
        assert 50 <= raw(path, "SELECT count(*) FROM jobs")[0][0] < 54  # checkpointed
        assert raw(path, "SELECT value FROM meta WHERE key='state'") == [("open",)]
        copy = tmp_path / "copy"
        copy.mkdir()
        shutil.copy(path, copy / path.name)
    finally:
        live.close()

    _, _, error = await run_all(plivo.client(), range(60), copy / path.name)

    assert isinstance(error, JournalError)
    assert plivo.requests == []


async def test_a_crashed_journal_with_its_wal_resumes(plivo: FakePlivo, tmp_path: Path) -> None:
    path = tmp_path / "campaign.sqlite"
    live = Journal(path, auth_id=AUTH_ID, base_url=BASE, lease=LEASE)
    try:
        write_in_flight(live, range(5))
        snapshot = tmp_path / "snapshot"  # what a kill -9 leaves on disk
        snapshot.mkdir()
        for part in (path, wal(path)):
            shutil.copy(part, snapshot / part.name)
    finally:
        live.close()

    outcomes, _, error = await run_all(plivo.client(), range(8), snapshot / path.name)

    assert error is None
    assert sorted(plivo.sent_refs()) == [5, 6, 7]
    assert sorted(o.ref for o in outcomes if o.status is UNKNOWN) == [0, 1, 2, 3, 4]


async def test_a_crashed_journal_merged_by_another_connection_resumes(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    """Any SQLite connection that is the last to close a crashed journal
    copies its WAL into the main file and deletes it: that journal is whole."""
    path = tmp_path / "campaign.sqlite"
    crashed = Journal(path, auth_id=AUTH_ID, base_url=BASE, lease=LEASE)
    write_in_flight(crashed, range(5))
    crashed._db.close()  # the connection goes away without the journal's clean close
    assert not wal(path).exists()
    assert raw(path, "SELECT value FROM meta WHERE key='state'") == [("running",)]

    outcomes, _, error = await run_all(plivo.client(), range(8), path)

    assert error is None
    assert sorted(plivo.sent_refs()) == [5, 6, 7]
    assert sorted(o.ref for o in outcomes if o.status is UNKNOWN) == [0, 1, 2, 3, 4]


# -- identity -----------------------------------------------------------------------------------


async def test_a_journal_records_its_account_and_endpoint_never_the_token(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    await (
        client_for(plivo, AUTH_ID, BASE, token=SECRET)
        .bulk(jobs(range(3)), rate_limit=None, journal=path)
        .run()
    )
    meta = dict(raw(path, "SELECT key, value FROM meta"))
    assert meta["auth_id"] == AUTH_ID
    assert meta["base_url"] == BASE
    assert SECRET.encode() not in path.read_bytes()


def client_for(
    plivo: FakePlivo, auth_id: str, base_url: str, token: str | None = None
) -> PhloClient:
    return PhloClient(
        auth_id,
        token or "token",
        base_url=base_url,
        voice_base_url=base_url,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(plivo)),
    )


@pytest.mark.parametrize(
    ("auth_id", "base_url"),
    [(OTHER_AUTH_ID, BASE), (AUTH_ID, "https://api.plivo.com/v1")],
    ids=["other account", "other endpoint"],
)
async def test_a_journal_of_another_account_or_endpoint_is_refused(
    plivo: FakePlivo, tmp_path: Path, auth_id: str, base_url: str
) -> None:
    path = tmp_path / "j.sqlite"
    await plivo.client().bulk(jobs(range(3)), rate_limit=None, journal=path).run()
    plivo.requests.clear()

    _, _, error = await run_all(client_for(plivo, auth_id, base_url), range(5), path)

    assert isinstance(error, JournalError)
    assert str(error).startswith(
        f"journal {path} was written for account {AUTH_ID} at {BASE}, not {auth_id} at {base_url}"
    )
    assert plivo.requests == []


EMULATOR_ID = plivo_phlo_async.emulator.DEFAULT_AUTH_ID
EMULATOR_URL = "http://127.0.0.1:41387/v1"


async def test_the_emulators_account_on_loopback_reuses_its_journal_on_another_port(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    path = tmp_path / "j.sqlite"
    await (
        client_for(plivo, EMULATOR_ID, EMULATOR_URL)
        .bulk(jobs(range(3)), rate_limit=None, journal=path)
        .run()
    )
    plivo.requests.clear()

    moved = client_for(plivo, EMULATOR_ID, "http://127.0.0.1:37167/v1")  # a new emulator
    outcomes, report, error = await run_all(moved, range(3), path)

    assert error is None
    assert report.succeeded == 3
    assert all(o.from_journal for o in outcomes)
    assert plivo.requests == []


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ((EMULATOR_ID, EMULATOR_URL), (EMULATOR_ID, "http://localhost:41387/v1")),
        ((EMULATOR_ID, EMULATOR_URL), (EMULATOR_ID, "http://127.0.0.1:41387/v2")),
        ((EMULATOR_ID, EMULATOR_URL), (EMULATOR_ID, "https://127.0.0.1:41387/v1")),
        ((EMULATOR_ID, EMULATOR_URL), (AUTH_ID, "http://127.0.0.1:37167/v1")),
        ((AUTH_ID, "http://127.0.0.1:41387/v1"), (AUTH_ID, "http://127.0.0.1:37167/v1")),
        ((AUTH_ID, "https://api.plivo.com/v1"), (EMULATOR_ID, EMULATOR_URL)),
    ],
    ids=["other host", "other path", "other scheme", "real account", "real port", "from Plivo"],
)
async def test_only_the_emulators_loopback_port_is_left_out_of_a_journals_identity(
    plivo: FakePlivo, tmp_path: Path, first: tuple[str, str], then: tuple[str, str]
) -> None:
    path = tmp_path / "j.sqlite"
    await client_for(plivo, *first).bulk(jobs(range(3)), rate_limit=None, journal=path).run()
    plivo.requests.clear()

    _, _, error = await run_all(client_for(plivo, *then), range(3), path)

    assert isinstance(error, JournalError)
    assert f"was written for account {first[0]} at {first[1]}, not " in str(error)
    assert plivo.requests == []


V1_SCHEMA = """
CREATE TABLE jobs (job_id TEXT PRIMARY KEY, status TEXT NOT NULL, run_token TEXT NOT NULL,
    ref TEXT, http_status INTEGER, api_id TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT, updated_at REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema', '1');
"""


def v1_journal(path: Path, done: list[int], unknown: list[int]) -> None:
    """A journal as version 1 wrote it: no identity, no request, no state."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(V1_SCHEMA)
        for job in jobs(done):
            db.execute(
                "INSERT INTO jobs VALUES (?, 'succeeded', 'old', ?, 201, 'a', 1, NULL, 1)",
                (derive_job_id(job), str(job.ref)),
            )
        for job in jobs(unknown):
            db.execute(
                "INSERT INTO jobs VALUES (?, 'outcome_unknown', 'old', ?, 503, NULL, 1, "
                "'ServerOutcomeUnknownError: 503', 1)",
                (derive_job_id(job), str(job.ref)),
            )
        db.commit()


async def test_a_version_1_journal_is_migrated_and_adopts_the_first_identity(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    path = tmp_path / "old.sqlite"
    v1_journal(path, done=[0, 1], unknown=[2])

    outcomes, report, error = await run_all(plivo.client(), range(4), path)

    assert error is None
    assert plivo.sent_refs() == [3]
    assert report.succeeded == 3
    assert [o.ref for o in outcomes if o.status is UNKNOWN] == [2]
    meta = dict(raw(path, "SELECT key, value FROM meta"))
    assert (meta["schema"], meta["auth_id"], meta["base_url"]) == ("3", AUTH_ID, BASE)
    sent = raw(path, "SELECT url, payload FROM jobs WHERE job_id=?", derive_job_id(jobs([3])[0]))
    assert sent == [(str(plivo.requests[0].url), plivo.requests[0].content.decode())]

    _, _, refused = await run_all(client_for(plivo, OTHER_AUTH_ID, BASE), range(4), path)
    assert isinstance(refused, JournalError)
    assert len(plivo.requests) == 1


# -- writes that fail mid-run ------------------------------------------------------------------


class FlakyConnection:
    """An sqlite3 connection whose ``execute`` fails when ``fails(sql, n)`` says
    so (``n`` counts the matching statements), like a full disk would."""

    def __init__(self, db: sqlite3.Connection, fails: Callable[[str], bool]) -> None:
        self._db = db
        self._fails = fails

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self._fails(sql):
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def flaky_journal(monkeypatch: pytest.MonkeyPatch, statement: str, nth: int) -> None:
    """The runner's journal fails its ``nth`` statement starting with ``statement``."""
    seen = [0]

    def fails(sql: str) -> bool:
        if sql.startswith(statement):
            seen[0] += 1
            return seen[0] == nth
        return False

    class Flaky(Journal):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._db = FlakyConnection(self._db, fails)  # type: ignore[assignment]

    monkeypatch.setattr(_journal_sqlite, "SqliteFile", Flaky)


START = "UPDATE jobs SET status=?, ref=?"
FINISH = "INSERT INTO jobs (job_id, status, run_token, ref, http_status"


async def test_a_failed_start_is_not_sent_and_stops_the_run(
    plivo: FakePlivo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky_journal(monkeypatch, START, nth=5)
    path = tmp_path / "j.sqlite"

    outcomes, report, error = await run_all(plivo.client(), range(50), path, concurrency=1)

    assert isinstance(error, JournalError)
    assert "could not record the start of job" in str(error)
    assert "disk I/O error" in str(error)
    assert plivo.sent_refs() == [0, 1, 2, 3]  # the fifth job was not sent
    by_ref = {o.ref: o for o in outcomes}
    assert len(by_ref) == len(outcomes) == report.total  # one outcome per job read
    assert by_ref[4].status is SKIPPED
    assert by_ref[4].error is error
    assert by_ref[4].reason is not None
    assert by_ref[4].reason.startswith("not sent: the journal failed")
    assert report.succeeded == 4
    assert {o.status for o in outcomes if o.ref > 4} <= {SKIPPED}
    assert report.stopped_early
    assert report.total < 50  # the run stopped: the input was not read to the end


async def test_a_failed_finish_keeps_the_outcome_and_a_rerun_never_resends_it(
    plivo: FakePlivo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky_journal(monkeypatch, FINISH, nth=3)
    path = tmp_path / "j.sqlite"
    client = plivo.client()

    outcomes, report, error = await run_all(client, range(20), path, concurrency=1)

    assert isinstance(error, JournalError)
    assert "could not record the outcome of job" in str(error)
    assert plivo.sent_refs() == [0, 1, 2]
    third = next(o for o in outcomes if o.ref == 2)
    assert third.status is SUCCEEDED  # what Plivo answered
    assert third.reason is not None
    assert "not recorded in the journal" in third.reason
    assert report.total == len(outcomes)

    monkeypatch.setattr(_journal_sqlite, "SqliteFile", Journal)
    again, _, error = await run_all(client, range(20), path)
    assert error is None
    assert sorted(plivo.sent_refs()) == [0, 1, 2, *range(3, 20)]  # job 2 not sent twice
    assert next(o for o in again if o.ref == 2).status is UNKNOWN


async def test_a_failed_read_of_an_earlier_row_is_not_sent_and_stops_the_run(
    plivo: FakePlivo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.sqlite"
    client = plivo.client()
    await client.bulk(jobs(range(10)), rate_limit=None, journal=path).run()
    flaky_journal(monkeypatch, "UPDATE jobs SET run_token", nth=3)  # adopting the third row

    outcomes, report, error = await run_all(client, range(30), path, concurrency=1)

    assert isinstance(error, JournalError)
    assert "could not claim job" in str(error)
    assert len(plivo.requests) == 10  # nothing new sent
    (failed,) = [o for o in outcomes if o.error is error]
    assert failed.status is SKIPPED
    assert report.total == len(outcomes) < 30


async def test_a_version_1_journal_lists_its_unknown_jobs_without_a_request(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    v1_journal(path, done=[0], unknown=[1])
    before = path.read_bytes()

    (entry,) = await unknown_jobs(path)

    assert (entry.job_id, entry.status, entry.ref) == (derive_job_id(jobs([1])[0]), UNKNOWN, "1")
    assert (entry.url, entry.payload, entry.note) == (None, None, None)
    assert path.read_bytes() == before  # listing neither migrates nor writes


@pytest.mark.parametrize("where", ["missing directory", "a directory", "NUL in the name"])
async def test_a_journal_that_cannot_be_opened_is_a_journal_error(
    plivo: FakePlivo, tmp_path: Path, where: str
) -> None:
    path = {
        "missing directory": tmp_path / "no" / "j.sqlite",
        "a directory": tmp_path,
        "NUL in the name": tmp_path / "j\0.sqlite",
    }[where]
    _, _, error = await run_all(plivo.client(), range(3), path)
    assert isinstance(error, JournalError)
    assert str(error).startswith("cannot open journal")
    assert plivo.requests == []
