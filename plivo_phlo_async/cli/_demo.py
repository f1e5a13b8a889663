"""``plivo-phlo demo``: the bulk runner against the local emulator (docs/cli.md).

The emulated account's limit is tighter than the runner's (it answers 429)
and it injects faults; the demo then checks the emulator's records: one
outcome per job, nothing executed twice, outcome unknown only where a fault hit.
Everything runs 10x faster than Plivo's 300 requests per 5 s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._ratelimit import RateLimit
from ..bulk import Outcome, OutcomeStatus, RunJob
from ._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, fail
from ._progress import DriveResult, drive, print_summary

#: The runner's limit, and the emulated account's (tighter) one.
RUNNER_LIMIT = RateLimit(600, per=1.0)
ACCOUNT_LIMIT = (500, 1.0)
#: Faults on POSTs (shares of requests); the error answers are 503s.
ERROR_RATE = 0.01
ERROR_AFTER_RATE = 0.005
DROP_BEFORE_RATE = 0.005
DROP_AFTER_RATE = 0.005
#: A job throttled this many times in a row fails; the demo's limits make that
#: vanishingly rare (Plivo's clients keep the SDK's default of 2).
DEMO_MAX_RETRIES = 6
FAULT_KINDS = ("error", "error_after", "drop_before", "drop_after")
DEFAULT_SEED = 20240501


def _number(n: int) -> str:
    return f"+1555{n:07d}"


def _jobs(phlo_id: str, count: int) -> Iterator[RunJob]:
    for n in range(1, count + 1):
        yield RunJob(phlo_id, {"to": _number(n), "campaign": "demo"}, ref=n)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str


def demo(
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, max=100_000, help="How many PHLO runs to trigger.")
    ] = 3000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=1000, help="Requests in flight at most.")
    ] = 64,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the injected faults (same seed, same faults).")
    ] = DEFAULT_SEED,
) -> None:
    """Fan out PHLO runs to the local emulator, through throttling and faults.

    Needs no account and no network. Exit status 0 when the run behaved
    correctly (outcome-unknown jobs included: they are reported, not retried).
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail('the demo needs the cli extra: pip install "plivo-phlo-async[cli]"')
    raise typer.Exit(anyio.run(_demo, jobs, concurrency, seed))


async def _demo(jobs: int, concurrency: int, seed: int) -> int:
    from ..emulator import (
        DEFAULT_PHLO_ID,
        EmulatorConfig,
        FaultConfig,
        ServerRateLimit,
        run_emulator,
    )

    config = EmulatorConfig(
        rate_limit=ServerRateLimit(*ACCOUNT_LIMIT),
        faults=FaultConfig(
            seed=seed,
            error_rate=ERROR_RATE,
            error_statuses=(503,),
            error_after_rate=ERROR_AFTER_RATE,
            drop_before_rate=DROP_BEFORE_RATE,
            drop_after_rate=DROP_AFTER_RATE,
            methods=("POST",),
        ),
    )
    out = Console()
    err = Console(stderr=True)
    seen: dict[int, tuple[OutcomeStatus, str | None]] = {}

    def record(outcome: Outcome) -> None:
        seen[outcome.ref] = (outcome.status, outcome.api_id)

    async with run_emulator(config) as server:
        _intro(out, server.url, jobs, concurrency, seed)
        async with server.client() as client:
            runner = client.bulk(
                _jobs(DEFAULT_PHLO_ID, jobs),
                concurrency=concurrency,
                rate_limit=RUNNER_LIMIT,
                max_retries=DEMO_MAX_RETRIES,
            )
            result = await drive(
                runner, total=jobs, description="demo", console=err, on_outcome=record
            )
        emulator = server.emulator
        executed = {
            action.payload.get("to"): action.run_id for action in emulator.executions("run")
        }
        runs_per_number = Counter(action.payload.get("to") for action in emulator.executions("run"))
        faulted: dict[str, str] = {}
        for request in emulator.requests:
            body = request.json
            if request.fault in FAULT_KINDS and isinstance(body, dict):
                faulted[str(body.get("to"))] = request.fault
        # Counted from the answers: rate_limited() also counts a rejection whose
        # answer an after-processing fault then replaced.
        throttled = sum(1 for request in emulator.requests if request.status == 429)
        peak = emulator.peak_requests()

    print_summary(out, result, shown=10)
    checks = _checks(result, jobs, seen, executed, runs_per_number, faulted)
    unknown_refs = [
        ref for ref, (status, _) in seen.items() if status is OutcomeStatus.OUTCOME_UNKNOWN
    ]
    ran = sum(1 for ref in unknown_refs if _number(ref) in executed)
    out.print(
        f"\nThe emulator answered {throttled} requests with 429 (its limit, "
        f"{ACCOUNT_LIMIT[0]}/{ACCOUNT_LIMIT[1]:g} s, is tighter than the runner's "
        f"{RUNNER_LIMIT.requests}/{RUNNER_LIMIT.per:g} s); every worker paused and the jobs "
        f"were sent again. Busiest {ACCOUNT_LIMIT[1]:g} s at the emulator: {peak} requests.",
        highlight=False,
    )
    if unknown_refs:
        out.print(
            f"Of the {len(unknown_refs)} outcome-unknown jobs, the emulator shows that "
            f"{ran} ran and {len(unknown_refs) - ran} did not: the client cannot tell "
            "which, so none was sent again.",
            highlight=False,
        )
    _print_checks(out, checks)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(check.passed for check in checks) else EXIT_FAILED


def _intro(out: Console, url: str, jobs: int, concurrency: int, seed: int) -> None:
    drops = DROP_BEFORE_RATE + DROP_AFTER_RATE
    out.print(
        f"[bold]plivo-phlo demo[/]: {jobs} PHLO runs against the local emulator at {url} "
        "(no account, no network)\n"
        f"  runner:   concurrency {concurrency}, at most {RUNNER_LIMIT.requests} requests "
        f"per {RUNNER_LIMIT.per:g} s (Plivo's 300 per 5 s, 10x faster)\n"
        f"  emulator: account limit {ACCOUNT_LIMIT[0]} per {ACCOUNT_LIMIT[1]:g} s (tighter: "
        f"it answers 429); on POSTs {ERROR_RATE:.1%} 503s, {ERROR_AFTER_RATE:.1%} 500s "
        f"after running, {drops:.1%} dropped connections (half after running); seed {seed}",
        highlight=False,
    )


def _checks(
    result: DriveResult,
    jobs: int,
    seen: dict[int, tuple[OutcomeStatus, str | None]],
    executed: dict[str | None, str | None],
    runs_per_number: Counter[str | None],
    faulted: dict[str, str],
) -> list[Check]:
    report = result.report
    twice = [number for number, count in runs_per_number.items() if count > 1]
    succeeded = [ref for ref, (status, _) in seen.items() if status is OutcomeStatus.SUCCEEDED]
    mismatched = [ref for ref in succeeded if executed.get(_number(ref)) != seen[ref][1]]
    checks = [
        Check(
            "no trigger executed twice",
            not twice,
            f"{len(runs_per_number)} runs executed, {len(twice)} more than once",
        ),
        Check(
            "every success executed once, with the run id the client got",
            not mismatched,
            f"{len(succeeded) - len(mismatched)} of {len(succeeded)}",
        ),
    ]
    if result.interrupted:
        return checks
    unknown = {
        _number(ref) for ref, (status, _) in seen.items() if status is OutcomeStatus.OUTCOME_UNKNOWN
    }
    return [
        *checks,
        Check(
            "exactly one outcome per job",
            report.total == jobs and len(seen) == jobs,
            f"{report.total} outcomes for {jobs} jobs",
        ),
        Check(
            "outcome unknown exactly where a fault hit, none retried",
            unknown == set(faulted),
            f"{len(unknown)} outcome unknown, {len(faulted)} faults injected",
        ),
        Check(
            "no job failed (429s absorbed by backing off)",
            report.failed == 0,
            f"{report.failed} failed",
        ),
    ]


def _print_checks(out: Console, checks: list[Check]) -> None:
    table = Table(title="Checks against the emulator's records", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for check in checks:
        verdict = Text("pass", style="green") if check.passed else Text("FAIL", style="red bold")
        table.add_row(Text(check.name), verdict, Text(check.detail))
    out.print(table)
