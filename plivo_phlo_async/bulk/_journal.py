"""The journal: one row per job, so an interrupted run resumes and several
runners share one campaign without sending a job twice.

Two backends behind one async interface (:class:`Journal`): a SQLite file
(:mod:`._journal_sqlite`, one machine, one or several processes) and a
PostgreSQL database (:mod:`._journal_postgres`, several machines), chosen by
the location: a ``postgresql://`` or ``postgres://`` URL, else a file path.
Both run the same schema, migrations, statements and operations
(:mod:`._journal_sql`); each keeps only what its database needs of its own.

**Claims, not checks.** Before a job waits for the rate limiter, the runner
claims it: in one transaction that sees no live owner, its row becomes
``claimed`` with the run's token and a lease expiry. Right before its
request is sent it becomes ``in_flight`` (only if this run still owns it);
after, it gets its outcome. A job certainly not sent is released (its row
removed, or its earlier ``failed``/``resend`` status restored). A running
runner renews the leases of the rows it holds every ``lease / 3`` seconds,
so only a dead (or stalled) runner's leases expire. What another runner
finds (:func:`decide`):

- ``claimed`` with a live lease: someone is about to send it: wait.
- ``claimed`` with an expired lease: its owner died before sending: take it.
- ``in_flight`` with a live lease: being sent: wait for its outcome.
- ``in_flight`` with an expired lease: it may have run: outcome unknown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._base_client import _is_loopback
from .._exceptions import PlivoError
from ._text import safe_str

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
#: Seconds a claim lives without being renewed. Renewed every third of it,
#: so a runner must stall for 20 s before another one may take over (or,
#: for a job in flight, report it unknown); a dead runner's claimed jobs
#: wait at most this long before another run sends them.
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
    can decide about the same job in between. ``prior`` is the status a
    ``claimed`` row had before it was claimed (``failed`` or ``resend``), if
    any: a dead owner's claim falls back to it. ``in_doubt``: this claim is
    tried again after its connection broke, so a row this run owns may be
    its own first attempt, committed before the break (the caller makes sure
    no other claim of the same job by this run was made meanwhile).
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
    """

    run_token: str
    #: The file, or the URL without its password: safe to show and log.
    name: str

    # -- the runner's
    async def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim: ...
    async def get(self, job_id: str) -> JournalEntry | None: ...
    async def start(self, job_id: str, ref: Any, *, url: str | None, payload: bytes | None) -> bool:
        """``in_flight`` if this run still owns the claim (else False: do not send)."""
        ...

    async def unsent(self, job_id: str) -> None:
        """Back to ``claimed``: the request certainly did not leave."""
        ...

    async def release(self, job_id: str) -> None:
        """Give up a claimed job that was not sent."""
        ...

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
    async def renew(self) -> None:
        """Extend the leases of every row this run holds."""
        ...

    # -- the operator's
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


_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def check_prefix(location: str, prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise JournalError(
            journal_name(location),
            f"journal table prefix {safe_str(prefix)!r} must be 1-41 lowercase letters, "
            f"digits or underscores, not starting with a digit",
        )
    return prefix


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
    from . import _journal_sqlite

    return _journal_sqlite.SqliteJournal(
        _journal_sqlite.SqliteFile(
            location,
            auth_id=auth_id,
            base_url=base_url,
            create=create,
            readonly=readonly,
            lease=lease,
        )
    )


#: The bundled emulator's public test account (``emulator.DEFAULT_AUTH_ID``;
#: the core does not import the emulator). No Plivo account has this id.
EMULATOR_AUTH_ID = "MAEMULATORAUTHID0001"


def check_identity(
    name: str, meta: dict[str, str], auth_id: str | None, base_url: str | None
) -> None:
    """Refuse a journal recorded for another account or base URL.

    One exception: for the emulator's public test account on a loopback host,
    the port is not part of the identity. Each emulator takes a free port, so
    otherwise re-running an example (or the README's bulk block) with its
    journal is refused. That account never exists at Plivo, and the host,
    scheme and path must still match, so a journal written for Plivo (or for
    a real account through a local proxy) is never reused for another API.
    """
    stored_id, stored_url = meta.get("auth_id"), meta.get("base_url")
    if (auth_id is None or stored_id is None or stored_id == auth_id) and (
        base_url is None
        or stored_url is None
        or stored_url == base_url
        or (stored_id == EMULATOR_AUTH_ID and _same_loopback(stored_url, base_url))
    ):
        return
    raise JournalError(
        name,
        f"journal {name} was written for account {stored_id or auth_id} at "
        f"{stored_url or base_url}, not {auth_id or stored_id} at {base_url or stored_url}: "
        f"use a journal per account and endpoint (nothing was sent)",
    )


def _same_loopback(stored: str, current: str) -> bool:
    """Both URLs name the same loopback host, scheme and path (any ports)."""
    try:
        a, b = urlsplit(stored), urlsplit(current)
    except ValueError:
        return False
    same = (a.scheme, a.hostname, a.path) == (b.scheme, b.hostname, b.path)
    return same and _is_loopback(a.hostname or "")


def unresolved_problems(
    name: str, found: dict[str, tuple[str, float | None]], ids: list[str], now: float
) -> None:
    """ValueError naming the ids (``found``: id -> status, lease) that cannot
    be resolved: not in the journal, settled, or in flight in a live run
    (whose answer is on its way)."""
    missing = [job_id for job_id in ids if job_id not in found]
    settled = [
        f"{job_id} ({found[job_id][0]})"
        for job_id in ids
        if job_id in found and found[job_id][0] not in (*UNRESOLVED, RESEND)
    ]
    running = [
        job_id
        for job_id in ids
        if job_id in found and found[job_id][0] == IN_FLIGHT and (found[job_id][1] or 0.0) > now
    ]
    problems = []
    if running:
        problems.append(
            f"in flight in a run that is still going (wait for it to end): {', '.join(running)}"
        )
    if missing:
        problems.append(f"not in journal {name}: {', '.join(missing)}")
    if settled:
        problems.append(
            f"not unknown (only unknown or in-flight jobs can be resolved): {', '.join(settled)}"
        )
    if problems:
        raise ValueError("; ".join(problems))


def ref_text(ref: Any) -> str | None:
    """The ref as text: ``str(ref)``, or a safe repr when that fails."""
    return None if ref is None else safe_str(ref)


def text(value: Any) -> str:
    """Text a database can store: valid UTF-8, never a failure."""
    return safe_str(value)


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def body_text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8", "replace")


def int64(value: Any) -> int | None:
    """An integer a database can store (64-bit), else None."""
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int(value)
    return None
