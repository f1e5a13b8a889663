"""Resolving unknown outcomes in a journal, after checking Plivo's console:
record what happened (:func:`mark_jobs`) or let the next run send it again
(:func:`allow_resend`). Each function opens the journal, works in one
transaction and closes it; resolve jobs while no run uses the journal
(:func:`journal_counts` may be called at any time). The guide: docs/bulk.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal

from .._exceptions import InvalidParameterError
from ._journal import RESEND, UNRESOLVED, JournalEntry, open_journal
from ._report import OutcomeStatus
from ._text import safe_str

__all__ = ["allow_resend", "journal_counts", "mark_jobs", "unknown_jobs"]

Resolution = Literal["succeeded", "failed"] | OutcomeStatus


async def unknown_jobs(journal: str | os.PathLike[str]) -> list[JournalEntry]:
    """The jobs that may or may not have been executed (``outcome_unknown``
    or ``in_flight``), oldest first, each with its request (``url``,
    ``payload``) to look up. Reads without changing the journal."""
    opened = await open_journal(journal, create=False, readonly=True)
    try:
        return await opened.rows(UNRESOLVED)
    finally:
        await opened.aclose()


async def journal_counts(journal: str | os.PathLike[str]) -> dict[str, int]:
    """How many jobs the journal holds in each status: a campaign's progress,
    summed over every runner (and machine) using it. Reads only; safe while
    runs use the journal.

    Keys are outcome statuses (``succeeded``, ``failed``,
    ``outcome_unknown``) and the states of unfinished jobs: ``claimed`` (a
    runner is about to send it), ``in_flight`` (sent, answer not recorded
    yet) and ``resend`` (allowed to be sent again); a status with no job is
    absent. Jobs never claimed are not in the journal.
    """
    opened = await open_journal(journal, create=False, readonly=True)
    try:
        return await opened.counts()
    finally:
        await opened.aclose()


async def mark_jobs(
    journal: str | os.PathLike[str],
    job_ids: Iterable[str],
    status: Resolution,
    *,
    note: str | None = None,
) -> list[str]:
    """Record that unresolved jobs ``succeeded`` or ``failed`` (after checking
    Plivo's console), so later runs report that instead of an unknown outcome.

    All or nothing: an id that is not in the journal, or whose outcome is
    already known, raises :class:`InvalidParameterError` and changes nothing.
    ``note`` is kept and shown as the reason in later runs. Returns the ids.
    """
    if status not in ("succeeded", "failed"):  # OutcomeStatus members are equal to these
        raise InvalidParameterError(
            "status", f"must be 'succeeded' or 'failed', not {safe_str(status)!r}"
        )
    resolution = OutcomeStatus(status)
    if note is not None and not isinstance(note, str):
        raise InvalidParameterError("note", f"must be a string, not {type(note).__name__}")
    text = f"marked {resolution.value} by the operator" + (f": {note}" if note else "")
    ids = _ids(job_ids)
    return await _resolve(journal, ids, resolution.value, text)


async def allow_resend(
    journal: str | os.PathLike[str],
    job_ids: Iterable[str] | None = None,
    *,
    all_unknown: bool = False,
) -> list[str]:
    """Let the next run with this journal send these unresolved jobs again
    (or every unresolved one with ``all_unknown=True``), exactly once.

    **A re-send may place a second phone call** if the first request did
    reach Plivo: check the console first. All or nothing, like
    :func:`mark_jobs`. Returns the ids.
    """
    if (job_ids is None) == (not all_unknown):
        raise InvalidParameterError("job_ids", "give job ids or all_unknown=True (not both)")
    ids = None if job_ids is None else _ids(job_ids)
    return await _resolve(journal, ids, RESEND, "re-send allowed by the operator")


def _ids(job_ids: Iterable[str]) -> list[str]:
    if isinstance(job_ids, (str, bytes)):
        raise InvalidParameterError("job_ids", "must be an iterable of job ids, not one string")
    ids = list(job_ids)
    bad = [job_id for job_id in ids if not isinstance(job_id, str) or not job_id]
    if bad:
        raise InvalidParameterError("job_ids", f"must be non-empty strings, not {bad[0]!r}")
    if not ids:
        raise InvalidParameterError("job_ids", "no job ids given")
    return ids


async def _resolve(
    location: str | os.PathLike[str], ids: list[str] | None, status: str, note: str
) -> list[str]:
    """Resolve ``ids`` (None: every unresolved job) in one transaction."""
    journal = await open_journal(location, create=False)
    try:
        if ids is None:
            ids = [row.job_id for row in await journal.rows(UNRESOLVED)]
            if not ids:
                return []
        return await journal.resolve(ids, status, note)
    finally:
        await journal.aclose()
