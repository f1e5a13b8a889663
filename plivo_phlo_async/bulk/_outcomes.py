"""A job's :class:`Outcome` from what is known of it: the error of its last
attempt, or the row an earlier run left in the journal.

Both decide the one status a job ends in, so they live apart from the
runner's sending loop and can be read (and tested) on their own.
"""

from __future__ import annotations

import time

from .._exceptions import APIResponseValidationError, APIStatusError, PlivoError
from ._jobs import Job
from ._journal import IN_FLIGHT, JournalEntry
from ._report import Outcome, OutcomeStatus

__all__ = ["error_outcome", "from_journal"]

_SUCCEEDED = OutcomeStatus.SUCCEEDED
_FAILED = OutcomeStatus.FAILED
_UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN


def error_outcome(job: Job, job_id: str, error: PlivoError, attempts: int) -> Outcome:
    http_status = getattr(error, "status_code", None)
    api_id = error.api_id if isinstance(error, APIStatusError) else None
    if error.outcome_unknown:
        status = _UNKNOWN
    elif isinstance(error, APIResponseValidationError):
        # Plivo answered 2xx: the job ran, only its answer is unreadable.
        status = _SUCCEEDED
    else:
        status = _FAILED
    return Outcome(
        job,
        job.ref,
        job_id,
        status,
        http_status=http_status,
        api_id=api_id,
        attempts=attempts,
        error=error,
        reason=str(error),
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
