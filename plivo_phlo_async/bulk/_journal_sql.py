"""The journal's schema, statements and operations, written once for both databases.

Every statement is written with ``?`` placeholders, ``{jobs}``/``{meta}`` table
names and ``{now}`` (the database's clock, in seconds since the epoch), and is
rendered per database by a :class:`~._manifest.Dialect`. Every operation is a
generator, kept apart from the I/O as h11 keeps its protocol: it yields
:class:`Step` statements, is sent each one's rows (or the number of rows it
wrote), and returns its result. A backend only runs them: SQLite synchronously
inside one ``BEGIN IMMEDIATE`` transaction, PostgreSQL on a pooled connection,
again on a new one when that one breaks (so every operation is idempotent).
"""

# Table names are interpolated into SQL: fixed names, or the journal's checked
# prefix plus a fixed suffix; every value is a parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .._base_client import _is_loopback
from .._exceptions import InvalidParameterError
from ._journal import (
    CLAIMED,
    IN_FLIGHT,
    RESEND,
    SCHEMA_VERSION,
    UNRESOLVED,
    Claim,
    JournalEntry,
    JournalError,
    decide,
)
from ._manifest import Dialect
from ._text import safe_str

__all__ = ["Op", "SqlJournal", "Statements", "Step", "check_identity", "check_schema", "drive"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of an operation; ``rows``: it is sent the rows read, else
    the number of rows written."""

    sql: str
    args: tuple[Any, ...] = ()
    rows: bool = False


Op = Generator[Step, Any, _T]

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS {jobs} (
    job_id      TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    run_token   TEXT NOT NULL,
    ref         TEXT,
    http_status {integer},
    api_id      TEXT,
    attempts    {integer} NOT NULL DEFAULT 0,
    error       TEXT,
    updated_at  {seconds} NOT NULL,
    url         TEXT,
    payload     TEXT,
    note        TEXT,
    lease_until {seconds},
    prior       TEXT
){table_options}
""",
    """
CREATE TABLE IF NOT EXISTS {meta} (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
){table_options}
""",
)
#: Schema 1 had no request and no operator's note; schema 2 no claims.
MIGRATE = {
    1: tuple(
        f"ALTER TABLE {{jobs}} ADD COLUMN {column} TEXT" for column in ("url", "payload", "note")
    ),
    2: (
        "ALTER TABLE {jobs} ADD COLUMN lease_until {seconds}",
        "ALTER TABLE {jobs} ADD COLUMN prior TEXT",
    ),
}
#: A JournalEntry's columns, and the schema that added those that came later.
_COLUMNS = [field.name for field in fields(JournalEntry)]
_ADDED = {"url": 2, "payload": 2, "note": 2, "lease_until": 3}
_SET_META = (
    "INSERT INTO {meta} (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_ADD_META = "INSERT INTO {meta} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
_CLAIM = (
    "INSERT INTO {jobs} (job_id, status, run_token, ref, attempts, updated_at, lease_until) "
    "VALUES (?, ?, ?, ?, 0, {now}, {now} + ?) ON CONFLICT (job_id) DO NOTHING"
)
_TAKE = (
    "UPDATE {jobs} SET prior=CASE WHEN status=? THEN prior ELSE status END, status=?, "
    "run_token=?, ref=?, lease_until={now} + ? WHERE job_id=?"
)
#: Mark an earlier run's row as seen by this run (and set its status);
#: ``updated_at`` keeps saying when the job was last written.
_ADOPT = "UPDATE {jobs} SET run_token=?, status=?, lease_until=NULL, prior=NULL WHERE job_id=?"
#: Its own start, tried again after a broken connection, finds it in flight.
_START = (
    "UPDATE {jobs} SET status=?, ref=?, http_status=NULL, api_id=NULL, attempts=0, "
    "error=NULL, updated_at={now}, url=?, payload=?, note=NULL, prior=NULL, "
    "lease_until={now} + ? WHERE job_id=? AND run_token=? AND status IN (?, ?)"
)
_UNSENT = (
    "UPDATE {jobs} SET status=?, lease_until={now} + ? WHERE job_id=? AND run_token=? AND status=?"
)
_FINISH = (
    "INSERT INTO {jobs} (job_id, status, run_token, ref, http_status, api_id, "
    "attempts, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {now}) "
    "ON CONFLICT (job_id) DO UPDATE SET status=excluded.status, "
    "run_token=excluded.run_token, ref=excluded.ref, "
    "http_status=excluded.http_status, api_id=excluded.api_id, "
    "attempts=excluded.attempts, error=excluded.error, "
    "updated_at=excluded.updated_at, note=NULL, lease_until=NULL, prior=NULL"
)
#: Give up claims (``{which}``: one job, or every one of the run): a row
#: claimed afresh goes, one claimed from ``failed``/``resend`` gets that back.
_RELEASE = (
    "DELETE FROM {{jobs}} WHERE {which} AND run_token=? AND status=? AND prior IS NULL",
    "UPDATE {{jobs}} SET status=prior, prior=NULL, lease_until=NULL "
    "WHERE {which} AND run_token=? AND status=?",
)
#: Ids per ``IN (...)`` (SQLite before 3.32 allows 999 parameters in a statement).
_LOOKUP = 500


def select(schema: int, columns: Iterable[str] = _COLUMNS) -> str:
    """``SELECT`` of ``columns`` from the jobs of a journal of ``schema``
    (NULL for a column that schema lacks)."""
    chosen = (c if _ADDED.get(c, 1) <= schema else "NULL" for c in columns)
    return f"SELECT {', '.join(chosen)} FROM {{jobs}}"


def check_schema(name: str, schema: str | None) -> int:
    """The journal's schema version; a JournalError unless this version reads it."""
    if schema in [str(version) for version in range(1, SCHEMA_VERSION + 1)]:
        return int(schema)
    if schema is not None and schema.isdigit() and int(schema) > SCHEMA_VERSION:
        raise JournalError(
            name,
            f"journal {name} was written by a newer version (schema {schema}); "
            f"this version reads schemas 1 to {SCHEMA_VERSION}",
        )
    raise JournalError(name, f"{name} is not a plivo-phlo journal (schema {schema!r})")


def _marks(values: list[Any]) -> str:
    return "(" + ", ".join("?" * len(values)) + ")"


def _parts(values: list[_T]) -> Iterable[list[_T]]:
    return (values[start : start + _LOOKUP] for start in range(0, len(values), _LOOKUP))


def _text(value: Any) -> str | None:
    """Text a database can store (valid UTF-8, never a failure), or None."""
    return None if value is None else safe_str(value)


def _int64(value: Any) -> int | None:
    """An integer a database can store (64-bit), else None."""
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int(value)
    return None


#: The bundled emulator's public test account (``emulator.DEFAULT_AUTH_ID``;
#: the core does not import the emulator). No Plivo account has this id.
EMULATOR_AUTH_ID = "MAEMULATORAUTHID0001"


def check_identity(
    name: str, meta: dict[str, str], auth_id: str | None, base_url: str | None
) -> None:
    """Refuse a journal recorded for another account or base URL.

    Except the port, for the emulator's public test account on a loopback host:
    each emulator takes a free port, and re-running an example with its journal
    must work. That account never exists at Plivo, and host, scheme and path
    must still match, so a journal is never reused for another API.
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


def _refuse_unresolvable(
    name: str, found: dict[str, tuple[str, float | None]], ids: list[str], now: float
) -> None:
    """Name the ids (``found``: id -> status, lease) that cannot be resolved: not
    in the journal, settled, or in flight in a live run (its answer is on its way)."""
    running, missing, settled = [], [], []
    for job_id in ids:
        if job_id not in found:
            missing.append(job_id)
        elif found[job_id][0] not in (*UNRESOLVED, RESEND):
            settled.append(f"{job_id} ({found[job_id][0]})")
        elif found[job_id][0] == IN_FLIGHT and (found[job_id][1] or 0.0) > now:
            running.append(job_id)
    problems = [
        f"{why}: {', '.join(which)}"
        for why, which in (
            ("in flight in a run that is still going (wait for it to end)", running),
            (f"not in journal {name}", missing),
            ("not unknown (only unknown or in-flight jobs can be resolved)", settled),
        )
        if which
    ]
    if problems:
        raise InvalidParameterError("job_ids", "; ".join(problems))


def drive(op: Op[_T], execute: Callable[[Step], Any]) -> _T:
    """Run ``op`` with a synchronous ``execute(step) -> rows or row count``."""
    try:
        step = next(op)
        while True:
            step = op.send(execute(step))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class Statements:
    """:class:`~._manifest.Sql` over one transaction: ``run`` renders and runs a
    step; ``exists`` is the query whether the table named by its argument exists."""

    def __init__(
        self, dialect: Dialect, run: Callable[[Step], Awaitable[Any]], exists: str
    ) -> None:
        self.dialect = dialect
        self._run = run
        self._exists = exists

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(await self._run(Step(sql, tuple(args), rows=True)))

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        await self._run(Step(sql, tuple(args)))

    async def table_exists(self, name: str) -> bool:
        found = await self.fetch(self._exists, (self.dialect.tables[name],))
        return bool(found[0][0])


class SqlJournal:
    """The operations both backends run (see the module's docstring); the
    backend sets these attributes and runs them."""

    name: str
    run_token: str
    lease: float
    dialect: Dialect
    #: The schema the journal has (older ones are read as they are, never written).
    schema: int = SCHEMA_VERSION
    #: Opened read-only where there is no journal yet: nothing to read.
    _empty: bool = False
    #: Statements as the dialect renders them, rendered once.
    _rendered: dict[str, str]

    def _failure(self, what: str, job_id: str | None, exc: Exception, said: str) -> JournalError:
        """``what`` failed (``said``: the database's message): with a job, "could
        not {what} job ..."; else ``what`` follows the name (" cannot be read")."""
        if job_id is None:
            return JournalError(self.name, f"journal {self.name}{what}: {said}")
        return JournalError(
            self.name,
            f"journal {self.name}: could not {what} job {safe_str(job_id)}: "
            f"{type(exc).__name__}: {said}",
        )

    def _render(self, sql: str) -> str:
        rendered = self._rendered.get(sql)
        if rendered is None:
            rendered = self._rendered[sql] = self.dialect.render(sql)
        return rendered

    def _owner_gone(self, row: JournalEntry, now: float) -> Op[bool]:
        """Whether the owner of a row's live lease is known to be gone (SQLite
        can tell of a process on this machine; else the lease must expire)."""
        yield from ()
        return False

    def _prepare_op(
        self,
        meta: dict[str, str],
        auth_id: str | None,
        base_url: str | None,
        extra: tuple[str, ...],
    ) -> Op[None]:
        """Create (``meta`` empty) or migrate the schema, the backend's ``extra``
        statements with it, and record the identity: a journal without one
        (new, or older than identities) takes the first runner's."""
        check_identity(self.name, meta, auth_id, base_url)  # read under the lock
        steps = [*SCHEMA] if not meta else []
        for version in range(int(meta.get("schema", SCHEMA_VERSION)), SCHEMA_VERSION):
            steps += MIGRATE[version]
        if steps:
            for statement in (*steps, *extra):
                yield Step(statement)
            yield Step(_SET_META, ("schema", str(SCHEMA_VERSION)))
        for key, value in (("auth_id", auth_id), ("base_url", base_url)):
            if value is not None and key not in meta:
                yield Step(_ADD_META, (key, value))
        self.schema = SCHEMA_VERSION

    # -- the runner's ----------------------------------------------------------------
    def _get_op(self, job_id: str) -> Op[JournalEntry | None]:
        found = yield Step(select(self.schema) + " WHERE job_id=?", (safe_str(job_id),), rows=True)
        return JournalEntry(*found[0]) if found else None

    def _claim_op(self, key: str, ref: Any, retry_failed: bool, in_doubt: bool) -> Op[Claim]:
        """Claim the job in the transaction the operation runs in (see :func:`decide`)."""
        ref = _text(ref)
        if (yield Step(_CLAIM, (key, CLAIMED, self.run_token, ref, self.lease))):
            return Claim("claimed")
        (found,) = yield Step(
            select(self.schema, [*_COLUMNS, "prior", "{now}"]) + " WHERE job_id=?{for_update}",
            (key,),
            rows=True,
        )  # rows are only deleted by their owner
        row, prior, now = JournalEntry(*found[:-2]), found[-2], float(found[-1])
        if (yield from self._owner_gone(row, now)):
            row = replace(row, lease_until=None)
        claim, write = decide(row, self.run_token, now, retry_failed, prior, in_doubt)
        if write == "take":
            yield Step(_TAKE, (CLAIMED, CLAIMED, self.run_token, ref, self.lease, key))
        elif write == "adopt":
            yield Step(_ADOPT, (self.run_token, claim.status, key))
        return claim

    def _start_op(self, job_id: str, ref: Any, url: str | None, payload: bytes | None) -> Op[int]:
        """In flight (committed before the request is sent), with the request
        itself, so an unknown outcome can be checked; 0 rows: this run no
        longer owns the claim."""
        body = None if payload is None else payload.decode("utf-8", "replace")
        args = (IN_FLIGHT, _text(ref), _text(url), body, self.lease)
        mine = (safe_str(job_id), self.run_token, CLAIMED, IN_FLIGHT)
        changed = yield Step(_START, args + mine)
        return int(changed)

    def _unsent_op(self, job_id: str) -> Op[None]:
        yield Step(_UNSENT, (CLAIMED, self.lease, safe_str(job_id), self.run_token, IN_FLIGHT))

    def _release_op(self, job_id: str | None) -> Op[None]:
        """Give up the claim of ``job_id`` (None: every one of this run)."""
        which, key = ("job_id=?", (safe_str(job_id),)) if job_id is not None else ("1=1", ())
        for statement in _RELEASE:
            yield Step(statement.format(which=which), (*key, self.run_token, CLAIMED))

    def _finish_op(
        self,
        job_id: str,
        status: str,
        *,
        ref: Any,
        http_status: int | None,
        api_id: str | None,
        attempts: int,
        error: str | None,
    ) -> Op[None]:
        """The job's outcome (inserting the row if it was never claimed)."""
        yield Step(
            _FINISH,
            (
                safe_str(job_id),
                status,
                self.run_token,
                _text(ref),
                _int64(http_status),
                _text(api_id),
                _int64(attempts),
                _text(error),
            ),
        )

    def _renew_op(self, held: list[str]) -> Op[None]:
        for part in _parts(held):
            yield Step(
                "UPDATE {jobs} SET lease_until={now} + ? WHERE run_token=? AND status IN (?, ?) "
                f"AND job_id IN {_marks(part)}",
                (self.lease, self.run_token, CLAIMED, IN_FLIGHT, *part),
            )

    def _leave_op(self) -> Op[None]:
        """Release this run's claims; its jobs in flight have no owner any
        more: unknown at once."""
        yield from self._release_op(None)
        yield Step(
            "UPDATE {jobs} SET lease_until=NULL WHERE run_token=? AND status=?",
            (self.run_token, IN_FLIGHT),
        )

    # -- the operator's ------------------------------------------------------------------
    def _rows_op(self, status: str | Iterable[str] | None) -> Op[list[JournalEntry]]:
        """Every row (or those with ``status``, or one of several), oldest first."""
        if self._empty:
            return []
        statuses = [status] if isinstance(status, str) else [] if status is None else list(status)
        where = f" WHERE status IN {_marks(statuses)}" if status is not None else ""
        found = yield Step(
            select(self.schema) + where + " ORDER BY updated_at, job_id", tuple(statuses), rows=True
        )
        return [JournalEntry(*row) for row in found]

    def _counts_op(self) -> Op[dict[str, int]]:
        if self._empty:
            return {}
        found = yield Step("SELECT status, count(*) FROM {jobs} GROUP BY status", rows=True)
        return {str(status): int(count) for status, count in found}

    def _resolve_op(self, ids: list[str], status: str, note: str) -> Op[list[str]]:
        """Set unresolved jobs to ``status`` with the operator's ``note``, all or
        none (an InvalidParameterError names the ids that are not unresolved)."""
        found: dict[str, tuple[str, float | None]] = {}
        for part in _parts(ids):
            for job_id, value, lease in (
                yield Step(
                    select(self.schema, ["job_id", "status", "lease_until"])
                    + f" WHERE job_id IN {_marks(part)}{{for_update}}",
                    tuple(part),
                    rows=True,
                )
            ):
                found[str(job_id)] = (str(value), lease)
        ((now,),) = yield Step("SELECT {now}", rows=True)
        _refuse_unresolvable(self.name, found, ids, float(now))
        for part in _parts(ids):
            yield Step(
                "UPDATE {jobs} SET status=?, note=?, updated_at={now}, lease_until=NULL "
                f"WHERE job_id IN {_marks(part)}",
                (status, note, *part),
            )
        return ids
