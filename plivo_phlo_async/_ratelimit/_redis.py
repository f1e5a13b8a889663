"""The limiter shared through Redis: one sliding-window log per account.

Why a sliding-window log and not GCRA: Plivo (and the emulator) count the
requests that arrived in the last 5 seconds. GCRA with a burst of ``N``
admits up to about ``2N`` requests in one such window (a full burst, then
the steady rate); GCRA without a burst is a steady pace that never uses the
window's burst. The log (a sorted set of the start times of the last
``requests`` starts, at most ``requests`` members) is the server's rule
itself: a start is admitted only while fewer than the cap started in the
last ``per`` seconds, exactly as the in-process limiter does.

Every decision is one Lua script run atomically in Redis and timed by
Redis's ``TIME``: hosts' clocks never meet. The pause after a 429 is a
"paused until" value (Redis microseconds) that the same script checks, so
it holds every process sharing the key; a restarted process finds the log
where the last one left it and does not burst.

Fail closed: any Redis failure raises :class:`RateLimiterUnavailableError`
before the request is sent.
"""

from __future__ import annotations

import itertools
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from .._exceptions import ConfigurationError
from ._limit import MISSING_REDIS, RateLimit, RateLimiterUnavailableError, redacted_redis
from ._local import guarded_span

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisLimiter", "limit_key"]

logger = logging.getLogger("plivo_phlo_async")

#: Seconds a Redis command may take before the limit counts as unavailable.
REDIS_TIMEOUT = 5.0
#: The guard between a start and the one ``requests`` later (see ``_local``),
#: at most 100 ms here (2% of Plivo's 5 s) instead of 50: a start is timed when
#: Redis decides it, and the reply still has to reach a busy event loop before
#: the request leaves, in each of several processes. Measured with two processes
#: on a loaded 2-core machine: 50 ms let about 0.7% of requests be answered 429,
#: 100 ms about 0.3% (benchmarks/shared_limit.py).
SHARED_MAX_GUARD = 0.1

# KEYS: the log (sorted set), the pause key. ARGV: the cap for this kind of
# request, this start's unique member, the span (µs), the burst, and the span
# in which at most ``burst`` may start (µs). Returns 0 when the start was
# taken, else the microseconds to wait before asking again.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end  -- Redis < 5: TIME, then writes
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cap = tonumber(ARGV[1])
local span = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return paused - now
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local count = redis.call('ZCARD', KEYS[1])
if count < cap and count >= burst then
  local paced = redis.call('ZRANGE', KEYS[1], -burst, -burst, 'WITHSCORES')
  local wait = tonumber(paced[2]) + tonumber(ARGV[5]) - now
  if wait > 0 then
    return wait
  end
end
if count < cap then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(span / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], count - cap, count - cap, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + span - now)
"""

# KEYS: the pause key. ARGV: the pause (µs). Never shortens a pause.
_PAUSE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + pause > current then
  redis.call('SET', KEYS[1], now + pause, 'PX', math.ceil(pause / 1000) + 1000)
end
return pause
"""


def limit_key(limit: RateLimit, auth_id: str) -> str:
    """The account's key: the hash tag keeps both keys in one Redis Cluster slot."""
    return f"{limit.key_prefix}plivo-phlo:rate-limit:{{{auth_id}}}"


class RedisLimiter:
    """The :class:`RateLimit` of one account, kept in Redis (see the module).

    Tasks of one process queue in-process first (FIFO per kind), so only one
    of them at a time asks Redis; processes compete in Redis.
    """

    def __init__(
        self,
        limit: RateLimit,
        auth_id: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if limit.redis is None:
            raise ConfigurationError("RedisLimiter needs a RateLimit with redis=")
        try:
            import redis.asyncio  # noqa: F401 - fail here, before anything is sent
        except ImportError as exc:
            raise ConfigurationError(MISSING_REDIS, field="redis") from exc
        self.limit = limit
        self.key = limit_key(limit, auth_id)
        self._keys = [f"{self.key}:starts", f"{self.key}:paused"]
        self._span_us = math.ceil(guarded_span(limit, SHARED_MAX_GUARD) * 1_000_000)
        self._caps = {False: limit.requests, True: limit.bulk_share_requests}
        burst = limit.burst_requests
        self._pace = (self._span_us, burst, math.ceil(self._span_us * burst / limit.requests))
        self._locks = {False: anyio.Lock(), True: anyio.Lock()}
        self._sleep = sleep
        self._member = uuid.uuid4().hex
        self._sequence = itertools.count()
        self._redis: Redis | None = None
        self._scripts: tuple[AsyncScript, AsyncScript] | None = None
        self._owns_redis = isinstance(limit.redis, str)
        self._where = redacted_redis(limit.redis)

    def _client(self) -> tuple[AsyncScript, AsyncScript]:
        """The scripts, on a client made on first use (in the running event loop)."""
        if self._scripts is None:
            from redis.asyncio import Redis

            target = self.limit.redis
            if isinstance(target, str):
                self._redis = Redis.from_url(
                    target, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
                )
            else:
                assert target is not None
                self._redis = target
            self._scripts = (
                self._redis.register_script(_ACQUIRE),
                self._redis.register_script(_PAUSE),
            )
        return self._scripts

    async def _run(self, script_index: int, keys: list[str], args: list[Any]) -> int:
        try:
            script = self._client()[script_index]
            result = await script(keys=keys, args=args)
        except Exception as exc:  # redis-py's errors, OSError, a bad URL...
            raise RateLimiterUnavailableError(
                f"the shared rate limit in Redis ({self._where}) cannot be used: "
                f"{type(exc).__name__}: {exc}; nothing was sent"
            ) from exc
        return int(result)

    async def try_once(self, *, bulk: bool = False) -> float:
        """Take a start now if the shared limit allows it: 0.0, else the seconds
        to wait before asking again. One round trip to Redis."""
        member = f"{self._member}:{next(self._sequence)}"
        wait_us = await self._run(0, self._keys[:2], [self._caps[bulk], member, *self._pace])
        return wait_us / 1_000_000

    def try_acquire(self, *, bulk: bool = False) -> float | None:
        """Always None: every start is a round trip to Redis (see :meth:`acquire`)."""
        return None

    async def acquire(self, *, bulk: bool = False) -> float:
        """Wait for a start slot in the shared limit, take it, return the local clock."""
        async with self._locks[bulk]:
            while True:
                wait = await self.try_once(bulk=bulk)
                if wait <= 0:
                    return anyio.current_time()
                await self._sleep(wait)

    async def pause(self, seconds: float) -> None:
        """Hold every start of every process on this key for ``seconds`` (Redis's clock).

        A failure is logged, not raised: the 429 that caused the pause stays
        the error the caller sees, and the next :meth:`acquire` fails closed.
        """
        pause_us = math.ceil(max(seconds, 0.0) * 1_000_000)
        try:
            await self._run(1, self._keys[1:], [pause_us])
        except RateLimiterUnavailableError as exc:
            logger.warning("could not share a %.2f s pause after a 429: %s", seconds, exc)

    async def check(self) -> None:
        """Raise :class:`RateLimiterUnavailableError` unless Redis answers."""
        try:
            self._client()
            assert self._redis is not None
            await self._redis.ping()
        except Exception as exc:
            raise RateLimiterUnavailableError(
                f"the shared rate limit in Redis ({self._where}) cannot be used: "
                f"{type(exc).__name__}: {exc}; nothing was sent"
            ) from exc

    async def aclose(self) -> None:
        """Close the connection this limiter opened (a client passed in is left open)."""
        redis, self._redis, self._scripts = self._redis, None, None
        if redis is not None and self._owns_redis:
            await redis.aclose()
