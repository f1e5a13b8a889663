"""The runner against a fake Plivo (httpx.MockTransport): shape, safety, stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
from _waiting import wait_until

from plivo_phlo_async import (
    APIConnectionError,
    BadRequestError,
    ConfigurationError,
    ConnectionOutcomeUnknownError,
    InvalidParameterError,
    PhloRunResult,
    RateLimit,
    RateLimitError,
    ServerOutcomeUnknownError,
)
from plivo_phlo_async._ratelimit import LocalLimiter as RateLimiter
from plivo_phlo_async.bulk import (
    BulkRunner,
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RunJob,
)
from plivo_phlo_async.bulk._runner import MAX_CONCURRENCY

from .conftest import AUTH_ID, BASE, NODE_ID, PHLO_ID, RUN_URL, FakePlivo

SUCCEEDED = OutcomeStatus.SUCCEEDED
#: How late a request may reach a fake server after its start was granted (loaded machine).
SCHEDULING_JITTER = 0.05
FAILED = OutcomeStatus.FAILED
UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
SKIPPED = OutcomeStatus.SKIPPED


def run_jobs(count: int, start: int = 0) -> list[RunJob]:
    return [RunJob(PHLO_ID, {"to": "+14155550100", "n": n}, ref=n) for n in range(start, count)]


async def collect(runner: BulkRunner) -> list[Outcome]:
    outcomes: list[Outcome] = []
    async with runner.stream() as stream:
        async for outcome in stream:
            outcomes.append(outcome)
    return outcomes


def status(code: int, **body: Any) -> httpx.Response:
    headers = {}
    if "retry_after" in body:
        headers["Retry-After"] = str(body.pop("retry_after"))
    return httpx.Response(
        code, json={"api_id": f"err-{code}", "error": "x", **body}, headers=headers
    )


# -- one outcome per job -------------------------------------------------------------


async def test_every_job_gets_exactly_one_outcome(plivo: FakePlivo) -> None:
    outcomes = await collect(plivo.client().bulk(run_jobs(300), concurrency=8, rate_limit=None))
    assert sorted(o.ref for o in outcomes) == list(range(300))
    assert {o.status for o in outcomes} == {SUCCEEDED}
    assert sorted(plivo.sent_refs()) == list(range(300))
    first = next(o for o in outcomes if o.ref == 0)
    assert isinstance(first.result, PhloRunResult)
    assert first.api_id == first.result.api_id
    assert first.api_id is not None
    assert first.attempts == 1
    assert first.http_status == 201
    assert first.error is None
    assert not first.from_journal


async def test_sync_generator_input(plivo: FakePlivo) -> None:
    def jobs() -> Iterator[RunJob]:
        yield from run_jobs(50)

    report = await plivo.client().bulk(jobs(), concurrency=4, rate_limit=None).run()
    assert report.succeeded == 50 == report.total


async def test_async_generator_input(plivo: FakePlivo) -> None:
    async def jobs() -> AsyncIterator[RunJob]:
        for job in run_jobs(50):
            await anyio.lowlevel.checkpoint()
            yield job

    report = await plivo.client().bulk(jobs(), concurrency=4, rate_limit=None).run()
    assert report.succeeded == 50 == report.total
    assert sorted(plivo.sent_refs()) == list(range(50))


async def test_wire_format_of_each_job_kind(plivo: FakePlivo) -> None:
    jobs = [
        RunJob(PHLO_ID, {"to": "+14155550100", "campaign": "spring"}),
        NodeActionJob(
            PHLO_ID, NODE_ID, "warm_transfer", "+14155550100", "sip:bob@example.com", "customer"
        ),
        MemberActionJob(PHLO_ID, NODE_ID, "+14155550199", "hold"),
    ]
    report = await plivo.client().bulk(jobs, concurrency=1, rate_limit=None).run()
    assert report.succeeded == 3
    sent = {(r.method, str(r.url)): json.loads(r.content) for r in plivo.requests}
    node_url = f"{BASE}/phlo/{PHLO_ID}/multi_party_call/{NODE_ID}"
    assert sent == {
        ("POST", RUN_URL): {"to": "+14155550100", "campaign": "spring"},
        ("POST", node_url): {
            "action": "warm_transfer",
            "to": "sip:bob@example.com",
            "role": "customer",
            "trigger_source": "+14155550100",
        },
        ("POST", f"{node_url}/members/+14155550199"): {"action": "hold"},
    }
    assert all(r.headers["authorization"].startswith("Basic ") for r in plivo.requests)


async def test_mappings_with_phlo_id_are_run_payloads(plivo: FakePlivo) -> None:
    rows = [{"to": "+14155550100", "n": n} for n in range(5)]
    outcomes = await collect(plivo.client().bulk(rows, phlo_id=PHLO_ID, rate_limit=None))
    assert sorted(o.ref for o in outcomes) == [0, 1, 2, 3, 4]  # the row's index
    assert all(isinstance(o.job, RunJob) and o.job.phlo_id == PHLO_ID for o in outcomes)
    assert {str(r.url) for r in plivo.requests} == {RUN_URL}
    assert sorted(plivo.sent_refs()) == [0, 1, 2, 3, 4]


# -- bounded concurrency, fixed pool, lazy input ----------------------------------------


async def test_concurrency_is_bounded_and_reached() -> None:
    async def slow(request: httpx.Request, n: int) -> httpx.Response:
        if n <= 6:  # the first answers wait for all 6 workers to be busy
            await wait_until(lambda: plivo.peak_active == 6, what="6 requests at once")
        return httpx.Response(201, json={"api_id": f"a{n}"})

    plivo = FakePlivo(slow)
    tasks_seen: list[int] = []

    def count_tasks(outcome: Outcome) -> None:
        tasks_seen.append(len(asyncio.all_tasks()))

    before = len(asyncio.all_tasks())
    report = (
        await plivo.client()
        .bulk(run_jobs(400), concurrency=6, rate_limit=None, on_outcome=count_tasks)
        .run()
    )
    assert report.succeeded == 400
    assert plivo.peak_active == 6
    # A fixed pool: the producer and 6 workers, however many jobs there are.
    assert max(tasks_seen) <= before + 6 + 1


async def _trickle(jobs: list[RunJob]) -> AsyncIterator[RunJob]:
    """An async source whose length the runner cannot know."""
    for job in jobs:
        await anyio.lowlevel.checkpoint()
        yield job


@pytest.mark.parametrize("source", [list, _trickle], ids=["list", "async generator"])
async def test_a_huge_concurrency_starts_one_worker_per_job_at_most(
    plivo: FakePlivo, source: Any
) -> None:
    peak = 0
    running = True

    async def sample() -> None:  # first in the ready queue: sees every task the run creates
        nonlocal peak
        while running:
            peak = max(peak, len(asyncio.all_tasks()))
            await asyncio.sleep(0)

    before = len(asyncio.all_tasks())
    sampler = asyncio.create_task(sample())
    try:
        runner = plivo.client().bulk(
            source(run_jobs(2)), concurrency=MAX_CONCURRENCY, rate_limit=None
        )
        report = await runner.run()
    finally:
        running = False
        await sampler

    assert report.succeeded == 2
    assert len(plivo.requests) == 2
    # The sampler, the producer and one worker per job: not 10,000 workers for two jobs.
    assert peak <= before + 1 + 1 + 2


@pytest.mark.parametrize("concurrency", [0, MAX_CONCURRENCY + 1, 10_000_000, 2.5, True])
def test_concurrency_is_refused_outside_1_to_10_000(plivo: FakePlivo, concurrency: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        plivo.client().bulk(run_jobs(1), concurrency=concurrency)

    assert caught.value.field == "concurrency"
    assert str(caught.value) == (
        f"concurrency must be an integer from 1 to 10000, not {concurrency!r}"
    )
    assert plivo.requests == []


async def test_input_is_read_lazily(plivo: FakePlivo) -> None:
    consumed = 0

    def jobs() -> Iterator[RunJob]:
        nonlocal consumed
        for job in run_jobs(10_000):
            consumed += 1
            yield job

    runner = plivo.client().bulk(jobs(), concurrency=4, rate_limit=None)
    ahead: list[int] = []
    async with runner.stream() as outcomes:
        delivered = 0
        async for _ in outcomes:
            delivered += 1
            ahead.append(consumed - delivered)
            if delivered % 50 == 0:  # a slow consumer: the runner reads as far as it will
                await anyio.wait_all_tasks_blocked()
            if delivered == 500:
                break
    assert ahead[0] <= runner.max_read_ahead == 13
    assert max(ahead) <= runner.max_read_ahead
    assert consumed < 600  # leaving early read nothing more than the buffers hold


# -- invalid jobs ----------------------------------------------------------------------


async def test_invalid_jobs_fail_without_a_request(plivo: FakePlivo) -> None:
    bad = [
        RunJob("../admin", {"to": "+1"}, ref="bad phlo id"),
        RunJob(PHLO_ID, {"to": float("nan")}, ref="bad payload"),
        RunJob(PHLO_ID, {1: "x"}, ref="bad key"),  # type: ignore[dict-item]
        NodeActionJob(PHLO_ID, NODE_ID, "call", "+14155550100", "not a number", ref="bad to"),
        NodeActionJob(PHLO_ID, NODE_ID, "dance", "+14155550100", "+1", ref="bad action"),  # type: ignore[arg-type]
        MemberActionJob(PHLO_ID, NODE_ID, "alice@example", "hold", ref="bad member"),
        MemberActionJob(PHLO_ID, "a/b", "+14155550100", "hold", ref="bad node"),
        RunJob(PHLO_ID, {"to": "+1"}, ref="bad job id", job_id=""),
    ]
    good = run_jobs(3)
    outcomes = await collect(
        plivo.client().bulk([*bad[:4], *good, *bad[4:], "not a job"], rate_limit=None)
    )
    failed = [o for o in outcomes if o.status is FAILED]
    assert len(failed) == len(bad) + 1
    assert all(isinstance(o.error, InvalidParameterError) for o in failed)
    assert all(o.attempts == 0 and o.http_status is None for o in failed)
    fields = {o.ref: o.error.field for o in failed if isinstance(o.error, InvalidParameterError)}
    assert fields["bad phlo id"] == "phlo_id"
    assert fields["bad to"] == "to"
    assert fields["bad member"] == "member_address"
    assert fields["bad job id"] == "job_id"
    assert next(o for o in failed if o.job == "not a job").job_id is None
    assert sorted(plivo.sent_refs()) == [0, 1, 2]  # only the valid jobs were sent


# -- errors: retried, unknown, failed ----------------------------------------------------


async def test_outcome_unknown_on_503_is_not_retried() -> None:
    plivo = FakePlivo(lambda request, n: status(503) if n == 1 else None or status(201))
    outcomes = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None, max_retries=5))
    (outcome,) = outcomes
    assert outcome.status is UNKNOWN
    assert isinstance(outcome.error, ServerOutcomeUnknownError)
    assert outcome.http_status == 503
    assert outcome.api_id == "err-503"
    assert outcome.attempts == 1
    assert len(plivo.requests) == 1


async def test_dropped_connection_after_send_is_unknown_and_not_retried() -> None:
    def drop(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    plivo = FakePlivo(drop)
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None, max_retries=5))
    assert outcome.status is UNKNOWN
    assert isinstance(outcome.error, ConnectionOutcomeUnknownError)
    assert outcome.http_status is None
    assert outcome.attempts == 1
    assert len(plivo.requests) == 1


async def test_connect_errors_are_retried(backoffs: list[float]) -> None:
    def flaky(request: httpx.Request, n: int) -> httpx.Response:
        if n <= 2:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(201, json={"api_id": "ok"})

    plivo = FakePlivo(flaky)
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None))
    assert outcome.status is SUCCEEDED
    assert outcome.attempts == 1  # the two that could not connect sent nothing
    assert len(plivo.requests) == 3
    assert len(backoffs) == 2
    assert 0.25 <= backoffs[0] <= 0.5
    assert 0.5 <= backoffs[1] <= 1.0


async def test_connect_errors_give_up_after_max_retries(backoffs: list[float]) -> None:
    def refused(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    plivo = FakePlivo(refused)
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None, max_retries=1))
    assert outcome.status is FAILED
    assert isinstance(outcome.error, APIConnectionError)
    assert not outcome.error.outcome_unknown
    assert len(plivo.requests) == 2
    assert outcome.attempts == 0  # neither connected: nothing was sent


async def test_max_retries_defaults_to_the_clients(backoffs: list[float]) -> None:
    def refused(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    plivo = FakePlivo(refused)
    # 3 retries: 4 failures in a row, below the circuit breaker's 5.
    await plivo.client(max_retries=3).bulk(run_jobs(1), rate_limit=None).run()
    assert len(plivo.requests) == 4


async def test_client_errors_fail_with_their_status() -> None:
    plivo = FakePlivo(lambda request, n: status(400))
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None))
    assert outcome.status is FAILED
    assert isinstance(outcome.error, BadRequestError)
    assert (outcome.http_status, outcome.api_id, outcome.attempts) == (400, "err-400", 1)


async def test_unreadable_success_is_succeeded_not_resendable() -> None:
    plivo = FakePlivo(lambda request, n: httpx.Response(201, content=b"<html>"))
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None))
    assert outcome.status is SUCCEEDED
    assert outcome.result is None
    assert outcome.error is not None
    assert outcome.http_status == 201


async def test_unexpected_exception_is_outcome_unknown() -> None:
    def broken(request: httpx.Request, n: int) -> httpx.Response:
        raise RuntimeError("bug in a transport")

    plivo = FakePlivo(broken)
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None))
    assert outcome.status is UNKNOWN
    assert outcome.attempts == 1
    assert isinstance(outcome.error.__cause__, RuntimeError)  # type: ignore[union-attr]


async def test_one_failing_job_does_not_stop_the_others() -> None:
    def mixed(request: httpx.Request, n: int) -> httpx.Response:
        body = json.loads(request.content)
        if body["n"] % 10 == 3:
            return status(400)
        if body["n"] % 10 == 7:
            return status(500)
        return httpx.Response(201, json={"api_id": f"a{n}"})

    plivo = FakePlivo(mixed)
    report = await plivo.client().bulk(run_jobs(100), concurrency=5, rate_limit=None).run()
    assert (report.succeeded, report.failed, report.outcome_unknown) == (80, 10, 10)
    assert sorted(o.ref for o in report.failures) == list(range(3, 100, 10))
    assert sorted(o.ref for o in report.unknown) == list(range(7, 100, 10))
    assert len(plivo.requests) == 100


# -- 429: one pause for every worker ------------------------------------------------------


async def test_a_429_pauses_every_worker() -> None:
    state: dict[str, float] = {}
    arrived = anyio.Event()

    async def respond(request: httpx.Request, n: int) -> httpx.Response:
        if n == 4:
            arrived.set()
        if n == 1:
            await arrived.wait()  # the other workers' first requests are in flight
            state["throttled_at"] = anyio.current_time()
            return status(429, retry_after=1)
        if n <= 4:
            # Answered once the 429 has been handled: these workers then take
            # new jobs, which must wait for the pause.
            await arrived.wait()
            await wait_until(paused, what="the pause after the 429")
        return httpx.Response(201, json={"api_id": f"a{n}"})

    def paused() -> bool:
        limiter = runner._limiter
        assert isinstance(limiter, RateLimiter)
        return limiter.paused_until > state["throttled_at"]

    plivo = FakePlivo(respond)
    runner = plivo.client().bulk(run_jobs(12), concurrency=4, rate_limit=None)
    report = await runner.run()
    assert report.succeeded == 12
    assert report.requests_sent == 13 == len(plivo.requests)
    later = plivo.starts[4:]  # everything sent after the first four
    assert min(later) >= state["throttled_at"] + 1.0
    assert plivo.sent_refs().count(0) == 2  # the throttled job, sent again after the pause


async def test_429_retries_count_and_give_up() -> None:
    plivo = FakePlivo(lambda request, n: status(429, retry_after=0))
    (outcome,) = await collect(plivo.client().bulk(run_jobs(1), rate_limit=None, max_retries=3))
    assert outcome.status is FAILED
    assert isinstance(outcome.error, RateLimitError)
    assert outcome.attempts == 4 == len(plivo.requests)


async def test_the_rate_limit_holds_from_the_first_request(plivo: FakePlivo) -> None:
    from .conftest import max_in_window

    report = (
        await plivo.client()
        .bulk(run_jobs(25), concurrency=16, rate_limit=RateLimit(10, per=0.2))
        .run()
    )
    assert report.succeeded == 25
    # Starts are stamped when the fake server runs, a scheduling delay after the
    # limiter granted them: on a loaded machine that delay varies by a few ms,
    # so the window is checked shortened by that much (a missing limit puts all
    # 25 within a few ms).
    assert max_in_window(plivo.starts, 0.2 - SCHEDULING_JITTER) <= 10
    assert plivo.starts[10] - plivo.starts[0] >= 0.2 - SCHEDULING_JITTER  # no initial burst


# -- stop, break, cancel -------------------------------------------------------------------


async def test_stop_skips_buffered_jobs_and_reads_no_more() -> None:
    stopped = anyio.Event()
    buffered = anyio.Event()

    async def busy(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            await buffered.wait()  # four jobs in flight, four more in the buffer
        else:
            await stopped.wait()  # workers stay busy, so jobs wait in the buffer
        return httpx.Response(201, json={"api_id": f"a{n}"})

    plivo = FakePlivo(busy)
    consumed = 0

    def jobs() -> Iterator[RunJob]:
        nonlocal consumed
        for job in run_jobs(100_000):
            consumed += 1
            if consumed == 8:
                buffered.set()
            yield job

    at_stop: list[int] = []
    runner: BulkRunner

    def stop_after_first(outcome: Outcome) -> None:
        at_stop.append(consumed)
        runner.stop()
        stopped.set()

    runner = plivo.client().bulk(
        jobs(), concurrency=4, rate_limit=None, on_outcome=stop_after_first
    )
    outcomes = await collect(runner)
    report = runner.report
    assert consumed == at_stop[0] >= 8  # four sent, four buffered; nothing read after stop()
    assert len(outcomes) == consumed == report.total  # every read job has an outcome
    assert sorted(o.ref for o in outcomes) == list(range(consumed))
    skipped = [o for o in outcomes if o.status is SKIPPED]
    assert len(skipped) >= 3
    assert all(o.reason == "stopped" and o.attempts == 0 for o in skipped)
    sent = set(plivo.sent_refs())
    assert sent.isdisjoint(o.ref for o in skipped)
    assert {o.ref for o in outcomes if o.status is SUCCEEDED} == sent
    assert report.stopped_early


async def test_stop_interrupts_a_retry_wait() -> None:
    first_sent = anyio.Event()

    def throttle(request: httpx.Request, n: int) -> httpx.Response:
        first_sent.set()
        return status(429, retry_after=30)

    plivo = FakePlivo(throttle)
    runner = plivo.client().bulk(run_jobs(3), concurrency=3, rate_limit=None)

    async def stop_soon() -> None:
        await first_sent.wait()
        # Everyone is now waiting for the 30 s pause: the three waits stop() interrupts.
        await wait_until(lambda: len(runner._state.waiting) == 3, what="three waiting workers")
        runner.stop()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_soon)
            outcomes = await collect(runner)
    assert [o.status for o in outcomes] == [SKIPPED] * 3
    assert len(plivo.requests) == 1  # the pause held the other two workers
    throttled = [o for o in outcomes if o.attempts]
    assert len(throttled) == 1
    assert isinstance(throttled[0].error, RateLimitError)


async def test_stop_before_start_sends_nothing(plivo: FakePlivo) -> None:
    runner = plivo.client().bulk(run_jobs(10), rate_limit=None)
    runner.stop()
    report = await runner.run()
    assert report.total == 0
    assert report.stopped_early
    assert plivo.requests == []


async def test_break_out_of_the_stream_finishes_gracefully(plivo: FakePlivo) -> None:
    runner = plivo.client().bulk(run_jobs(1000), concurrency=4, rate_limit=None)
    async with runner.stream() as outcomes:
        async for outcome in outcomes:
            if outcome.ref is not None:
                break
    report = runner.report
    assert report.stopped_early
    assert report.succeeded == len(plivo.requests)
    assert report.total < 1000
    assert report.total == report.succeeded + report.skipped


async def test_an_error_in_the_body_is_raised_after_a_graceful_stop(plivo: FakePlivo) -> None:
    runner = plivo.client().bulk(run_jobs(100), concurrency=4, rate_limit=None)

    async def consume() -> None:
        async with runner.stream() as outcomes:
            async for _ in outcomes:
                raise KeyError("boom")

    with pytest.raises(KeyError):
        await consume()
    assert runner.report.succeeded == len(plivo.requests)


async def test_an_input_error_is_raised_after_the_jobs_read(plivo: FakePlivo) -> None:
    def jobs() -> Iterator[RunJob]:
        yield from run_jobs(7)
        raise OSError("disk went away")

    runner = plivo.client().bulk(jobs(), concurrency=2, rate_limit=None)
    with pytest.raises(OSError, match="disk went away"):
        await runner.run()
    assert runner.report.total == 7 == runner.report.succeeded


async def test_hard_cancel_leaves_no_hung_task() -> None:
    async def hang(request: httpx.Request, n: int) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError

    plivo = FakePlivo(hang)
    with anyio.fail_after(5):
        with anyio.move_on_after(0.2):
            await plivo.client().bulk(run_jobs(50), concurrency=4, rate_limit=None).run()
    assert len(plivo.requests) == 4


# -- callbacks, reuse, trio ---------------------------------------------------------------------


async def test_async_on_outcome_sees_every_outcome(plivo: FakePlivo) -> None:
    seen: list[Any] = []

    async def record(outcome: Outcome) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(outcome.ref)

    report = await plivo.client().bulk(run_jobs(30), rate_limit=None, on_outcome=record).run()
    assert sorted(seen) == list(range(30))
    assert report.total == 30


async def test_a_runner_runs_once(plivo: FakePlivo) -> None:
    runner = plivo.client().bulk(run_jobs(1), rate_limit=None)
    await runner.run()
    with pytest.raises(RuntimeError, match="runs once"):
        await runner.run()


def test_works_under_trio() -> None:
    trio = pytest.importorskip("trio")
    plivo = FakePlivo()

    async def main() -> int:
        report = (
            await plivo.client()
            .bulk(run_jobs(20), concurrency=3, rate_limit=RateLimit(10, per=0.05))
            .run()
        )
        return report.succeeded

    assert trio.run(main) == 20
    assert sorted(plivo.sent_refs()) == list(range(20))


def test_bad_settings_are_refused(plivo: FakePlivo) -> None:
    from plivo_phlo_async import ConfigurationError

    client = plivo.client()
    with pytest.raises(ConfigurationError):
        client.bulk(run_jobs(1), concurrency=0)
    with pytest.raises(ConfigurationError):
        client.bulk(run_jobs(1), max_retries=-1)
    with pytest.raises(ConfigurationError):
        client.bulk(run_jobs(1), rate_limit=300)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        client.bulk({"to": "+1"})
    with pytest.raises(InvalidParameterError):
        client.bulk([], phlo_id="a/b")


def test_client_bulk_defaults(plivo: FakePlivo) -> None:
    from plivo_phlo_async import DEFAULT_RATE_LIMIT

    runner = plivo.client(max_retries=3).bulk([])
    assert runner.rate_limit == DEFAULT_RATE_LIMIT
    assert runner.concurrency == 64
    assert runner.max_retries == 3
    assert plivo.client().bulk([], rate_limit=None).rate_limit is None
    assert AUTH_ID  # the fake account used throughout


async def test_an_on_outcome_error_stops_the_run_and_is_raised(plivo: FakePlivo) -> None:
    calls: list[Any] = []

    def fragile(outcome: Outcome) -> None:
        calls.append(outcome.ref)
        if len(calls) == 5:
            raise ValueError("progress bar broke")

    runner = plivo.client().bulk(run_jobs(1000), concurrency=4, rate_limit=None, on_outcome=fragile)
    with pytest.raises(ValueError, match="progress bar broke"):
        await runner.run()
    assert len(calls) == 5  # not called again once it failed
    report = runner.report
    assert report.stopped_early
    assert report.total == report.succeeded + report.skipped
    assert report.succeeded == len(plivo.requests)
    assert report.total < 1000


async def test_stop_after_the_last_job_is_not_stopped_early(plivo: FakePlivo) -> None:
    runner: BulkRunner

    def stop_at_the_end(outcome: Outcome) -> None:
        if runner.report.total == 10:
            runner.stop()

    runner = plivo.client().bulk(run_jobs(10), rate_limit=None, on_outcome=stop_at_the_end)
    report = await runner.run()
    assert report.succeeded == 10
    assert not report.stopped_early
