"""Resolving unknown outcomes in a journal, after checking Plivo's console.

A job whose request may have been executed (``outcome_unknown``, or in
flight when a run ended) is never sent again by the runner, so a campaign
with such jobs never finishes cleanly on its own. The operator looks each
one up (the journal keeps its request) and either records what happened
(:func:`mark_jobs`) or lets the next run send it again (:func:`allow_resend`,
which may place a second call if the first did happen).

Each function opens the journal, does its work in one transaction and closes
it, in a worker thread. Do not use them while a run is using the journal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from typing import Literal

import anyio.to_thread

from .._exceptions import InvalidParameterError
from ._journal import RESEND, UNRESOLVED, Journal, JournalEntry
from ._report import OutcomeStatus
from ._text import safe_str

__all__ = ["allow_resend", "mark_jobs", "unknown_jobs"]

Resolution = Literal["succeeded", "failed"] | OutcomeStatus


async def unknown_jobs(journal: str | os.PathLike[str]) -> list[JournalEntry]:
    """The jobs that may or may not have been executed (``outcome_unknown``
    or ``in_flight``), oldest first, each with its request (``url``,
    ``payload``) to look up. Reads without changing the journal."""
    return await anyio.to_thread.run_sync(_unknown, journal)


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
    try:
        resolution = OutcomeStatus(status)
    except (ValueError, TypeError):
        resolution = None
    if resolution not in (OutcomeStatus.SUCCEEDED, OutcomeStatus.FAILED):
        raise InvalidParameterError(
            "status", f"must be 'succeeded' or 'failed', not {safe_str(status)!r}"
        )
    assert resolution is not None
    if note is not None and not isinstance(note, str):
        raise InvalidParameterError("note", f"must be a string, not {type(note).__name__}")
    text = f"marked {resolution.value} by the operator" + (f": {note}" if note else "")
    ids = _ids(job_ids)
    return await anyio.to_thread.run_sync(partial(_resolve, journal, ids, resolution.value, text))


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
    return await anyio.to_thread.run_sync(partial(_resend, journal, ids))


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


def _unknown(path: str | os.PathLike[str]) -> list[JournalEntry]:
    journal = Journal(path, create=False, readonly=True)
    try:
        return journal.rows(UNRESOLVED)
    finally:
        journal.close()


def _resolve(path: str | os.PathLike[str], ids: list[str], status: str, note: str) -> list[str]:
    journal = Journal(path, create=False)
    try:
        return journal.resolve(ids, status, note)
    except ValueError as exc:
        raise InvalidParameterError("job_ids", str(exc)) from None
    finally:
        journal.close()


def _resend(path: str | os.PathLike[str], ids: list[str] | None) -> list[str]:
    journal = Journal(path, create=False)
    try:
        chosen = journal.unresolved_ids() if ids is None else ids
        if not chosen:
            return []
        return journal.resolve(chosen, RESEND, "re-send allowed by the operator")
    except ValueError as exc:
        raise InvalidParameterError("job_ids", str(exc)) from None
    finally:
        journal.close()
