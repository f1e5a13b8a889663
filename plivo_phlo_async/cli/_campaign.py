"""``plivo-phlo campaign``: queue a file's jobs on taskiq workers as chunks
(the manifest in the journal), read every job's state, requeue what a broker
lost. The workers hold the credentials; nothing here needs the token. See
docs/campaigns.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from .._exceptions import InvalidParameterError
from .._ratelimit import DEFAULT_RATE_LIMIT
from .._validation import validate_path_id
from ..bulk import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, JournalError, check_campaign_id
from ..integrations.campaign import DEFAULT_CHUNK_SIZE, DEFAULT_QUEUE, MAX_CHUNK_SIZE
from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail, redis_option
from ._help import HelpCommand, HelpGroup
from ._io import InputChangedError, InputFormatError, run_jobs, validate
from ._journal import StatusJournalOption, StatusPathArgument, status_journal
from ._run import check_concurrency, parse_rate, report_validation, shared_limit, source_of

campaign_app = typer.Typer(
    cls=HelpGroup,
    help="Campaigns on taskiq workers: submit a file (its manifest goes to the journal, "
    "its chunks to a Redis queue), read every job's state, requeue what a broker lost "
    "(needs the taskiq extra).",
    no_args_is_help=True,
)
#: ``campaign status`` while jobs are still to run.
EXIT_UNFINISHED = 5
_QUEUE_HELP = "Stream and consumer group of the workers."

JournalOption = Annotated[
    str,
    typer.Option(
        "--journal",
        metavar="LOCATION",
        help="The campaign's journal, as the workers reach it (a SQLite path they "
        "share, or a postgresql:// URL).",
    ),
]
CampaignOption = Annotated[
    str,
    typer.Option(
        "--campaign",
        metavar="ID",
        help="The campaign's id (letters, digits, '.', '_', '-'): its jobs are its own "
        "in the journal, whatever other campaigns share it.",
    ),
]
BrokerOption = Annotated[
    str,
    typer.Option(
        "--broker",
        metavar="URL",
        envvar="PLIVO_PHLO_BROKER_URL",
        show_envvar=True,
        help="The taskiq-redis broker the workers listen on (redis://host:port/db).",
    ),
]
QueueOption = Annotated[
    str,
    typer.Option(
        "--queue", metavar="NAME", envvar="PLIVO_PHLO_QUEUE", show_envvar=True, help=_QUEUE_HELP
    ),
]


@campaign_app.command("submit", cls=HelpCommand)
def submit(
    phlo_id: Annotated[str, typer.Argument(metavar="PHLO_ID", help="The PHLO every row triggers.")],
    journal: JournalOption,
    campaign: CampaignOption,
    broker: BrokerOption,
    from_csv: Annotated[
        Path | None,
        typer.Option("--from-csv", metavar="FILE", dir_okay=False, help="One job per row."),
    ] = None,
    from_jsonl: Annotated[
        Path | None,
        typer.Option("--from-jsonl", metavar="FILE", dir_okay=False, help="One job per line."),
    ] = None,
    job_id_column: Annotated[
        str | None,
        typer.Option(
            "--job-id-column",
            metavar="COLUMN",
            help="Column (CSV) or key (JSONL) holding each row's job id. Without it, "
            "the id is a hash of the row's content (a resubmission has the same ids).",
        ),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size", min=1, max=MAX_CHUNK_SIZE, help="Jobs per chunk (one task each)."
        ),
    ] = DEFAULT_CHUNK_SIZE,
    queue: QueueOption = DEFAULT_QUEUE,
    redis: Annotated[
        str | None,
        redis_option(
            "--redis",
            "Redis holding the account's shared rate limit.",
            show_default="the --broker URL",
        ),
    ] = None,
    redis_key_prefix: Annotated[
        str,
        redis_option(
            "--redis-key-prefix",
            "Prefix of the limit's Redis keys. One account has one limit: every "
            "process and campaign on the account must use the same prefix.",
        ),
    ] = "",
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            metavar="N/SECONDS",
            help="The account's limit, shared by every worker.",
            show_default=f"{DEFAULT_RATE_LIMIT.requests}/{DEFAULT_RATE_LIMIT.per:g}",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", help=f"Requests in flight per chunk at most (1 to {MAX_CONCURRENCY})."
        ),
    ] = DEFAULT_CONCURRENCY,
) -> None:
    """Check every row, write the manifest to the journal, queue the chunks.

    The manifest (every job) goes to the journal, then its chunks to the
    workers' queue.

    Submitting the same file to the same campaign again is a safe resume: no
    job is added or sent twice, and only chunks with work left that the broker
    does not hold are queued. A job id already in the campaign with another
    payload refuses the whole submit. Exit status: 0 when the chunks were
    queued; 2 for bad usage, invalid rows or conflicting ids (nothing queued);
    1 when the journal or the broker failed (submit again).
    """
    source = source_of(from_csv, from_jsonl, job_id_column)
    check_concurrency(concurrency)
    if not journal:
        raise typer.BadParameter("must not be empty", param_hint="--journal")
    try:
        validate_path_id("phlo_id", phlo_id)
        check_campaign_id(campaign)
    except InvalidParameterError as exc:
        fail(f"invalid {exc.field or 'argument'}: {exc.reason}")
    rate_limit = shared_limit(
        DEFAULT_RATE_LIMIT if rate is None else parse_rate(rate),
        broker if redis is None else redis,
        redis_key_prefix,
    )
    taskiq = _taskiq()
    try:
        checked = validate(source, phlo_id)
    except InputFormatError as exc:
        fail(str(exc))
    if checked.invalid_count:
        report_validation(Console(stderr=True), checked, source)
        raise typer.Exit(EXIT_USAGE)

    async def go(task: Any) -> Any:
        return await taskiq.submit_campaign(
            task,
            run_jobs(source, phlo_id),
            campaign_id=campaign,
            phlo_id=phlo_id,
            journal=journal,
            rate_limit=rate_limit,
            chunk_size=chunk_size,
            concurrency=concurrency,
        )

    submitted = _with_broker(broker, queue, go)
    typer.echo(
        f"campaign {campaign}: {submitted.jobs} jobs in the manifest; queued "
        f"{submitted.chunks} chunks on {queue}"
        + (f" ({submitted.live} more already queued)" if submitted.live else "")
    )


@campaign_app.command("resume", cls=HelpCommand)
def resume(
    journal: JournalOption,
    campaign: CampaignOption,
    broker: BrokerOption,
    queue: QueueOption = DEFAULT_QUEUE,
) -> None:
    """Queue again the chunks with work left that the broker lost.

    Every chunk of the campaign's manifest that holds a job still to be sent
    and that the broker no longer holds (a Redis restarted without
    persistence, a message lost).

    Safe at any time: chunks still queued or running are left alone, and a
    chunk queued twice sends none of its jobs twice. Exit status: 0 done
    (whether or not anything needed queueing); 2 for an unknown campaign; 1
    when the journal or the broker failed.
    """
    try:
        check_campaign_id(campaign)
    except InvalidParameterError as exc:
        fail(f"invalid campaign id: {exc.reason}")
    taskiq = _taskiq()

    async def go(task: Any) -> Any:
        return await taskiq.resume_campaign(task, journal=journal, campaign_id=campaign)

    resumed = _with_broker(broker, queue, go)
    typer.echo(
        f"campaign {campaign}: queued {resumed.chunks} chunks on {queue}; "
        f"{resumed.live} with work left were still queued"
    )


@campaign_app.command("status", cls=HelpCommand)
def status(
    path: StatusPathArgument = None,
    journal: StatusJournalOption = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            metavar="ID",
            help="The campaign (needed when the journal holds several).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the states as one JSON object.")
    ] = False,
) -> None:
    """Count the campaign's jobs by state, and say what to do about each.

    Every job of the campaign's manifest by its one state, from the journal
    (jobs that never ran included).

    Exit status: 0 every job succeeded; 1 every job has its outcome but some
    failed or are unknown; 5 jobs are still to run (not started, claimed or
    in flight); 2 the journal or the campaign cannot be read.
    """
    from ..integrations.campaign import ADVICE, campaign_status

    journal = status_journal(path, journal)
    try:
        found = anyio.run(campaign_status, journal, campaign)
    except (JournalError, InvalidParameterError) as exc:
        fail(str(exc))
    if found.finished:
        code = EXIT_FAILED if found.needs_attention else EXIT_OK
    else:
        code = EXIT_UNFINISHED
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "campaign": found.campaign_id,
                    "size": found.size,
                    "finished": found.finished,
                    "states": found.counts,
                },
                sort_keys=True,
            )
        )
        raise typer.Exit(code)
    out = Console(soft_wrap=True)
    out.print(f"campaign {escape(found.campaign_id)}: {found.size} jobs", highlight=False)
    for name, count in found.counts.items():
        style = "green" if name == "succeeded" else "red" if name in _ATTENTION else "yellow"
        line = f"{name:<16}{count:>10}"
        advice = f"  {escape(ADVICE[name])}" if count and name != "succeeded" else ""
        out.print(f"[{style}]{line}[/]{advice}" if count else line, highlight=False)
    verdict = {
        EXIT_OK: "finished: every job succeeded",
        EXIT_FAILED: "finished: some jobs need your attention",
        EXIT_UNFINISHED: "not finished: jobs are still to run",
    }[code]
    out.print(verdict, highlight=False)
    raise typer.Exit(code)


#: States that need the operator.
_ATTENTION = ("failed", "outcome_unknown")


def _taskiq() -> Any:
    try:
        from ..integrations import taskiq
    except ImportError as exc:
        fail(f"campaigns need the taskiq extra (pip install 'plivo-phlo-async[taskiq]'): {exc}")
    return taskiq


def _with_broker(broker: str, queue: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(task)`` with a started broker; the CLI's errors as exit codes."""
    taskiq = _taskiq()

    async def go() -> Any:
        queue_broker = taskiq.campaign_broker(broker, queue=queue)
        task = taskiq.register_chunk_task(queue_broker)
        try:
            await queue_broker.startup()
            if await taskiq.broker_persists(queue_broker) is False:
                typer.echo(
                    "plivo-phlo: warning: the broker's Redis keeps no append-only file "
                    "(appendonly no): a restart loses queued chunks. Turn AOF on, or run "
                    "`plivo-phlo campaign resume` after a restart (the journal keeps every job).",
                    err=True,
                )
            return await work(task)
        finally:
            await queue_broker.shutdown()

    try:
        return anyio.run(go)
    except (InvalidParameterError, InputChangedError, InputFormatError) as exc:
        fail(str(exc))
    except JournalError as exc:
        typer.echo(f"plivo-phlo: {exc}", err=True)
    except Exception as exc:  # redis.exceptions.ConnectionError and kin
        typer.echo(f"plivo-phlo: stopped: {type(exc).__name__}: {exc}", err=True)
    raise typer.Exit(EXIT_FAILED)
