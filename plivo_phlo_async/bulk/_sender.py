"""Sending one job of a bulk run until it has its one outcome (the rules for
sending again, in one place; the runner, :mod:`._runner`, reads the input and
hands out the outcomes). Retried only when it certainly did not reach Plivo,
or was refused with a 429; a failure every job would meet halts the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from functools import partial

from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    CannotConnectError,
    ConfigurationError,
    InvalidParameterError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PlivoError,
    RateLimitError,
)
from .._ratelimit import Limiter, RateLimiterUnavailableError
from .._retry import RetryPolicy
from ..types import PlivoObject
from ._bookkeeping import Bookkeeper
from ._breaker import (
    Breaker,
    BreakerGaveUp,
    cannot_connect_reason,
    may_have_reached,
    refused_reason,
    unknown_phlo_reason,
)
from ._jobs import Handles, Job, RunJob, prepare
from ._report import BulkReport, Outcome, OutcomeStatus
from ._state import RunState
from ._text import unusable

__all__ = ["Sender"]

_SUCCEEDED = OutcomeStatus.SUCCEEDED
_FAILED = OutcomeStatus.FAILED
_UNKNOWN = OutcomeStatus.OUTCOME_UNKNOWN
_SKIPPED = OutcomeStatus.SKIPPED


@dataclass(slots=True)
class _Tally:
    """One job's attempts so far, shared by the steps of :meth:`Sender.send`.

    ``probe``: the attempt under way is the circuit breaker's half-open probe.
    Each attempt tells the breaker how it went once (:meth:`reached`,
    :meth:`failed` or :meth:`released`), which also gives the probe back.
    """

    report: BulkReport
    breaker: Breaker
    attempts: int = 0  # requests that may have reached the API
    tries: int = 0  # attempts that count against max_retries
    last_error: PlivoError | None = None
    probe: bool = False

    def sent(self) -> None:
        """A request that may have reached the API: counted for the job and the run."""
        self.attempts += 1
        self.report.requests_sent += 1

    def reached(self) -> None:
        """The attempt reached the API (any answer, or an unknown outcome)."""
        self.breaker.reached(probe=self.probe)
        self.probe = False

    def failed(self, error: CannotConnectError) -> None:
        """The attempt could not connect."""
        self.breaker.failed(error, probe=self.probe)
        self.probe = False

    def released(self) -> None:
        """The attempt proved nothing either way (not sent, or cancelled)."""
        self.breaker.released(probe=self.probe)
        self.probe = False


@dataclass(slots=True)
class Sender:
    """Sends the jobs of one run, one :meth:`send` per job (many at once)."""

    state: RunState
    _: KW_ONLY
    handles: Handles
    limiter: Limiter
    breaker: Breaker
    policy: RetryPolicy
    books: Bookkeeper | None
    sleep: Callable[[float], Awaitable[None]]

    async def send(self, job: Job, job_id: str) -> Outcome:
        """Send ``job`` until it has its one outcome: each attempt waits for the
        circuit breaker and the rate limit, is journaled before it leaves, and is
        retried only when it certainly did not reach Plivo (or was refused 429)."""
        try:
            prepared = prepare(job, self.handles)
        except Exception as exc:  # prepare names the field; anything else is the job's
            invalid = exc if isinstance(exc, InvalidParameterError) else unusable("job", exc)
            return await self._settle(
                Outcome(job, job.ref, job_id, _FAILED, error=invalid, reason=str(invalid))
            )
        limiter = self.limiter
        breaker = self.breaker
        state = self.state
        tally = _Tally(state.report, breaker)
        while True:
            if not breaker.closed and not state.stopping and not await self._admit(tally):
                return self._skip(job, job_id, tally.attempts, tally.last_error)
            try:
                stopped = state.stopping or (
                    limiter.try_acquire(bulk=True) is None
                    and not await self.state.wait(partial(limiter.acquire, bulk=True))
                )
            except RateLimiterUnavailableError as exc:  # fail closed: nothing is sent
                tally.released()
                self.state.halted(exc, f"stopped: {exc}")
                return self._skip(job, job_id, tally.attempts, exc)
            if stopped:
                tally.released()  # nothing when it was not the probe
                return self._skip(job, job_id, tally.attempts, tally.last_error)
            if not tally.probe and not breaker.closed:
                continue  # it opened while this job waited for the rate limit
            if self.books is not None:  # recorded in flight before it leaves
                not_sent = await self.books.start(
                    job, job_id, prepared.url, prepared.body, tally.attempts
                )
                if not_sent is not None:  # the journal failed, or another runner took it
                    tally.released()
                    return not_sent
            try:
                result = await prepared.send()
            except CannotConnectError as exc:  # nothing was sent
                outcome = await self._unreached(job, job_id, exc, tally)
            except PlivoError as exc:
                outcome = await self._refused(job, job_id, exc, tally)
            except Exception as exc:  # not mapped by the SDK: it may have been sent
                return await self._unexpected(job, job_id, exc, tally)
            except BaseException:  # cancelled mid-request: the probe is no longer out
                tally.released()
                raise
            else:
                tally.sent()
                tally.reached()
                return await self._settle(sent_outcome(job, job_id, tally.attempts, result))
            if outcome is not None:
                return outcome

    async def _unreached(
        self, job: Job, job_id: str, exc: CannotConnectError, tally: _Tally
    ) -> Outcome | None:
        """The API could not be reached, so nothing was sent: the job's outcome,
        or None to go again (the breaker, not the retry budget, decides when)."""
        tally.last_error = exc
        breaker = self.breaker
        if self.books is not None:
            not_sent = await self.books.unsent(job, job_id, tally.attempts)
            if not_sent is not None:
                tally.released()
                return not_sent
        tally.failed(exc)
        if breaker.gave_up:
            self.state.halted(exc, f"stopped: {cannot_connect_reason(exc)}")
            return self._skip(job, job_id, tally.attempts, exc)
        if not breaker.closed:
            return None  # the breaker decides when it goes again: no retry used
        tally.tries += 1
        if tally.tries > self.policy.max_retries:
            return await self._settle(sent_outcome(job, job_id, tally.attempts, exc))
        if not await self.state.wait(partial(self.sleep, self.policy.backoff(tally.tries))):
            return self._skip(job, job_id, tally.attempts, exc)
        return None

    async def _refused(
        self, job: Job, job_id: str, exc: PlivoError, tally: _Tally
    ) -> Outcome | None:
        """An error the SDK mapped (a status, a timeout, a lost connection): the
        job's outcome, or None to send it again when it certainly did not run."""
        tally.last_error = exc
        if may_have_reached(exc):
            tally.sent()
            tally.reached()
        else:
            tally.released()
        tally.tries += 1
        if isinstance(exc, RateLimitError):  # retried or not: every worker
            # (and every process sharing the limit) waits, not just this one
            await self.limiter.pause(self.policy.rate_limit_delay(exc.retry_after, tally.tries))
        retry_in = self._retry_delay(exc, tally.tries)
        if retry_in is None:
            if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
                self.state.halted(exc, refused_reason(exc))
            elif isinstance(exc, ConfigurationError):
                # The client's set-up (CA certificates gone, a loop it cannot serve):
                # every other job would meet it too.
                self.state.halted(exc, f"stopped: {exc}")
            elif isinstance(exc, NotFoundError) and isinstance(job, RunJob):
                # POST /phlo/{id} names nothing else: no job for it can succeed.
                # (A node or member action's 404 may be that node's or member's.)
                self.state.halted(exc, unknown_phlo_reason(job.phlo_id, exc))
            return await self._settle(sent_outcome(job, job_id, tally.attempts, exc))
        # Certainly not executed: the row must not say "maybe".
        if self.books is not None:
            not_sent = await self.books.unsent(job, job_id, tally.attempts)
            if not_sent is not None:
                return not_sent
        # After a 429 the pause above holds this retry too.
        if not isinstance(exc, RateLimitError) and not await self.state.wait(
            partial(self.sleep, retry_in)
        ):
            return self._skip(job, job_id, tally.attempts, exc)
        return None

    async def _unexpected(self, job: Job, job_id: str, exc: Exception, tally: _Tally) -> Outcome:
        """An exception the SDK does not map, raised while sending: it may have
        been sent, so the outcome is unknown and the job is not sent again."""
        tally.sent()
        tally.released()
        error = OutcomeUnknownError(
            f"unexpected {type(exc).__name__} while sending: {exc}; outcome unknown, not retried"
        )
        error.__cause__ = exc
        return await self._settle(sent_outcome(job, job_id, tally.attempts, error))

    async def _admit(self, tally: _Tally) -> bool:
        """Wait for the circuit breaker (this attempt may be its probe); False
        when the run is stopping (or the breaker gave up)."""

        async def admit() -> None:
            tally.probe = await self.breaker.admit()

        try:
            admitted = await self.state.wait(admit)
        except BreakerGaveUp:
            return False
        if not admitted:
            tally.released()
        return admitted

    def _skip(self, job: Job, job_id: str, attempts: int, error: PlivoError | None) -> Outcome:
        reason = self.state.skip_reason
        return self.state.skipped(
            Outcome(job, job.ref, job_id, _SKIPPED, attempts=attempts, error=error, reason=reason)
        )

    def _retry_delay(self, error: PlivoError, tries: int) -> float | None:
        """Seconds to wait before sending again, or None when it must not be."""
        if tries > self.policy.max_retries or error.outcome_unknown:
            return None
        if isinstance(error, RateLimitError):
            return self.policy.rate_limit_delay(error.retry_after, tries)
        if isinstance(error, APIConnectionError):  # never left: no side effect possible
            return self.policy.backoff(tries)
        return None

    async def _settle(self, outcome: Outcome) -> Outcome:
        """Record a sent (or invalid) job's outcome in the journal, if any."""
        return outcome if self.books is None else await self.books.settle(outcome)


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
