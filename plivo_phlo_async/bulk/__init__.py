"""Bulk fan-out: many PHLO runs or multi-party-call actions, safely.

    from plivo_phlo_async.bulk import RunJob

    jobs = (RunJob(PHLO_ID, {"to": number}, ref=number) for number in numbers)
    async with client.bulk(jobs, journal="campaign.sqlite").stream() as outcomes:
        async for outcome in outcomes:
            print(outcome.ref, outcome.status, outcome.error)

Bounded concurrency, a client-side rate limit (Plivo's 300 requests per 5 s
by default), one outcome per job, a shared pause after a 429, no retry of
anything that may have started a call, a stop at the first 401/403, a circuit
breaker when the API cannot be reached, and an optional journal (a SQLite
file, or PostgreSQL for runners on several machines) so an interrupted run
resumes, and several runners share a campaign, without sending a job twice
(:func:`journal_counts` sums a campaign's progress). Jobs whose outcome is
unknown are never sent again by the runner: list them (:func:`unknown_jobs`),
check them in Plivo's console, then :func:`mark_jobs` or :func:`allow_resend`.
"""

# The ``name as name`` imports are internal names for plivo_phlo_async.cli, so it imports
# this package only, never its private modules: not in __all__, not public API.
# (``JournalError`` is public as ``plivo_phlo_async.JournalError``, with the other
# errors; ``RateLimit`` as ``plivo_phlo_async.RateLimit``, a client option.)
from ._breaker import DEFAULT_CIRCUIT_BREAKER, CircuitBreaker
from ._breaker import cannot_connect_reason as cannot_connect_reason
from ._jobs import Job, MemberActionJob, NodeActionJob, RunJob, derive_job_id
from ._jobs import job_id_of as job_id_of
from ._journal import JournalEntry
from ._journal import JournalError as JournalError
from ._journal import is_database_url as is_database_url
from ._journal import journal_name as journal_name
from ._journal import open_journal as open_journal
from ._manifest import check_campaign_id as check_campaign_id
from ._options import RunOptions as RunOptions
from ._report import BulkReport, Outcome, OutcomeStatus
from ._resolve import allow_resend, journal_counts, mark_jobs, unknown_jobs
from ._runner import DEFAULT_CONCURRENCY, BulkRunner, OutcomeCallback, run_chunk
from ._runner import MAX_CONCURRENCY as MAX_CONCURRENCY
from ._text import escape_surrogates as escape_surrogates
from ._text import safe_repr as safe_repr
from ._text import safe_str as safe_str
from ._text import unusable as unusable

__all__ = [
    "DEFAULT_CIRCUIT_BREAKER",
    "DEFAULT_CONCURRENCY",
    "BulkReport",
    "BulkRunner",
    "CircuitBreaker",
    "Job",
    "JournalEntry",
    "MemberActionJob",
    "NodeActionJob",
    "Outcome",
    "OutcomeCallback",
    "OutcomeStatus",
    "RunJob",
    "allow_resend",
    "derive_job_id",
    "journal_counts",
    "mark_jobs",
    "run_chunk",
    "unknown_jobs",
]

# Public as plivo_phlo_async.JournalError, which loads this package on first use:
# it reports that module however it was imported, as the other errors do.
JournalError.__module__ = "plivo_phlo_async"
