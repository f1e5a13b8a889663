"""The client-side rate limit, and the pause every worker honours after a 429.

A sliding-window log: the start times of the last ``requests`` requests. A
new request may start only when the oldest of them is more than ``per``
seconds old, so no window of ``per`` seconds ever holds more than
``requests`` starts, from the very first request on (no initial burst).

The same object carries the shared pause: when Plivo answers 429, the worker
that got it calls :meth:`RateLimiter.pause` and every worker waits, because
the limit is the account's, not the worker's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from .._exceptions import ConfigurationError

__all__ = ["DEFAULT_RATE_LIMIT", "RateLimit", "RateLimiter"]

#: Extra spacing between a request and the one ``requests`` later: 2% of the
#: window, at most 50 ms (1% of Plivo's 5 s). The server counts arrivals, not
#: starts: without it, a request delayed on its way in (network jitter, a
#: garbage-collector pause of a few ms before the bytes leave) would share the
#: server's window with one started exactly ``per`` seconds after it, and the
#: resulting 429 would pause every worker for a second or more.
_GUARD_SHARE = 0.02
_MAX_GUARD = 0.05


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` requests started in any ``per`` seconds."""

    requests: int
    per: float = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int) or (
            self.requests < 1
        ):
            raise ConfigurationError(
                f"RateLimit requests must be an integer >= 1, not {self.requests!r}"
            )
        per = self.per
        if isinstance(per, bool) or not isinstance(per, (int, float)) or not (
            0 < per < math.inf
        ):
            raise ConfigurationError(f"RateLimit per must be a positive number, not {per!r}")

    @property
    def rate(self) -> float:
        """Requests per second at most."""
        return self.requests / self.per

    def __str__(self) -> str:
        return f"{self.requests} requests per {self.per:g} s"


#: Plivo's documented account limit: 300 requests per 5 seconds.
DEFAULT_RATE_LIMIT = RateLimit(300, per=5.0)


class RateLimiter:
    """Hands out request starts in order (FIFO), within the limit and the pause.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests can
    run it on a fake clock.
    """

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._paused_until = -math.inf
        if limit is not None:
            self._span = limit.per + min(_MAX_GUARD, limit.per * _GUARD_SHARE)
            self._starts: deque[float] = deque(maxlen=limit.requests)

    @property
    def paused_until(self) -> float:
        """Clock time before which no request starts (after a 429)."""
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Hold every request start for ``seconds`` from now (never shortens a pause)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    def try_acquire(self) -> float | None:
        """Take a start slot if one is free now and nobody is waiting, else None.

        The common case of an unthrottled run costs no trip through the event loop.
        """
        if self._lock.locked():
            return None  # others are waiting: join the queue
        now = self._clock()
        if now < self._paused_until:
            return None
        limit = self.limit
        if limit is not None:
            starts = self._starts
            if len(starts) == limit.requests and now < starts[0] + self._span:
                return None
            starts.append(now)
        return now

    async def acquire(self) -> float:
        """Wait for a start slot, take it, and return its clock time.

        Waiters are served in arrival order; a cancelled waiter takes no slot.
        """
        async with self._lock:
            limit = self.limit
            while True:
                now = self._clock()
                wait = self._paused_until - now
                if limit is not None and len(self._starts) == limit.requests:
                    wait = max(wait, self._starts[0] + self._span - now)
                if wait <= 0:
                    break
                await self._sleep(wait)
            if limit is not None:
                self._starts.append(now)  # maxlen drops the oldest
            return now
