"""A bulk run's state: where it is in its life, and why it stops.

A run is :attr:`Phase.NEW`, then :attr:`Phase.RUNNING` once ``stream()``
starts it, then :attr:`Phase.FINISHED`; independently of that, it may stop,
and a :class:`Stop` says why: the caller's ``stop()`` (or the journal
failing), or the runner's own halt (401/403, a 404 for the PHLO, the
client's set-up, the rate limiter or the circuit breaker giving up). Every
change goes through :class:`RunState`, which refuses the ones that cannot
happen, so the rules are in one place (as h11's ``_state.py`` keeps its
connection's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from .._exceptions import PlivoError

__all__ = ["STOPPED", "Phase", "RunState", "Stop"]

#: The reason jobs are skipped with after ``stop()``.
STOPPED = "stopped"


class Phase(Enum):
    NEW = "new"
    RUNNING = "running"
    FINISHED = "finished"


#: The phase each phase may move to.
_NEXT = {Phase.NEW: Phase.RUNNING, Phase.RUNNING: Phase.FINISHED}


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a run stops: no job starts any more, and each one not started is
    skipped with ``reason``.

    ``error`` is what stopped it when the runner stopped itself (None: the
    caller did). ``drain``: the rest of the input is still read, so that
    every job gets its skipped outcome; only a halt drains, and a ``stop()``
    during the drain ends it.
    """

    reason: str = STOPPED
    error: PlivoError | None = None
    drain: bool = False


class RunState:
    """One run's :class:`Phase` and its :class:`Stop` (None while it goes on)."""

    __slots__ = ("phase", "stop")

    def __init__(self) -> None:
        self.phase = Phase.NEW
        self.stop: Stop | None = None

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

    def stopped(self) -> bool:
        """``stop()``: end any drain; True when this is the run's first stop."""
        stop = self.stop
        if stop is None:
            self.stop = Stop()
            return True
        if stop.drain:
            self.stop = dataclasses.replace(stop, drain=False)
        return False

    def halted(self, error: PlivoError, reason: str) -> bool:
        """The runner stops itself because of ``error`` and drains the input;
        True when this is the run's first stop (the first reason wins)."""
        if self.stop is not None:
            return False
        if self.phase is not Phase.RUNNING:
            raise RuntimeError(f"a bulk run cannot halt while {self.phase.value}")
        self.stop = Stop(reason, error, drain=True)
        return True
