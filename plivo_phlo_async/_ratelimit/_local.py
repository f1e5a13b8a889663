"""The in-process limiter: one sliding-window log shared by every task.

A new request may start only when fewer than ``requests`` requests started
in the last ``per`` seconds (fewer than ``bulk_share_requests`` for a bulk
request), so no window ever holds more than ``requests`` starts, from the
very first request on (no initial burst); and, past ``burst`` starts at
once, only ``per / requests`` seconds per start after the last ``burst``.

The same object carries the shared pause: after a 429, :meth:`pause` holds
every start, because the limit is the account's, not the task's.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from ._limit import RateLimit

__all__ = ["LocalLimiter", "guarded_span"]

#: Extra spacing between a request and the one ``requests`` later: 2% of the
#: window, at most 50 ms (1% of Plivo's 5 s). The server counts arrivals, not
#: starts: without it, a request delayed on its way in (network jitter, a
#: garbage-collector pause of a few ms before the bytes leave) would share the
#: server's window with one started exactly ``per`` seconds after it, and the
#: resulting 429 would pause every worker for a second or more.
_GUARD_SHARE = 0.02
_MAX_GUARD = 0.05


def guarded_span(limit: RateLimit, max_guard: float = _MAX_GUARD) -> float:
    """How long a start counts against the limit: the window plus the guard."""
    return limit.per + min(max_guard, limit.per * _GUARD_SHARE)


class LocalLimiter:
    """Hands out request starts in order (FIFO per kind), within the limit and the pause.

    Bulk and single requests queue apart, so a single request never waits
    behind bulk requests held back by ``bulk_share``. ``clock`` (monotonic
    seconds) and ``sleep`` are injectable so tests can run it on a fake clock.
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
        self._locks = {False: anyio.Lock(), True: anyio.Lock()}
        self._paused_until = -math.inf
        self._starts: deque[float] = deque()
        if limit is not None:
            self._span = guarded_span(limit)
            self._caps = {False: limit.requests, True: limit.bulk_share_requests}
            self._burst = limit.burst_requests
            # At most ``burst`` starts in any ``burst`` intervals of the average pace.
            self._burst_span = self._span * self._burst / limit.requests

    @property
    def paused_until(self) -> float:
        """Clock time before which no request starts (after a 429)."""
        return self._paused_until

    async def pause(self, seconds: float) -> None:
        """Hold every request start for ``seconds`` from now (never shortens a pause)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    def _wait(self, now: float, bulk: bool) -> float:
        """Seconds until a start of this kind may be taken (<= 0: now)."""
        wait = self._paused_until - now
        if self.limit is not None:
            starts = self._starts
            span = self._span
            while starts and starts[0] + span <= now:
                starts.popleft()
            cap = self._caps[bulk]
            count = len(starts)
            if count >= cap:
                wait = max(wait, starts[count - cap] + span - now)
            if count >= self._burst:
                wait = max(wait, starts[count - self._burst] + self._burst_span - now)
        return wait

    def try_acquire(self, *, bulk: bool = False) -> float | None:
        """Take a start slot if one is free now and nobody is waiting, else None.

        The common case of an unthrottled run costs no trip through the event loop.
        """
        if self._locks[bulk].locked():
            return None  # others are waiting: join the queue
        now = self._clock()
        if self._wait(now, bulk) > 0:
            return None
        if self.limit is not None:
            self._starts.append(now)
        return now

    async def acquire(self, *, bulk: bool = False) -> float:
        """Wait for a start slot, take it, and return its clock time.

        Waiters of one kind are served in arrival order; a cancelled waiter
        takes no slot.
        """
        async with self._locks[bulk]:
            while True:
                now = self._clock()
                wait = self._wait(now, bulk)
                if wait <= 0:
                    break
                await self._sleep(wait)
            if self.limit is not None:
                self._starts.append(now)
            return now

    async def aclose(self) -> None:
        """Nothing to release (the interface's, for limiters that hold a connection)."""
