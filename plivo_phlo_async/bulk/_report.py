"""Outcomes (one per job) and the report that sums them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .._exceptions import PlivoError
from ..types import PlivoObject

__all__ = ["SAMPLE_SIZE", "BulkReport", "Outcome", "OutcomeStatus"]

#: Failed and outcome-unknown outcomes a report keeps, of each kind. Each one
#: holds its error with the request and the answer (several KB), so keeping
#: them all made a run in an outage grow by gigabytes; the counts stay exact.
SAMPLE_SIZE = 100


class OutcomeStatus(str, Enum):
    """What became of a job."""

    #: Plivo accepted the request.
    SUCCEEDED = "succeeded"
    #: Plivo refused it, or it was invalid and never sent; see ``error``.
    FAILED = "failed"
    #: It may or may not have been executed (5xx, lost connection, killed
    #: mid-request): check before sending it again. Never re-sent by the runner.
    OUTCOME_UNKNOWN = "outcome_unknown"
    #: Not executed: stopped before it started, or a duplicate job id.
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one job.

    ``job`` is the job as run (a plain mapping given with ``phlo_id`` is
    turned into a ``RunJob``; anything that is not a job is kept as given).
    ``http_status`` is the status of the last answer (None when no answer
    came). ``attempts`` counts the requests for the job that may have reached
    the API: answered (any status) or with an unknown outcome; an attempt
    that could not connect (refused, DNS, connect or pool timeout) sent
    nothing and is not counted.
    ``from_journal`` is True when the outcome was read from the journal of an
    earlier run instead of being sent; ``reason`` explains skipped and
    journal outcomes in words. ``duplicate`` is True for a job skipped
    because an earlier job of the run had the same job id.
    """

    job: Any
    ref: Any
    job_id: str | None
    status: OutcomeStatus
    http_status: int | None = None
    api_id: str | None = None
    attempts: int = 0
    error: PlivoError | None = None
    result: PlivoObject | None = None
    from_journal: bool = False
    reason: str | None = None
    duplicate: bool = False

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.SUCCEEDED


@dataclass(slots=True)
class BulkReport:
    """Totals of a bulk run.

    The counts are exact; of the outcomes themselves only a sample is kept:
    the first ``sample_size`` failed (``failures``) and the first
    ``sample_size`` outcome-unknown ones (``unknown``), so memory stays flat
    whether a million jobs succeed or a million fail. Every outcome reaches
    ``on_outcome``, :meth:`BulkRunner.stream` and the journal: keep them there.
    ``rate`` is requests sent per second of wall time; ``requests_sent``
    counts what ``Outcome.attempts`` counts (requests that may have reached
    the API).

    ``stopped_by`` is the error that made the runner stop on its own (a 401
    or 403, a 404 for a run job's PHLO: a ``NotFoundError``, or the
    connection error after the circuit breaker gave up), and
    ``stop_reason`` the words the jobs not sent were skipped with; both are
    None when the run was not stopped that way.
    """

    counts: dict[OutcomeStatus, int] = field(
        default_factory=lambda: dict.fromkeys(OutcomeStatus, 0)
    )
    failures: list[Outcome] = field(default_factory=list)
    unknown: list[Outcome] = field(default_factory=list)
    sample_size: int = SAMPLE_SIZE
    wall_time: float = 0.0
    requests_sent: int = 0
    stopped_early: bool = False
    stopped_by: PlivoError | None = None
    stop_reason: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def succeeded(self) -> int:
        return self.counts[OutcomeStatus.SUCCEEDED]

    @property
    def failed(self) -> int:
        return self.counts[OutcomeStatus.FAILED]

    @property
    def outcome_unknown(self) -> int:
        return self.counts[OutcomeStatus.OUTCOME_UNKNOWN]

    @property
    def skipped(self) -> int:
        return self.counts[OutcomeStatus.SKIPPED]

    @property
    def rate(self) -> float:
        """Requests sent per second of wall time (0 before any time passed)."""
        return self.requests_sent / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def sampled(self) -> bool:
        """Whether ``failures`` or ``unknown`` hold fewer outcomes than were counted."""
        return len(self.failures) < self.failed or len(self.unknown) < self.outcome_unknown

    def add(self, outcome: Outcome) -> None:
        """Count one outcome (keeping it if it failed or is unknown and the sample has room)."""
        status = outcome.status
        self.counts[status] += 1
        if status is OutcomeStatus.FAILED:
            if len(self.failures) < self.sample_size:
                self.failures.append(outcome)
        elif status is OutcomeStatus.OUTCOME_UNKNOWN and len(self.unknown) < self.sample_size:
            self.unknown.append(outcome)

    def summary(self) -> str:
        """One line for logs: counts, wall time and rate."""
        parts = ", ".join(f"{status.value} {n}" for status, n in self.counts.items())
        stopped = self.stop_reason or ("stopped early" if self.stopped_early else "")
        extra = f"; {stopped}" if stopped else ""
        return (
            f"{self.total} jobs: {parts}; {self.requests_sent} requests in "
            f"{self.wall_time:.2f} s ({self.rate:.1f}/s){extra}"
        )
