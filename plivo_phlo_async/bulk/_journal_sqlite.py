"""The SQLite journal: one file, one or several runner processes on one machine.

WAL with ``synchronous=NORMAL`` survives a killed process (not a power loss).
A claim is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock serialises
the processes); each runner registers itself in ``runners`` with a lease.

A journal is refused at opening, before anything is sent, if it is damaged,
not a journal, too new, written for another account, or evidently missing
its ``-wal`` file. That last check reads a ``state`` key in ``meta``: every
checkpoint a runner makes (its own, never SQLite's automatic one) is preceded
by writing ``open`` and followed by ``running``, and the last runner's clean
close writes ``closed``, checkpoints and truncates the WAL. So a main file
saying ``open`` with no ``-wal`` beside it lost that file, while a crashed
journal that another connection merged and closed says ``running``. With
several runners a checkpoint copies what the others wrote last: so a runner
announces its checkpoint (a ``checkpoint:TOKEN`` key, written with ``open``),
and ``running`` or ``closed`` is only written while no live runner is
checkpointing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._journal import CLAIMED, DEFAULT_LEASE, IN_FLIGHT, Claim, JournalEntry, JournalError
from ._journal_sql import Op, SqlJournal, Statements, Step, check_identity, check_schema, drive
from ._manifest import Dialect, Sql
from ._text import safe_str

__all__ = ["SqliteFile", "SqliteJournal"]

#: Writes between two of the journal's own WAL checkpoints.
CHECKPOINT_EVERY = 1000
#: Milliseconds a connection waits for another process's write lock.
BUSY_TIMEOUT = 10_000

_HOST = socket.gethostname()
_T = TypeVar("_T")
_P = ParamSpec("_P")
#: ``journal_now()`` is this process's clock (the runners sharing a file share the machine's).
DIALECT = Dialect(
    param="?",
    seconds="REAL",
    now="journal_now()",
    tables={name: name for name in ("jobs", "meta", "campaigns", "campaign_jobs")},
    table_options=" WITHOUT ROWID",
)
_TABLE_EXISTS = "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?"
_OPEN, _RUNNING, _CLOSED = "open", "running", "closed"
#: The runners sharing the file: for the ``state`` marker, and to tell a killed
#: owner of a claim.
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
    """A job journal in one SQLite file, synchronous (see :class:`SqliteJournal`).

    ``auth_id`` and ``base_url`` are the account it is used for: recorded when
    it is created (or first opened by a version that records them); a journal
    recorded for another one is refused. ``create=False`` refuses a missing
    file; ``readonly=True`` checks and reads without writing anything.
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
        self.name = os.fspath(path)
        self.path = path = Path(path)
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
        try:
            if not create and not path.is_file():
                raise JournalError(path, f"no journal at {path}", missing=True)
            if wal_missing(path):
                raise _lost_log(path)
            if readonly:
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self._db = sqlite3.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise JournalError(path, f"cannot open journal {path}: {exc}") from None
        try:
            self._db.create_function("journal_now", 0, time.time)
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT}")
            meta = inspect(self._db, path)
            self._empty = meta is None
            if meta is not None:
                self.schema = int(meta["schema"])
                check_identity(self.name, meta, auth_id, base_url)
            if not readonly:
                self._prepare(auth_id, base_url)
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(path, f"journal {path} cannot be used: {exc}") from None
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
            drive(self._prepare_op(_meta(db), auth_id, base_url, (_RUNNERS,)), self._execute)
            self._empty = False
            self._execute(self._register())
            self._announce_checkpoint()
        self._checkpoint_and_resume("TRUNCATE")

    # -- the runner's ----------------------------------------------------------------
    def get(self, job_id: str) -> JournalEntry | None:
        return self._do("read", job_id, self._get_op(job_id), write=False)

    def claim(self, job_id: str, ref: Any, *, retry_failed: bool) -> Claim:
        job_id = safe_str(job_id)
        op = self._claim_op(job_id, ref, retry_failed, False)
        claim = self._do("claim", job_id, op, lock=True)
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
        op = self._start_op(job_id, ref, url, payload)
        return self._do("record the start of", job_id, op) == 1

    def unsent(self, job_id: str) -> None:
        self._do("record the failed sending of", job_id, self._unsent_op(job_id))

    def release(self, job_id: str) -> None:
        self._do("release", job_id, self._release_op(job_id), lock=True)
        self.held.discard(safe_str(job_id))

    def finish(self, /, job_id: str, status: str, **outcome: Any) -> None:
        self._do("record the outcome of", job_id, self._finish_op(job_id, status, **outcome))
        self.held.discard(safe_str(job_id))

    def renew(self) -> None:
        """Extend the leases of this runner and of every row it holds."""

        def renew() -> Op[None]:
            yield self._register()
            yield from self._renew_op(list(self.held))

        self._do(": could not renew this run's claims", None, renew(), lock=True, write=False)

    # -- the operator's ------------------------------------------------------------------
    def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        return self._do(" cannot be read", None, self._rows_op(status), write=False)

    def counts(self) -> dict[str, int]:
        return self._do(" cannot be read", None, self._counts_op(), write=False)

    def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
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
            drive(self._leave_op(), self._execute)
            db.execute(
                "DELETE FROM runners WHERE token=? OR lease_until <= ?", (self.run_token, now)
            )
            db.execute("DELETE FROM meta WHERE key=?", (f"checkpoint:{self.run_token}",))
            alone = db.execute("SELECT count(*) FROM runners").fetchone()[0] == 0
            db.execute(_SET_STATE, (_CLOSED if alone else _RUNNING, self.run_token, now))
        if alone:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- internals ---------------------------------------------------------------------
    def _execute(self, step: Step) -> Any:
        cursor = self._db.execute(self._render(step.sql), step.args)
        return cursor.fetchall() if step.rows else cursor.rowcount

    def _do(
        self, what: str, job_id: str | None, op: Op[_T], *, lock: bool = False, write: bool = True
    ) -> _T:
        """Run ``op`` (in one write transaction if ``lock``); a failure is a
        JournalError saying ``what`` failed (see :meth:`_failure`)."""
        try:
            with _immediate(self._db) if lock else contextlib.nullcontext():
                result = drive(op, self._execute)
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
        with _immediate(self._db):
            self._announce_checkpoint()
        self._checkpoint_and_resume("FULL")

    def _checkpoint_and_resume(self, mode: str) -> None:
        db = self._db
        db.execute(f"PRAGMA wal_checkpoint({mode})")
        with _immediate(db):
            db.execute("DELETE FROM meta WHERE key=?", (f"checkpoint:{self.run_token}",))
            db.execute(_SET_STATE, (_RUNNING, self.run_token, time.time()))


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
        db = self.file._db

        async def run(step: Step) -> Any:
            cursor = db.execute(DIALECT.render(step.sql), step.args)
            return cursor.fetchall() if step.rows else None

        try:
            with _immediate(db, "BEGIN IMMEDIATE" if write else "BEGIN"):
                result = await work(Statements(DIALECT, run, _TABLE_EXISTS))
        except sqlite3.Error as exc:
            raise JournalError(self.file.path, f"journal {self.name}: {exc}") from None
        if write:
            self.file.count_write()
        return result


@contextlib.contextmanager
def _immediate(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    """One transaction, committed, or rolled back on any exception (cancellation
    too). ``BEGIN IMMEDIATE`` takes the write lock first, so no other process
    writes between what it reads and what it writes."""
    db.execute(begin)
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _enter_wal(db: sqlite3.Connection) -> None:
    """Switch the journal to WAL (a no-op once it is). Processes opening a new
    journal together race for the switch; SQLite answers the losers "database
    is locked" at once, not through its busy handler (that could deadlock):
    they try again for at most :data:`BUSY_TIMEOUT`, as any other write would."""
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


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    if "meta" not in _tables(db):
        return {}
    return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}


# -- whether a file can be trusted as a journal (checked before anything is sent) ---------
def inspect(db: sqlite3.Connection, path: Path) -> dict[str, str] | None:
    """The journal's ``meta`` (None for a new, empty file), or a JournalError:
    not a journal, damaged or too new (a lost WAL is refused before connecting)."""
    try:
        tables = _tables(db)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise JournalError(path, f"{path} is not a plivo-phlo journal ({exc})") from None
        raise _damaged(path, str(exc)) from None
    if not tables:
        return None
    if not {"jobs", "meta"} <= tables:
        raise JournalError(
            path, f"{path} is not a plivo-phlo journal (an SQLite database with other tables)"
        )
    try:
        problems = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, str(exc)) from None
    if problems != ["ok"]:
        raise _damaged(path, " ".join(problems))
    try:
        meta = _meta(db)
    except sqlite3.DatabaseError as exc:
        raise JournalError(path, f"{path} is not a plivo-phlo journal ({exc})") from None
    check_schema(str(path), meta.get("schema"))
    return meta


def _damaged(path: Path, detail: str) -> JournalError:
    detail = " ".join(detail.split())  # quick_check's report spans lines
    return JournalError(
        path,
        f"journal {path} is damaged (SQLite: {detail}); nothing was sent. Restore it from a "
        f"backup; resuming from a damaged journal could send jobs again",
    )


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def wal_missing(path: Path) -> bool:
    """Whether ``path`` is in WAL mode with no write-ahead log beside it while
    the main file itself says ``open``: it lost its log.

    Checked before connecting: a connection would create an empty log, which
    the next opening would take for the real one. Another process may be
    creating the journal: it switches a new file to WAL mode (the header says
    so) a moment before its connection creates the log, then writes ``open``.
    So the marker is read between two looks for the log (one appearing
    meanwhile is a live runner's), and the whole look is taken again while it
    says lost: a runner that opened, checkpointed and closed in between leaves
    ``closed``. Only a main file that keeps saying ``open`` with no log lost it.
    """
    for _ in range(3):
        try:
            with path.open("rb") as file:
                header = file.read(20)
        except OSError:
            return False
        in_wal_mode = len(header) == 20 and header[18] == 2  # "file format write version"
        if not in_wal_mode or _wal(path).exists():
            return False
        marker = _main_file_state(path)
        if _wal(path).exists() or marker != _OPEN:
            return False
    return True


def _main_file_state(path: Path) -> str | None:
    """The ``state`` marker in the main file alone (no log read, none created);
    None without one (a new file) or when it cannot be read (``inspect`` says why)."""
    uri = f"{path.resolve().as_uri()}?immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            row = db.execute("SELECT value FROM meta WHERE key='state'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _lost_log(path: Path) -> JournalError:
    log = _wal(path).name
    return JournalError(
        path,
        f"journal {path} was not closed cleanly and its write-ahead log {log} is missing: "
        f"the latest outcomes are in that file, so resuming without it could send jobs "
        f"again. Put {log} (and {path.name}-shm) back beside it; always copy or move a "
        f"journal together with them",
    )


def alive(pid: object) -> bool:
    """Whether process ``pid`` of this machine may still be running."""
    if not isinstance(pid, int) or pid <= 0 or os.name != "posix":
        return True  # unknown (on Windows os.kill would end it): wait for the lease
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True
