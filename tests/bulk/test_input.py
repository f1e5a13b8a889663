"""The runner reads sync and async sources one job at a time, and closes a
generator it stops reading (an open file or cursor is released at once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from plivo_phlo_async.bulk import OutcomeStatus, RunJob

from .conftest import PHLO_ID, FakePlivo


def job(n: int) -> RunJob:
    return RunJob(PHLO_ID, {"n": n}, ref=n)


def endless_sync(closed: list[int]) -> Iterator[RunJob]:
    n = 0
    try:
        while True:
            yield job(n)
            n += 1
    finally:
        closed.append(n)


async def endless_async(closed: list[int]) -> AsyncIterator[RunJob]:
    n = 0
    try:
        while True:
            yield job(n)
            n += 1
    finally:
        closed.append(n)


@pytest.mark.parametrize("endless", [endless_sync, endless_async], ids=["sync", "async"])
async def test_a_generator_stopped_early_is_closed(
    plivo: FakePlivo, endless: Callable[[list[int]], Iterator[RunJob] | AsyncIterator[RunJob]]
) -> None:
    closed: list[int] = []
    runner = plivo.client().bulk(endless(closed), concurrency=2, rate_limit=None)
    async with runner.stream() as outcomes:
        async for outcome in outcomes:
            if outcome.ref == 5:
                break

    assert len(closed) == 1  # closed once, by the runner, not left to the collector
    # suspended at yield job(n): n + 1 jobs were read, each has its outcome
    assert runner.report.total == closed[0] + 1
    assert len(plivo.requests) == runner.report.succeeded


async def test_a_list_read_to_its_end_is_left_as_it_was(plivo: FakePlivo) -> None:
    jobs = [job(n) for n in range(5)]
    report = await plivo.client().bulk(jobs, rate_limit=None).run()
    assert report.counts[OutcomeStatus.SUCCEEDED] == 5
    assert [j.ref for j in jobs] == list(range(5))


class BrokenIterable:
    def __iter__(self) -> Iterator[RunJob]:
        raise OSError("cannot open the source")


class BrokenAsyncIterable:
    def __aiter__(self) -> AsyncIterator[RunJob]:
        raise OSError("cannot open the async source")


@pytest.mark.parametrize("source", [BrokenIterable(), BrokenAsyncIterable()])
async def test_a_source_that_cannot_be_iterated_is_the_runs_input_error(
    plivo: FakePlivo, source: object
) -> None:
    runner = plivo.client().bulk(source, rate_limit=None)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="cannot open the"):
        await runner.run()
    assert runner.report.total == 0
    assert plivo.requests == []
