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
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._journal import (
    CLAIMED,
    DEFAULT_LEASE,
    IN_FLIGHT,
    SCHEMA_VERSION,
    Claim,
    JournalEntry,
    JournalError,
    check_identity,
    text,
)
from ._journal_sql import Op, SqlJournal, Step, drive
from ._journal_sqlite_checks import OPEN, alive, inspect, lost_log, wal_missing
from ._manifest import Dialect, Sql

__all__ = ["SqliteFile", "SqliteJournal"]

#: Writes between two of the journal's own WAL checkpoints.
CHECKPOINT_EVERY = 1000
#: Milliseconds a connection waits for another process's write lock.
BUSY_TIMEOUT = 10_000

_HOST = socket.gethostname()
_T = TypeVar("_T")
_P = ParamSpec("_P")
#: The journal's and the manifest's statements in SQLite. ``journal_now()`` is
#: this process's clock (the runners sharing a file share the machine's).
DIALECT = Dialect(
    param="?",
    seconds="REAL",
    now="journal_now()",
    tables={
        "jobs": "jobs",
        "meta": "meta",
        "campaigns": "campaigns",
        "campaign_jobs": "campaign_jobs",
    },
    table_options=" WITHOUT ROWID",
)
_OPEN = OPEN
_RUNNING = "running"
_CLOSED = "closed"
#: The runners sharing the file, for the ``state`` marker and to tell a
#: killed owner of a claim (see the module's docstring).
_RUNNERS = """
CREATE TABLE IF NOT EXISTS runners (
    token       TEXT PRIMARY KEY,
    lease_until REAL NOT NULL,
    host        TEXT,
    pid         INTEGER
) WITHOUT ROWID
"""
#: Set the state unless another live runner is checkpointing: a checkpoint
#: must copy ``open`` (arguments: the state, this run's token, now).
_SET_STATE = (
    "UPDATE meta SET value=? WHERE key='state' AND NOT EXISTS (SELECT 1 FROM meta AS m "
    "JOIN runners ON m.key = 'checkpoint:' || runners.token "
    "WHERE runners.token != ? AND runners.lease_until > ?)"
)


class SqliteFile(SqlJournal):
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
        self.dialect = DIALECT
        self._rendered = {}
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
            self._db.create_function("journal_now", 0, time.time)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT}")
            meta = inspect(self._db, self.path)
            self.schema = SCHEMA_VERSION if meta is None else int(meta["schema"])
            self._empty = meta is None
            if meta is not None:
                check_identity(self.name, meta, auth_id, base_url)
            if not readonly:
                self._prepare(auth_id, base_url)
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(name, f"journal {name} cannot be used: {exc}") from None
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, auth_id: str | None, base_url: str | None) -> None:
        """Create or migrate the schema, record the identity, register this
        runner and mark the journal open."""
        db = self._db
        _enter_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # see the module's docstring
        with _immediate(db):
            # Read again under the write lock: another process may have
            # created or migrated it since inspect.
            self._run(self._prepare_op(_meta(db), auth_id, base_url, (_RUNNERS,)))
            self._empty = False
            self._execute(self._register())
            self._announce_checkpoint()
        self._checkpoint_and_resume("TRUNCATE")

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for statements that go with the journal (the manifest's)."""
        return self._db

    # -- the runner's ----------------------------------------------------------------
    def get(self, job_id: str) -> JournalEntry | None:
        return self._do("read", job_id, self._get_op(job_id), write=False)

    def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        """Claim the job in one write transaction (see :func:`~._journal.decide`)."""
        job_id = text(job_id)
        claim = self._do(
            "claim", job_id, self._claim_op(job_id, ref, retry_failed, False), lock=True
        )
        if claim.kind == "claimed":
            self.held.add(job_id)
        return claim

    def _owner_gone(self, row: JournalEntry, now: float) -> Op[bool]:
        """A live lease whose owner is a process of this machine that is gone
        (killed): no need to wait for the lease to expire."""
        token = row.run_token
        if (
            row.status not in (CLAIMED, IN_FLIGHT)
            or token == self.run_token
            or (row.lease_until is None or row.lease_until <= now)
        ):
            return False
        if token not in self._dead:
            owner = yield Step("SELECT host, pid FROM runners WHERE token=?", (token,), rows=True)
            if not owner or owner[0][0] != _HOST or alive(owner[0][1]):
                return False  # asked again at the next poll: it may die meanwhile
            self._dead.add(token)
        return True

    def start(
        self, job_id: str, ref: Any, *, url: str | None = None, payload: bytes | None = None
    ) -> bool:
        """Record that the job's request is about to be sent; False (nothing
        written) when this run no longer owns the claim."""
        return (
            self._do("record the start of", job_id, self._start_op(job_id, ref, url, payload)) == 1
        )

    def unsent(self, job_id: str) -> None:
        self._do("record the failed sending of", job_id, self._unsent_op(job_id))

    def release(self, job_id: str) -> None:
        self._do("release", job_id, self._release_op(job_id), lock=True)
        self.held.discard(text(job_id))

    def finish(self, /, job_id: str, status: str, **outcome: Any) -> None:
        """Record a job's outcome (see :meth:`~._journal.Journal.finish`),
        inserting the row if it was never claimed."""
        self._do("record the outcome of", job_id, self._finish_op(job_id, status, **outcome))
        self.held.discard(text(job_id))

    def renew(self) -> None:
        """Extend the leases of this runner and of every row it holds."""

        def renew() -> Op[None]:
            yield self._register()
            yield from self._renew_op(list(self.held))

        self._do(": could not renew this run's claims", None, renew(), lock=True, write=False)

    # -- the operator's ------------------------------------------------------------------
    def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        """Every row (or those with ``status``, or one of several), oldest first."""
        return self._do(" cannot be read", None, self._rows_op(status), write=False)

    def counts(self) -> dict[str, int]:
        """How many jobs have each status."""
        return self._do(" cannot be read", None, self._counts_op(), write=False)

    def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        """Set unresolved jobs to ``status`` with the operator's ``note``, all or
        none; returns the ids. Raises :class:`ValueError` naming the ids that
        are not in the journal or not unresolved."""
        op = self._resolve_op(list(dict.fromkeys(job_ids)), status, note)
        return self._do(": cannot update", None, op, lock=True, write=False)

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
            self._run(self._leave_op())
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
    def _execute(self, step: Step) -> Any:
        cursor = self._db.execute(self._render(step.sql), step.args)
        return cursor.fetchall() if step.rows else cursor.rowcount

    def _run(self, op: Op[_T]) -> _T:
        return drive(op, self._execute)

    def _do(
        self, what: str, job_id: str | None, op: Op[_T], *, lock: bool = False, write: bool = True
    ) -> _T:
        """Run ``op`` (in one write transaction if ``lock``); a failure is a
        JournalError saying ``what`` failed (see :meth:`_failure`)."""
        try:
            with _immediate(self._db) if lock else contextlib.nullcontext():
                result = self._run(op)
        except sqlite3.Error as exc:
            raise self._failure(what, job_id, exc, str(exc)) from None
        if write:
            self.count_write()
        return result

    def _register(self) -> Step:
        """This runner in ``runners``, with its lease."""
        return Step(
            "INSERT OR REPLACE INTO runners VALUES (?, {now} + ?, ?, ?)",
            (self.run_token, self.lease, _HOST, os.getpid()),
        )

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


def _awaitable(
    method: Callable[Concatenate[SqliteFile, _P], _T],
) -> Callable[Concatenate[SqliteJournal, _P], Coroutine[Any, Any, _T]]:
    """``method`` of the journal's file, as the async interface's."""

    async def call(self: SqliteJournal, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return method(self.file, *args, **kwargs)

    return call


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

    claim = _awaitable(SqliteFile.claim)
    get = _awaitable(SqliteFile.get)
    start = _awaitable(SqliteFile.start)
    unsent = _awaitable(SqliteFile.unsent)
    release = _awaitable(SqliteFile.release)
    finish = _awaitable(SqliteFile.finish)
    renew = _awaitable(SqliteFile.renew)
    rows = _awaitable(SqliteFile.rows)
    resolve = _awaitable(SqliteFile.resolve)
    counts = _awaitable(SqliteFile.counts)
    aclose = _awaitable(SqliteFile.close)

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


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    if "meta" not in tables:
        return {}
    return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
