"""A timeout around one awaitable that never swallows a cancellation.

``asyncio.wait_for`` (3.10, 3.11) returns the result when the inner
awaitable finishes in the same loop iteration as the caller is cancelled:
the cancellation is lost and the caller goes on to send a request it was
told to abandon. Here the awaitable runs as a task that a timer cancels; a
cancellation of the caller always propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["within"]

T = TypeVar("T")


async def within(work: Coroutine[Any, Any, T] | asyncio.Future[T], timeout: float | None) -> T:
    """Await ``work``; raise ``TimeoutError`` if it takes longer than ``timeout`` seconds."""
    if timeout is None:
        return await work
    task = asyncio.ensure_future(work)
    expired = False

    def expire() -> None:
        nonlocal expired
        if not task.done():
            expired = True
            task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        cancelling = getattr(current, "cancelling", None)
        if expired and not (cancelling is not None and cancelling()):
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
