"""The journal: one SQLite row per job, so an interrupted run can resume.

A job's row is written ``in_flight`` (with the request about to be sent, and
committed) right before its request is sent and gets its outcome right
after, so after Ctrl-C, a crash or ``kill -9`` the rows say exactly which
jobs are done, which are not started (no row) and which may or may not have
run (``in_flight``). WAL with ``synchronous=NORMAL`` survives the process
being killed (not a power loss) at a few tens of microseconds per write.

A journal is refused when it is opened, before anything is sent, if it is
damaged (``PRAGMA quick_check``), if it was written for another account or
base URL, or if its ``-wal`` file is evidently missing. That last check works
through a ``state`` key in ``meta``: a runner writes ``open`` and checkpoints
it into the main file, then writes ``running`` into the WAL; it checkpoints
itself (never SQLite's automatic checkpoint), rewriting ``open`` first, and a
clean close writes ``closed``, checkpoints and truncates the WAL. So a main
file saying ``open`` with no ``-wal`` beside it lost that file after a crash,
while a crashed journal that another SQLite connection merged and closed
says ``running`` and is complete.

``run_token`` tells this run's rows from earlier runs' rows: a job id that
already has a row with this run's token is a duplicate within the run.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import PlivoError
from ._text import safe_str

__all__ = ["IN_FLIGHT", "RESEND", "UNRESOLVED", "Journal", "JournalEntry", "JournalError"]

IN_FLIGHT = "in_flight"
#: An unresolved job the operator allowed to be sent again by the next run.
RESEND = "resend"
OUTCOME_UNKNOWN = "outcome_unknown"
#: Statuses of jobs that may or may not have been executed.
UNRESOLVED = (IN_FLIGHT, OUTCOME_UNKNOWN)
SCHEMA_VERSION = 2
#: Writes between two of the journal's own WAL checkpoints.
CHECKPOINT_EVERY = 1000

_OPEN = "open"
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
    note        TEXT
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID
""",
)
#: Schema 1 had no request and no operator's note.
_MIGRATE_1_TO_2 = (
    "ALTER TABLE jobs ADD COLUMN url TEXT",
    "ALTER TABLE jobs ADD COLUMN payload TEXT",
    "ALTER TABLE jobs ADD COLUMN note TEXT",
)
#: The columns of a JournalEntry, per schema version.
_SELECT = {
    2: "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error, "
    "updated_at, url, payload, note FROM jobs",
    1: "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error, "
    "updated_at, NULL, NULL, NULL FROM jobs",
}


class JournalError(PlivoError):
    """The journal cannot be used: damaged, not a journal, written for another
    account, missing its ``-wal`` file, or a write to it failed.

    Raised when it is opened (nothing was sent), or by a run whose journal
    failed mid-way after every job got its outcome (the run stopped at the
    failure). ``path`` is the journal's file.
    """

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(message)
        self.path = os.fspath(path)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """What the journal knows about one job.

    ``status`` is an outcome status, ``in_flight`` (sent by a run that
    ended before its answer) or ``resend`` (the operator allowed the next
    run to send it again). ``url`` and ``payload`` are the request last sent
    (the JSON body as text); ``updated_at`` is when the row was last written
    by a run or by the operator (seconds since the epoch); ``note`` is the
    operator's resolution, if any.
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


class Journal:
    """A job journal in one SQLite file.

    One runner at a time per file. Every write is its own committed
    transaction (autocommit), so nothing is lost to a kill between writes;
    every failure is a :class:`JournalError` naming the file.

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
    ) -> None:
        self.path = Path(path)
        self.run_token = uuid.uuid4().hex
        self.readonly = readonly
        self._writes = 0
        self._closed = False
        name = self.path
        try:
            if not create and not self.path.is_file():
                raise JournalError(name, f"no journal at {name}")
            wal_present = _wal(self.path).exists()
            if readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None)
        except (sqlite3.Error, OSError, ValueError) as exc:  # ValueError: a NUL in the path
            raise JournalError(name, f"cannot open journal {name}: {exc}") from None
        try:
            self._db.execute("PRAGMA busy_timeout=5000")
            meta = _inspect(self._db, self.path, wal_present)
            self.schema = SCHEMA_VERSION if meta is None else int(meta["schema"])
            self._empty = meta is None
            if meta is not None:
                _check_identity(name, meta, auth_id, base_url)
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
        """Create or migrate the schema, record the identity, mark it open."""
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # see the module's docstring
        db.execute("BEGIN IMMEDIATE")
        try:
            if meta is None:
                for statement in _SCHEMA:  # not executescript: it would commit
                    db.execute(statement)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                           (str(SCHEMA_VERSION),))
                meta = {}
            elif self.schema == 1:
                for statement in _MIGRATE_1_TO_2:
                    db.execute(statement)
                db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
            self.schema = SCHEMA_VERSION
            self._empty = False
            # A journal without an identity (new, or older than identities)
            # takes the first one that opens it.
            if auth_id is not None and "auth_id" not in meta:
                db.execute("INSERT INTO meta VALUES ('auth_id', ?)", (auth_id,))
            if base_url is not None and "base_url" not in meta:
                db.execute("INSERT INTO meta VALUES ('base_url', ?)", (base_url,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('state', ?)", (_OPEN,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("UPDATE meta SET value=? WHERE key='state'", (_RUNNING,))

    # -- the runner's ----------------------------------------------------------------
    def get(self, job_id: str) -> JournalEntry | None:
        try:
            row = self._db.execute(
                _SELECT[self.schema] + " WHERE job_id=?", (job_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._failure("read", job_id, exc) from None
        return None if row is None else JournalEntry(*row)

    def adopt(self, job_id: str, status: str) -> None:
        """Mark an earlier run's row as seen by this run (and set its status);
        ``updated_at`` keeps saying when the job was last written."""
        self._write(
            "update", job_id,
            "UPDATE jobs SET run_token=?, status=? WHERE job_id=?",
            (self.run_token, status, job_id),
        )

    def start(
        self, job_id: str, ref: Any, *, url: str | None = None, payload: bytes | None = None
    ) -> None:
        """Record that the job's request is about to be sent (committed first),
        with the request itself, so an unknown outcome can be checked."""
        self._write(
            "record the start of", job_id,
            "INSERT INTO jobs (job_id, status, run_token, ref, attempts, updated_at, url, "
            "payload) VALUES (?, ?, ?, ?, 0, ?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, http_status=NULL, "
            "api_id=NULL, attempts=0, error=NULL, updated_at=excluded.updated_at, "
            "url=excluded.url, payload=excluded.payload, note=NULL",
            (
                _text(job_id), IN_FLIGHT, self.run_token, _ref_text(ref), time.time(),
                _optional_text(url), _body_text(payload),
            ),
        )

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
        """Record a job's outcome (inserting the row if it was never started)."""
        self._write(
            "record the outcome of", job_id,
            "INSERT INTO jobs (job_id, status, run_token, ref, http_status, api_id, "
            "attempts, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, "
            "http_status=excluded.http_status, api_id=excluded.api_id, "
            "attempts=excluded.attempts, error=excluded.error, "
            "updated_at=excluded.updated_at, note=NULL",
            (
                _text(job_id), status, self.run_token, _ref_text(ref), _int(http_status),
                _optional_text(api_id), _int(attempts), _optional_text(error), time.time(),
            ),
        )

    def forget(self, job_id: str) -> None:
        """Drop this run's row of a job that was certainly not executed."""
        self._write(
            "forget", job_id,
            "DELETE FROM jobs WHERE job_id=? AND run_token=?", (job_id, self.run_token),
        )

    # -- the operator's ------------------------------------------------------------------
    def rows(self, status: str | Iterable[str] | None = None) -> list[JournalEntry]:
        """Every row (or those with ``status``, or one of several), oldest first."""
        if self._empty and self.readonly:
            return []
        query = _SELECT[self.schema]
        statuses = [status] if isinstance(status, str) else None if status is None else (
            list(status)
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

    def resolve(self, job_ids: Iterable[str], status: str, note: str) -> list[str]:
        """Set unresolved jobs to ``status`` with the operator's ``note``, all or
        none; returns the ids. Raises :class:`ValueError` naming the ids that
        are not in the journal or not unresolved."""
        ids = list(dict.fromkeys(job_ids))
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                _require_unresolved(db, self.path, ids)
                now = time.time()
                db.executemany(
                    "UPDATE jobs SET status=?, note=?, updated_at=? WHERE job_id=?",
                    [(status, note, now, job_id) for job_id in ids],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(self.path, f"journal {self.path}: cannot update: {exc}") from None
        return ids

    def unresolved_ids(self) -> list[str]:
        return [row.job_id for row in self.rows(UNRESOLVED)]

    def close(self) -> None:
        """Close; after a clean run, mark it closed and empty the WAL into the
        main file, so the main file alone is the whole journal."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.readonly:
                self._db.execute("UPDATE meta SET value=? WHERE key='state'", (_CLOSED,))
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise JournalError(
                self.path, f"journal {self.path} could not be closed cleanly: {exc}; "
                f"keep its -wal file beside it"
            ) from None
        finally:
            self._db.close()

    # -- internals ---------------------------------------------------------------------
    def _write(self, what: str, job_id: str, sql: str, args: tuple[Any, ...]) -> None:
        try:
            self._db.execute(sql, args)
            self._writes += 1
            if self._writes >= CHECKPOINT_EVERY:
                self._writes = 0
                self._checkpoint()
        except sqlite3.Error as exc:
            raise self._failure(what, job_id, exc) from None

    def _checkpoint(self) -> None:
        """Copy the WAL into the main file, which says ``open`` meanwhile."""
        db = self._db
        db.execute("UPDATE meta SET value=? WHERE key='state'", (_OPEN,))
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        db.execute("UPDATE meta SET value=? WHERE key='state'", (_RUNNING,))

    def _failure(self, what: str, job_id: str, exc: sqlite3.Error) -> JournalError:
        return JournalError(
            self.path,
            f"journal {self.path}: could not {what} job {safe_str(job_id)}: "
            f"{type(exc).__name__}: {exc}",
        )


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _inspect(db: sqlite3.Connection, path: Path, wal_present: bool) -> dict[str, str] | None:
    """The journal's ``meta`` (None for a new, empty file), or a JournalError:
    not a journal, damaged, too new, or its WAL lost."""
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
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
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        raise _damaged(path, str(exc)) from None
    if problems != ["ok"]:
        raise _damaged(path, " ".join(" ".join(str(problem).split()) for problem in problems))
    try:
        meta = {str(key): str(value) for key, value in db.execute("SELECT key, value FROM meta")}
    except sqlite3.DatabaseError as exc:
        raise JournalError(path, f"{path} is not a plivo-phlo journal ({exc})") from None
    schema = meta.get("schema")
    if schema not in ("1", "2"):
        if schema is not None and schema.isdigit() and int(schema) > SCHEMA_VERSION:
            raise JournalError(
                path, f"journal {path} was written by a newer version (schema {schema}); "
                f"this version reads schemas 1 and {SCHEMA_VERSION}"
            )
        raise JournalError(path, f"{path} is not a plivo-phlo journal (schema {schema!r})")
    if meta.get("state") == _OPEN and not wal_present:
        wal = _wal(path).name
        raise JournalError(
            path,
            f"journal {path} was not closed cleanly and its write-ahead log {wal} is missing: "
            f"the latest outcomes are in that file, so resuming without it could send jobs "
            f"again. Put {wal} (and {path.name}-shm) back beside it; always copy or move a "
            f"journal together with them",
        )
    return meta


def _damaged(path: Path, detail: str) -> JournalError:
    detail = " ".join(detail.split())  # quick_check's report spans lines
    return JournalError(
        path,
        f"journal {path} is damaged (SQLite: {detail}); nothing was sent. Restore it from a "
        f"backup; resuming from a damaged journal could send jobs again",
    )


def _check_identity(
    path: Path, meta: dict[str, str], auth_id: str | None, base_url: str | None
) -> None:
    """Refuse a journal recorded for another account or base URL."""
    stored_id, stored_url = meta.get("auth_id"), meta.get("base_url")
    if (auth_id is None or stored_id is None or stored_id == auth_id) and (
        base_url is None or stored_url is None or stored_url == base_url
    ):
        return
    raise JournalError(
        path,
        f"journal {path} was written for account {stored_id or auth_id} at "
        f"{stored_url or base_url}, not {auth_id or stored_id} at {base_url or stored_url}: "
        f"use a journal per account and endpoint (nothing was sent)",
    )


def _require_unresolved(db: sqlite3.Connection, path: Path, ids: list[str]) -> None:
    missing: list[str] = []
    settled: list[str] = []
    for job_id in ids:
        row = db.execute("SELECT status FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:
            missing.append(job_id)
        elif row[0] not in (*UNRESOLVED, RESEND):
            settled.append(f"{job_id} ({row[0]})")
    problems = []
    if missing:
        problems.append(f"not in journal {path}: {', '.join(missing)}")
    if settled:
        problems.append(
            f"not unknown (only unknown or in-flight jobs can be resolved): {', '.join(settled)}"
        )
    if problems:
        raise ValueError("; ".join(problems))


def _ref_text(ref: Any) -> str | None:
    """The ref as text: ``str(ref)``, or a safe repr when that fails."""
    return None if ref is None else safe_str(ref)


def _text(value: Any) -> str:
    """Text SQLite can store: valid UTF-8, never a failure."""
    return safe_str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else safe_str(value)


def _body_text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8", "replace")


def _int(value: Any) -> int | None:
    """An integer SQLite can store (64-bit), else None."""
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int(value)
    return None
