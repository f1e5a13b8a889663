"""The SQLite journal: one file, one or several runner processes on one machine.

WAL with ``synchronous=NORMAL`` survives a process being killed (not a power
loss) at a few tens of microseconds per write. Several processes may share
the file: a claim is one ``BEGIN IMMEDIATE`` transaction (SQLite's write
lock serialises them), every connection waits up to ``BUSY_TIMEOUT`` for
the lock, and each runner registers itself in ``runners`` with a lease.

A journal is refused when it is opened, before anything is sent, if it is
damaged (``PRAGMA quick_check``), if it was written for another account or
base URL, or if its ``-wal`` file is evidently missing. That last check works
through a ``state`` key in ``meta``: every checkpoint a runner makes (its
own, never SQLite's automatic one) is preceded by writing ``open`` and
followed by writing ``running``, and a clean close of the last runner
writes ``closed``, checkpoints and truncates the WAL. So a main file saying
``open`` with no ``-wal`` beside it lost that file, while a crashed journal
that another SQLite connection merged and closed says ``running`` and is
complete. With several runners, a checkpoint copies whatever the others
wrote last: so a runner announces its checkpoint (a ``checkpoint:TOKEN``
key, in the transaction that writes ``open``), and ``running`` or
``closed`` is only written while no live runner is checkpointing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ._journal import (
    CLAIMED,
    DEFAULT_LEASE,
    IN_FLIGHT,
    SCHEMA_VERSION,
    Claim,
    JournalEntry,
    JournalError,
    body_text,
    check_identity,
    decide,
    int64,
    optional_text,
    ref_text,
    text,
    unresolved_problems,
)
from ._journal_sqlite_checks import OPEN, alive, inspect, lost_log, wal_missing
from ._manifest import Dialect, Sql
from ._text import safe_str

__all__ = ["SqliteFile", "SqliteJournal"]

#: Writes between two of the journal's own WAL checkpoints.
CHECKPOINT_EVERY = 1000
#: Milliseconds a connection waits for another process's write lock.
BUSY_TIMEOUT = 10_000

_HOST = socket.gethostname()
_T = TypeVar("_T")
#: The manifest's statements in SQLite (see :mod:`._manifest`).
DIALECT = Dialect(
    param="?",
    seconds="REAL",
    now="((julianday('now') - 2440587.5) * 86400.0)",
    tables={"jobs": "jobs", "campaigns": "campaigns", "campaign_jobs": "campaign_jobs"},
)
_OPEN = OPEN
_RUNNING = "running"
_CLOSED = "closed"

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS jobs (
    job_id      TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    run_token   TEXT NOT NULL,
    ref         TEXT,
    http_status INTEGER,
    api_id      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    updated_at  REAL NOT NULL,
    url         TEXT,
    payload     TEXT,
    note        TEXT,
    lease_until REAL,
    prior       TEXT
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS runners (
    token       TEXT PRIMARY KEY,
    lease_until REAL NOT NULL,
    host        TEXT,
    pid         INTEGER
) WITHOUT ROWID
""",
)
#: Schema 1 had no request and no operator's note; schema 2 no claims.
_MIGRATE = {
    1: (
        "ALTER TABLE jobs ADD COLUMN url TEXT",
        "ALTER TABLE jobs ADD COLUMN payload TEXT",
        "ALTER TABLE jobs ADD COLUMN note TEXT",
    ),
    2: (
        "ALTER TABLE jobs ADD COLUMN lease_until REAL",
        "ALTER TABLE jobs ADD COLUMN prior TEXT",
        _SCHEMA[2],
    ),
}
#: The columns of a JournalEntry, per schema version.
_SELECT = {
    3: "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error, "
    "updated_at, url, payload, note, lease_until FROM jobs",
    2: "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error, "
    "updated_at, url, payload, note, NULL FROM jobs",
    1: "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error, "
    "updated_at, NULL, NULL, NULL, NULL FROM jobs",
}
#: Set the state unless another live runner is checkpointing: a checkpoint
#: must copy ``open`` (arguments: the state, this run's token, now).
_SET_STATE = (
    "UPDATE meta SET value=? WHERE key='state' AND NOT EXISTS (SELECT 1 FROM meta AS m "
    "JOIN runners ON m.key = 'checkpoint:' || runners.token "
    "WHERE runners.token != ? AND runners.lease_until > ?)"
)


class SqliteFile:
    """A job journal in one SQLite file (synchronous; see :class:`SqliteJournal`).

    Every write is its own committed transaction, so nothing is lost to a
    kill between writes; every failure is a :class:`JournalError` naming
    the file.

    ``auth_id`` and ``base_url`` are the account the journal is used for:
    recorded when it is created (or first opened by a version that records
    them), and a journal recorded for another one is refused. ``create=False``
    refuses a missing file; ``readonly=True`` checks and reads without
    writing anything (no migration, no state, no identity recorded).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        auth_id: str | None = None,
        base_url: str | None = None,
        create: bool = True,
        readonly: bool = False,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.path = Path(path)
        self.name = os.fspath(path)
        self.run_token = uuid.uuid4().hex
        self.readonly = readonly
        self.lease = lease
        #: Rows this run holds (claimed or in flight): their leases are renewed.
        self.held: set[str] = set()
        #: Other runners' tokens whose process is known to be dead.
        self._dead: set[str] = set()
        self._writes = 0
        self._closed = False
        name = self.path
        try:
            if not create and not self.path.is_file():
                raise JournalError(name, f"no journal at {name}", missing=True)
            if wal_missing(self.path):
                raise lost_log(self.path)
            if readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None)
        except (sqlite3.Error, OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise JournalError(name, f"cannot open journal {name}: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT}")
            meta = inspect(self._db, self.path)
            self.schema = SCHEMA_VERSION if meta is None else int(meta["schema"])
            self._empty = meta is None
            if meta is not None:
                check_identity(self.name, meta, auth_id, base_url)
            if not readonly:
                self._prepare(meta, auth_id, base_url)
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(name, f"journal {name} cannot be used: {exc}") from None
        except BaseException:
            self._db.close()
            raise

    def _prepare(
        self, meta: dict[str, str] | None, auth_id: str | None, base_url: str | None
    ) -> None:
        """Create or migrate the schema, record the identity, register this
        runner and mark the journal open."""
        db = self._db
        _enter_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # see the module's docstring
        with _immediate(db):
            # Read again under the write lock: another process may have
            # created or migrated it since _inspect.
            current = dict(_meta(db))
            check_identity(self.name, current, auth_id, base_url)  # another one created it
            if not current:
                for statement in _SCHEMA:  # not executescript: it would commit
                    db.execute(statement)
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            else:
                for version in range(int(current["schema"]), SCHEMA_VERSION):
                    for statement in _MIGRATE[version]:
                        db.execute(statement)
                db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
            self.schema = SCHEMA_VERSION
            self._empty = False
            # A journal without an identity (new, or older than identities)
            # takes the first one that opens it.
            if auth_id is not None and "auth_id" not in current:
                db.execute("INSERT INTO meta VALUES ('auth_id', ?)", (auth_id,))
            if base_url is not None and "base_url" not in current:
                db.execute("INSERT INTO meta VALUES ('base_url', ?)", (base_url,))
            db.execute(
                "INSERT OR REPLACE INTO runners VALUES (?, ?, ?, ?)",
                (self.run_token, time.time() + self.lease, _HOST, os.getpid()),
            )
            self._announce_checkpoint()
        self._checkpoint_and_resume("TRUNCATE")

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for statements that go with the journal (the manifest's)."""
        return self._db

    # -- the runner's ----------------------------------------------------------------
    def get(self, job_id: str) -> JournalEntry | None:
        try:
            row = self._db.execute(_SELECT[self.schema] + " WHERE job_id=?", (job_id,)).fetchone()
        except sqlite3.Error as exc:
            raise self._failure("read", job_id, exc) from None
        return None if row is None else JournalEntry(*row)

    def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        """Claim the job in one write transaction (see :func:`decide`)."""
        db = self._db
        job_id = text(job_id)
        try:
            with _immediate(db):
                row = db.execute(_SELECT[self.schema] + " WHERE job_id=?", (job_id,)).fetchone()
                now = time.time()
                entry = None if row is None else JournalEntry(*row)
                if entry is not None and self._owner_died(entry, now):
                    entry = dataclasses.replace(entry, lease_until=None)
                prior = (
                    None
                    if entry is None or entry.status != CLAIMED
                    else db.execute("SELECT prior FROM jobs WHERE job_id=?", (job_id,)).fetchone()[
                        0
                    ]
                )
                claim, write = decide(entry, self.run_token, now, retry_failed, prior)
                if write == "insert":
                    db.execute(
                        "INSERT INTO jobs (job_id, status, run_token, ref, attempts, "
                        "updated_at, lease_until) VALUES (?, ?, ?, ?, 0, ?, ?)",
                        (job_id, CLAIMED, self.run_token, ref_text(ref), now, now + self.lease),
                    )
                elif write == "take":
                    db.execute(
                        "UPDATE jobs SET prior=CASE WHEN status=? THEN prior ELSE status END, "
                        "status=?, run_token=?, ref=?, lease_until=? WHERE job_id=?",
                        (CLAIMED, CLAIMED, self.run_token, ref_text(ref), now + self.lease, job_id),
                    )
                elif write == "adopt":
                    assert claim.status is not None
                    self._adopt(job_id, claim.status)
        except sqlite3.Error as exc:
            raise self._failure("claim", job_id, exc) from None
        if claim.kind == "claimed":
            self.held.add(job_id)
        self.count_write()
        return claim

    def _owner_died(self, entry: JournalEntry, now: float) -> bool:
        """A live lease whose owner is a process of this machine that is gone
        (killed): no need to wait for the lease to expire."""
        if (
            entry.status not in (CLAIMED, IN_FLIGHT)
            or entry.run_token == self.run_token
            or (entry.lease_until is None or entry.lease_until <= now)
        ):
            return False
        token = entry.run_token
        if token not in self._dead:
            owner = self._db.execute(
                "SELECT host, pid FROM runners WHERE token=?", (token,)
            ).fetchone()
            if owner is None or owner[0] != _HOST or alive(owner[1]):
                return False  # asked again at the next poll: it may die meanwhile
            self._dead.add(token)
        return True

    def _adopt(self, job_id: str, status: str) -> None:
        """Mark an earlier run's row as seen by this run (and set its status);
        ``updated_at`` keeps saying when the job was last written."""
        self._db.execute(
            "UPDATE jobs SET run_token=?, status=?, lease_until=NULL, prior=NULL WHERE job_id=?",
            (self.run_token, status, job_id),
        )

    def start(
        self, job_id: str, ref: Any, *, url: str | None = None, payload: bytes | None = None
    ) -> bool:
        """Record that the job's request is about to be sent (committed first),
        with the request itself, so an unknown outcome can be checked. False
        (nothing written) when this run no longer owns the claim."""
        changed = self._write(
            "record the start of",
            job_id,
            "UPDATE jobs SET status=?, ref=?, http_status=NULL, api_id=NULL, attempts=0, "
            "error=NULL, updated_at=?, url=?, payload=?, note=NULL, prior=NULL, "
            "lease_until=? WHERE job_id=? AND run_token=? AND status=?",
            (
                IN_FLIGHT,
                ref_text(ref),
                time.time(),
                optional_text(url),
                body_text(payload),
                time.time() + self.lease,
                text(job_id),
                self.run_token,
                CLAIMED,
            ),
        )
        return changed == 1

    def unsent(self, job_id: str) -> None:
        self._write(
            "record the failed sending of",
            job_id,
            "UPDATE jobs SET status=?, lease_until=? WHERE job_id=? AND run_token=? AND status=?",
            (CLAIMED, time.time() + self.lease, text(job_id), self.run_token, IN_FLIGHT),
        )

    def release(self, job_id: str) -> None:
        job_id = text(job_id)
        self._write(
            "release",
            job_id,
            "DELETE FROM jobs WHERE job_id=? AND run_token=? AND status=? AND prior IS NULL",
            (job_id, self.run_token, CLAIMED),
        )
        self._write(
            "release",
            job_id,
            "UPDATE jobs SET status=prior, prior=NULL, lease_until=NULL "
            "WHERE job_id=? AND run_token=? AND status=?",
            (job_id, self.run_token, CLAIMED),
        )
        self.held.discard(job_id)

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        ref: Any,
        http_status: int | None,
        api_id: str | None,
        attempts: int,
        error: str | None,
    ) -> None:
        """Record a job's outcome (inserting the row if it was never claimed)."""
        self._write(
            "record the outcome of",
            job_id,
            "INSERT INTO jobs (job_id, status, run_token, ref, http_status, api_id, "
            "attempts, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, "
            "http_status=excluded.http_status, api_id=excluded.api_id, "
            "attempts=excluded.attempts, error=excluded.error, "
            "updated_at=excluded.updated_at, note=NULL, lease_until=NULL, prior=NULL",
            (
                text(job_id),
                status,
                self.run_token,
                ref_text(ref),
                int64(http_status),
                optional_text(api_id),
                int64(attempts),
                optional_text(error),
                time.time(),
            ),
        )
        self.held.discard(text(job_id))

    def renew(self) -> None:
        """Extend the leases of this runner and of every row it holds."""
        until = time.time() + self.lease
        try:
            with _immediate(self._db):
                self._db.execute(
                    "INSERT OR REPLACE INTO runners VALUES (?, ?, ?, ?)",
                    (self.run_token, until, _HOST, os.getpid()),
                )
                self._db.executemany(
                    "UPDATE jobs SET lease_until=? WHERE job_id=? AND run_token=? "
                    "AND status IN (?, ?)",
                    [
                        (until, job_id, self.run_token, CLAIMED, IN_FLIGHT)
                        for job_id in list(self.held)
                    ],
                )
        except sqlite3.Error as exc:
            raise JournalError(
                self.path, f"journal {self.path}: could not renew this run's claims: {exc}"
            ) from None

    # -- the operator's ------------------------------------------------------------------
    def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        """Every row (or those with ``status``, or one of several), oldest first."""
        if self._empty and self.readonly:
            return []
        query = _SELECT[self.schema]
        statuses = (
            [status] if isinstance(status, str) else None if status is None else (list(status))
        )
        args: tuple[str, ...] = ()
        if statuses is not None:
            query += " WHERE status IN (" + ", ".join("?" * len(statuses)) + ")"
            args = tuple(statuses)
        try:
            cursor = self._db.execute(query + " ORDER BY updated_at, job_id", args)
            return [JournalEntry(*row) for row in cursor]
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"journal {self.path} cannot be read: {exc}") from None

    def counts(self) -> dict[str, int]:
        """How many jobs have each status."""
        if self._empty and self.readonly:
            return {}
        try:
            return {
                str(status): int(count)
                for status, count in self._db.execute(
                    "SELECT status, count(*) FROM jobs GROUP BY status"
                )
            }
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"journal {self.path} cannot be read: {exc}") from None

    def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        """Set unresolved jobs to ``status`` with the operator's ``note``, all or
        none; returns the ids. Raises :class:`ValueError` naming the ids that
        are not in the journal or not unresolved."""
        ids = list(dict.fromkeys(job_ids))
        db = self._db
        try:
            with _immediate(db):
                found: dict[str, tuple[str, float | None]] = {}
                lease = "lease_until" if self.schema >= 3 else "NULL"
                for job_id in ids:
                    row = db.execute(
                        f"SELECT status, {lease} FROM jobs WHERE job_id=?",  # noqa: S608
                        (job_id,),
                    ).fetchone()
                    if row is not None:
                        found[job_id] = (row[0], row[1])
                now = time.time()
                unresolved_problems(str(self.path), found, ids, now)
                db.executemany(
                    "UPDATE jobs SET status=?, note=?, updated_at=?, lease_until=NULL "
                    "WHERE job_id=?",
                    [(status, note, now, job_id) for job_id in ids],
                )
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"journal {self.path}: cannot update: {exc}") from None
        return ids

    def close(self) -> None:
        """Release the claims this run still holds and close. The last runner
        to close cleanly marks the journal closed and empties the WAL into
        the main file, so the main file alone is the whole journal."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.readonly:
                self._leave()
        except sqlite3.Error as exc:
            raise JournalError(
                self.path,
                f"journal {self.path} could not be closed cleanly: {exc}; "
                f"keep its -wal file beside it",
            ) from None
        finally:
            self._db.close()

    def _leave(self) -> None:
        db = self._db
        now = time.time()
        with _immediate(db):
            db.execute(
                "DELETE FROM jobs WHERE run_token=? AND status=? AND prior IS NULL",
                (self.run_token, CLAIMED),
            )
            db.execute(
                "UPDATE jobs SET status=prior, prior=NULL, lease_until=NULL "
                "WHERE run_token=? AND status=?",
                (self.run_token, CLAIMED),
            )
            # Its jobs in flight have no owner any more: unknown at once.
            db.execute(
                "UPDATE jobs SET lease_until=NULL WHERE run_token=? AND status=?",
                (self.run_token, IN_FLIGHT),
            )
            db.execute(
                "DELETE FROM runners WHERE token=? OR lease_until <= ?", (self.run_token, now)
            )
            db.execute("DELETE FROM meta WHERE key=?", (f"checkpoint:{self.run_token}",))
            alone = db.execute("SELECT count(*) FROM runners").fetchone()[0] == 0
            db.execute(
                _SET_STATE,
                (_CLOSED if alone else _RUNNING, self.run_token, now),
            )
        if alone:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- internals ---------------------------------------------------------------------
    def _write(self, what: str, job_id: str, sql: str, args: tuple[Any, ...]) -> int:
        try:
            changed = self._db.execute(sql, args).rowcount
        except sqlite3.Error as exc:
            raise self._failure(what, job_id, exc) from None
        self.count_write()
        return changed

    def count_write(self) -> None:
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY:
            self._writes = 0
            try:
                self._checkpoint()
            except sqlite3.Error as exc:
                raise JournalError(
                    self.path, f"journal {self.path}: could not checkpoint: {exc}"
                ) from None

    def _announce_checkpoint(self) -> None:
        """Within a write transaction: the main file will say ``open``."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"checkpoint:{self.run_token}", "1")
        )
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)", (_OPEN,))

    def _checkpoint(self) -> None:
        """Copy the WAL into the main file, which says ``open`` meanwhile."""
        db = self._db
        with _immediate(db):
            self._announce_checkpoint()
        self._checkpoint_and_resume("FULL")

    def _checkpoint_and_resume(self, mode: str) -> None:
        db = self._db
        db.execute(f"PRAGMA wal_checkpoint({mode})")
        with _immediate(db):
            db.execute("DELETE FROM meta WHERE key=?", (f"checkpoint:{self.run_token}",))
            db.execute(
                _SET_STATE,
                (_RUNNING, self.run_token, time.time()),
            )

    def _failure(self, what: str, job_id: str, exc: sqlite3.Error) -> JournalError:
        return JournalError(
            self.path,
            f"journal {self.path}: could not {what} job {safe_str(job_id)}: "
            f"{type(exc).__name__}: {exc}",
        )


class SqliteJournal:
    """The :class:`~._journal.Journal` interface over a :class:`SqliteFile`.

    SQLite answers in microseconds, so its calls run in the event loop's
    thread (a claim may wait up to ``BUSY_TIMEOUT`` for another process's
    write lock: they are short).
    """

    def __init__(self, file: SqliteFile) -> None:
        self.file = file
        self.run_token = file.run_token
        self.name = file.name

    async def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        return self.file.claim(job_id, ref, retry_failed=retry_failed)

    async def get(self, job_id: str) -> JournalEntry | None:
        return self.file.get(job_id)

    async def start(self, job_id: str, ref: Any, *, url: str | None, payload: bytes | None) -> bool:
        return self.file.start(job_id, ref, url=url, payload=payload)

    async def unsent(self, job_id: str) -> None:
        self.file.unsent(job_id)

    async def release(self, job_id: str) -> None:
        self.file.release(job_id)

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
    ) -> None:
        self.file.finish(
            job_id,
            status,
            ref=ref,
            http_status=http_status,
            api_id=api_id,
            attempts=attempts,
            error=error,
        )

    async def renew(self) -> None:
        self.file.renew()

    async def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        return self.file.rows(status)

    async def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        return self.file.resolve(job_ids, status, note)

    async def counts(self) -> dict[str, int]:
        return self.file.counts()

    async def transact(self, work: Callable[[Sql], Awaitable[_T]], *, write: bool = True) -> _T:
        """Run ``work`` in one transaction (a write one unless ``write=False``).

        ``work`` only awaits the statements, which run synchronously: the
        transaction never spans a trip through the event loop.
        """
        db = self.file.db
        try:
            with _immediate(db) if write else _deferred(db):
                result = await work(_Statements(db))
        except sqlite3.Error as exc:
            raise JournalError(self.file.path, f"journal {self.name}: {exc}") from None
        if write:
            self.file.count_write()
        return result

    async def aclose(self) -> None:
        self.file.close()


class _Statements:
    """:class:`~._manifest.Sql` over one SQLite connection."""

    dialect = DIALECT

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(DIALECT.render(sql), tuple(args)).fetchall()

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        self._db.execute(DIALECT.render(sql), tuple(args))

    async def table_exists(self, name: str) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (DIALECT.tables[name],)
        ).fetchone()
        return found is not None


def _enter_wal(db: sqlite3.Connection) -> None:
    """Switch the journal to WAL (a no-op once it is).

    Processes opening a new journal at the same moment race for the switch,
    and SQLite answers the losers "database is locked" at once, without
    waiting on its busy handler (that could deadlock): they wait a little and
    try again, for at most :data:`BUSY_TIMEOUT`, as any other write would.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT / 1000
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, ``BEGIN IMMEDIATE`` (the write lock is taken
    first, so no other process writes between what it reads and what it
    writes) to ``COMMIT``; rolled back on any exception, cancellation too."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _deferred(db: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: one consistent snapshot of the journal."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        if db.in_transaction:
            db.execute("COMMIT")


def _meta(db: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    if "meta" not in tables:
        return []
    return [(str(k), str(v)) for k, v in db.execute("SELECT key, value FROM meta")]
