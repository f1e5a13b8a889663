"""Wait for something to have happened, not for a while.

A test that must act once a request is in flight, a lease has expired or a
task is waiting polls for that very condition, often, with a deadline that
only catches a hang: it goes on as soon as the event has happened (never
later, as a fixed sleep long enough for a loaded machine would) and never
before it (as a sleep too short for one would).

The waits are the real ``anyio.sleep`` and ``time.sleep``, so the fixtures
that record the SDK's own waits instead of sleeping them (``sleeps``,
``backoffs``, ``retry_waits``) do not touch them.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import anyio

#: Long enough for any event these tests wait for on a loaded machine; reached
#: only when the event never happens.
TIMEOUT = 10.0
#: How often the condition is checked (the event loop runs in between).
INTERVAL = 0.001


async def wait_until(
    condition: Callable[[], object],
    *,
    what: str = "",
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
) -> None:
    """Return once ``condition()`` is true; AssertionError after ``timeout`` seconds.

    ``condition`` may be async (a look at Redis or a journal): it is awaited.
    A condition that is costly to check is given a longer ``interval``. Under
    asyncio or trio; the event loop is free between two checks.
    """
    deadline = time.monotonic() + timeout
    while not await _holds(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await anyio.sleep(interval)


async def _holds(condition: Callable[[], object]) -> object:
    result = condition()
    return await result if inspect.isawaitable(result) else result


def wait_until_sync(
    condition: Callable[[], object],
    *,
    what: str = "",
    timeout: float = TIMEOUT,
    interval: float = INTERVAL,
) -> None:
    """:func:`wait_until` for a test without an event loop (or one that must hold it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(interval)


def emulator_idle(server: Any) -> bool:
    """Whether a running emulator (an ``EmulatorServer``) has no connection
    open and no request in hand: everything sent to it (by a client since
    killed, say) has been read, recorded and answered.

    uvicorn's own bookkeeping (``server_state``): a connection leaves it once
    its socket is closed and read to the end, a request once the emulator has
    answered it (or given up on it).
    """
    state = server._server.server_state
    return not state.connections and not state.tasks
