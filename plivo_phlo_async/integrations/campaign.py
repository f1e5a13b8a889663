"""A campaign as a manifest in its journal, chunks any queue can carry, and
the chunk function any queue can run.

Submitting writes the campaign's **manifest** to its journal before anything
is queued (:func:`write_manifest`): the PHLO, the settings, and every job's
id, chunk and payload with a digest that binds the id to it. A chunk message
(:func:`chunk_message`) then only names the journal (as the workers reach it:
a SQLite path they share or a ``postgresql://`` URL), the campaign and the
chunk's number; the worker reads its jobs from the manifest. The credentials
are never in a message; a worker reads them from its own environment.

So the journal alone knows the whole campaign: :func:`campaign_status`
reports every job in exactly one state, jobs that never ran included, and
:func:`chunks_to_run` tells what a queue that lost messages (a broker
restarted without persistence, a message never acknowledged and never
redelivered) must be given again. Redelivered or requeued chunks are
harmless: the journal sends none of their jobs twice.

:func:`finish_campaign_chunk` is the body of the task on any queue (taskiq,
Celery through ``asyncio.run``, arq). Acknowledge the message only after it
returns: by then every job of the chunk has its outcome in the journal. A
chunk whose run stops (the rate limit's Redis, the API or the journal
unreachable) is paused and run again, never acknowledged unfinished.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from .._client import PhloClient
from .._exceptions import ConfigurationError, InvalidParameterError, PlivoError
from .._ratelimit import RateLimit
from .._validation import is_int, validate_path_id
from ..bulk import DEFAULT_CONCURRENCY, JournalError, OutcomeStatus, RunJob, run_chunk
from ..bulk._jobs import job_id_of
from ..bulk._journal import open_journal
from ..bulk._manifest import (
    NOT_STARTED,
    STATES,
    ManifestConflictError,
    ManifestJob,
    Sql,
    add_jobs,
    campaign_ids,
    check_campaign_id,
    chunk_jobs,
    chunks_to_run,
    job_key,
    manifest_job,
    read_campaign,
    state_counts,
)
from ..bulk._runner import MAX_CONCURRENCY

# MAX_CHUNK_SIZE, DEFAULT_QUEUE (public in .taskiq) and ADVICE serve
# plivo_phlo_async.cli, which must work without taskiq: not public API.
__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "CampaignStatus",
    "ChunkNotFinishedError",
    "ManifestConflictError",
    "ManifestWritten",
    "campaign_status",
    "campaigns",
    "chunk_message",
    "chunks_to_run_in",
    "finish_campaign_chunk",
    "run_campaign_chunk",
    "write_manifest",
]

#: The shape of a chunk message; a worker refuses any other.
_CHUNK_VERSION = 2
DEFAULT_CHUNK_SIZE = 100
MAX_CHUNK_SIZE = 10_000
#: The queue (a stream and consumer group) of the taskiq workers.
DEFAULT_QUEUE = "plivo-phlo-campaign"
#: Longest pause between two runs of a chunk that could not finish.
MAX_PAUSE = 60.0
#: Advice for the operator per state, as ``campaign status`` prints it.
ADVICE = {
    NOT_STARTED: "waiting for a worker; if none is running, or the broker lost its "
    "messages, run `plivo-phlo campaign resume`",
    "claimed": "a worker is about to send them; a dead worker's claims pass to "
    "another after its lease (30 s)",
    "in_flight": "being sent now; their answers are on the way",
    "succeeded": "done",
    "failed": "refused by Plivo (see `plivo-phlo journal failures`)",
    "outcome_unknown": "may have placed a call: check Plivo's console, then "
    "`plivo-phlo journal mark` or `journal resend`, then `campaign resume`",
}

_log = logging.getLogger("plivo_phlo_async.campaign")
_T = TypeVar("_T")


class ChunkNotFinishedError(PlivoError):
    """A chunk's run stopped before every job had its outcome (the rate
    limit's Redis, the API or the journal could not be reached, credentials
    refused...). Its message must not be acknowledged: run it again (its
    finished jobs are not sent again). ``unfinished`` counts the jobs left."""

    def __init__(self, campaign_id: str, chunk: int, unfinished: int, reason: str) -> None:
        super().__init__(
            f"campaign {campaign_id!r} chunk {chunk}: {unfinished} job(s) not finished: {reason}"
        )
        self.campaign_id = campaign_id
        self.chunk = chunk
        self.unfinished = unfinished
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.campaign_id, self.chunk, self.unfinished, self.reason))


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    """Every job of a campaign's manifest, counted by its one state.

    ``counts`` has every state of :data:`STATES` (``not_started``,
    ``claimed``, ``in_flight``, ``succeeded``, ``failed``,
    ``outcome_unknown``), zeros included; a job in flight whose runner is
    gone counts as ``outcome_unknown``.
    """

    campaign_id: str
    counts: dict[str, int]

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        """Every job has its outcome (succeeded, failed or unknown)."""
        return not any(self.counts[state] for state in (NOT_STARTED, "claimed", "in_flight"))

    @property
    def needs_attention(self) -> bool:
        """Some jobs failed or have an unknown outcome."""
        return bool(self.counts["failed"] or self.counts["outcome_unknown"])


@dataclass(frozen=True, slots=True)
class ManifestWritten:
    """What a submit added to the manifest."""

    campaign_id: str
    #: Jobs new to the manifest.
    added: int
    #: Jobs already in it with the same payload (a submit repeated).
    existing: int


def _rate_limit_settings(rate_limit: RateLimit | None) -> dict[str, Any] | None:
    """The limit as plain data (a Redis *URL* only: a connection object
    cannot be stored or travel in a message)."""
    if rate_limit is None:
        return None
    if not isinstance(rate_limit, RateLimit):
        raise InvalidParameterError("rate_limit", "must be a RateLimit or None")
    redis = rate_limit.redis
    if redis is not None and not isinstance(redis, str):
        raise InvalidParameterError(
            "rate_limit", "a campaign's limit must name Redis by URL, not by a connection"
        )
    return {
        "requests": rate_limit.requests,
        "per": rate_limit.per,
        "redis": redis,
        "key_prefix": rate_limit.key_prefix,
        "bulk_share": rate_limit.bulk_share,
        "burst": rate_limit.burst,
    }


def _location(journal: str | os.PathLike[str]) -> str:
    if not isinstance(journal, (str, os.PathLike)):
        raise InvalidParameterError("journal", "must be a path or a postgresql:// URL")
    location = os.fspath(journal)
    if not location:
        raise InvalidParameterError("journal", "a campaign needs a journal")
    return location


def _batches(jobs: Iterable[RunJob], phlo_id: str, size: int) -> Iterator[list[ManifestJob]]:
    batch: list[ManifestJob] = []
    for job in jobs:
        if not isinstance(job, RunJob):
            raise InvalidParameterError(
                "jobs", f"a campaign holds RunJobs, not {type(job).__name__}"
            )
        if job.phlo_id != phlo_id:
            raise InvalidParameterError(
                "jobs", f"a job for PHLO {job.phlo_id!r} in a campaign for {phlo_id!r}"
            )
        batch.append(manifest_job(job, job_id_of(job)))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def write_manifest(
    jobs: Iterable[RunJob],
    *,
    campaign_id: str,
    phlo_id: str,
    journal: str | os.PathLike[str],
    rate_limit: RateLimit | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ManifestWritten:
    """Record the campaign and every job in its journal, in one transaction,
    before anything is queued (jobs are read lazily, ``chunk_size`` a chunk).

    Submitting the same jobs again adds nothing (a safe resume); new jobs
    go into new chunks. Raises :class:`ManifestConflictError` (nothing
    written) for an id already in the campaign with another payload, and
    :class:`InvalidParameterError` for a job that is not a JSON ``RunJob``
    for ``phlo_id``. The settings (limit, concurrency) of the latest submit
    are the ones workers use.
    """
    check_campaign_id(campaign_id)
    validate_path_id("phlo_id", phlo_id)
    location = _location(journal)
    if not is_int(chunk_size) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidParameterError(
            "chunk_size", f"must be an integer from 1 to {MAX_CHUNK_SIZE}, not {chunk_size!r}"
        )
    if not is_int(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidParameterError(
            "concurrency", f"must be an integer from 1 to {MAX_CONCURRENCY}, not {concurrency!r}"
        )
    settings = {"rate_limit": _rate_limit_settings(rate_limit), "concurrency": concurrency}
    batches = _batches(jobs, phlo_id, chunk_size)
    tries = 0

    async def write(sql: Sql) -> tuple[int, int]:
        nonlocal tries
        tries += 1
        if tries > 1:  # the input is read once: a new attempt would see none of it
            raise JournalError(
                location,
                "the connection to the journal broke while writing the manifest; "
                "nothing was queued: submit again",
            )
        return await add_jobs(sql, campaign_id, phlo_id, settings, batches, time.time())

    added, existing = await _in_journal(location, write, write=True)
    return ManifestWritten(campaign_id, added, existing)


async def _in_journal(
    location: str, work: Callable[[Sql], Awaitable[_T]], *, write: bool = False
) -> _T:
    """``work`` in one transaction of the journal at ``location``, opened for
    it: created if need be to write, read-only (and never created) to read."""
    opened = await open_journal(location, create=write, readonly=not write)
    try:
        return await opened.transact(work, write=write)
    finally:
        await opened.aclose()


def chunk_message(journal: str | os.PathLike[str], campaign_id: str, chunk: int) -> dict[str, Any]:
    """The message for one chunk: JSON, and nothing secret."""
    return {
        "version": _CHUNK_VERSION,
        "journal": _location(journal),
        "campaign": check_campaign_id(campaign_id),
        "chunk": chunk,
    }


async def chunks_to_run_in(journal: str | os.PathLike[str], campaign_id: str) -> list[int]:
    """The campaign's chunks that hold a job a run would still send (not
    started, allowed to be sent again, or claimed by a run that may be
    gone): what a queue must hold for the campaign to finish."""
    check_campaign_id(campaign_id)

    async def read(sql: Sql) -> list[int]:
        if await read_campaign(sql, campaign_id) is None:
            raise _unknown_campaign(location, campaign_id)
        return await chunks_to_run(sql, campaign_id)

    location = _location(journal)
    return await _in_journal(location, read)


def _unknown_campaign(location: str, campaign_id: str) -> InvalidParameterError:
    return InvalidParameterError(
        "campaign_id", f"no campaign {campaign_id!r} in journal {location}"
    )


def _checked_chunk(chunk: Mapping[str, Any]) -> tuple[str, str, int]:
    if not isinstance(chunk, Mapping) or chunk.get("version") != _CHUNK_VERSION:
        raise InvalidParameterError("chunk", f"not a version {_CHUNK_VERSION} campaign chunk")
    journal, campaign_id, index = chunk.get("journal"), chunk.get("campaign"), chunk.get("chunk")
    if not isinstance(journal, str) or not journal:
        raise InvalidParameterError("chunk", "a chunk needs its journal")
    if not is_int(index) or index < 0:
        raise InvalidParameterError("chunk", f"a chunk's number must be >= 0, not {index!r}")
    return journal, check_campaign_id(campaign_id), index


def _client_from_environment() -> PhloClient:
    """The worker's client: ``PLIVO_AUTH_ID``, ``PLIVO_AUTH_TOKEN`` and
    ``PLIVO_PHLO_BASE_URL`` (optional), never anything from the message."""
    auth_id = os.environ.get("PLIVO_AUTH_ID")
    auth_token = os.environ.get("PLIVO_AUTH_TOKEN")
    if not auth_id or not auth_token:
        raise ConfigurationError(
            "a campaign worker needs PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN in its environment"
        )
    return PhloClient(auth_id, auth_token)


async def _read_chunk(
    journal: str, campaign_id: str, index: int
) -> tuple[list[RunJob], RateLimit | None, int]:
    async def read(sql: Sql) -> tuple[Any, list[ManifestJob]]:
        return await read_campaign(sql, campaign_id), await chunk_jobs(sql, campaign_id, index)

    record, jobs = await _in_journal(journal, read)
    if record is None:
        raise _unknown_campaign(journal, campaign_id)
    limit = record.settings.get("rate_limit")
    try:
        rate_limit = None if limit is None else RateLimit(**limit)
    except (TypeError, ValueError, ConfigurationError) as exc:
        raise InvalidParameterError("chunk", f"unusable rate_limit: {exc}") from None
    runs = [
        RunJob(
            record.phlo_id,
            json.loads(job.payload),
            ref=None if job.ref is None else json.loads(job.ref),
            job_id=job_key(campaign_id, job.job_id),
        )
        for job in jobs
    ]
    # A manifest from before the bound may ask for more: "at most" allows fewer.
    concurrency = int(record.settings.get("concurrency", DEFAULT_CONCURRENCY))
    return runs, rate_limit, min(concurrency, MAX_CONCURRENCY)


async def run_campaign_chunk(
    chunk: Mapping[str, Any], *, client: PhloClient | None = None
) -> dict[str, Any]:
    """Run one chunk once; return ``{"campaign", "chunk", "jobs", "counts"}``
    (JSON) when every job of it has its outcome in the journal.

    The client is ``client`` or one built from the worker's environment.
    Raises :class:`InvalidParameterError` for a malformed chunk or one the
    journal does not know (nothing sent), :class:`JournalError` when the
    journal cannot be used, and :class:`ChunkNotFinishedError` when the run
    stopped with jobs left (they were not sent: run the chunk again).
    """
    journal, campaign_id, index = _checked_chunk(chunk)
    jobs, rate_limit, concurrency = await _read_chunk(journal, campaign_id, index)
    owned = client is None
    active = _client_from_environment() if client is None else client
    try:
        report = await run_chunk(
            active, jobs, journal=journal, concurrency=concurrency, rate_limit=rate_limit
        )
    finally:
        if owned:
            await active.aclose()
    skipped = report.counts.get(OutcomeStatus.SKIPPED, 0)
    if skipped or report.stopped_by is not None:
        raise ChunkNotFinishedError(
            campaign_id, index, skipped, report.stop_reason or "jobs were skipped"
        )
    return {
        "campaign": campaign_id,
        "chunk": index,
        "jobs": len(jobs),
        "counts": {str(status): count for status, count in report.counts.items() if count},
    }


async def finish_campaign_chunk(
    chunk: Mapping[str, Any], *, client: PhloClient | None = None, max_pause: float = MAX_PAUSE
) -> dict[str, Any]:
    """Run the chunk until every job of it has its outcome, pausing between
    runs (1 s, doubling up to ``max_pause``) while the services it needs
    cannot be reached; each pause is one warning in the log.

    This is the body of a queue's task: acknowledge the message after it
    returns. It raises only :class:`InvalidParameterError` (a chunk that can
    never run: acknowledge it, the manifest still shows its jobs) and
    cancellation (leave the message for redelivery).
    """
    pause = 1.0
    while True:
        try:
            return await run_campaign_chunk(chunk, client=client)
        except InvalidParameterError:
            raise
        except (ChunkNotFinishedError, JournalError, ConfigurationError) as exc:
            _log.warning("%s; running the chunk again in %.0f s", exc, pause)
        except Exception:  # a bug: keep the chunk (and its jobs) rather than lose it
            _log.exception("chunk %s failed; running it again in %.0f s", _name(chunk), pause)
        await anyio.sleep(pause)
        pause = min(pause * 2, max_pause)


def _name(chunk: Mapping[str, Any]) -> str:
    if isinstance(chunk, Mapping):
        return f"{chunk.get('campaign')!r} #{chunk.get('chunk')!r}"
    return "(malformed)"


async def campaigns(journal: str | os.PathLike[str]) -> list[str]:
    """The ids of the campaigns in a journal, oldest first."""
    return await _in_journal(_location(journal), campaign_ids)


async def campaign_status(
    journal: str | os.PathLike[str], campaign_id: str | None = None
) -> CampaignStatus:
    """Every job of the campaign by its one state, from the journal (reads
    only: safe while workers run). ``campaign_id`` may be left out when the
    journal holds one campaign."""
    location = _location(journal)
    if campaign_id is not None:
        check_campaign_id(campaign_id)

    async def read(sql: Sql) -> CampaignStatus:
        ids = await campaign_ids(sql)
        chosen = campaign_id
        if chosen is None:
            if len(ids) != 1:
                listed = ", ".join(ids) if ids else "none"
                raise InvalidParameterError(
                    "campaign_id", f"journal {location} holds campaigns: {listed}; name one"
                )
            chosen = ids[0]
        elif chosen not in ids:
            raise _unknown_campaign(location, chosen)
        return CampaignStatus(chosen, await state_counts(sql, chosen))

    return await _in_journal(location, read)


assert set(ADVICE) == set(STATES)
