"""One bad job fails alone: it gets a ``failed`` outcome with InvalidParameterError,
nothing is sent for it, it is recorded, and the jobs beside it go on.

Bad values that once aborted the whole run with an ExceptionGroup: a lone
surrogate, a list as an id (unhashable), a 5,000-digit integer (Python's
int->str limit), a payload nested deeper than the recursion limit.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plivo_phlo_async import InvalidParameterError
from plivo_phlo_async.bulk import (
    MemberActionJob,
    NodeActionJob,
    Outcome,
    OutcomeStatus,
    RunJob,
    derive_job_id,
)

from .conftest import NODE_ID, PHLO_ID, FakePlivo

SUCCEEDED = OutcomeStatus.SUCCEEDED
FAILED = OutcomeStatus.FAILED
GOOD = 20
BAD_AT = 10
SURROGATE = "\ud800"
HUGE = 10**5000


def nested(depth: int, leaf: Any = 1, *, as_dict: bool = False) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


def good_job(n: int) -> RunJob:
    return RunJob(PHLO_ID, {"to": "+14155550100", "n": n}, ref=n)


def with_bad(bad: Any) -> list[Any]:
    jobs: list[Any] = [good_job(n) for n in range(GOOD)]
    jobs.insert(BAD_AT, bad)
    return jobs


def journal_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT job_id, status, ref, error FROM jobs").fetchall()
    return {row[0]: row[1:] for row in rows}


#: name -> (the bad job, the field its error names)
BAD_JOBS: dict[str, tuple[Callable[[], Any], str]] = {
    # a lone surrogate, in every place a job can hold text
    "surrogate payload value": (lambda: RunJob(PHLO_ID, {"to": SURROGATE}, ref="bad"), "payload"),
    "surrogate payload key": (lambda: RunJob(PHLO_ID, {SURROGATE: "x"}, ref="bad"), "payload"),
    "surrogate phlo_id": (lambda: RunJob(SURROGATE, {"n": -1}, ref="bad"), "phlo_id"),
    "surrogate job_id": (lambda: RunJob(PHLO_ID, {"n": -1}, ref="bad", job_id=SURROGATE), "job_id"),
    "surrogate node_id": (
        lambda: NodeActionJob(
            PHLO_ID, SURROGATE, "call", "+14155550100", "+14155550101", ref="bad"
        ),
        "node_id",
    ),
    "surrogate to": (
        lambda: NodeActionJob(PHLO_ID, NODE_ID, "call", "+14155550100", SURROGATE, ref="bad"),
        "to",
    ),
    "surrogate member_address": (
        lambda: MemberActionJob(PHLO_ID, NODE_ID, SURROGATE, "hold", ref="bad"),
        "member_address",
    ),
    # a list (unhashable) as an id
    "list phlo_id": (lambda: RunJob([PHLO_ID], {"n": -1}, ref="bad"), "phlo_id"),  # type: ignore[arg-type]
    "list phlo_id, node action": (
        lambda: NodeActionJob(
            [PHLO_ID],
            NODE_ID,
            "call",
            "+14155550100",  # type: ignore[arg-type]
            "+14155550101",
            ref="bad",
        ),
        "phlo_id",
    ),
    "list phlo_id, member action": (
        lambda: MemberActionJob(
            [PHLO_ID],
            NODE_ID,
            "+14155550100",
            "hold",  # type: ignore[arg-type]
            ref="bad",
        ),
        "phlo_id",
    ),
    "list node_id": (
        lambda: MemberActionJob(
            PHLO_ID,
            [NODE_ID],
            "+14155550100",
            "hold",  # type: ignore[arg-type]
            ref="bad",
        ),
        "node_id",
    ),
    "list job_id": (lambda: RunJob(PHLO_ID, {"n": -1}, ref="bad", job_id=["x"]), "job_id"),  # type: ignore[arg-type]
    # a 5,000-digit integer, in every field
    "huge int payload value": (lambda: RunJob(PHLO_ID, {"to": HUGE}, ref="bad"), "payload"),
    "huge int payload key": (lambda: RunJob(PHLO_ID, {HUGE: 1}, ref="bad"), "payload"),
    "huge int phlo_id": (lambda: RunJob(HUGE, {"n": -1}, ref="bad"), "phlo_id"),  # type: ignore[arg-type]
    "huge int job_id": (lambda: RunJob(PHLO_ID, {"n": -1}, ref="bad", job_id=HUGE), "job_id"),  # type: ignore[arg-type]
    "huge int node_id": (
        lambda: NodeActionJob(
            PHLO_ID,
            HUGE,
            "call",
            "+14155550100",  # type: ignore[arg-type]
            "+14155550101",
            ref="bad",
        ),
        "node_id",
    ),
    "huge int to": (
        lambda: NodeActionJob(
            PHLO_ID,
            NODE_ID,
            "call",
            "+14155550100",
            HUGE,  # type: ignore[arg-type]
            ref="bad",
        ),
        "to",
    ),
    "huge int member_address": (
        lambda: MemberActionJob(PHLO_ID, NODE_ID, HUGE, "hold", ref="bad"),  # type: ignore[arg-type]
        "member_address",
    ),
    # nested deeper than the recursion limit
    "payload list nested 1,200 deep": (
        lambda: RunJob(PHLO_ID, {"a": nested(1200)}, ref="bad"),
        "payload",
    ),
    "payload dict nested 5,000 deep": (
        lambda: RunJob(PHLO_ID, nested(5000, as_dict=True), ref="bad"),
        "payload",
    ),
}


async def run_all(
    plivo: FakePlivo, jobs: list[Any], journal: Path | None, **options: Any
) -> tuple[list[Outcome], list[Outcome], Any]:
    seen: list[Outcome] = []
    runner = plivo.client().bulk(
        jobs, concurrency=4, rate_limit=None, journal=journal, on_outcome=seen.append, **options
    )
    outcomes: list[Outcome] = []
    async with runner.stream() as stream:
        async for outcome in stream:
            outcomes.append(outcome)
    return outcomes, seen, runner.report


@pytest.mark.parametrize("journaled", [False, True], ids=["no journal", "journal"])
@pytest.mark.parametrize("case", list(BAD_JOBS))
async def test_one_bad_job_fails_alone(
    case: str, journaled: bool, plivo: FakePlivo, tmp_path: Path
) -> None:
    make, field = BAD_JOBS[case]
    bad = make()
    journal = tmp_path / "journal.sqlite" if journaled else None
    outcomes, seen, report = await run_all(plivo, with_bad(bad), journal)

    assert len(outcomes) == GOOD + 1
    assert seen == outcomes  # on_outcome saw every one
    [failed] = [o for o in outcomes if o.ref == "bad"]
    assert failed.job is bad
    assert failed.status is FAILED
    assert isinstance(failed.error, InvalidParameterError)
    assert failed.error.field == field
    assert failed.attempts == 0
    assert failed.reason is not None
    failed.reason.encode()  # printable anywhere: no lone surrogate in the message
    good = [o for o in outcomes if o.ref != "bad"]
    assert sorted(o.ref for o in good) == list(range(GOOD))
    assert {o.status for o in good} == {SUCCEEDED}
    assert sorted(plivo.sent_refs()) == list(range(GOOD))  # the good ones, once each
    assert report.total == GOOD + 1
    assert report.failed == 1
    assert report.failures == [failed]
    assert report.requests_sent == GOOD

    if journal is None:
        return
    rows = journal_rows(journal)
    if field == "job_id":
        # No valid key to record it under: it is in the outcome and report only.
        assert failed.job_id is None
        assert len(rows) == GOOD
    else:
        assert failed.job_id is not None
        status, ref, error = rows[failed.job_id]
        assert (status, ref) == ("failed", "bad")
        assert error.startswith("InvalidParameterError: ")
        assert len(rows) == GOOD + 1
    assert sum(row[0] == "succeeded" for row in rows.values()) == GOOD

    # The same input again: settled from the journal, nothing sent, no crash.
    again = FakePlivo()
    outcomes, _, report = await run_all(again, with_bad(make()), journal)
    assert len(outcomes) == GOOD + 1
    assert again.requests == []
    [failed] = [o for o in outcomes if o.ref == "bad"]
    assert failed.status is FAILED


async def test_bad_mapping_with_phlo_id(plivo: FakePlivo, tmp_path: Path) -> None:
    """Plain mappings (CSV rows) given with phlo_id= are run payloads: same rule."""
    rows: list[Any] = [{"to": "+14155550100", "n": n} for n in range(GOOD)]
    rows[3:3] = [{"to": SURROGATE}, {"to": HUGE}, {"a": nested(1500)}, {HUGE: 1}]
    for journal in (None, tmp_path / "journal.sqlite"):
        plivo.requests.clear()
        outcomes, _, _ = await run_all(plivo, rows, journal, phlo_id=PHLO_ID)
        assert len(outcomes) == GOOD + 4
        bad = [o for o in outcomes if o.ref in (3, 4, 5, 6)]
        assert all(o.status is FAILED for o in bad)
        assert all(isinstance(o.error, InvalidParameterError) for o in bad)
        assert all(o.error.field == "payload" for o in bad if o.error is not None)
        assert sorted(plivo.sent_refs()) == list(range(GOOD))


@pytest.mark.parametrize("ref", [SURROGATE, HUGE, nested(3000)], ids=["surrogate", "huge", "deep"])
async def test_any_ref_is_returned_and_journaled(
    ref: Any, plivo: FakePlivo, tmp_path: Path
) -> None:
    """A ref is the caller's, returned untouched: any value is fine, and the
    journal stores text for it that SQLite can take."""
    journal = tmp_path / "journal.sqlite"
    jobs = with_bad(RunJob(PHLO_ID, {"to": "+14155550100", "n": -1}, ref=ref))
    outcomes, _, _ = await run_all(plivo, jobs, journal)
    [mine] = [o for o in outcomes if o.ref is ref]
    assert mine.status is SUCCEEDED
    assert all(o.status is SUCCEEDED for o in outcomes)
    assert sorted(plivo.sent_refs()) == [-1, *range(GOOD)]
    assert mine.job_id is not None
    status, text, _ = journal_rows(journal)[mine.job_id]
    assert status == "succeeded"
    assert isinstance(text, str)
    assert text
    text.encode()


def test_derive_job_id_never_raises() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)

    class Nasty:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        def __iter__(self) -> Any:
            raise RuntimeError("no iteration")

    values = [
        SURROGATE,
        HUGE,
        nested(100_000),
        nested(3000, as_dict=True),
        cyclic,
        Nasty(),
        b"\xff",
        math.nan,
        {HUGE: SURROGATE},
        {(1,): [HUGE]},
    ]
    ids = set()
    for value in values:
        job = RunJob(value, {"v": value})
        ids.add(derive_job_id(job))
        assert derive_job_id(job) == derive_job_id(RunJob(value, {"v": value}))  # stable
        derive_job_id(RunJob(PHLO_ID, value))
        derive_job_id(NodeActionJob(value, value, value, value, value, value))
        derive_job_id(MemberActionJob(value, value, value, value))
    assert len(ids) == len(values)


# -- fuzzed ----------------------------------------------------------------------------


class Nasty:
    """An object whose every text form, hash and iteration raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__

    def __hash__(self) -> int:
        raise RuntimeError("no hash")


# Built, not st.just(): hypothesis reprs its strategies, and repr(HUGE) raises.
huge_ints = st.sampled_from([5000, -5000]).map(lambda d: 10 ** abs(d) * (1 if d > 0 else -1))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(
        [
            SURROGATE,
            "a\udfffb",
            "",
            "\x00",
            "+14155550100",
            PHLO_ID,
            NODE_ID,
            "call",
            "hold",
            "agent",
        ]
    ),
    st.binary(max_size=10),
    st.builds(Nasty),
    st.builds(nested, st.integers(900, 1400)),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(
            st.one_of(st.text(max_size=5), st.just(SURROGATE), huge_ints), children, max_size=3
        ),
    ),
    max_leaves=8,
)
maybe = st.one_of(values, st.none())
bad_jobs = st.one_of(
    st.builds(
        RunJob,
        st.one_of(values, st.just(PHLO_ID)),
        st.one_of(values, st.dictionaries(st.text(max_size=5), values, max_size=3)),
        ref=values,
        job_id=maybe,
    ),
    st.builds(
        NodeActionJob,
        st.one_of(values, st.just(PHLO_ID)),
        st.one_of(values, st.just(NODE_ID)),
        values,
        values,
        values,
        values,
        ref=values,
        job_id=maybe,
    ),
    st.builds(
        MemberActionJob,
        st.one_of(values, st.just(PHLO_ID)),
        st.one_of(values, st.just(NODE_ID)),
        values,
        values,
        ref=values,
        job_id=maybe,
    ),
    values,  # not a job at all
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=st.lists(bad_jobs, min_size=1, max_size=5), spots=st.data(), journaled=st.booleans())
def test_fuzzed_jobs_never_abort_the_run(
    bad: list[Any], spots: st.DataObject, journaled: bool
) -> None:
    # A key longer than any fuzzed one: no fuzzed job can have a good one's content.
    good_jobs = [
        RunJob(PHLO_ID, {"to": "+14155550100", "good-job-n": n}, ref=("good", n)) for n in range(10)
    ]
    jobs: list[Any] = list(good_jobs)
    for job in bad:
        jobs.insert(spots.draw(st.integers(0, len(jobs))), job)

    async def main(journal: Path | None) -> tuple[list[Outcome], Any, FakePlivo]:
        plivo = FakePlivo()
        outcomes, seen, report = await run_all(plivo, jobs, journal)
        assert seen == outcomes
        return outcomes, report, plivo

    with tempfile.TemporaryDirectory() as folder:
        journal = Path(folder) / "journal.sqlite" if journaled else None
        outcomes, report, plivo = asyncio.run(main(journal))

    # One outcome per job, each job accounted for exactly once.
    assert len(outcomes) == len(jobs)
    assert report.total == len(jobs)
    assert Counter(id(o.job) for o in outcomes) == Counter(id(job) for job in jobs)
    # Requests only for jobs that were sent: none for an invalid one.
    assert sum(o.attempts for o in outcomes) == len(plivo.requests) == report.requests_sent
    for outcome in outcomes:
        if isinstance(outcome.error, InvalidParameterError):
            assert outcome.status is FAILED
            assert outcome.attempts == 0
            assert isinstance(outcome.error.field, str)
            assert outcome.error.field
            str(outcome.error).encode()
    # The good ones all went through, once each.
    good_ids = {id(job) for job in good_jobs}
    good = [o for o in outcomes if id(o.job) in good_ids]
    assert len(good) == len(good_jobs)
    assert all(o.status is SUCCEEDED and o.attempts == 1 for o in good)
    sent = [body.get("good-job-n") for body in plivo.bodies()]
    assert sorted(n for n in sent if n is not None) == list(range(len(good_jobs)))
