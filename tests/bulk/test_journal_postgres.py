"""The PostgreSQL journal: same checks and resolution commands as the SQLite
one, tables named per campaign, the password never shown, psycopg only
imported when a PostgreSQL journal is used."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async.bulk import (
    JournalError,
    Outcome,
    OutcomeStatus,
    RunJob,
    allow_resend,
    derive_job_id,
    journal_counts,
    mark_jobs,
    unknown_jobs,
)
from plivo_phlo_async.bulk._journal import open_journal

from .conftest import AUTH_ID, BASE, PHLO_ID, FakePlivo

psycopg = pytest.importorskip("psycopg")

SUCCEEDED = OutcomeStatus.SUCCEEDED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
PASSWORD = "pw-Never-Show-Me-4q7"


@pytest.fixture
def tables(postgres_url: str) -> Iterator[list[str]]:
    """Fresh table prefixes for the test; their tables are dropped afterwards."""
    prefixes: list[str] = []
    yield prefixes
    with psycopg.connect(postgres_url, autocommit=True) as db:
        for prefix in prefixes:
            db.execute(f"DROP TABLE IF EXISTS {prefix}_jobs, {prefix}_meta")


def url_for(postgres_url: str, tables: list[str], *, password: str | None = None) -> str:
    prefix = f"t_{uuid.uuid4().hex[:12]}"
    tables.append(prefix)
    if password is not None:
        postgres_url = postgres_url.replace(
            "postgresql://postgres@", f"postgresql://postgres:{password}@"
        )
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}journal_prefix={prefix}"


def jobs(numbers: range | list[int]) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"to": "+14155550100", "n": n}, ref=n) for n in numbers]


async def run_all(plivo: FakePlivo, numbers: range, journal: str, **options: Any) -> Any:
    runner = plivo.client().bulk(jobs(numbers), rate_limit=None, journal=journal, **options)
    try:
        return await runner.run(), None
    except JournalError as exc:
        return runner.report, exc


async def in_flight(journal: str, numbers: range) -> None:
    """Rows a run left in flight (its connection gone without recording answers)."""
    opened = await open_journal(journal, auth_id=AUTH_ID, base_url=BASE)
    for job in jobs(numbers):
        job_id = derive_job_id(job)
        assert (await opened.claim(job_id, job.ref, retry_failed=False)).kind == "claimed"
        assert await opened.start(job_id, job.ref, url="https://x/run", payload=b'{"n":1}')
    await opened.aclose()  # a closed run's jobs in flight are unknown at once


async def test_a_rerun_sends_only_what_is_missing(
    plivo: FakePlivo, postgres_url: str, tables: list[str]
) -> None:
    journal = url_for(postgres_url, tables)
    await in_flight(journal, range(3))

    report, error = await run_all(plivo, range(6), journal)

    assert error is None
    assert sorted(plivo.sent_refs()) == [3, 4, 5]
    assert sorted(o.ref for o in report.unknown) == [0, 1, 2]
    assert await journal_counts(journal) == {"succeeded": 3, "outcome_unknown": 3}


async def test_unknown_jobs_are_listed_marked_and_resent_as_with_sqlite(
    plivo: FakePlivo, postgres_url: str, tables: list[str]
) -> None:
    journal = url_for(postgres_url, tables)
    await in_flight(journal, range(3))
    ids = [derive_job_id(job) for job in jobs(range(3))]

    listed = await unknown_jobs(journal)
    assert sorted(entry.job_id for entry in listed) == sorted(ids)
    assert {(entry.status, entry.url, entry.payload) for entry in listed} == {
        ("in_flight", "https://x/run", '{"n":1}')
    }
    assert await mark_jobs(journal, [ids[0]], "succeeded", note="seen in console") == [ids[0]]
    assert await allow_resend(journal, [ids[1]]) == [ids[1]]
    with pytest.raises(Exception, match="not unknown"):
        await mark_jobs(journal, [ids[0]], "failed")

    found: list[Outcome] = []
    _, error = await run_all(plivo, range(3), journal, on_outcome=found.append)

    assert error is None
    assert plivo.sent_refs() == [1]  # only the one allowed
    by_ref = {o.ref: o for o in found}
    assert (by_ref[0].status, by_ref[0].reason) == (SUCCEEDED, by_ref[0].reason)
    assert by_ref[0].reason is not None
    assert by_ref[0].reason.startswith("marked succeeded by the operator: seen in console")
    assert (by_ref[1].status, by_ref[1].from_journal) == (SUCCEEDED, False)
    assert (by_ref[2].status, by_ref[2].from_journal) == (UNKNOWN, True)
    assert await journal_counts(journal) == {"succeeded": 2, "outcome_unknown": 1}


async def test_campaigns_with_other_prefixes_share_the_database_apart(
    plivo: FakePlivo, postgres_url: str, tables: list[str]
) -> None:
    first, second = url_for(postgres_url, tables), url_for(postgres_url, tables)
    await run_all(plivo, range(4), first)

    report, error = await run_all(plivo, range(4), second)

    assert error is None
    assert report.succeeded == 4
    assert not any(o.from_journal for o in report.unknown)
    assert len(plivo.requests) == 8  # the second campaign knew nothing of the first
    assert await journal_counts(first) == await journal_counts(second) == {"succeeded": 4}


async def test_a_journal_of_another_account_is_refused_without_showing_the_password(
    plivo: FakePlivo, postgres_url: str, tables: list[str]
) -> None:
    journal = url_for(postgres_url, tables, password=PASSWORD)
    opened = await open_journal(journal, auth_id="MAYYYYYYYYYYYYYYYYYY", base_url=BASE)
    await opened.aclose()

    report, error = await run_all(plivo, range(3), journal)

    assert isinstance(error, JournalError)
    assert "written for account MAYYYYYYYYYYYYYYYYYY" in str(error)
    assert PASSWORD not in str(error)
    assert PASSWORD not in error.path
    assert "postgres@127.0.0.1" in error.path or "postgres@" in error.path
    assert plivo.requests == []
    assert report.total == 0


async def test_an_unreachable_database_is_a_journal_error_without_the_password(
    plivo: FakePlivo,
) -> None:
    journal = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test?connect_timeout=2"

    _, error = await run_all(plivo, range(3), journal)

    assert isinstance(error, JournalError)
    assert str(error).startswith("cannot open journal postgresql://postgres@127.0.0.1:1/test")
    assert PASSWORD not in str(error)
    assert plivo.requests == []


async def test_a_bad_table_prefix_is_refused_before_connecting(plivo: FakePlivo) -> None:
    _, error = await run_all(plivo, range(1), "postgresql://x@127.0.0.1:1/db?journal_prefix=a-b")
    assert isinstance(error, JournalError)
    assert "table prefix 'a-b'" in str(error)


async def test_without_psycopg_the_error_names_the_extra(
    plivo: FakePlivo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails

    _, error = await run_all(plivo, range(2), "postgresql://postgres@127.0.0.1/test")

    assert isinstance(error, JournalError)
    assert "plivo-phlo-async[postgres]" in str(error)
    assert plivo.requests == []


def test_importing_the_sdk_does_not_import_psycopg() -> None:
    code = (
        "import sys, plivo_phlo_async, plivo_phlo_async.bulk, plivo_phlo_async.cli._app; "
        "print('psycopg' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    assert result.stdout.strip() == "False"
