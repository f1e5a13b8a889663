"""A bulk run's state: its :class:`Phase` (new, running, finished) and the
:class:`Stop` that says why it stops (the caller's ``stop()``, or the runner's
own halt). Every change goes through :class:`RunState`, which refuses the
ones that cannot happen, so the rules are in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import anyio

from .._exceptions import PlivoError
from ._report import BulkReport, Outcome

__all__ = ["STOPPED", "Phase", "RunState", "Stop"]

#: The reason jobs are skipped with after ``stop()``.
STOPPED = "stopped"


class Phase(Enum):
    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"


#: The one phase each phase may move on to.
_NEXT = {Phase.NEW: Phase.RUNNING, Phase.RUNNING: Phase.FINISHED}


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run stops: no job starts any more, and each one not started is
    skipped with ``reason``. ``drain``: the rest of the input is still read,
    so that every job gets its skipped outcome; only a halt drains (its error
    is the report's ``stopped_by``), and a ``stop()`` during the drain ends it.
    """

    reason: str = STOPPED
    drain: bool = False


class RunState:
    """One run's :class:`Phase`, its :class:`Stop` (None while it goes on),
    the waits a stop interrupts, and the jobs skipped because it stopped.

    What a stop changes in ``report`` is done here too: ``stopped_early``,
    and ``stopped_by``/``stop_reason`` for a halt.
    """

    __slots__ = ("phase", "report", "skips", "stop", "waiting")

    def __init__(self, report: BulkReport) -> None:
        self.report = report
        self.phase = Phase.NEW
        self.stop: Stop | None = None
        #: The waits under way; a stop cancels them.
        self.waiting: set[anyio.CancelScope] = set()
        #: Jobs skipped because the run stopped.
        self.skips = 0

    @property
    def stopping(self) -> bool:
        return self.stop is not None

    @property
    def reading(self) -> bool:
        """Whether the input is still read: not stopping, or draining."""
        return self.stop is None or self.stop.drain

    @property
    def skip_reason(self) -> str:
        """The reason a job skipped because the run stops is given."""
        return STOPPED if self.stop is None else self.stop.reason

    def advance(self, phase: Phase) -> None:
        """Move on to ``phase``; RuntimeError when the run cannot (it runs once)."""
        if _NEXT.get(self.phase) is not phase:
            if phase is Phase.RUNNING:
                raise RuntimeError("a BulkRunner runs once; create another with client.bulk()")
            raise RuntimeError(f"a bulk run cannot go from {self.phase.value} to {phase.value}")
        self.phase = phase

    def stopped(self) -> None:
        """The caller's ``stop()`` (or the journal failing): ends a drain."""
        stop = self.stop
        if stop is None:
            self._stop(Stop())
        elif stop.drain:
            self.stop = dataclasses.replace(stop, drain=False)

    def halted(self, error: PlivoError, reason: str) -> None:
        """The runner stops itself because of ``error``, and drains the input.
        The first stop wins: a run already stopping keeps its reason."""
        if self.stop is not None:
            return
        if self.phase is not Phase.RUNNING:
            raise RuntimeError(f"a bulk run cannot halt while {self.phase.value}")
        self.report.stopped_by = error
        self.report.stop_reason = reason
        self._stop(Stop(reason, drain=True))

    def _stop(self, stop: Stop) -> None:
        """The run's first stop: start no new request; interrupt every wait."""
        self.stop = stop
        if self.phase is not Phase.FINISHED:
            self.report.stopped_early = True
        for scope in list(self.waiting):
            scope.cancel()

    async def wait(self, wait: Callable[[], Awaitable[Any]]) -> bool:
        """Run a wait that a stop interrupts; False when stopping."""
        if self.stop is not None:
            return False
        with anyio.CancelScope() as scope:
            self.waiting.add(scope)
            try:
                await wait()
            finally:
                self.waiting.discard(scope)
        return self.stop is None

    def skipped(self, outcome: Outcome) -> Outcome:
        """Count a job skipped because the run stopped."""
        self.skips += 1
        return outcome
