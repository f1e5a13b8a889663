"""Helpers for the rate limiter's tests: a fake clock."""

from __future__ import annotations

import anyio.lowlevel


class FakeClock:
    """Monotonic time that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()
