"""Driving a bulk run in the terminal: progress bar (stderr), Ctrl-C, summary (stdout).

The first Ctrl-C (or SIGTERM) stops gracefully (``runner.stop()``: requests
in flight finish and are recorded); the second cancels them (their journal
rows stay ``in_flight`` and resume as outcome unknown).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .._exceptions import (
    APIStatusError,
    AuthenticationError,
    CannotConnectError,
    InvalidParameterError,
    NameResolutionError,
    NotFoundError,
    PermissionDeniedError,
)
from .._ratelimit import RateLimiterUnavailableError
from ..bulk import BulkReport, BulkRunner, Outcome, OutcomeStatus
from ._common import (
    CREDENTIALS_HINT,
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    sentence,
)

#: Lines of outcome-unknown and failed jobs shown in the summary; the rest
#: are in the ``--output`` file.
SHOWN = 20


class _RateColumn(ProgressColumn):
    """Jobs per second (rich's estimate over the last 30 s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = "-" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} jobs/s", style="progress.data.speed")


class _Counts:
    """The line under the bar: outcomes so far, by status (rendered on refresh)."""

    def __init__(self, report: BulkReport) -> None:
        self._report = report

    def __rich__(self) -> Text:
        counts = self._report.counts
        return Text.assemble(
            ("  succeeded ", "dim"),
            (str(counts[OutcomeStatus.SUCCEEDED]), "green"),
            ("  failed ", "dim"),
            (str(counts[OutcomeStatus.FAILED]), "red"),
            ("  outcome unknown ", "dim"),
            (str(counts[OutcomeStatus.OUTCOME_UNKNOWN]), "yellow"),
            ("  skipped ", "dim"),
            str(counts[OutcomeStatus.SKIPPED]),
        )


@dataclass(slots=True)
class DriveResult:
    """What happened to a run besides its report."""

    report: BulkReport
    #: 0: ran to the end; 1: stopped gracefully; 2 or more: cancelled hard.
    interrupts: int = 0
    from_journal: int = 0
    duplicates: int = 0
    #: The input's own error (raised by the runner after the jobs already read).
    input_error: Exception | None = None

    @property
    def interrupted(self) -> bool:
        return self.interrupts > 0


@contextmanager
def _signals(on_signal: Callable[[], None]) -> Iterator[None]:
    """Route SIGINT/SIGTERM to ``on_signal`` while the run lasts (asyncio only;
    elsewhere, e.g. on Windows, Ctrl-C stays a KeyboardInterrupt)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def drive(
    runner: BulkRunner,
    *,
    total: int | None,
    description: str,
    console: Console,
    on_outcome: Callable[[Outcome], None] | None = None,
    input_errors: tuple[type[Exception], ...] = (),
) -> DriveResult:
    """Consume the runner's outcomes with a progress bar and Ctrl-C handling.

    An ``input_errors`` exception raised by the input is kept in the result
    (the runner raises it after the jobs already read have run).
    """
    result = DriveResult(runner.report)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    )
    task: TaskID = progress.add_task(description, total=total)
    live = Live(
        Group(progress, _Counts(runner.report)),
        console=console,
        refresh_per_second=5,
        transient=False,
    )
    hard = anyio.CancelScope()

    def on_signal() -> None:
        result.interrupts += 1
        if result.interrupts == 1:
            runner.stop()
            console.print(
                "[yellow]Stopping: requests in flight finish and are recorded, no new "
                "ones start. Press Ctrl-C again to cancel them.[/]"
            )
        else:
            hard.cancel()

    with live, _signals(on_signal), hard:
        try:
            async with runner.stream() as outcomes:
                async for outcome in outcomes:
                    if outcome.from_journal:
                        result.from_journal += 1
                    elif outcome.duplicate:
                        result.duplicates += 1
                    if on_outcome is not None:
                        on_outcome(outcome)
                    progress.advance(task)
        except input_errors as exc:
            result.input_error = exc
    if not console.is_terminal:
        console.line()  # rich ends the last frame with a newline on terminals only
    return result


def exit_code(result: DriveResult) -> int:
    """0 when every job succeeded (now or in an earlier run), 1 when any
    failed or has an unknown outcome, 3 when the run stopped on a 401/403,
    4 when it stopped because the API could not be reached or the PHLO does
    not exist (404), 130 when interrupted."""
    report = result.report
    stopped_by = report.stopped_by
    if isinstance(stopped_by, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(stopped_by, (CannotConnectError, NotFoundError)):
        return EXIT_UNREACHABLE
    if result.interrupted:
        return EXIT_INTERRUPTED
    if (
        report.failed
        or report.outcome_unknown
        or isinstance(stopped_by, RateLimiterUnavailableError)
    ):
        return EXIT_FAILED
    return EXIT_OK


def stop_message(report: BulkReport) -> str | None:
    """One line: why the runner stopped on its own, and what to check."""
    stopped_by = report.stopped_by
    if stopped_by is None:
        return None
    reason = sentence(report.stop_reason or str(stopped_by))
    reason = reason[:1].upper() + reason[1:]
    rerun = "with the same --journal, a re-run sends what was skipped"
    refused = " (add --retry-failed for the jobs refused)"
    if isinstance(stopped_by, (AuthenticationError, PermissionDeniedError)):
        check = f"{CREDENTIALS_HINT}; {rerun}{refused}"
    elif isinstance(stopped_by, NotFoundError):
        check = (
            "Check the PHLO id, and that the PHLO belongs to the account in PLIVO_AUTH_ID "
            f"at --base-url (plivo-phlo get PHLO_ID); {rerun}{refused}"
        )
    elif isinstance(stopped_by, RateLimiterUnavailableError):
        check = f"Check --redis and that Redis is up; {rerun}"
    elif isinstance(stopped_by, NameResolutionError):
        check = f"Check the host name in --base-url ({stopped_by.host}) and DNS; {rerun}"
    else:
        check = f"Check --base-url, the network and any proxy; {rerun}"
    return f"{reason} The jobs not sent are skipped. {check}."


def _cell(value: object) -> Text:
    return Text("" if value is None else str(value))


def print_summary(
    console: Console, result: DriveResult, *, output_hint: str | None = None, shown: int = SHOWN
) -> None:
    """Counts by status, wall time and rate, then the jobs that need a decision."""
    report = result.report
    table = Table(title="Outcomes", title_justify="left")
    table.add_column("status")
    table.add_column("jobs", justify="right")
    styles = {
        OutcomeStatus.SUCCEEDED: "green",
        OutcomeStatus.FAILED: "red",
        OutcomeStatus.OUTCOME_UNKNOWN: "yellow",
        OutcomeStatus.SKIPPED: "dim",
    }
    for status, count in report.counts.items():
        table.add_row(Text(status.value, style=styles[status]), str(count))
    table.add_row(Text("total", style="bold"), Text(str(report.total), style="bold"))
    console.print(table)
    line = (
        f"{report.requests_sent} requests sent in {report.wall_time:.1f} s "
        f"({report.rate:,.1f} requests/s)"
    )
    if result.from_journal:
        line += f"; {result.from_journal} jobs settled by the journal, not sent again"
    if result.duplicates:
        line += f"; {result.duplicates} duplicate jobs skipped"
    console.print(line, markup=False, highlight=False)
    stopped = stop_message(report)
    if stopped is not None:
        console.print(Text(stopped, style="red bold"), soft_wrap=True)
    elif result.interrupts == 1:
        console.print(
            "[yellow]Stopped early (Ctrl-C): jobs not started are 'skipped'. Run the same "
            "command with the same --journal to send only what is left.[/]"
        )
    elif result.interrupts > 1:
        console.print(
            "[yellow]Cancelled (Ctrl-C twice): requests in flight were abandoned and "
            "have no outcome here. With a --journal, a re-run reports them as outcome "
            "unknown instead of sending them again.[/]"
        )
    more = f"; all are in {output_hint}" if output_hint else ""
    if report.outcome_unknown:
        console.print(
            f"\n[yellow bold]Outcome unknown: {report.outcome_unknown} jobs[/] may or may not "
            "have been executed; they were not re-sent. Check them (e.g. plivo-phlo get-run "
            "or your call logs) before sending them again."
        )
        console.print(_outcome_table(report.unknown, report.outcome_unknown, more, shown))
    if report.failed:
        console.print(f"\n[red bold]Failed: {report.failed} jobs[/]")
        console.print(_outcome_table(report.failures, report.failed, more, shown))


def _outcome_table(outcomes: list[Outcome], total: int, more: str, limit: int) -> Table:
    """Up to ``limit`` of the report's sample of ``total`` outcomes, by ref."""
    shown = sorted(outcomes, key=_ref_order)[:limit]
    caption = None
    if total > len(shown):
        which = "first" if len(outcomes) == total else "some"
        caption = f"{which} {len(shown)} of {total} shown{more}"
    table = Table(caption=caption, caption_justify="left")
    table.add_column("ref", justify="right")
    table.add_column("job id")
    table.add_column("http", justify="right")
    table.add_column("attempts", justify="right")
    table.add_column("why", overflow="fold")
    for outcome in shown:
        job_id = outcome.job_id or ""
        table.add_row(
            _cell(outcome.ref),
            _cell(job_id[:12] + ("..." if len(job_id) > 12 else "")),
            _cell(outcome.http_status),
            _cell(outcome.attempts),
            _cell(short_reason(outcome)),
        )
    return table


def _ref_order(outcome: Outcome) -> tuple[int, str]:
    ref = outcome.ref
    return (ref, "") if isinstance(ref, int) else (0, str(ref))


def short_reason(outcome: Outcome) -> str:
    """The error's type and its gist (the full message is in ``--output``)."""
    error = outcome.error
    if error is None:
        return outcome.reason or ""
    if isinstance(error, APIStatusError):
        detail = error.error or error.server_message or ""
    elif isinstance(error, InvalidParameterError):
        detail = str(error)
    else:
        detail = str(error.__cause__ or "")
    name = type(error).__name__
    return f"{name}: {detail}" if detail else name
