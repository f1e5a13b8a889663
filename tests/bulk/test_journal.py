"""The journal: resume, duplicates, job ids, retry_failed, hard cancellation, run_chunk."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from plivo_phlo_async import BadRequestError, InvalidParameterError, ServerOutcomeUnknownError
from plivo_phlo_async.bulk import (
    BulkReport,
    JournalError,
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RunJob,
    allow_resend,
    derive_job_id,
    mark_jobs,
    run_chunk,
    unknown_jobs,
)
from plivo_phlo_async.bulk._journal_sqlite import SqliteFile as Journal

from .conftest import NODE_ID, PHLO_ID, FakePlivo

SUCCEEDED = OutcomeStatus.SUCCEEDED
FAILED = OutcomeStatus.FAILED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
SKIPPED = OutcomeStatus.SKIPPED


def run_jobs(numbers: range | list[int]) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"to": "+14155550100", "n": n}, ref=n) for n in numbers]


def rows(path: Path) -> dict[str, str]:
    """job_id -> status, read by a separate connection (as a crash survivor would)."""
    with contextlib.closing(sqlite3.connect(path)) as db:  # `with connect()` leaves it open
        return dict(db.execute("SELECT job_id, status FROM jobs"))


async def collect(runner: Any) -> list[Outcome]:
    found: list[Outcome] = []
    async with runner.stream() as outcomes:
        async for outcome in outcomes:
            found.append(outcome)
    return found


# -- job ids -----------------------------------------------------------------------------


def test_derived_id_is_content_based() -> None:
    a = RunJob(PHLO_ID, {"to": "+1", "name": "x"}, ref=1)
    b = RunJob(PHLO_ID, {"name": "x", "to": "+1"}, ref="other ref")
    assert derive_job_id(a) == derive_job_id(b)  # key order and ref do not matter
    assert derive_job_id(a) != derive_job_id(RunJob(PHLO_ID, {"to": "+2", "name": "x"}))
    assert derive_job_id(a) != derive_job_id(RunJob("other-phlo", {"to": "+1", "name": "x"}))
    call = NodeActionJob(PHLO_ID, NODE_ID, "call", "+1", "+2")
    assert derive_job_id(call) != derive_job_id(
        NodeActionJob(PHLO_ID, NODE_ID, "call", "+1", "+2", "customer")
    )
    assert derive_job_id(call) != derive_job_id(
        NodeActionJob(PHLO_ID, NODE_ID, "cold_transfer", "+1", "+2")
    )
    hold = MemberActionJob(PHLO_ID, NODE_ID, "+1", "hold")
    assert derive_job_id(hold) != derive_job_id(MemberActionJob(PHLO_ID, NODE_ID, "+1", "unhold"))
    assert len(derive_job_id(a)) == 64


async def test_outcomes_carry_the_job_id(plivo: FakePlivo) -> None:
    jobs = [*run_jobs([1]), RunJob(PHLO_ID, {"to": "+1"}, job_id="row-7")]
    outcomes = await collect(plivo.client().bulk(jobs, rate_limit=None))
    assert {o.job_id for o in outcomes} == {derive_job_id(jobs[0]), "row-7"}


# -- resume --------------------------------------------------------------------------------


async def test_resume_sends_only_the_missing_jobs(plivo: FakePlivo, tmp_path: Path) -> None:
    journal = tmp_path / "campaign.sqlite"
    client = plivo.client()

    def stop_at_50(outcome: Outcome) -> None:
        if runner.report.total == 50:
            runner.stop()

    runner = client.bulk(
        run_jobs(range(200)), concurrency=4, rate_limit=None, journal=journal, on_outcome=stop_at_50
    )
    first = await runner.run()
    sent_first = set(plivo.sent_refs())
    assert first.stopped_early
    assert first.succeeded == len(sent_first) >= 50
    assert set(rows(journal).values()) == {"succeeded"}  # skipped jobs are not recorded

    plivo.requests.clear()
    # Same input, another order: content-based ids still match.
    outcomes = await collect(
        client.bulk(run_jobs(range(199, -1, -1)), concurrency=4, rate_limit=None, journal=journal)
    )
    assert sorted(plivo.sent_refs()) == sorted(set(range(200)) - sent_first)
    replayed = {o.ref for o in outcomes if o.from_journal}
    assert replayed == sent_first
    assert all(o.status is SUCCEEDED for o in outcomes)
    assert len(outcomes) == 200
    assert len(rows(journal)) == 200


async def test_recorded_failures_and_unknowns_are_not_sent_again(tmp_path: Path) -> None:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        ref = int(request.read().split(b'"n":')[1].rstrip(b"}"))
        code = {0: 400, 1: 503}.get(ref, 201)
        return httpx.Response(code, json={"api_id": f"api-{ref}", "error": "x"})

    plivo = FakePlivo(answer)
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    assert len(plivo.requests) == 3

    again = await collect(client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal))
    assert len(plivo.requests) == 3  # nothing sent
    by_ref = {o.ref: o for o in again}
    assert all(o.from_journal for o in again)
    assert by_ref[0].status is FAILED
    assert by_ref[0].http_status == 400
    assert by_ref[0].reason is not None
    assert "BadRequestError" in by_ref[0].reason
    assert by_ref[1].status is UNKNOWN
    assert by_ref[1].api_id == "api-1"
    assert by_ref[2].status is SUCCEEDED
    assert by_ref[2].api_id == "api-2"


async def test_retry_failed_resends_failures_never_unknowns(tmp_path: Path) -> None:
    attempts: dict[int, int] = {}

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        ref = int(request.read().split(b'"n":')[1].rstrip(b"}"))
        attempts[ref] = attempts.get(ref, 0) + 1
        if attempts[ref] == 1 and ref in (0, 1):
            return httpx.Response({0: 400, 1: 500}[ref], json={"error": "x"})
        return httpx.Response(201, json={"api_id": f"api-{ref}"})

    plivo = FakePlivo(answer)
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    first = await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    assert isinstance(first.failures[0].error, BadRequestError)
    assert isinstance(first.unknown[0].error, ServerOutcomeUnknownError)

    again = await collect(
        client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal, retry_failed=True)
    )
    assert attempts == {0: 2, 1: 1, 2: 1}
    by_ref = {o.ref: o for o in again}
    assert by_ref[0].status is SUCCEEDED
    assert not by_ref[0].from_journal
    assert by_ref[1].status is UNKNOWN
    assert by_ref[1].from_journal
    assert rows(journal)[derive_job_id(run_jobs([0])[0])] == "succeeded"


# -- duplicates ----------------------------------------------------------------------------


async def test_duplicates_by_derived_id_are_skipped(plivo: FakePlivo, tmp_path: Path) -> None:
    jobs = [*run_jobs([1, 2]), *run_jobs([1]), *run_jobs([2, 2])]
    outcomes = await collect(
        plivo.client().bulk(jobs, concurrency=2, rate_limit=None, journal=tmp_path / "j.sqlite")
    )
    assert sorted(plivo.sent_refs()) == [1, 2]
    skipped = [o for o in outcomes if o.status is SKIPPED]
    assert len(skipped) == 3
    assert {o.reason for o in skipped} == {"duplicate job id"}
    assert len(outcomes) == 5


async def test_a_duplicate_says_so_in_a_field(plivo: FakePlivo, tmp_path: Path) -> None:
    jobs = [*run_jobs([1]), *run_jobs([1])]
    outcomes = await collect(
        plivo.client().bulk(jobs, concurrency=1, rate_limit=None, journal=tmp_path / "j.sqlite")
    )
    assert sorted((o.status, o.duplicate) for o in outcomes) == [
        (SKIPPED, True),
        (SUCCEEDED, False),
    ]


async def test_without_a_journal_duplicates_are_sent(plivo: FakePlivo) -> None:
    await plivo.client().bulk(run_jobs([1, 1, 1]), rate_limit=None).run()
    assert plivo.sent_refs() == [1, 1, 1]


async def test_explicit_job_ids_send_the_same_content_twice(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    jobs = [
        RunJob(PHLO_ID, {"to": "+1", "n": 9}, job_id="monday"),
        RunJob(PHLO_ID, {"to": "+1", "n": 9}, job_id="tuesday"),
        RunJob(PHLO_ID, {"to": "+1", "n": 9}, job_id="monday"),
    ]
    outcomes = await collect(plivo.client().bulk(jobs, rate_limit=None, journal=journal))
    assert plivo.sent_refs() == [9, 9]
    assert [o.status for o in outcomes].count(SKIPPED) == 1
    assert set(rows(journal)) == {"monday", "tuesday"}


# -- hard cancellation ---------------------------------------------------------------------------


async def test_hard_cancel_leaves_rows_in_flight_and_resume_reports_unknown(
    tmp_path: Path,
) -> None:
    in_flight = anyio.Event()

    async def hang(request: httpx.Request, n: int) -> httpx.Response:
        if n == 3:
            in_flight.set()
        if n <= 3:
            await anyio.sleep_forever()
        return httpx.Response(201, json={"api_id": f"a{n}"})

    plivo = FakePlivo(hang)
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                await client.bulk(
                    run_jobs(range(20)), concurrency=3, rate_limit=None, journal=journal
                ).run()

            tg.start_soon(run)
            await in_flight.wait()
            tg.cancel_scope.cancel()
    hung = set(plivo.sent_refs())
    assert len(hung) == 3
    assert sorted(rows(journal).values()) == ["in_flight"] * 3

    outcomes = await collect(
        client.bulk(run_jobs(range(20)), concurrency=3, rate_limit=None, journal=journal)
    )
    unknown = {o.ref for o in outcomes if o.status is UNKNOWN}
    assert unknown == hung
    assert all(o.from_journal for o in outcomes if o.ref in hung)
    assert sorted(plivo.sent_refs()[3:]) == sorted(set(range(20)) - hung)  # never re-sent
    assert set(rows(journal).values()) == {"succeeded", "outcome_unknown"}


async def test_throttled_jobs_are_not_left_in_flight(tmp_path: Path) -> None:
    """A 429 was not processed: while the job waits, its row must not say "maybe"."""
    seen_rows: list[dict[str, str]] = []
    journal = tmp_path / "j.sqlite"

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        seen_rows.append(rows(journal))
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow"})
        return httpx.Response(201, json={"api_id": "ok"})

    plivo = FakePlivo(answer)
    report = await plivo.client().bulk(run_jobs([5]), rate_limit=None, journal=journal).run()
    assert report.succeeded == 1
    assert [set(r.values()) for r in seen_rows] == [{"in_flight"}, {"in_flight"}]
    assert set(rows(journal).values()) == {"succeeded"}


# -- run_chunk and the report --------------------------------------------------------------------


async def test_run_chunk_is_a_plain_coroutine_with_a_journal(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    client = plivo.client()
    journal = tmp_path / "chunk-17.sqlite"
    report = await run_chunk(
        client, run_jobs(range(10)), journal=journal, concurrency=3, rate_limit=None
    )
    assert isinstance(report, BulkReport)
    assert report.succeeded == 10
    redelivered = await run_chunk(client, run_jobs(range(10)), journal=journal, rate_limit=None)
    assert redelivered.succeeded == 10
    assert redelivered.requests_sent == 0
    assert len(plivo.requests) == 10


async def test_report_fields() -> None:
    throttled: list[int] = []

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        ref = int(request.read().split(b'"n":')[1].rstrip(b"}"))
        if ref == 3 and not throttled:
            throttled.append(ref)
            return httpx.Response(429, headers={"Retry-After": "0"}, json={})
        code = {1: 400, 2: 502}.get(ref, 201)  # (a run's 404 would stop the run)
        return httpx.Response(code, json={"api_id": f"api-{ref}"})

    plivo = FakePlivo(answer)
    jobs = [*run_jobs(range(6)), RunJob("bad/id", {})]
    report = await plivo.client().bulk(jobs, concurrency=1, rate_limit=None).run()
    assert report.counts == {SUCCEEDED: 4, FAILED: 2, UNKNOWN: 1, SKIPPED: 0}
    assert report.total == 7
    assert (report.succeeded, report.failed, report.outcome_unknown, report.skipped) == (
        4,
        2,
        1,
        0,
    )
    assert [o.ref for o in report.failures] == [1, None]
    assert [o.ref for o in report.unknown] == [2]
    assert report.requests_sent == 7 == len(plivo.requests)  # 6 jobs, one retried after a 429
    assert report.wall_time > 0
    assert report.rate == pytest.approx(report.requests_sent / report.wall_time)
    assert not report.stopped_early
    assert "7 jobs" in report.summary()


def test_journal_file_is_wal_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    journal.claim("a", 1, retry_failed=False)
    journal.start("a", 1)
    journal.finish("a", "succeeded", ref=1, http_status=None, api_id="x", attempts=1, error=None)
    journal.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    again = Journal(path)
    row = again.get("a")
    assert row is not None
    assert (row.status, row.api_id, row.attempts, row.ref) == ("succeeded", "x", 1, "1")
    assert row.run_token != again.run_token
    again.close()


# -- resolving unknown outcomes ---------------------------------------------------------------


def answer_by_ref(codes: dict[int, int]) -> FakePlivo:
    """A fake Plivo answering ``codes[n]`` (else 201) to the job whose payload has ``n``."""

    def answer(request: httpx.Request, _: int) -> httpx.Response:
        ref = json.loads(request.content)["n"]
        return httpx.Response(codes.get(ref, 201), json={"api_id": f"api-{ref}", "error": "x"})

    return FakePlivo(answer)


def job_id(n: int) -> str:
    return derive_job_id(run_jobs([n])[0])


async def test_unknown_jobs_lists_them_with_the_request_sent(tmp_path: Path) -> None:
    plivo = answer_by_ref({1: 503, 3: 502})
    journal = tmp_path / "j.sqlite"
    await plivo.client().bulk(run_jobs(range(5)), rate_limit=None, journal=journal).run()
    sent = {json.loads(r.content)["n"]: r for r in plivo.requests}
    before = journal.read_bytes()

    entries = await unknown_jobs(journal)

    assert journal.read_bytes() == before  # read only
    assert [entry.job_id for entry in sorted(entries, key=lambda e: e.ref or "")] == [
        job_id(1),
        job_id(3),
    ]
    for entry in entries:
        request = sent[int(entry.ref or "")]
        assert entry.status == "outcome_unknown"
        assert entry.url == str(request.url)
        assert entry.payload == request.content.decode()
        assert entry.error is not None
        assert "ServerOutcomeUnknownError" in entry.error
        assert entry.updated_at > 0


async def test_a_job_in_flight_when_a_run_ended_says_so_in_every_later_run(
    plivo: FakePlivo, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    crashed = Journal(journal)
    crashed.claim(job_id(0), 0, retry_failed=False)
    crashed.start(job_id(0), 0, url="u", payload=b"{}")
    crashed.close()

    for _ in range(2):  # the first run adopts the row as outcome_unknown; the second reads that
        outcomes = await collect(plivo.client().bulk(run_jobs([0]), journal=journal))
        (outcome,) = outcomes
        assert outcome.status is UNKNOWN
        assert outcome.reason is not None
        assert outcome.reason.startswith("in flight when an earlier run ended (sent ")
        assert "None" not in outcome.reason
    assert plivo.requests == []


async def test_marked_succeeded_settles_later_runs(tmp_path: Path) -> None:
    plivo = answer_by_ref({1: 503})
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    first = await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    assert first.outcome_unknown == 1

    marked = await mark_jobs(journal, [job_id(1)], "succeeded", note="run seen in the console")

    assert marked == [job_id(1)]
    assert await unknown_jobs(journal) == []
    again = await collect(client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal))
    assert len(plivo.requests) == 3  # nothing sent
    assert all(o.status is SUCCEEDED and o.from_journal for o in again)
    (one,) = [o for o in again if o.ref == 1]
    assert one.reason is not None
    assert one.reason.startswith("marked succeeded by the operator: run seen in the console")


async def test_marked_failed_is_a_failure_that_retry_failed_sends_again(tmp_path: Path) -> None:
    plivo = answer_by_ref({1: 503})
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    await mark_jobs(journal, [job_id(1)], FAILED)

    again = await collect(client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal))
    (one,) = [o for o in again if o.ref == 1]
    assert one.status is FAILED
    assert one.reason is not None
    assert one.reason.startswith("marked failed by the operator")
    assert len(plivo.requests) == 3

    plivo.respond = None  # Plivo answers 201 now
    report = await client.bulk(
        run_jobs(range(3)), rate_limit=None, journal=journal, retry_failed=True
    ).run()
    assert report.succeeded == 3
    assert plivo.sent_refs()[3:] == [1]


async def test_allow_resend_sends_exactly_those_jobs_once(tmp_path: Path) -> None:
    plivo = answer_by_ref({1: 503, 2: 500, 4: 504})
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    await client.bulk(run_jobs(range(6)), rate_limit=None, journal=journal).run()
    assert len(plivo.requests) == 6
    plivo.respond = None

    allowed = await allow_resend(journal, [job_id(1), job_id(4)])

    assert sorted(allowed) == sorted([job_id(1), job_id(4)])
    assert [e.job_id for e in await unknown_jobs(journal)] == [job_id(2)]
    report = await client.bulk(run_jobs(range(6)), rate_limit=None, journal=journal).run()
    assert sorted(plivo.sent_refs()[6:]) == [1, 4]
    assert (report.succeeded, report.outcome_unknown, report.requests_sent) == (5, 1, 2)

    third = await client.bulk(run_jobs(range(6)), rate_limit=None, journal=journal).run()
    assert third.requests_sent == 0
    assert len(plivo.requests) == 8


async def test_allow_resend_of_every_unknown_job(tmp_path: Path) -> None:
    plivo = answer_by_ref({0: 503, 2: 503})
    journal = tmp_path / "j.sqlite"
    client = plivo.client()
    await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    plivo.respond = None

    assert len(await allow_resend(journal, all_unknown=True)) == 2

    await client.bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()
    assert sorted(plivo.sent_refs()[3:]) == [0, 2]
    assert await allow_resend(journal, all_unknown=True) == []


async def test_resolving_refuses_unknown_ids_and_known_outcomes_and_changes_nothing(
    tmp_path: Path,
) -> None:
    plivo = answer_by_ref({1: 503})
    journal = tmp_path / "j.sqlite"
    await plivo.client().bulk(run_jobs(range(3)), rate_limit=None, journal=journal).run()

    with pytest.raises(InvalidParameterError, match="not in journal") as missing:
        await mark_jobs(journal, [job_id(1), "no-such-job"], "succeeded")
    assert missing.value.field == "job_ids"
    with pytest.raises(InvalidParameterError, match=r"\(succeeded\)"):
        await allow_resend(journal, [job_id(1), job_id(0)])
    with pytest.raises(InvalidParameterError) as status:
        await mark_jobs(journal, [job_id(1)], "skipped")  # type: ignore[arg-type]
    assert status.value.field == "status"
    with pytest.raises(InvalidParameterError):
        await allow_resend(journal, [job_id(1)], all_unknown=True)
    with pytest.raises(InvalidParameterError):
        await mark_jobs(journal, job_id(1), "failed")  # one string, not a list of ids

    assert [e.job_id for e in await unknown_jobs(journal)] == [job_id(1)]
    assert rows(journal)[job_id(1)] == "outcome_unknown"


async def test_resolving_a_missing_journal_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        await unknown_jobs(tmp_path / "nope.sqlite")
    with pytest.raises(JournalError, match="no journal at"):
        await mark_jobs(tmp_path / "nope.sqlite", ["a"], "failed")
    assert not (tmp_path / "nope.sqlite").exists()


async def test_a_missing_journal_error_says_so_in_a_field(tmp_path: Path) -> None:
    with pytest.raises(JournalError) as missing:
        await unknown_jobs(tmp_path / "nope.sqlite")
    (tmp_path / "text.sqlite").write_text("not a database")
    with pytest.raises(JournalError) as unusable:
        await unknown_jobs(tmp_path / "text.sqlite")

    assert missing.value.missing
    assert not unusable.value.missing
