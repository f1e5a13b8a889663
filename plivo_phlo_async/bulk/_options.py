"""One bulk run's settings, checked once: ``client.bulk(...)``, ``BulkRunner(...)``
and ``run_chunk(...)`` take the same keywords and build one :class:`RunOptions`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .._exceptions import ConfigurationError
from .._ratelimit import DEFAULT_RATE_LIMIT, RateLimit
from .._validation import is_int, is_number, validate_path_id
from ._breaker import DEFAULT_CIRCUIT_BREAKER, CircuitBreaker
from ._journal import DEFAULT_LEASE
from ._report import Outcome

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "OutcomeCallback", "RunOptions"]

DEFAULT_CONCURRENCY = 64
#: The most requests a runner keeps in flight: far above what Plivo's account
#: limit lets through, low enough that a typo cannot exhaust the host.
MAX_CONCURRENCY = 10_000

OutcomeCallback = Callable[[Outcome], Any]


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The keywords of ``client.bulk``, ``BulkRunner`` and ``run_chunk``.

    ``max_retries`` None means the client's; the runner resolves it (and a
    default ``rate_limit``) against its client. Raises
    :class:`ConfigurationError` for a setting that cannot work.
    """

    phlo_id: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT
    journal: str | os.PathLike[str] | None = None
    max_retries: int | None = None
    on_outcome: OutcomeCallback | None = None
    retry_failed: bool = False
    circuit_breaker: CircuitBreaker = DEFAULT_CIRCUIT_BREAKER
    lease: float = DEFAULT_LEASE

    @classmethod
    def of(cls, keywords: Mapping[str, Any]) -> RunOptions:
        """The options among an entry point's ``locals()`` (one list of names, here)."""
        return cls(**{spec.name: keywords[spec.name] for spec in fields(cls)})

    def __post_init__(self) -> None:
        if self.phlo_id is not None:
            validate_path_id("phlo_id", self.phlo_id)
        concurrency = self.concurrency
        if not is_int(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, not {concurrency!r}",
                field="concurrency",
            )
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise ConfigurationError("rate_limit must be a RateLimit or None")
        retries = self.max_retries
        if retries is not None and (not is_int(retries) or retries < 0):
            raise ConfigurationError(f"max_retries must be an integer >= 0, not {retries!r}")
        if self.on_outcome is not None and not callable(self.on_outcome):
            raise ConfigurationError("on_outcome must be callable")
        if not isinstance(self.circuit_breaker, CircuitBreaker):
            raise ConfigurationError(
                "circuit_breaker must be a CircuitBreaker", field="circuit_breaker"
            )
        lease = self.lease
        if not is_number(lease) or not 0 < lease < 86_400:
            raise ConfigurationError(
                f"lease must be seconds in (0, 86400), not {lease!r}", field="lease"
            )
        if self.journal is not None and not isinstance(self.journal, (str, os.PathLike)):
            raise ConfigurationError(
                "journal must be a path or a postgresql:// URL", field="journal"
            )
