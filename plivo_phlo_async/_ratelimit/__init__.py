"""Rate limits: in-process, or shared through Redis by every process on an account.

Both limiters have the same small interface (:class:`Limiter`), used by the
client before every request and by the bulk runner before every attempt.
``redis`` is imported only when a limit shared through Redis is used.
"""

from __future__ import annotations

from typing import Protocol

from ._limit import (
    DEFAULT_RATE_LIMIT,
    MISSING_REDIS,
    RateLimit,
    RateLimiterUnavailableError,
    redacted_redis,
)
from ._local import LocalLimiter

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "MISSING_REDIS",
    "Limiter",
    "LocalLimiter",
    "RateLimit",
    "RateLimiterUnavailableError",
    "check_redis",
    "make_limiter",
    "redacted_redis",
]


class Limiter(Protocol):
    """What the client and the bulk runner need from a limiter."""

    @property
    def limit(self) -> RateLimit | None: ...

    def try_acquire(self, *, bulk: bool = False) -> float | None:
        """A start slot now without waiting, or None (then call :meth:`acquire`)."""

    async def acquire(self, *, bulk: bool = False) -> float:
        """Wait for a start slot and take it; a bulk start leaves interactive room."""

    async def pause(self, seconds: float) -> None:
        """After a 429: hold every start sharing this limit for ``seconds``."""

    async def aclose(self) -> None:
        """Release any connection the limiter opened."""


def make_limiter(limit: RateLimit | None, auth_id: str) -> Limiter:
    """The limiter for ``limit`` on the account ``auth_id``: in Redis when it says so."""
    if limit is not None and limit.redis is not None:
        from ._redis import RedisLimiter

        return RedisLimiter(limit, auth_id)
    return LocalLimiter(limit)


async def check_redis(limit: RateLimit, auth_id: str) -> None:
    """Raise :class:`RateLimiterUnavailableError` unless the Redis holding
    ``limit`` answers: a command checks before it sends anything."""
    from ._redis import RedisLimiter

    limiter = RedisLimiter(limit, auth_id)
    try:
        await limiter.check()
    finally:
        await limiter.aclose()
