"""``BulkRunner``: bounded, rate-limited, journaled fan-out of many jobs.

One producer reads the input lazily into a bounded stream, at most
``concurrency`` workers (started as jobs wait for one) send through
:mod:`._sender`, and one outcome per job goes to a second bounded stream the
caller consumes: memory follows the jobs in flight, not the input. The
guide: docs/bulk.md.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._base_client import BaseClient
from .._exceptions import ConfigurationError, InvalidParameterError
from .._ratelimit import DEFAULT_RATE_LIMIT, Limiter, RateLimit, make_limiter
from .._retry import RetryPolicy
from ._bookkeeping import Bookkeeper
from ._breaker import DEFAULT_CIRCUIT_BREAKER, Breaker, CircuitBreaker
from ._jobs import JOB_TYPES, Handles, Job, RunJob, job_id_of
from ._journal import DEFAULT_LEASE, open_journal
from ._options import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, OutcomeCallback, RunOptions
from ._report import BulkReport, Outcome, OutcomeStatus
from ._sender import Sender
from ._state import Phase, RunState
from ._text import escape_surrogates, unusable

if TYPE_CHECKING:  # the client imports this package lazily, in PhloClient.bulk
    from .._client import PhloClient

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "BulkRunner", "OutcomeCallback", "run_chunk"]

#: The only sleep the runner itself does (backoff after a connection failure,
#: the circuit breaker's cool-down); tests replace it to record delays without
#: waiting.
_sleep = anyio.sleep


async def _pause(seconds: float) -> None:
    await _sleep(seconds)  # looked up at each call, so that tests can replace it


JobSource = Iterable[Any] | AsyncIterable[Any]
#: How long an async generator's cleanup may take when the run stops early.
CLOSE_TIMEOUT = 5.0

_FAILED = OutcomeStatus.FAILED
_SKIPPED = OutcomeStatus.SKIPPED


class BulkRunner:
    """Runs many jobs through one client; create it with ``client.bulk(...)``.

    Nothing is sent until :meth:`stream` or :meth:`run`. A runner runs once.
    Every job read from the input yields exactly one :class:`Outcome`;
    per-job failures are outcomes, never raised.

    A plain (sync) iterable is read in the event loop's thread, one job at a
    time as room frees up: a list, a file or a generator is fine; wrap a slow
    source (a database cursor, an API) in an async generator instead.

    ``journal`` is a SQLite file or a ``postgresql://`` URL; several runners
    may share one (see :mod:`._journal`). ``lease`` is how long this run's
    claims on jobs outlive it if it dies (renewed every third of it while
    it runs): another runner takes over its unsent jobs after that.
    """

    def __init__(
        self,
        client: PhloClient,
        jobs: JobSource,
        *,
        phlo_id: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        journal: str | os.PathLike[str] | None = None,
        max_retries: int | None = None,
        on_outcome: OutcomeCallback | None = None,
        retry_failed: bool = False,
        circuit_breaker: CircuitBreaker = DEFAULT_CIRCUIT_BREAKER,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        _check_target(client, jobs)
        self._setup(client, jobs, RunOptions.of(locals()))

    @classmethod
    def _of(cls, client: PhloClient, jobs: JobSource, options: RunOptions) -> BulkRunner:
        """The runner for options already built (``client.bulk``, ``run_chunk``)."""
        _check_target(client, jobs)
        runner = cls.__new__(cls)
        runner._setup(client, jobs, options)
        return runner

    def _setup(self, client: PhloClient, jobs: JobSource, options: RunOptions) -> None:
        # The runner waits for the limit itself (as a bulk request, before
        # each attempt), so its own client does not wait a second time.
        self._client = client.with_options(max_retries=0, rate_limit=None)
        #: The client's limiter when the runner shares it (the default, or the
        #: client's own limit): single requests and this run then share one limit.
        self._shared_limiter: Limiter | None = None
        rate_limit = options.rate_limit
        if client.limiter is not None and (
            rate_limit is DEFAULT_RATE_LIMIT or rate_limit == client.rate_limit
        ):
            self._shared_limiter = client.limiter
            rate_limit = client.rate_limit
        max_retries = client.max_retries if options.max_retries is None else options.max_retries
        #: The options with the client's defaults filled in.
        self._options = dataclasses.replace(
            options,
            rate_limit=rate_limit,
            max_retries=max_retries,
            retry_failed=bool(options.retry_failed),
            lease=float(options.lease),
        )
        self._jobs = jobs
        #: Filled in as outcomes are consumed; final once the stream is closed.
        self.report = BulkReport()

        # What changes as it runs.
        self._state = RunState(self.report)
        self._input_done = False
        self._input_error: Exception | None = None
        self._producer_scope: anyio.CancelScope | None = None
        self._books: Bookkeeper | None = None
        self._limiter: Limiter | None = None

    # -- settings (the rest are in ``_options``) -----------------------------------
    @property
    def concurrency(self) -> int:
        return self._options.concurrency

    @property
    def rate_limit(self) -> RateLimit | None:
        """The limit this run waits for (the client's when it shares its limiter)."""
        return self._options.rate_limit

    @property
    def max_retries(self) -> int:
        """Retries of a job that certainly did not run (None given: the client's)."""
        retries = self._options.max_retries
        assert retries is not None  # filled in by _setup
        return retries

    # -- public ----------------------------------------------------------------
    @property
    def max_read_ahead(self) -> int:
        """Most jobs read from the input and not yet handed to the caller.

        At most ``concurrency`` each: jobs buffered, jobs in the workers, and
        outcomes waiting in the outcome stream; plus the one being handed over.
        """
        return 3 * self.concurrency + 1

    @property
    def stopping(self) -> bool:
        """Whether the run stops: :meth:`stop` was called, or it stopped itself."""
        return self._state.stopping

    def stop(self) -> None:
        """Stop gracefully: start no new job, let in-flight requests finish.

        Jobs already read but not started get a ``skipped`` outcome (reason
        "stopped"); the input is not read any further. Idempotent; call it
        from the event loop's thread (a signal handler, a callback, a task).
        The runner stops itself on a 401 or 403, on a 404 for a run job's
        PHLO, and when the circuit breaker gives up (see
        ``report.stopped_by``); then it reads the rest of the input too, so
        that every job gets its ``skipped`` outcome (a ``stop()`` meanwhile
        ends that reading).
        """
        if self._producer_scope is not None:
            self._producer_scope.cancel()
        self._state.stopped()

    async def run(self) -> BulkReport:
        """Run every job and return the report (outcomes are not kept)."""
        async with self.stream() as outcomes:
            async for _ in outcomes:
                pass
        return self.report

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[AsyncIterator[Outcome]]:
        """Outcomes as each job completes::

            async with runner.stream() as outcomes:
                async for outcome in outcomes:
                    ...

        Leaving the block early (``break`` or an exception) stops the runner
        gracefully: in-flight requests finish and are recorded, remaining
        outcomes are counted in :attr:`report` (and passed to ``on_outcome``).
        Cancelling the enclosing scope cancels in-flight requests; their
        journal rows stay ``in_flight`` and resume as outcome unknown.
        """
        self._state.advance(Phase.RUNNING)
        started = time.perf_counter()
        options = self._options
        if options.journal is not None:
            self._books = Bookkeeper(
                await open_journal(
                    os.fspath(options.journal),
                    auth_id=self._client.auth_id,
                    base_url=self._client.base_url,
                    lease=options.lease,
                ),
                retry_failed=options.retry_failed,
                lease=options.lease,
                stop=self.stop,
                wait=self._state.wait,
                stopped=self._state.skipped,
            )
        self._limiter = self._shared_limiter or make_limiter(self.rate_limit, self._client.auth_id)
        sender = Sender(
            self._state,
            handles=Handles(self._client),
            limiter=self._limiter,
            breaker=Breaker(options.circuit_breaker, _pause),
            policy=RetryPolicy(max_retries=self.max_retries),
            books=self._books,
            sleep=_pause,
        )
        job_send, job_recv = anyio.create_memory_object_stream[tuple[int, Any]](self.concurrency)
        out_send, out_recv = anyio.create_memory_object_stream[Outcome](self.concurrency)
        view = OutcomeStream(out_recv, self.report, options.on_outcome, started)
        body_error: Exception | None = None
        drain_error: Exception | None = None
        try:
            async with anyio.create_task_group() as tg:
                done = anyio.Event()
                tg.start_soon(self._produce, job_send, job_recv, out_send, sender, done)
                if self._books is not None:
                    tg.start_soon(self._books.heartbeat, done)
                try:
                    yield view
                except Exception as exc:  # cancellation and KeyboardInterrupt go through
                    body_error = exc
                if not view.exhausted:
                    self.stop()
                    drain_error = await view.drain()
        finally:
            self._state.advance(Phase.FINISHED)
            if self._input_done and self._state.skips == 0 and self._input_error is None:
                self.report.stopped_early = False  # stop() came after the last job was read
            self.report.wall_time = time.perf_counter() - started
            out_recv.close()
            if self._shared_limiter is None:
                with anyio.CancelScope(shield=True):
                    await self._limiter.aclose()
            if self._books is not None:
                await self._books.aclose()
        journal_error = None if self._books is None else self._books.error
        for error in (body_error, drain_error, journal_error, self._input_error):
            if error is not None:  # the first, once every job has its outcome
                raise error

    # -- producer and workers ------------------------------------------------------
    async def _produce(
        self,
        job_send: MemoryObjectSendStream[tuple[int, Any]],
        job_recv: MemoryObjectReceiveStream[tuple[int, Any]],
        out_send: MemoryObjectSendStream[Outcome],
        sender: Sender,
        done: anyio.Event,
    ) -> None:
        """Read the input one job at a time, only when the buffer has room.

        A worker is started when a job is left waiting for one (no idle
        worker took it), up to ``concurrency``: never more workers than jobs,
        so a huge ``concurrency`` costs nothing on a small input. The outcome
        stream ends once the producer and every worker it started are done;
        then ``done`` (which ends the journal's heartbeat) is set.
        """
        state = self._state
        source = JobInput(self._jobs)
        slots = anyio.Semaphore(self.concurrency)
        started = index = 0
        try:
            async with anyio.create_task_group() as tg, job_send, job_recv, out_send:
                with anyio.CancelScope() as self._producer_scope:
                    try:
                        while state.reading:
                            await _acquire(slots)  # room first: nothing read is ever held
                            if not state.reading:
                                break
                            try:
                                item = await source.next()
                            except StopAsyncIteration:
                                self._input_done = True
                                break
                            job_send.send_nowait((index, item))
                            index += 1
                            if started < self.concurrency and (
                                job_send.statistics().current_buffer_used
                            ):
                                started += 1
                                tg.start_soon(
                                    self._work, job_recv.clone(), out_send.clone(), slots, sender
                                )
                    except Exception as exc:  # run the jobs already read, then raise it
                        self._input_error = exc
                        self.report.stopped_early = True
                    finally:
                        await source.close()
        finally:
            done.set()

    async def _work(
        self,
        job_recv: MemoryObjectReceiveStream[tuple[int, Any]],
        out_send: MemoryObjectSendStream[Outcome],
        slots: anyio.Semaphore,
        sender: Sender,
    ) -> None:
        async with job_recv, out_send:
            while True:
                # The *_nowait calls first: a hand-off that need not wait costs
                # no trip through the event loop (the request itself yields).
                try:
                    try:
                        index, item = job_recv.receive_nowait()
                    except anyio.WouldBlock:
                        index, item = await job_recv.receive()
                except anyio.EndOfStream:
                    return
                slots.release()
                outcome = await self._handle(index, item, sender)
                try:
                    out_send.send_nowait(outcome)
                except anyio.WouldBlock:
                    await out_send.send(outcome)

    async def _handle(self, index: int, item: Any, sender: Sender) -> Outcome:
        """The job ``item`` is, claimed in the journal and sent; or its outcome
        at once (not a job, no usable job id, the run stopping, settled)."""
        phlo_id = self._options.phlo_id
        if phlo_id is not None and isinstance(item, Mapping):
            job: Job = RunJob(phlo_id, item, ref=index)
        elif isinstance(item, JOB_TYPES):
            job = item
        else:
            expected = "RunJob, NodeActionJob or MemberActionJob"
            if phlo_id is not None:
                expected += " (or a mapping: a run payload for phlo_id)"
            error = InvalidParameterError(
                "job", f"must be a {expected}, not {escape_surrogates(type(item).__name__)}"
            )
            return Outcome(item, None, None, _FAILED, error=error, reason=str(error))
        ref = job.ref
        try:
            job_id = job_id_of(job)
        except Exception as exc:  # never raised out of a worker: it is this job's outcome
            invalid = exc if isinstance(exc, InvalidParameterError) else unusable("job_id", exc)
            return Outcome(job, ref, None, _FAILED, error=invalid, reason=str(invalid))
        if self._state.stopping:
            return self._state.skipped(
                Outcome(job, ref, job_id, _SKIPPED, reason=self._state.skip_reason)
            )
        books = self._books
        if books is None:
            return await sender.send(job, job_id)
        settled = await books.claim(job, job_id)
        if settled is not None:
            return settled
        outcome = await sender.send(job, job_id)  # cancelled: its claim expires
        if outcome.status is _SKIPPED:  # certainly not sent since it was claimed
            await books.release(job_id)
        return outcome


class JobInput:
    """One job at a time from ``jobs``, sync or async; :meth:`next` raises
    ``StopAsyncIteration`` at the end. A generator the run did not read to its
    end is closed (suspended, it holds an open file or cursor until the
    garbage collector finds it)."""

    def __init__(self, jobs: JobSource) -> None:
        self._jobs = jobs
        self._async: AsyncIterator[Any] | None = None
        self._sync: Iterator[Any] | None = None
        self.exhausted = False

    async def next(self) -> Any:
        """The next job; errors of the source (``iter()`` included) propagate."""
        jobs = self._jobs
        try:
            if isinstance(jobs, AsyncIterable):
                if self._async is None:
                    self._async = jobs.__aiter__()
                return await self._async.__anext__()
            if self._sync is None:
                self._sync = iter(jobs)
            try:
                return next(self._sync)
            except StopIteration:
                raise StopAsyncIteration from None
        except StopAsyncIteration:
            self.exhausted = True
            raise

    async def close(self) -> None:
        """Close a generator the run did not read to its end (the caller's own
        iterables are left alone: they may be read again)."""
        if self.exhausted:
            return
        if self._async is not None:
            aclose = getattr(self._async, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                    await aclose()
        elif inspect.isgenerator(self._jobs):
            self._jobs.close()


@dataclass(slots=True)
class OutcomeStream:
    """The caller's view of the outcome stream: counts each outcome in the
    report and passes it to ``on_outcome`` before handing it over."""

    receive: MemoryObjectReceiveStream[Outcome]
    report: BulkReport
    callback: OutcomeCallback | None
    started: float
    exhausted: bool = field(default=False, init=False)

    def __aiter__(self) -> OutcomeStream:
        return self

    async def __anext__(self) -> Outcome:
        try:
            try:
                outcome = self.receive.receive_nowait()
            except anyio.WouldBlock:
                outcome = await self.receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.exhausted = True
            raise StopAsyncIteration from None
        report = self.report
        report.add(outcome)
        report.wall_time = time.perf_counter() - self.started
        callback = self.callback
        if callback is not None:
            try:
                result = callback(outcome)
                if inspect.isawaitable(result):
                    await result
            except BaseException:
                self.callback = None  # a broken callback is not called again
                raise
        return outcome

    async def drain(self) -> Exception | None:
        """Consume what is left (after a graceful stop); return the first
        error ``on_outcome`` raised meanwhile, if any."""
        first: Exception | None = None
        while True:
            try:
                await self.__anext__()
            except StopAsyncIteration:
                return first
            except Exception as exc:  # the callback's: it is not called again
                first = first or exc


async def _acquire(semaphore: anyio.Semaphore) -> None:
    """Take a token, going through the event loop only when there is none."""
    try:
        semaphore.acquire_nowait()
    except anyio.WouldBlock:
        await semaphore.acquire()


async def run_chunk(
    client: PhloClient,
    jobs: JobSource,
    *,
    journal: str | os.PathLike[str] | None,
    phlo_id: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
    max_retries: int | None = None,
    on_outcome: OutcomeCallback | None = None,
    retry_failed: bool = False,
    circuit_breaker: CircuitBreaker = DEFAULT_CIRCUIT_BREAKER,
    lease: float = DEFAULT_LEASE,
) -> BulkReport:
    """Run one chunk of jobs to completion and return its report.

    A plain coroutine, so it can be the body of a task in a distributed
    queue: with a journal shared by the workers (a ``postgresql://`` URL
    across machines), a re-delivered task resumes where the last attempt
    stopped instead of repeating calls, even while that attempt still runs
    (it waits for the jobs the other one holds and reports their outcomes).
    """
    return await BulkRunner._of(client, jobs, RunOptions.of(locals())).run()


def _check_target(client: object, jobs: object) -> None:
    """Refuse what is not a client, or not a source of jobs."""
    if not isinstance(client, BaseClient):  # PhloClient is the one BaseClient
        raise ConfigurationError("client must be a PhloClient")
    if not isinstance(jobs, (Iterable, AsyncIterable)) or isinstance(jobs, (str, bytes)):
        raise ConfigurationError(
            f"jobs must be an iterable or async iterable of jobs, not {type(jobs).__name__}"
        )
    if isinstance(jobs, Mapping):
        raise ConfigurationError("jobs must be an iterable of jobs, not one mapping")
