"""A campaign as chunks of plain data, and the chunk function any queue can run.

A chunk is a JSON-serialisable dict: the PHLO, the journal's location (a
SQLite path, or a ``postgresql://`` URL once that journal exists), the rate
limit's settings (with the Redis URL that shares it across processes) and the
jobs, each with its job id already fixed. Fixed ids are what make a chunk
delivered twice harmless: the journal recognises every job of the second
delivery. The credentials are never in a chunk; a worker reads them from its
own environment, so a task message (which brokers store in clear) holds no token.

:func:`run_campaign_chunk` is the body of the task on any queue (taskiq,
Celery through ``asyncio.run``, arq). Acknowledge its message only after it
returns: by then every job of the chunk has its outcome in the journal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._client import PhloClient
from .._exceptions import ConfigurationError, InvalidParameterError
from .._validation import is_int
from ..bulk import (
    DEFAULT_CONCURRENCY,
    RateLimit,
    RunJob,
    derive_job_id,
    journal_counts,
    run_chunk,
)

__all__ = [
    "CHUNK_VERSION",
    "DEFAULT_CHUNK_SIZE",
    "campaign_chunks",
    "campaign_status",
    "rate_limit_settings",
    "run_campaign_chunk",
]

#: The shape of a chunk message; a worker refuses any other.
CHUNK_VERSION = 1
DEFAULT_CHUNK_SIZE = 100


def rate_limit_settings(rate_limit: RateLimit | None) -> dict[str, Any] | None:
    """The limit as plain data for a chunk (a Redis *URL* only: a connection
    object cannot travel in a message)."""
    if rate_limit is None:
        return None
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


def _job_record(job: RunJob) -> dict[str, Any]:
    if not isinstance(job, RunJob):
        raise InvalidParameterError("jobs", f"a campaign holds RunJobs, not {type(job).__name__}")
    job_id = job.job_id if job.job_id is not None else derive_job_id(job)
    record = {"payload": dict(job.payload), "ref": job.ref, "job_id": job_id}
    try:  # a message is JSON: refuse what it cannot carry before anything is queued
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            "jobs", f"job {job_id[:16]}: payload and ref must be JSON ({exc})"
        ) from None
    return record


def campaign_chunks(
    jobs: Iterable[RunJob],
    *,
    phlo_id: str,
    journal: str | os.PathLike[str],
    rate_limit: RateLimit | None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Iterator[dict[str, Any]]:
    """The campaign's chunks, ``chunk_size`` jobs each, read lazily.

    Every job of a chunk must be for ``phlo_id``. Ids are the jobs' own or
    derived from their content, so submitting the same input again gives the
    same ids, and the journal sends nothing twice. ``ref`` must be JSON.
    """
    if not is_int(chunk_size) or chunk_size < 1:
        raise InvalidParameterError("chunk_size", f"must be a positive integer, not {chunk_size!r}")
    journal_location = os.fspath(journal)
    if not journal_location:
        raise InvalidParameterError("journal", "a campaign needs a journal")
    limit = rate_limit_settings(rate_limit)
    batch: list[dict[str, Any]] = []
    for job in jobs:
        if isinstance(job, RunJob) and job.phlo_id != phlo_id:
            raise InvalidParameterError(
                "jobs", f"a job for PHLO {job.phlo_id!r} in a campaign for {phlo_id!r}"
            )
        batch.append(_job_record(job))
        if len(batch) == chunk_size:
            yield _chunk(phlo_id, journal_location, limit, concurrency, batch)
            batch = []
    if batch:
        yield _chunk(phlo_id, journal_location, limit, concurrency, batch)


def _chunk(
    phlo_id: str,
    journal: str,
    limit: dict[str, Any] | None,
    concurrency: int,
    jobs: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "version": CHUNK_VERSION,
        "phlo_id": phlo_id,
        "journal": journal,
        "rate_limit": limit,
        "concurrency": concurrency,
        "jobs": jobs,
    }


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


_Checked = tuple[str, str, RateLimit | None, int, list[RunJob]]


def _checked_chunk(chunk: Mapping[str, Any]) -> _Checked:
    if not isinstance(chunk, Mapping) or chunk.get("version") != CHUNK_VERSION:
        raise InvalidParameterError("chunk", f"not a version {CHUNK_VERSION} campaign chunk")
    phlo_id, journal = chunk.get("phlo_id"), chunk.get("journal")
    if not isinstance(phlo_id, str) or not isinstance(journal, str) or not journal:
        raise InvalidParameterError("chunk", "a chunk needs a phlo_id and a journal")
    limit = chunk.get("rate_limit")
    try:
        rate_limit = None if limit is None else RateLimit(**limit)
    except (TypeError, ValueError, ConfigurationError) as exc:
        raise InvalidParameterError("chunk", f"unusable rate_limit: {exc}") from None
    concurrency = chunk.get("concurrency", DEFAULT_CONCURRENCY)
    records = chunk.get("jobs")
    if not isinstance(records, list):
        raise InvalidParameterError("chunk", "a chunk's jobs must be a list")
    jobs = []
    for record in records:
        job_id = record.get("job_id") if isinstance(record, Mapping) else None
        if not isinstance(job_id, str) or not job_id:
            # Without its id a redelivered job could not be recognised.
            raise InvalidParameterError("chunk", "every job of a chunk needs its job_id")
        payload = record.get("payload", {})
        if not isinstance(payload, Mapping):
            raise InvalidParameterError("chunk", f"job {job_id[:16]}: payload must be an object")
        jobs.append(RunJob(phlo_id, payload, ref=record.get("ref"), job_id=job_id))
    return phlo_id, journal, rate_limit, concurrency, jobs


async def run_campaign_chunk(
    chunk: Mapping[str, Any], *, client: PhloClient | None = None
) -> dict[str, Any]:
    """Run one chunk through :func:`~plivo_phlo_async.bulk.run_chunk` with
    the campaign's journal and shared limit; return ``{"jobs": n,
    "counts": {status: n}}`` (JSON).

    The client is ``client`` or one built from the worker's environment. A
    malformed chunk raises :class:`InvalidParameterError` before anything is
    sent; a journal that cannot be used raises :class:`JournalError`. Jobs
    already in the journal (a redelivered chunk) are not sent again.
    """
    phlo_id, journal, rate_limit, concurrency, jobs = _checked_chunk(chunk)
    owned = client is None
    active = _client_from_environment() if client is None else client
    try:
        report = await run_chunk(
            active,
            jobs,
            journal=journal,
            phlo_id=phlo_id,
            concurrency=concurrency,
            rate_limit=rate_limit,
        )
    finally:
        if owned:
            await active.aclose()
    return {
        "jobs": len(jobs),
        "counts": {str(status): count for status, count in report.counts.items() if count},
    }


async def campaign_status(journal: str | os.PathLike[str]) -> dict[str, int]:
    """The campaign's jobs counted by their status in the journal
    (``succeeded``, ``failed``, ``outcome_unknown``, ``in_flight``...)."""
    return await journal_counts(os.fspath(journal))
