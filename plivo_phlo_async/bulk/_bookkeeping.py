"""The runner's journal bookkeeping: claim a job before it waits for the
rate limiter, record its outcome after, release what was not sent, renew
the leases meanwhile, and stop the run at the first journal failure (the
rules that keep a job from being sent twice, in one place).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from functools import partial
from typing import Any

import anyio

from ._jobs import Job
from ._journal import IN_FLIGHT, Journal, JournalEntry, JournalError
from ._report import Outcome, OutcomeStatus
from ._text import safe_str

__all__ = ["DUPLICATE", "LOST", "MAX_POLL", "OWNED", "Bookkeeper"]

DUPLICATE = "duplicate job id"
OWNED = (
    "not sent: another runner holds this job (claimed or in flight); its outcome is in the journal"
)
LOST = (
    "not sent: this run's claim expired while it waited and another runner took the job; "
    "its outcome is in the journal"
)
#: Longest wait between two looks at a job another runner holds (the first
#: is 50 ms, then twice as long each time).
MAX_POLL = 0.5

_SKIPPED = OutcomeStatus.SKIPPED
_FAILED = OutcomeStatus.FAILED
_UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN

Wait = Callable[[Callable[[], Awaitable[Any]]], Awaitable[bool]]


@dataclass(slots=True)
class Bookkeeper:
    """One run's use of its journal.

    ``stop`` stops the run, ``wait`` runs a wait that a stop interrupts
    (False when stopping), ``stopped`` counts a job skipped by the stop.
    ``error`` is the first journal failure: the run raises it at the end.
    """

    journal: Journal
    _: KW_ONLY
    retry_failed: bool
    lease: float
    stop: Callable[[], None]
    wait: Wait
    stopped: Callable[[Outcome], Outcome]
    error: JournalError | None = field(default=None, init=False)

    async def claim(self, job: Job, job_id: str) -> Outcome | None:
        """Claim the job for this run (None: send it), or its outcome.

        A job another live runner holds is waited for: when its owner records
        the outcome, that outcome is this job's too (``from_journal``); when
        the owner's lease expires, the claim is decided again. A stop ends
        the wait: the job is skipped, and never sent by this run.
        """
        ref = job.ref
        poll = 0.05
        while True:
            try:
                claim = await self.journal.claim(job_id, ref, retry_failed=self.retry_failed)
            except JournalError as exc:
                return self.failed(Outcome(job, ref, job_id, _SKIPPED), exc)
            if claim.kind == "claimed":
                return None
            if claim.kind == "duplicate":
                return Outcome(job, ref, job_id, _SKIPPED, reason=DUPLICATE, duplicate=True)
            if claim.kind == "settled":
                assert claim.row is not None
                assert claim.status is not None
                return from_journal(job, job_id, claim.row, OutcomeStatus(claim.status))
            if not await self.wait(partial(anyio.sleep, poll)):
                return self.stopped(Outcome(job, ref, job_id, _SKIPPED, reason=OWNED))
            poll = min(poll * 2, MAX_POLL, self.lease / 10)

    async def start(
        self, job: Job, job_id: str, url: str, body: bytes | None, attempts: int
    ) -> Outcome | None:
        """Record that the request is about to leave (None: send it), or the
        job's outcome when it must not be sent."""
        try:
            owned = await self.journal.start(job_id, job.ref, url=url, payload=body)
        except JournalError as exc:  # not recorded, so not sent
            return self.failed(Outcome(job, job.ref, job_id, _SKIPPED, attempts=attempts), exc)
        if not owned:  # its lease expired and another runner took it
            return Outcome(job, job.ref, job_id, _SKIPPED, attempts=attempts, reason=LOST)
        return None

    async def unsent(self, job: Job, job_id: str, attempts: int) -> Outcome | None:
        """The request certainly did not leave: the row says claimed again
        (None), or the job is skipped because the journal failed."""
        try:
            await self.journal.unsent(job_id)
        except JournalError as exc:
            return self.failed(Outcome(job, job.ref, job_id, _SKIPPED, attempts=attempts), exc)
        return None

    async def release(self, job_id: str) -> None:
        """Give up a claimed job that was not sent (its claim would expire)."""
        try:
            await self.journal.release(job_id)
        except JournalError as exc:
            self._fail(exc)

    async def settle(self, outcome: Outcome) -> Outcome:
        """Record a sent (or invalid) job's outcome."""
        if outcome.job_id is None:
            return outcome
        error = outcome.error
        try:
            await self.journal.finish(
                outcome.job_id,
                outcome.status.value,
                ref=outcome.ref,
                http_status=outcome.http_status,
                api_id=outcome.api_id,
                attempts=outcome.attempts,
                error=None if error is None else f"{type(error).__name__}: {safe_str(error)}",
            )
        except JournalError as exc:
            # The outcome stands; the row stays in flight, so a re-run
            # reports it unknown rather than sending it again.
            self.failed(outcome, exc)
            note = f"not recorded in the journal: {exc}"
            reason = note if outcome.reason is None else f"{outcome.reason}; {note}"
            return dataclasses.replace(outcome, reason=reason)
        return outcome

    def failed(self, outcome: Outcome, error: JournalError) -> Outcome:
        """A journal operation failed: stop the run (the error is raised once
        every job has its outcome). A job not yet sent is not sent: it is
        skipped with the error as its reason."""
        self._fail(error)
        if outcome.status is _SKIPPED:
            return self.stopped(
                dataclasses.replace(
                    outcome, error=error, reason=f"not sent: the journal failed: {error}"
                )
            )
        return outcome

    def _fail(self, error: JournalError) -> None:
        """Keep the first journal failure and stop the run."""
        self.error = self.error or error
        self.stop()

    async def heartbeat(self, done: anyio.Event) -> None:
        """Renew this run's claims every third of the lease until ``done``,
        so that waiting for the rate limiter never lets them expire."""
        while not done.is_set():
            with anyio.move_on_after(self.lease / 3):
                await done.wait()
            if done.is_set():
                return
            try:
                await self.journal.renew()
            except JournalError as exc:  # they will expire: stop before that matters
                self._fail(exc)
                return

    async def aclose(self) -> None:
        try:
            with anyio.CancelScope(shield=True):
                await self.journal.aclose()
        except JournalError as exc:
            self.error = self.error or exc


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
