"""The run's state machine (bulk/_state.py): phases in one order, the first stop wins,
a stop() ends a halt's drain, and the three entry points agree on the defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from plivo_phlo_async import PhloClient, PlivoError
from plivo_phlo_async.bulk import BulkReport, BulkRunner, run_chunk
from plivo_phlo_async.bulk._options import RunOptions
from plivo_phlo_async.bulk._state import STOPPED, Phase, RunState

ERROR = PlivoError("what stopped the run")


def test_phases_go_one_way_and_a_run_starts_once() -> None:
    state = RunState(BulkReport())
    with pytest.raises(RuntimeError, match="from new to finished"):
        state.advance(Phase.FINISHED)
    state.advance(Phase.RUNNING)
    with pytest.raises(RuntimeError, match="runs once"):
        state.advance(Phase.RUNNING)
    state.advance(Phase.FINISHED)
    with pytest.raises(RuntimeError, match="runs once"):
        state.advance(Phase.RUNNING)


def test_a_halt_drains_and_a_later_stop_ends_the_drain_keeping_the_reason() -> None:
    report = BulkReport()
    state = RunState(report)
    state.advance(Phase.RUNNING)

    state.halted(ERROR, "stopped: authentication failed (401)")
    assert (state.stopping, state.reading) == (True, True)
    assert (report.stopped_by, report.stop_reason) == (ERROR, state.skip_reason)
    assert report.stopped_early

    state.halted(ERROR, "stopped: another reason")  # the first reason wins
    state.stopped()
    assert (state.stopping, state.reading) == (True, False)
    assert state.skip_reason == "stopped: authentication failed (401)"


def test_a_stop_first_keeps_its_reason_and_a_halt_then_changes_nothing() -> None:
    report = BulkReport()
    state = RunState(report)
    state.advance(Phase.RUNNING)

    state.stopped()
    state.halted(ERROR, "stopped: authentication failed (401)")

    assert (state.skip_reason, state.reading) == (STOPPED, False)
    assert report.stopped_by is None


def test_a_halt_outside_a_run_is_refused() -> None:
    with pytest.raises(RuntimeError, match="cannot halt while new"):
        RunState(BulkReport()).halted(ERROR, "stopped")


def test_a_stop_after_the_run_leaves_the_report_alone() -> None:
    report = BulkReport()
    state = RunState(report)
    state.advance(Phase.RUNNING)
    state.advance(Phase.FINISHED)

    state.stopped()

    assert state.stopping
    assert not report.stopped_early


@pytest.mark.parametrize("entry", [PhloClient.bulk, BulkRunner.__init__, run_chunk])
def test_every_entry_point_has_the_run_options_defaults(entry: Callable[..., Any]) -> None:
    """``client.bulk`` writes its defaults as literals (it imports bulk lazily)."""
    parameters = inspect.signature(entry).parameters
    for name, field in RunOptions.__dataclass_fields__.items():
        default = parameters[name].default
        if entry is PhloClient.bulk and name == "circuit_breaker":
            assert default is None  # None: the default CircuitBreaker()
        elif entry is run_chunk and name == "journal":
            assert default is inspect.Parameter.empty  # a chunk needs its journal
        else:
            assert default == field.default, name
