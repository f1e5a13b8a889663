"""Whether a SQLite file can be trusted as a journal, checked when it is
opened and before anything is sent: a journal at all, not damaged, not
too new, not missing its write-ahead log (see :mod:`._journal_sqlite` for
the ``state`` marker); and whether another runner's process is alive.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from ._journal import JournalError
from ._journal_sql import check_schema

__all__ = ["OPEN", "alive", "inspect", "lost_log", "wal", "wal_missing"]

OPEN = "open"


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


def wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def wal_missing(path: Path) -> bool:
    """Whether ``path`` is in WAL mode with no write-ahead log beside it while
    the main file itself says ``open``: it lost its log.

    Checked, and the journal refused, before connecting: a connection would
    create an empty log, which the next opening would take for the real one.
    Decided from the main file alone. Another process may be creating the
    journal: it switches a new file to WAL mode (the header says so) a moment
    before its connection creates the log, then writes ``open``; a look in
    that moment sees no log, but the main file holds no marker yet, so
    nothing was lost. The marker is read between two looks for the log (one
    appearing meanwhile is a live runner's), and the whole look is taken
    again while it says lost: a runner that opened, checkpointed ``open`` and
    closed in between leaves ``closed``, so only a main file that keeps
    saying ``open`` with no log is one that lost it.
    """
    for _ in range(3):
        try:
            with path.open("rb") as file:
                header = file.read(20)
        except OSError:
            return False
        in_wal_mode = len(header) == 20 and header[18] == 2  # "file format write version"
        if not in_wal_mode or wal(path).exists():
            return False
        marker = _main_file_state(path)
        if wal(path).exists() or marker != OPEN:
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


def inspect(db: sqlite3.Connection, path: Path) -> dict[str, str] | None:
    """The journal's ``meta`` (None for a new, empty file), or a JournalError:
    not a journal, damaged or too new (a lost WAL is refused before connecting)."""
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
    check_schema(str(path), meta.get("schema"))
    return meta


def lost_log(path: Path) -> JournalError:
    """The refusal of a journal whose main file says ``open`` with no log
    beside it (see :func:`wal_missing`)."""
    log = wal(path).name
    return JournalError(
        path,
        f"journal {path} was not closed cleanly and its write-ahead log {log} is missing: "
        f"the latest outcomes are in that file, so resuming without it could send jobs "
        f"again. Put {log} (and {path.name}-shm) back beside it; always copy or move a "
        f"journal together with them",
    )


def _damaged(path: Path, detail: str) -> JournalError:
    detail = " ".join(detail.split())  # quick_check's report spans lines
    return JournalError(
        path,
        f"journal {path} is damaged (SQLite: {detail}); nothing was sent. Restore it from a "
        f"backup; resuming from a damaged journal could send jobs again",
    )
