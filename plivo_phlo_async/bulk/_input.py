"""The caller's jobs, read one at a time whether they come sync or async, and
closed if the run does not read them to the end (a suspended generator holds
an open file or cursor until the garbage collector finds it).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import anyio

__all__ = ["JobInput"]

#: How long an async generator's cleanup may take when the run stops early.
CLOSE_TIMEOUT = 5.0


class JobInput:
    """One job at a time from ``jobs``; :meth:`next` raises ``StopAsyncIteration`` at the end."""

    def __init__(self, jobs: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._jobs = jobs
        self._async: AsyncIterator[Any] | None = None
        self._sync: Iterator[Any] | None = None
        self.exhausted = False

    async def next(self) -> Any:
        """The next job; errors of the source (``iter()`` included) propagate."""
        jobs = self._jobs
        try:
            if isinstance(jobs, AsyncIterable):
                if self._async is None:
                    self._async = jobs.__aiter__()
                return await self._async.__anext__()
            if self._sync is None:
                self._sync = iter(jobs)
            try:
                return next(self._sync)
            except StopIteration:
                raise StopAsyncIteration from None
        except StopAsyncIteration:
            self.exhausted = True
            raise

    async def close(self) -> None:
        """Close a generator the run did not read to its end (the caller's own
        iterables are left alone: they may be read again)."""
        if self.exhausted:
            return
        if self._async is not None:
            aclose = getattr(self._async, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
                    await aclose()
        elif inspect.isgenerator(self._jobs):
            self._jobs.close()
