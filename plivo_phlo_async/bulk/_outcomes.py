"""A job's :class:`Outcome` from what is known of it: the answer or error of its
last attempt, or the row an earlier run left in the journal."""

from __future__ import annotations

import time

from .._exceptions import APIResponseValidationError, APIStatusError, PlivoError
from ..types import PlivoObject
from ._jobs import Job
from ._journal import IN_FLIGHT, JournalEntry
from ._report import Outcome, OutcomeStatus

__all__ = ["from_journal", "sent_outcome"]

_SUCCEEDED = OutcomeStatus.SUCCEEDED
_FAILED = OutcomeStatus.FAILED
_UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN


def sent_outcome(job: Job, job_id: str, attempts: int, answer: PlivoObject | PlivoError) -> Outcome:
    """The outcome of a job that was sent: Plivo's answer, or its last attempt's error."""
    if not isinstance(answer, PlivoError):
        http_status, api_id = answer.http_status, answer.api_id  # Outcome's next two fields
        return Outcome(
            job, job.ref, job_id, _SUCCEEDED, http_status, api_id, attempts, result=answer
        )
    if answer.outcome_unknown:
        status = _UNKNOWN
    elif isinstance(answer, APIResponseValidationError):
        # Plivo answered 2xx: the job ran, only its answer is unreadable.
        status = _SUCCEEDED
    else:
        status = _FAILED
    return Outcome(
        job,
        job.ref,
        job_id,
        status,
        http_status=getattr(answer, "status_code", None),
        api_id=answer.api_id if isinstance(answer, APIStatusError) else None,
        attempts=attempts,
        error=answer,
        reason=str(answer),
    )


def from_journal(job: Job, job_id: str, row: JournalEntry, status: OutcomeStatus) -> Outcome:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(row.updated_at))
    if row.note is not None:  # the operator's resolution
        reason = f"{row.note} ({when})"
    elif row.status == IN_FLIGHT or (status is _UNKNOWN and row.error is None):
        reason = f"in flight when an earlier run ended (sent {when}): it may have been executed"
    elif status is _UNKNOWN:
        reason = f"outcome unknown in an earlier run ({when}): {row.error}"
    elif status is _FAILED:
        reason = f"failed in an earlier run: {row.error}"
    else:
        reason = "succeeded in an earlier run"
    return Outcome(
        job,
        job.ref,
        job_id,
        status,
        http_status=row.http_status,
        api_id=row.api_id,
        attempts=row.attempts,
        from_journal=True,
        reason=reason,
    )
