"""``RateLimit``: what a limit is (its numbers, where it is kept), and the
error raised when the place it is kept cannot be used."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError, PlivoError
from .._validation import is_int, is_number

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_RATE_LIMIT", "MISSING_REDIS", "RateLimit", "RateLimiterUnavailableError"]

MISSING_REDIS = (
    'a RateLimit shared through Redis needs redis-py: pip install "plivo-phlo-async[redis]"'
)
_REDIS_SCHEMES = ("redis", "rediss", "unix")


class RateLimiterUnavailableError(PlivoError):
    """The shared rate limit (in Redis) could not be consulted, so nothing was sent.

    Fail closed: a request never goes out without the limit the caller asked
    for. The request (or bulk job) was not sent and may be sent again later.
    """


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` requests started in any ``per`` seconds.

    ``redis`` (a ``redis://`` URL or a ``redis.asyncio.Redis`` client) keeps
    the limit in Redis, keyed by the account's auth id (after ``key_prefix``),
    so every process and machine using that account shares one limit, on
    Redis's clock. ``bulk_share`` is the part of the limit bulk runners may
    take together: a bulk request starts only while fewer than
    ``bulk_share_requests`` requests (of any kind) started in the window, a
    single request while fewer than ``requests`` did, so the last
    ``requests - bulk_share_requests`` of every window are left to
    interactive traffic.

    ``burst`` is the most requests started at once: beyond it, starts are
    spaced as the limit allows on average (``per / requests`` apart), so a
    window's requests do not all reach Plivo together, where queueing and
    jitter between processes would make some look late and the next window's
    early (429s). None: the whole window at once (``requests``) for an
    in-process limit, a tenth of it (at least 1) for a shared one.
    """

    requests: int
    per: float = 5.0
    redis: str | Redis | None = field(default=None, repr=False)
    bulk_share: float = 1.0
    key_prefix: str = ""
    burst: int | None = None

    def __post_init__(self) -> None:
        if not is_int(self.requests) or self.requests < 1:
            raise ConfigurationError(
                f"RateLimit requests must be an integer >= 1, not {self.requests!r}"
            )
        per = self.per
        if not is_number(per) or not 0 < per < math.inf:
            raise ConfigurationError(f"RateLimit per must be a positive number, not {per!r}")
        share = self.bulk_share
        if not is_number(share) or not 0 < share <= 1:
            raise ConfigurationError(
                f"RateLimit bulk_share must be a number in (0, 1], not {share!r}"
            )
        if math.floor(self.requests * share) < 1:
            raise ConfigurationError(
                f"RateLimit bulk_share {share!r} of {self.requests} requests leaves bulk "
                "runners no request at all"
            )
        burst = self.burst
        if burst is not None and (not is_int(burst) or not 1 <= burst <= self.requests):
            raise ConfigurationError(
                f"RateLimit burst must be an integer from 1 to requests ({self.requests}) "
                f"or None, not {burst!r}"
            )
        if not isinstance(self.key_prefix, str):
            raise ConfigurationError("RateLimit key_prefix must be a string")
        _check_redis(self.redis)

    @property
    def rate(self) -> float:
        """Requests per second at most."""
        return self.requests / self.per

    @property
    def bulk_share_requests(self) -> int:
        """The most requests bulk runners start together in any window."""
        return math.floor(self.requests * self.bulk_share)

    @property
    def burst_requests(self) -> int:
        """The most requests started at once (``burst``, resolved)."""
        if self.burst is not None:
            return self.burst
        return max(1, self.requests // 10) if self.redis is not None else self.requests

    @property
    def shared(self) -> bool:
        """Whether the limit is kept in Redis (shared by every process)."""
        return self.redis is not None

    def __str__(self) -> str:
        text = f"{self.requests} requests per {self.per:g} s"
        if self.bulk_share < 1:
            text += f" ({self.bulk_share_requests} for bulk)"
        if self.redis is not None:
            text += f", shared through {redacted_redis(self.redis)}"
        return text


def _check_redis(redis: object) -> None:
    """A Redis URL of a known scheme, or a client; redis-py must be installed."""
    if redis is None:
        return
    if isinstance(redis, str):
        try:
            scheme = urlsplit(redis).scheme
        except ValueError:
            scheme = ""
        if scheme not in _REDIS_SCHEMES:
            raise ConfigurationError(
                f"RateLimit redis must be a redis://, rediss:// or unix:// URL, not "
                f"{redacted_redis(redis)!r}",
                field="redis",
            )
        if importlib.util.find_spec("redis") is None:
            raise ConfigurationError(MISSING_REDIS, field="redis")
        return
    if type(redis).__module__.startswith("redis."):
        return  # a redis.asyncio.Redis (redis-py is imported, since it exists)
    raise ConfigurationError(
        f"RateLimit redis must be a URL or a redis.asyncio.Redis client, not "
        f"{type(redis).__name__}",
        field="redis",
    )


def redacted_redis(redis: object) -> str:
    """A Redis URL without its password (or a client's type), for messages."""
    if not isinstance(redis, str):
        return f"a {type(redis).__name__} client"
    try:
        parts = urlsplit(redis)
        netloc = parts.netloc
    except ValueError:
        return "an invalid URL"
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc).geturl()


#: Plivo's documented account limit: 300 requests per 5 seconds.
DEFAULT_RATE_LIMIT = RateLimit(300, per=5.0)
