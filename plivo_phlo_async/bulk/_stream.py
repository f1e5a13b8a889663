"""The caller's view of a bulk run's outcome stream."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from ._report import BulkReport, Outcome

__all__ = ["OutcomeStream"]


class OutcomeStream:
    """Counts each outcome in the report and passes it to ``on_outcome``
    before handing it over."""

    def __init__(
        self,
        receive: MemoryObjectReceiveStream[Outcome],
        report: BulkReport,
        on_outcome: Callable[[Outcome], Any] | None,
        started: float,
    ) -> None:
        self._receive = receive
        self._report = report
        self._callback = on_outcome
        self._started = started
        self.exhausted = False

    def __aiter__(self) -> OutcomeStream:
        return self

    async def __anext__(self) -> Outcome:
        try:
            try:
                outcome = self._receive.receive_nowait()
            except anyio.WouldBlock:
                outcome = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self.exhausted = True
            raise StopAsyncIteration from None
        report = self._report
        report.add(outcome)
        report.wall_time = time.perf_counter() - self._started
        callback = self._callback
        if callback is not None:
            try:
                result = callback(outcome)
                if inspect.isawaitable(result):
                    await result
            except BaseException:
                self._callback = None  # a broken callback is not called again
                raise
        return outcome

    async def drain(self) -> Exception | None:
        """Consume what is left (after a graceful stop); return the first
        error ``on_outcome`` raised meanwhile, if any."""
        first: Exception | None = None
        while True:
            try:
                await self.__anext__()
            except StopAsyncIteration:
                return first
            except Exception as exc:  # the callback's: it is not called again
                first = first or exc
