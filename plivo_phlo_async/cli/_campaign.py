"""``plivo-phlo campaign``: put a CSV/JSONL campaign on a taskiq-redis queue
as chunks, and read its status from the journal.

Workers (``taskiq worker plivo_phlo_async.integrations.taskiq_worker:broker``)
run the chunks with their own credentials; nothing here needs the token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from .._exceptions import InvalidParameterError
from .._validation import validate_path_id
from ..bulk import DEFAULT_CONCURRENCY, DEFAULT_RATE_LIMIT, JournalError
from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from ._io import InputChangedError, InputFormatError, Source, run_jobs, validate
from ._run import _report_validation, _shared, parse_rate

__all__ = ["campaign_app"]

campaign_app = typer.Typer(
    help="Campaigns on taskiq workers: submit a file as chunks to a Redis queue, "
    "read the status from the journal (needs the taskiq extra).",
    no_args_is_help=True,
)
#: Statuses that mean a job needs someone's attention.
_ATTENTION = ("failed", "outcome_unknown", "in_flight")


@campaign_app.command("submit")
def submit(
    phlo_id: Annotated[str, typer.Argument(metavar="PHLO_ID", help="The PHLO every row triggers.")],
    journal: Annotated[
        str,
        typer.Option(
            "--journal",
            metavar="LOCATION",
            help="The campaign's journal, as the workers reach it (a SQLite path "
            "they share, or a postgresql:// URL).",
        ),
    ],
    broker: Annotated[
        str,
        typer.Option(
            "--broker",
            metavar="URL",
            envvar="PLIVO_PHLO_BROKER_URL",
            show_envvar=True,
            help="The taskiq-redis broker the workers listen on (redis://host:port/db).",
        ),
    ],
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
        int, typer.Option("--chunk-size", min=1, help="Jobs per chunk (one task each).")
    ] = 100,
    queue: Annotated[
        str,
        typer.Option(
            "--queue",
            metavar="NAME",
            envvar="PLIVO_PHLO_QUEUE",
            show_envvar=True,
            help="Stream and consumer group of the workers.",
        ),
    ] = "plivo-phlo-campaign",
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            metavar="URL",
            envvar="PLIVO_PHLO_REDIS_URL",
            show_envvar=True,
            help="Redis holding the account's shared rate limit.",
            show_default="the --broker URL",
        ),
    ] = None,
    redis_key_prefix: Annotated[
        str,
        typer.Option(
            "--redis-key-prefix",
            metavar="PREFIX",
            envvar="PLIVO_PHLO_REDIS_KEY_PREFIX",
            show_envvar=True,
            help="Prefix of the limit's Redis keys.",
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
        int, typer.Option("--concurrency", min=1, help="Requests in flight per chunk at most.")
    ] = DEFAULT_CONCURRENCY,
) -> None:
    """Check every row, then queue PHLO_ID's jobs as chunks for the workers.

    Exit status: 0 when every chunk was queued; 2 for bad usage or invalid rows
    (nothing queued); 1 when the broker failed mid-way (submit again: the
    journal skips whatever already ran).
    """
    if from_csv is not None and from_jsonl is None:
        source = Source(from_csv, "csv", job_id_column)
    elif from_jsonl is not None and from_csv is None:
        source = Source(from_jsonl, "jsonl", job_id_column)
    else:
        raise typer.BadParameter("give exactly one of --from-csv FILE or --from-jsonl FILE")
    if not journal:
        raise typer.BadParameter("must not be empty", param_hint="--journal")
    try:
        validate_path_id("phlo_id", phlo_id)
    except InvalidParameterError as exc:
        fail(f"invalid PHLO_ID: {exc.reason}")
    rate_limit = _shared(
        DEFAULT_RATE_LIMIT if rate is None else parse_rate(rate),
        broker if redis is None else redis,
        redis_key_prefix,
    )
    try:
        from ..integrations.taskiq import campaign_broker, register_chunk_task, submit_campaign
    except ImportError as exc:
        fail(f"campaigns need the taskiq extra (pip install 'plivo-phlo-async[taskiq]'): {exc}")
    try:
        checked = validate(source, phlo_id)
    except InputFormatError as exc:
        fail(str(exc))
    if checked.invalid_count:
        _report_validation(Console(stderr=True), checked, source)
        raise typer.Exit(EXIT_USAGE)

    async def go() -> int:
        queue_broker = campaign_broker(broker, queue=queue)
        task = register_chunk_task(queue_broker)
        try:
            await queue_broker.startup()
            submitted = await submit_campaign(
                task,
                run_jobs(source, phlo_id),
                phlo_id=phlo_id,
                journal=journal,
                rate_limit=rate_limit,
                chunk_size=chunk_size,
                concurrency=concurrency,
            )
        except (OSError, InputChangedError, InputFormatError) as exc:
            typer.echo(f"plivo-phlo: submit stopped: {exc}", err=True)
            return EXIT_FAILED
        except Exception as exc:  # redis.exceptions.ConnectionError and kin
            typer.echo(f"plivo-phlo: submit stopped: {type(exc).__name__}: {exc}", err=True)
            return EXIT_FAILED
        finally:
            await queue_broker.shutdown()
        typer.echo(f"queued {submitted.jobs} jobs in {submitted.chunks} chunks on {queue}")
        return EXIT_OK

    raise typer.Exit(anyio.run(go))


@campaign_app.command("status")
def status(
    journal: Annotated[
        str, typer.Option("--journal", metavar="LOCATION", help="The campaign's journal.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the counts as one JSON object.")
    ] = False,
) -> None:
    """Count the campaign's jobs by status, from the journal.

    Exit status: 0 when no job failed or has an unknown outcome; 1 when some
    did (or are still in flight); 2 when the journal cannot be read.
    """
    from ..integrations.campaign import campaign_status

    try:
        counts = anyio.run(campaign_status, journal)
    except JournalError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(counts, sort_keys=True))
    else:
        out = Console()
        for name, count in counts.items():
            style = "red" if name in _ATTENTION else "green" if name == "succeeded" else ""
            out.print(
                f"[{style}]{escape(name):<16}[/]{count:>10}"
                if style
                else f"{escape(name):<16}{count:>10}"
            )
        out.print(f"{'total':<16}{sum(counts.values()):>10}")
    raise typer.Exit(EXIT_FAILED if any(counts.get(name) for name in _ATTENTION) else EXIT_OK)
