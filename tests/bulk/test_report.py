"""The report keeps exact counts and a bounded sample of failed and unknown outcomes.

Every outcome still reaches ``on_outcome`` and ``stream()``; only the report's
lists are capped, so a run in an outage keeps flat memory.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

import httpx

from plivo_phlo_async import PhloClient
from plivo_phlo_async.bulk import BulkReport, Outcome, OutcomeStatus, RunJob
from plivo_phlo_async.bulk._report import SAMPLE_SIZE

from .conftest import AUTH_ID, BASE, PHLO_ID, FakePlivo

FAILED = OutcomeStatus.FAILED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN


def jobs(count: int) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"n": n}, ref=n) for n in range(count)]


def half_failed_half_unknown(request: httpx.Request, n: int) -> httpx.Response:
    """400 (failed) for even ``n`` in the body, 500 (outcome unknown) for odd."""
    number = json.loads(request.content)["n"]
    if number % 2 == 0:
        return httpx.Response(400, json={"error": "bad number"})
    return httpx.Response(500, json={"error": "internal"})


def outcome(status: OutcomeStatus, ref: int) -> Outcome:
    return Outcome(job=None, ref=ref, job_id=f"job-{ref}", status=status)


def test_the_sample_keeps_the_first_outcomes_of_each_kind() -> None:
    report = BulkReport(sample_size=3)
    for ref in range(10):
        report.add(outcome(FAILED, ref))
        report.add(outcome(UNKNOWN, 100 + ref))

    assert (report.failed, report.outcome_unknown, report.total) == (10, 10, 20)
    assert [o.ref for o in report.failures] == [0, 1, 2]
    assert [o.ref for o in report.unknown] == [100, 101, 102]
    assert report.sampled


def test_a_report_under_the_sample_size_keeps_everything() -> None:
    report = BulkReport()
    for ref in range(5):
        report.add(outcome(FAILED, ref))
    assert report.sample_size == SAMPLE_SIZE == 100
    assert [o.ref for o in report.failures] == list(range(5))
    assert not report.sampled


async def test_every_outcome_reaches_the_callback_while_the_report_keeps_a_sample() -> None:
    plivo = FakePlivo(half_failed_half_unknown)
    seen: list[Outcome] = []
    count = 3 * SAMPLE_SIZE

    report = (
        await plivo.client()
        .bulk(jobs(count), concurrency=8, rate_limit=None, on_outcome=seen.append)
        .run()
    )

    assert sorted(o.ref for o in seen) == list(range(count))
    assert (report.failed, report.outcome_unknown) == (count // 2, count // 2)
    assert len(report.failures) == len(report.unknown) == SAMPLE_SIZE
    assert {o.status for o in report.failures} == {FAILED}
    assert {o.status for o in report.unknown} == {UNKNOWN}
    assert len(plivo.requests) == count  # 5xx is never retried


async def test_memory_stays_flat_when_every_job_fails() -> None:
    """Ten times the failing jobs, about the same memory retained by the report."""

    async def retained_after(count: int) -> int:
        client = PhloClient(
            AUTH_ID,
            "token",
            base_url=BASE,
            http_client=httpx.AsyncClient(
                transport=httpx.MockTransport(lambda r: half_failed_half_unknown(r, 0))
            ),
        )
        gc.collect()
        tracemalloc.start()
        try:
            report = await client.bulk(jobs(count), concurrency=8, rate_limit=None).run()
            gc.collect()
            retained, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await client.aclose()
        assert (report.failed, report.outcome_unknown) == (count // 2, count // 2)
        return retained

    small = await retained_after(2 * SAMPLE_SIZE)
    large = await retained_after(20 * SAMPLE_SIZE)
    # Keeping every outcome (several KB each, with its request and answer)
    # would retain about 10 MB more here.
    assert large < small + 2**20, (small, large)
