"""The journal: one row per job, so an interrupted run resumes and several
runners share one campaign without sending a job twice (docs/bulk.md, "The journal").

One async interface (:class:`Journal`) over a SQLite file (:mod:`._journal_sqlite`)
or a PostgreSQL database (:mod:`._journal_postgres`), chosen by the location; both
run the schema, statements and operations of :mod:`._journal_sql`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._exceptions import PlivoError

if TYPE_CHECKING:
    from ._manifest import Sql

_T = TypeVar("_T")

__all__ = [
    "CLAIMED",
    "DEFAULT_LEASE",
    "IN_FLIGHT",
    "RESEND",
    "UNRESOLVED",
    "Claim",
    "Journal",
    "JournalEntry",
    "JournalError",
    "decide",
    "is_database_url",
    "journal_name",
    "open_journal",
]

#: Claimed by a run that has not sent it (and may never: it is released then).
CLAIMED = "claimed"
IN_FLIGHT = "in_flight"
#: An unresolved job the operator allowed to be sent again by the next run.
RESEND = "resend"
OUTCOME_UNKNOWN = "outcome_unknown"
SUCCEEDED = "succeeded"
FAILED = "failed"
#: Statuses of jobs that may or may not have been executed.
UNRESOLVED = (IN_FLIGHT, OUTCOME_UNKNOWN)
SCHEMA_VERSION = 3
#: Seconds a claim lives unless renewed (every third of it): a runner must stall
#: 20 s before another takes its jobs over; a dead one's wait at most this long.
DEFAULT_LEASE = 30.0

_SCHEMES = ("postgresql://", "postgres://")


class JournalError(PlivoError):
    """The journal cannot be used: damaged, not a journal, written for another
    account, missing its ``-wal`` file, unreachable, or a write to it failed.

    Raised when it is opened (nothing was sent), or by a run whose journal
    failed mid-way after every job got its outcome (the run stopped at the
    failure). ``path`` is the journal's file, or its URL without the password;
    ``missing`` is True when there is no journal there (opened without creating it).
    """

    def __init__(
        self, path: str | os.PathLike[str], message: str, *, missing: bool = False
    ) -> None:
        super().__init__(message)
        self.path = os.fspath(path)
        self.missing = missing


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """What the journal knows about one job.

    ``status`` is an outcome status, ``claimed`` (a runner is about to send
    it), ``in_flight`` (sent by a run that has not recorded its answer) or
    ``resend`` (the operator allowed the next run to send it again). ``url``
    and ``payload`` are the request last sent (the JSON body as text);
    ``updated_at`` is when the row was last written by a run or by the
    operator (seconds since the epoch); ``note`` is the operator's
    resolution, if any; ``lease_until`` is when a ``claimed`` or
    ``in_flight`` row's owner loses it unless it renews it.
    """

    job_id: str
    status: str
    run_token: str
    ref: str | None
    http_status: int | None
    api_id: str | None
    attempts: int
    error: str | None
    updated_at: float
    url: str | None
    payload: str | None
    note: str | None
    lease_until: float | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a job found.

    ``kind``: ``claimed`` (this run owns it now: send it), ``settled`` (an
    earlier run's outcome, ``status``, stands), ``duplicate`` (this run
    already has it), ``owned`` (another live runner holds it: wait).
    """

    kind: Literal["claimed", "settled", "duplicate", "owned"]
    row: JournalEntry | None = None
    status: str | None = None


Write = Literal["insert", "take", "adopt"] | None


def decide(
    row: JournalEntry | None,
    token: str,
    now: float,
    retry_failed: bool,
    prior: str | None = None,
    in_doubt: bool = False,
) -> tuple[Claim, Write]:
    """The claim a runner makes of a job's row, and the write it takes.

    Run inside the transaction that read ``row`` (locked), so no other runner
    can decide about the same job in between. Another run's row ``claimed``
    with a live lease is about to be sent (wait), with an expired one its
    owner died before sending (take it); ``in_flight`` with a live lease is
    being sent (wait), with an expired one it may have run (unknown).
    ``prior`` is the status a ``claimed`` row had before it was claimed
    (``failed`` or ``resend``), if any: a dead owner's claim falls back to it.
    ``in_doubt``: this claim is tried again after its connection broke, so a
    row this run owns may be its own first attempt, committed before the
    break (the caller makes sure no other claim of the same job by this run
    was made meanwhile).
    """
    if row is None:
        return Claim("claimed"), "insert"
    if row.run_token == token:
        if in_doubt and row.status == CLAIMED:
            return Claim("claimed", row), None
        if in_doubt and row.status in (SUCCEEDED, FAILED, OUTCOME_UNKNOWN):
            return Claim("settled", row, row.status), None
        return Claim("duplicate", row), None
    status = row.status
    live = row.lease_until is not None and row.lease_until > now
    if status == SUCCEEDED or (status == FAILED and not retry_failed):
        return Claim("settled", row, status), "adopt"
    if status in (FAILED, RESEND):
        return Claim("claimed", row), "take"
    if status == CLAIMED:
        if live:
            return Claim("owned", row), None
        if prior == FAILED and not retry_failed:  # claimed by a run with retry_failed
            return Claim("settled", row, FAILED), "adopt"
        return Claim("claimed", row), "take"
    if status == IN_FLIGHT and live:
        return Claim("owned", row), None
    return Claim("settled", row, OUTCOME_UNKNOWN), "adopt"  # it may have been executed


class Journal(Protocol):
    """One campaign's job rows, whatever stores them.

    Every failure is a :class:`JournalError` naming the journal. A runner's
    writes are its own committed transactions; ``run_token`` marks its rows.
    ``start`` marks a claimed job ``in_flight`` (False: this run lost the
    claim, do not send); ``unsent`` puts it back to ``claimed`` (the request
    certainly did not leave); ``release`` gives up a claim not sent;
    ``renew`` extends the leases of every row this run holds.
    """

    run_token: str
    #: The file, or the URL without its password: safe to show and log.
    name: str

    async def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim: ...
    async def get(self, job_id: str) -> JournalEntry | None: ...
    async def start(
        self, job_id: str, ref: Any, *, url: str | None, payload: bytes | None
    ) -> bool: ...
    async def unsent(self, job_id: str) -> None: ...
    async def release(self, job_id: str) -> None: ...
    async def finish(
        self,
        job_id: str,
        status: str,
        *,
        ref: Any,
        http_status: int | None,
        api_id: str | None,
        attempts: int,
        error: str | None,
    ) -> None: ...
    async def renew(self) -> None: ...
    async def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]: ...
    async def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]: ...
    async def counts(self) -> dict[str, int]: ...
    async def transact(self, work: Callable[[Sql], Awaitable[_T]], *, write: bool = True) -> _T:
        """Run ``work`` (statements of :mod:`._manifest`) in one transaction;
        it may be run again on a new connection, so it must be idempotent."""
        ...

    async def aclose(self) -> None: ...


def is_database_url(location: str | os.PathLike[str]) -> bool:
    return isinstance(location, str) and location.lower().startswith(_SCHEMES)


def journal_name(location: str | os.PathLike[str]) -> str:
    """The location as it may be shown: a URL loses its password."""
    if not is_database_url(location):
        return os.fspath(location)
    return redact_url(str(location))


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "postgresql://(unreadable URL)"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


async def open_journal(
    location: str | os.PathLike[str],
    *,
    auth_id: str | None = None,
    base_url: str | None = None,
    create: bool = True,
    readonly: bool = False,
    lease: float = DEFAULT_LEASE,
) -> Journal:
    """Open (and check) the journal at ``location``: a file path, or a
    ``postgresql://`` URL (needs the ``postgres`` extra)."""
    if is_database_url(location):
        from ._journal_postgres import PostgresJournal

        return await PostgresJournal.open(
            str(location),
            auth_id=auth_id,
            base_url=base_url,
            create=create,
            readonly=readonly,
            lease=lease,
        )
    from ._journal_sqlite import SqliteFile, SqliteJournal

    file = SqliteFile(
        location, auth_id=auth_id, base_url=base_url, create=create, readonly=readonly, lease=lease
    )
    return SqliteJournal(file)
