"""A campaign's manifest in its journal: what was submitted (tables
``campaigns`` and ``campaign_jobs``), joined with the journal's rows so every
job is in exactly one of :data:`STATES`. A campaign's rows are keyed
``campaign_id/job_id`` (:func:`job_key`), so campaigns never share a row. The
statements are written once here and run by each backend
(:meth:`~._journal.Journal.transact`); the first submit creates the tables,
so journals without campaigns are unchanged. The guide: docs/campaigns.md.
"""

# Table names are interpolated into SQL: fixed names plus the journal's
# checked prefix; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._exceptions import InvalidParameterError
from .._validation import describe
from ..resources.phlo import encode_run_payload
from ._jobs import RunJob, _checked, derive_job_id
from ._journal import CLAIMED, IN_FLIGHT, RESEND

NOT_STARTED = "not_started"
#: Every state a campaign's job is in, in the order a job goes through them.
STATES = (NOT_STARTED, CLAIMED, IN_FLIGHT, "succeeded", "failed", "outcome_unknown")
#: Ids of the manifest's jobs per ``IN (...)`` lookup, and rows per ``INSERT``
#: (SQLite before 3.32 allows 999 parameters in a statement).
_LOOKUP = 500
_ROWS = 150

_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ManifestConflictError(InvalidParameterError):
    """Job ids already in the campaign's manifest with another payload (or
    the campaign already exists for another PHLO). Nothing was written and
    nothing queued. ``job_ids`` holds the first few conflicting ids."""

    def __init__(self, campaign_id: str, reason: str, job_ids: Sequence[str] = ()) -> None:
        super().__init__("jobs", reason)
        self.campaign_id = campaign_id
        self.job_ids = list(job_ids)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.campaign_id, self.reason, self.job_ids))


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the two databases for these statements."""

    #: The parameter placeholder.
    param: str
    #: The column type of seconds since the epoch.
    seconds: str
    #: An expression for now, in seconds since the epoch (the database's clock).
    now: str
    #: ``{name}`` -> the name of the journal's table (``jobs``, ``meta``, ``campaigns``...).
    tables: dict[str, str]
    #: The column type of a 64-bit integer.
    integer: str = "INTEGER"
    #: What ends a ``CREATE TABLE`` (SQLite's ``WITHOUT ROWID``).
    table_options: str = ""
    #: What locks the rows a ``SELECT`` reads until the transaction ends (SQLite's
    #: ``BEGIN IMMEDIATE`` already holds the only write lock).
    for_update: str = ""

    def render(self, sql: str) -> str:
        """``sql`` written with ``?``, ``{table}`` names and the ``{fields}`` above."""
        return sql.format(
            seconds=self.seconds,
            now=self.now,
            integer=self.integer,
            table_options=self.table_options,
            for_update=self.for_update,
            **self.tables,
        ).replace("?", self.param)


class Sql(Protocol):
    """One transaction's statements (given by :meth:`Journal.transact`)."""

    dialect: Dialect

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query (written with ``?`` and ``{table}`` names) and return its rows."""
        ...

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None: ...

    async def table_exists(self, name: str) -> bool: ...


Transact = Callable[[Callable[[Sql], Awaitable[Any]]], Awaitable[Any]]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS {campaigns} (campaign_id TEXT PRIMARY KEY, "
    "phlo_id TEXT NOT NULL, settings TEXT NOT NULL, created_at {seconds} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {campaign_jobs} (campaign_id TEXT NOT NULL, "
    "job_id TEXT NOT NULL, chunk INTEGER NOT NULL, digest TEXT NOT NULL, "
    "payload TEXT NOT NULL, ref TEXT, PRIMARY KEY (campaign_id, job_id))",
    "CREATE INDEX IF NOT EXISTS {campaign_jobs}_chunk ON {campaign_jobs} (campaign_id, chunk)",
)
#: A manifest job's state: its journal row's status, or not started (no row
#: yet, or allowed to be sent again); in flight with no live owner is unknown.
_STATE = (
    "CASE WHEN j.status IS NULL OR j.status = '" + RESEND + "' THEN '" + NOT_STARTED + "' "
    "WHEN j.status = '" + IN_FLIGHT + "' AND (j.lease_until IS NULL OR j.lease_until <= {now}) "
    "THEN 'outcome_unknown' ELSE j.status END"
)
_JOINED = (
    "FROM {campaign_jobs} m LEFT JOIN {jobs} j ON j.job_id = m.campaign_id || '/' || m.job_id "
    "WHERE m.campaign_id = ?"
)


@dataclass(frozen=True, slots=True)
class ManifestJob:
    """One submitted job as the manifest keeps it."""

    job_id: str
    digest: str
    payload: str
    ref: str | None


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    campaign_id: str
    phlo_id: str
    settings: dict[str, Any]


def check_campaign_id(campaign_id: Any) -> str:
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.fullmatch(campaign_id):
        raise InvalidParameterError(
            "campaign_id",
            "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            f"not {describe(campaign_id)}",
        )
    return campaign_id


def job_key(campaign_id: str, job_id: str) -> str:
    """The journal key of a campaign's job."""
    return f"{campaign_id}/{job_id}"


def manifest_job(job: RunJob, job_id: str) -> ManifestJob:
    """The manifest's record of ``job``: JSON payload and ref (a message and
    a database carry only JSON), and the digest that binds the id to them."""
    try:  # what a run would refuse is refused now, before the campaign is queued
        _checked("payload", encode_run_payload, job.payload, {})
    except InvalidParameterError as exc:
        raise InvalidParameterError("jobs", f"job {job_id[:32]!r}: {exc}") from None
    try:
        payload = json.dumps(dict(job.payload), sort_keys=True, allow_nan=False)
        ref = None if job.ref is None else json.dumps(job.ref, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            "jobs", f"job {job_id[:32]!r}: payload and ref must be JSON ({exc})"
        ) from None
    if "\0" in job_id:
        raise InvalidParameterError("job_id", f"must not contain NUL: {job_id[:32]!r}")
    return ManifestJob(job_id, derive_job_id(RunJob(job.phlo_id, job.payload)), payload, ref)


async def add_jobs(
    sql: Sql,
    campaign_id: str,
    phlo_id: str,
    settings: dict[str, Any],
    batches: Iterable[list[ManifestJob]],
    now: float,
) -> tuple[int, int]:
    """Record the campaign (or check it is the same PHLO) and its jobs, one
    new chunk per batch that brings new jobs; run it in one transaction.

    Returns (jobs added, jobs already in the manifest with the same digest).
    Raises :class:`ManifestConflictError` (the caller's transaction is then
    rolled back) for an id already there with another digest.
    """
    for statement in _CREATE:
        await sql.execute(statement)
    found = await sql.fetch("SELECT phlo_id FROM {campaigns} WHERE campaign_id = ?", (campaign_id,))
    if found and found[0][0] != phlo_id:
        raise ManifestConflictError(
            campaign_id,
            f"campaign {campaign_id!r} was submitted for PHLO {found[0][0]!r}, not {phlo_id!r}: "
            f"give this one another campaign id",
        )
    await sql.execute(
        "INSERT INTO {campaigns} (campaign_id, phlo_id, settings, created_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id) DO UPDATE SET settings = excluded.settings",
        (campaign_id, phlo_id, json.dumps(settings, sort_keys=True), now),
    )
    rows = await sql.fetch(
        "SELECT max(chunk) FROM {campaign_jobs} WHERE campaign_id = ?", (campaign_id,)
    )
    chunk = -1 if rows[0][0] is None else int(rows[0][0])
    added = existing = 0
    conflicts: list[str] = []
    conflict_count = 0
    for batch in batches:
        await _insert(sql, campaign_id, chunk + 1, batch)
        stored = await _digests(sql, campaign_id, [job.job_id for job in batch])
        new_ids: set[str] = set()
        for job in batch:
            digest, job_chunk = stored[job.job_id]
            if digest != job.digest:
                conflict_count += 1
                if len(conflicts) < 10:
                    conflicts.append(job.job_id)
            elif job_chunk == chunk + 1:  # inserted now (an id twice in a batch counts once)
                new_ids.add(job.job_id)
            else:
                existing += 1
        if new_ids:
            chunk += 1
            added += len(new_ids)
    if conflict_count:
        raise ManifestConflictError(
            campaign_id,
            f"{conflict_count} job id(s) already in campaign {campaign_id!r} with another "
            f"payload (first: {', '.join(repr(i) for i in conflicts)}); nothing was queued. "
            f"A job id names one call: give changed jobs new ids, or submit them as another "
            f"campaign",
            conflicts,
        )
    return added, existing


async def _insert(sql: Sql, campaign_id: str, chunk: int, jobs: list[ManifestJob]) -> None:
    """Insert the jobs that are new, many rows per statement (a round trip
    per row made a PostgreSQL manifest of 100,000 jobs take minutes)."""
    for start in range(0, len(jobs), _ROWS):
        part = jobs[start : start + _ROWS]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(part))
        await sql.execute(
            "INSERT INTO {campaign_jobs} (campaign_id, job_id, chunk, digest, payload, ref) "
            f"VALUES {values} ON CONFLICT (campaign_id, job_id) DO NOTHING",
            [
                value
                for job in part
                for value in (campaign_id, job.job_id, chunk, job.digest, job.payload, job.ref)
            ],
        )


async def _digests(sql: Sql, campaign_id: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    stored: dict[str, tuple[str, int]] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _LOOKUP):
        part = unique[start : start + _LOOKUP]
        marks = ", ".join("?" * len(part))
        for job_id, digest, chunk in await sql.fetch(
            "SELECT job_id, digest, chunk FROM {campaign_jobs} "
            f"WHERE campaign_id = ? AND job_id IN ({marks})",
            (campaign_id, *part),
        ):
            stored[str(job_id)] = (str(digest), int(chunk))
    return stored


async def read_campaign(sql: Sql, campaign_id: str) -> CampaignRecord | None:
    if not await sql.table_exists("campaign_jobs"):  # no campaign yet
        return None
    rows = await sql.fetch(
        "SELECT phlo_id, settings FROM {campaigns} WHERE campaign_id = ?", (campaign_id,)
    )
    if not rows:
        return None
    return CampaignRecord(campaign_id, str(rows[0][0]), json.loads(rows[0][1]))


async def campaign_ids(sql: Sql) -> list[str]:
    if not await sql.table_exists("campaign_jobs"):  # no campaign yet
        return []
    rows = await sql.fetch("SELECT campaign_id FROM {campaigns} ORDER BY created_at, campaign_id")
    return [str(row[0]) for row in rows]


async def chunk_jobs(sql: Sql, campaign_id: str, chunk: int) -> list[ManifestJob]:
    rows = await sql.fetch(
        "SELECT job_id, digest, payload, ref FROM {campaign_jobs} "
        "WHERE campaign_id = ? AND chunk = ? ORDER BY job_id",
        (campaign_id, chunk),
    )
    return [
        ManifestJob(str(a), str(b), str(c), None if d is None else str(d)) for a, b, c, d in rows
    ]


async def chunks_to_run(sql: Sql, campaign_id: str) -> list[int]:
    """The chunks holding a job that a run would still send: not started
    (or allowed to be sent again), or claimed by a run that may be gone."""
    rows = await sql.fetch(
        "SELECT DISTINCT m.chunk " + _JOINED + " AND (j.status IS NULL OR j.status IN (?, ?)) "
        "ORDER BY m.chunk",
        (campaign_id, RESEND, CLAIMED),
    )
    return [int(row[0]) for row in rows]


async def state_counts(sql: Sql, campaign_id: str) -> dict[str, int]:
    """Every state of :data:`STATES` with the number of the campaign's jobs in it."""
    counts = dict.fromkeys(STATES, 0)
    for name, count in await sql.fetch(
        "SELECT " + _STATE + ", count(*) " + _JOINED + " GROUP BY 1", (campaign_id,)
    ):
        counts[str(name)] = counts.get(str(name), 0) + int(count)
    return counts
