"""The journal: one SQLite row per job, so an interrupted run can resume.

A job's row is written ``in_flight`` (and committed) right before its request
is sent and gets its outcome right after, so after Ctrl-C, a crash or
``kill -9`` the rows say exactly which jobs are done, which are not started
(no row) and which may or may not have run (``in_flight``). WAL with
``synchronous=NORMAL`` survives the process being killed (not a power loss)
at a few tens of microseconds per write.

``run_token`` tells this run's rows from earlier runs' rows: a job id that
already has a row with this run's token is a duplicate within the run.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._text import safe_str

__all__ = ["IN_FLIGHT", "Journal", "JournalRow"]

IN_FLIGHT = "in_flight"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id      TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    run_token   TEXT NOT NULL,
    ref         TEXT,
    http_status INTEGER,
    api_id      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    updated_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class JournalRow:
    """What the journal knows about one job."""

    job_id: str
    status: str
    run_token: str
    ref: str | None
    http_status: int | None
    api_id: str | None
    attempts: int
    error: str | None


class Journal:
    """A job journal in one SQLite file (created if missing).

    One runner at a time per file. Every write is its own committed
    transaction (autocommit), so nothing is lost to a kill between writes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.run_token = uuid.uuid4().hex
        self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise ValueError(
                    f"{self.path} is a bulk journal of schema {row[0]}, "
                    f"this version reads schema {SCHEMA_VERSION}"
                )
        except BaseException:
            self._db.close()
            raise

    def get(self, job_id: str) -> JournalRow | None:
        row = self._db.execute(
            "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error "
            "FROM jobs WHERE job_id=?",
            (job_id,),
        ).fetchone()
        return None if row is None else JournalRow(*row)

    def adopt(self, job_id: str, status: str) -> None:
        """Mark an earlier run's row as seen by this run (and set its status)."""
        self._db.execute(
            "UPDATE jobs SET run_token=?, status=?, updated_at=? WHERE job_id=?",
            (self.run_token, status, time.time(), job_id),
        )

    def start(self, job_id: str, ref: Any) -> None:
        """Record that the job's request is about to be sent (committed first)."""
        self._db.execute(
            "INSERT INTO jobs (job_id, status, run_token, ref, attempts, updated_at) "
            "VALUES (?, ?, ?, ?, 0, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, http_status=NULL, "
            "api_id=NULL, attempts=0, error=NULL, updated_at=excluded.updated_at",
            (_text(job_id), IN_FLIGHT, self.run_token, _ref_text(ref), time.time()),
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
        self._db.execute(
            "INSERT INTO jobs (job_id, status, run_token, ref, http_status, api_id, "
            "attempts, error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET status=excluded.status, "
            "run_token=excluded.run_token, ref=excluded.ref, "
            "http_status=excluded.http_status, api_id=excluded.api_id, "
            "attempts=excluded.attempts, error=excluded.error, "
            "updated_at=excluded.updated_at",
            (
                _text(job_id), status, self.run_token, _ref_text(ref), _int(http_status),
                _optional_text(api_id), _int(attempts), _optional_text(error), time.time(),
            ),
        )

    def forget(self, job_id: str) -> None:
        """Drop this run's row of a job that was certainly not executed."""
        self._db.execute(
            "DELETE FROM jobs WHERE job_id=? AND run_token=?", (job_id, self.run_token)
        )

    def rows(self, status: str | None = None) -> list[JournalRow]:
        """Every row (or those with ``status``), for inspection."""
        query = (
            "SELECT job_id, status, run_token, ref, http_status, api_id, attempts, error "
            "FROM jobs"
        )
        cursor = (
            self._db.execute(query + " WHERE status=? ORDER BY job_id", (status,))
            if status is not None
            else self._db.execute(query + " ORDER BY job_id")
        )
        return [JournalRow(*row) for row in cursor]

    def close(self) -> None:
        self._db.close()


def _ref_text(ref: Any) -> str | None:
    """The ref as text: ``str(ref)``, or a safe repr when that fails."""
    return None if ref is None else safe_str(ref)


def _text(value: Any) -> str:
    """Text SQLite can store: valid UTF-8, never a failure."""
    return safe_str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else safe_str(value)


def _int(value: Any) -> int | None:
    """An integer SQLite can store (64-bit), else None."""
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return int(value)
    return None
