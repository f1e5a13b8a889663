"""When a failed attempt may be sent again, and how long to wait first.

The rule that matters: a PHLO run or node action that may have reached Plivo
is never repeated, because repeating it can start a second phone call.

=====================================  =========  ===========================
failure                                GET        POST
=====================================  =========  ===========================
connect error / connect or pool        retried    retried (never left)
timeout / proxy refused
429 Too Many Requests                  retried    retried (not processed)
408, 5xx                               retried    OutcomeUnknownError
read/write timeout, connection lost    retried    OutcomeUnknownError
after sending
any other 4xx                          raised     raised
=====================================  =========  ===========================
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

#: Transport failures that happen before any byte of the request is sent.
NEVER_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
)
#: Failures of the request itself, found before sending: retrying cannot help.
LOCAL_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.LocalProtocolError,
    httpx.UnsupportedProtocol,
)
#: Methods that can be repeated without a second side effect.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how to space the attempts."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    #: Longest ``Retry-After`` honoured; a longer one is waited for this long.
    max_retry_after: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        ceiling = min(self.initial_delay * 2.0 ** (retry_number - 1), self.max_delay)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def rate_limit_delay(self, retry_after: float | None, retry_number: int) -> float:
        """Wait what Plivo asked for (capped), or back off when it did not say."""
        if retry_after is None:
            return self.backoff(retry_number)
        return min(retry_after, self.max_retry_after)


def retryable_status(status_code: int, method: str) -> bool:
    """429 is always safe to retry; 408 and 5xx only for reads."""
    if status_code == 429:
        return True
    return method in IDEMPOTENT_METHODS and (status_code == 408 or status_code >= 500)


def may_have_been_sent(error: httpx.TransportError) -> bool:
    """False only when no byte of the request can have reached the server."""
    return not isinstance(error, NEVER_SENT_ERRORS + LOCAL_ERRORS)


def retryable_error(error: httpx.TransportError, method: str) -> bool:
    """A request that never left can always be sent again; one that may have
    reached Plivo only when repeating it has no side effect."""
    if isinstance(error, LOCAL_ERRORS):
        return False
    return not may_have_been_sent(error) or method in IDEMPOTENT_METHODS


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(seconds, 0.0)
