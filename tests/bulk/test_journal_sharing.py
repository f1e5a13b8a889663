"""Several runners on one SQLite file: the main file's ``state`` marker still
tells a file copied without its ``-wal`` from a complete one.

A checkpoint copies whatever any runner committed last, so the marker must
say ``open`` whenever the main file may lack rows that are only in the WAL.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async.bulk import JournalError, _journal_sqlite
from plivo_phlo_async.bulk._journal_sqlite import SqliteFile

from .conftest import AUTH_ID, BASE


def raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The main file alone, as it is on disk (no WAL)."""
    uri = f"{path.resolve().as_uri()}?immutable=1"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(sql).fetchall()


def state(path: Path) -> str:
    return str(raw(path, "SELECT value FROM meta WHERE key='state'")[0][0])


def open_runner(path: Path) -> SqliteFile:
    return SqliteFile(path, auth_id=AUTH_ID, base_url=BASE)


def send(journal: SqliteFile, job_id: str) -> None:
    assert journal.claim(job_id, job_id, retry_failed=False).kind == "claimed"
    assert journal.start(job_id, job_id, url="u", payload=b"{}")


def test_a_runner_closing_while_another_runs_leaves_the_main_file_saying_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "campaign.sqlite"
    first, second = open_runner(path), open_runner(path)
    send(first, "a")
    first.finish("a", "succeeded", ref="a", http_status=201, api_id="x", attempts=1, error=None)
    send(second, "b")

    first.close()  # the second one still runs: its row is only in the WAL

    assert state(path) == "open"
    copy = tmp_path / "copy" / path.name
    copy.parent.mkdir()
    shutil.copy(path, copy)
    with pytest.raises(JournalError, match="-wal is missing"):
        SqliteFile(copy, readonly=True)

    second.close()  # the last one: closed, and the main file is the whole journal
    assert state(path) == "closed"
    assert sorted(raw(path, "SELECT job_id, status FROM jobs")) == [
        ("a", "succeeded"),
        ("b", "in_flight"),
    ]


@pytest.mark.parametrize("seed", range(3))
def test_whenever_the_main_file_does_not_say_open_it_holds_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Three runners interleave claims, starts, outcomes, opens and closes,
    checkpointing every 5 writes; after each step, a main file copied
    alone is either refused (``open``) or complete."""
    monkeypatch.setattr(_journal_sqlite, "CHECKPOINT_EVERY", 5)
    path = tmp_path / "campaign.sqlite"
    rng = random.Random(seed)
    runners = [open_runner(path) for _ in range(3)]
    pending: list[tuple[SqliteFile, str]] = []
    for step in range(200):
        journal = rng.choice(runners)
        action = rng.random()
        if action < 0.45:
            job_id = f"job-{step}"
            send(journal, job_id)
            pending.append((journal, job_id))
        elif action < 0.9 and pending:
            owner, job_id = pending.pop(rng.randrange(len(pending)))
            owner.finish(
                job_id, "succeeded", ref=job_id, http_status=201, api_id="x", attempts=1, error=None
            )
        elif len(runners) > 1:  # one runner leaves, another arrives
            pending = [(owner, job_id) for owner, job_id in pending if owner is not journal]
            journal.close()
            runners.remove(journal)
            runners.append(open_runner(path))
        committed = len(runners[0].rows())
        if state(path) != "open":
            assert raw(path, "SELECT count(*) FROM jobs")[0][0] == committed, step
    for journal in runners:
        journal.close()
    assert state(path) == "closed"


def test_a_runner_closing_during_another_ones_checkpoint_cannot_mark_the_main_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race two processes can run into, played in order: the first
    runner closes (writing its state) after the second announced a
    checkpoint and before it copies the WAL into the main file."""
    path = tmp_path / "campaign.sqlite"
    first, second = open_runner(path), open_runner(path)
    send(second, "b")
    checkpoint = SqliteFile._checkpoint_and_resume

    def interleaved(self: SqliteFile, mode: str) -> None:
        if self is second:
            first.close()
        checkpoint(self, mode)

    monkeypatch.setattr(SqliteFile, "_checkpoint_and_resume", interleaved)
    second._checkpoint()
    send(second, "c")  # only in the WAL

    assert state(path) == "open"
    second.close()
    assert state(path) == "closed"


def _open_at_the_barrier(path: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        journal = open_runner(Path(path))
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}")
        return
    journal.close()
    results.put("opened")


def test_processes_opening_a_new_journal_at_the_same_moment_all_open_it(
    tmp_path: Path,
) -> None:
    """They race to create it and to switch it to WAL: SQLite answers the losers
    "database is locked" at once, and a loser that looked for the log before the
    winner switched saw none. Measured before the fix: about 1 in 3 failed."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    failures: list[str] = []
    for round_number in range(12):
        path = tmp_path / f"j{round_number}.sqlite"
        barrier, results = context.Barrier(4), context.Queue()
        processes = [
            context.Process(target=_open_at_the_barrier, args=(str(path), barrier, results))
            for _ in range(4)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        failures += [outcome for outcome in outcomes if outcome != "opened"]

    assert failures == []


def test_a_journal_another_process_is_creating_is_not_taken_for_one_that_lost_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment the race above lost in: the creator has switched the new
    file to WAL mode (the header says so) and no log exists yet when this
    one looks for it; then, before this one reads the marker, the creator
    writes the schema and marks the journal ``open`` (announcing its
    checkpoint). Nothing was lost: the main file never said ``open``."""
    path = tmp_path / "campaign.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL").fetchall()  # a new file, switched, empty
    assert not (tmp_path / "campaign.sqlite-wal").exists()
    creators: list[SqliteFile] = []
    inspect = _journal_sqlite.inspect

    def creator_marks_it_open_first(*args: Any) -> Any:
        monkeypatch.setattr(_journal_sqlite, "inspect", inspect)  # this once
        creators.append(creator := open_runner(path))
        with _journal_sqlite._immediate(creator._db):
            creator._announce_checkpoint()  # "open", its checkpoint not done yet
        return inspect(*args)

    monkeypatch.setattr(_journal_sqlite, "inspect", creator_marks_it_open_first)

    open_runner(path).close()

    creators[0].close()
    assert state(path) == "closed"
