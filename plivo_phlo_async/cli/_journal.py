"""``plivo-phlo journal``: list a journal's unknown outcomes and resolve them.

``unknown`` lists them with their requests; after a check in Plivo's console,
``mark`` records what happened or ``resend`` lets the next run send them again.
Only the journal is read and written: no credentials needed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import anyio
import typer

from .._exceptions import InvalidParameterError
from ..bulk import (
    JournalEntry,
    JournalError,
    OutcomeStatus,
    allow_resend,
    journal_counts,
    journal_name,
    mark_jobs,
    unknown_jobs,
)
from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from ._help import HelpCommand, HelpGroup

T = TypeVar("T")

journal_app = typer.Typer(
    cls=HelpGroup,
    help="Resolve a bulk journal's unknown outcomes: list them with their requests, then "
    "after checking Plivo's console mark them succeeded or failed, or allow a re-send.",
    no_args_is_help=True,
)

_JOURNAL_HELP = (
    "The journal (--journal of plivo-phlo run or campaign submit): a SQLite file or a "
    "postgresql:// URL."
)
PathArgument = Annotated[
    str, typer.Argument(metavar="PATH|URL", help=_JOURNAL_HELP, show_default=False)
]
# `journal status` and `campaign status` take the journal the same way: as
# PATH|URL, or as --journal (hidden: the spelling `campaign status` documented).
StatusPathArgument = Annotated[
    str | None,
    typer.Argument(metavar="PATH|URL", help=_JOURNAL_HELP + " Required.", show_default=False),
]
StatusJournalOption = Annotated[
    str | None,
    typer.Option("--journal", metavar="PATH|URL", hidden=True, help="Same as PATH|URL."),
]
JobIdsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="JOB_ID...", help="Job ids, as `journal unknown` lists them.", show_default=False
    ),
]

RESEND_WARNING = (
    "Warning: a re-send may place a second phone call. These jobs may already have been "
    "executed (their outcome is unknown); check each one in Plivo's console first."
)


def _call(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a library call; a bad journal or bad ids are one line and exit 2."""
    try:
        return anyio.run(lambda: coroutine)
    except JournalError as exc:
        fail(str(exc))
    except InvalidParameterError as exc:
        fail(exc.reason, EXIT_USAGE)


@journal_app.command("unknown", cls=HelpCommand)
def unknown(
    path: PathArgument,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, for machines.")
    ] = False,
) -> None:
    """List jobs with an unknown outcome: id, ref, when, error, request.

    Jobs whose outcome is unknown, or that were in flight when a run ended,
    with the request each one sent, to check in Plivo's console.

    Exit status: 0 when there are none, 1 when some are listed, 2 when the
    journal cannot be read. Nothing is changed.
    """
    entries = _call(unknown_jobs(path))
    path = _shown(journal_name(path))
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(_record(entry), ensure_ascii=False))
        raise typer.Exit(EXIT_FAILED if entries else EXIT_OK)
    if not entries:
        typer.echo(f"{path}: no job with an unknown outcome.")
        raise typer.Exit(EXIT_OK)
    for entry in entries:
        typer.echo(_describe(entry))
    typer.echo(
        f"{len(entries)} jobs in {path} may or may not have been executed. Check each one "
        "in Plivo's console (the request is above), then:\n"
        f"  plivo-phlo journal mark {path} JOB_ID... --succeeded|--failed [--note TEXT]\n"
        f"  plivo-phlo journal resend {path} JOB_ID...   (sends them again on the next run)"
    )
    raise typer.Exit(EXIT_FAILED)


@journal_app.command("mark", cls=HelpCommand)
def mark(
    path: PathArgument,
    job_ids: JobIdsArgument = None,
    succeeded: Annotated[
        bool, typer.Option("--succeeded", help="The console shows the run happened.")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="The console shows it did not happen.")
    ] = False,
    note: Annotated[
        str | None,
        typer.Option("--note", metavar="TEXT", help="Why (kept, and shown in later runs)."),
    ] = None,
) -> None:
    """Record what happened to unknown jobs, after checking Plivo's console.

    Later runs with this journal report it instead of an unknown outcome.

    All or nothing: an id not in the journal, or whose outcome is already
    known, changes nothing (exit 2).
    """
    if succeeded == failed:
        fail("give exactly one of --succeeded or --failed")
    if not job_ids:
        fail("give the job ids to mark (see plivo-phlo journal unknown PATH)")
    status = OutcomeStatus.SUCCEEDED if succeeded else OutcomeStatus.FAILED
    marked = _call(mark_jobs(path, job_ids, status, note=note))
    path = _shown(journal_name(path))
    typer.echo(f"{path}: {len(marked)} jobs marked {status.value}.")


@journal_app.command("resend", cls=HelpCommand)
def resend(
    path: PathArgument,
    job_ids: JobIdsArgument = None,
    all_unknown: Annotated[
        bool, typer.Option("--all-unknown", help="Every job with an unknown outcome.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Let the next run send unknown jobs again, once (may duplicate a call).

    A re-send may duplicate a phone call: asks for confirmation unless --yes.
    """
    if bool(job_ids) == all_unknown:
        fail("give job ids or --all-unknown (not both)")
    count = "every job with an unknown outcome" if all_unknown else f"{len(job_ids or [])} jobs"
    typer.echo(RESEND_WARNING, err=True)
    if not yes:
        try:
            confirmed = typer.confirm(f"Send {count} again on the next run?", default=False)
        except (typer.Abort, EOFError):  # no answer (stdin closed)
            confirmed = False
        if not confirmed:
            fail("not confirmed: nothing was changed (pass --yes to skip the question)")
    chosen = _call(allow_resend(path, None if all_unknown else job_ids, all_unknown=all_unknown))
    path = _shown(journal_name(path))
    typer.echo(f"{path}: {len(chosen)} jobs will be sent again by the next run with this journal.")


@journal_app.command("status", cls=HelpCommand)
def status(
    path: StatusPathArgument = None,
    journal: StatusJournalOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: status -> number of jobs.")
    ] = False,
) -> None:
    """Count the journal's jobs by status, over every runner using it.

    Safe while runs use the journal. Statuses: succeeded, failed,
    outcome_unknown, in_flight (sent, answer not recorded yet), claimed
    (a runner is about to send it), resend.

    Exit status: 0; 2 when the journal cannot be read.
    """
    path = status_journal(path, journal)
    counts = _call(journal_counts(path))
    if as_json:
        typer.echo(json.dumps(counts, sort_keys=True))
        raise typer.Exit(EXIT_OK)
    name = _shown(journal_name(path))
    if not counts:
        typer.echo(f"{name}: no job recorded.")
        raise typer.Exit(EXIT_OK)
    width = max(len(key) for key in counts)
    for key in sorted(counts, key=lambda key: -counts[key]):
        typer.echo(f"{key:<{width}}  {counts[key]}")
    typer.echo(f"{name}: {sum(counts.values())} jobs recorded.")


def status_journal(path: str | None, journal: str | None) -> str:
    """The journal a status command reads: PATH|URL or --journal, once."""
    if path is not None and journal is not None and path != journal:
        raise typer.BadParameter("give the journal once (PATH|URL or --journal)")
    chosen = path if path is not None else journal
    if not chosen:
        raise typer.BadParameter(
            "required: a SQLite file or a postgresql:// URL", param_hint="PATH|URL"
        )
    return chosen


def _when(entry: JournalEntry) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.updated_at))


def _state(entry: JournalEntry) -> str:
    if entry.status == "in_flight" or entry.error is None:
        return "in flight when a run ended"
    return "outcome unknown"


def _describe(entry: JournalEntry) -> str:
    """A few lines per job; text from the journal never drives the terminal."""
    lines = [
        f"{_shown(entry.job_id)}  ref {_shown(entry.ref) if entry.ref is not None else '-'}  "
        f"{_state(entry)}, {_when(entry)}",
    ]
    if entry.error:
        lines.append(f"  error:   {_shown(entry.error)}")
    if entry.api_id:
        lines.append(f"  api_id:  {_shown(entry.api_id)}")
    lines.append(f"  request: POST {_shown(entry.url or '(not recorded)')}")
    payload = "(not recorded)" if entry.payload is None else entry.payload
    lines.append(f"  payload: {_shown(payload)}\n")
    return "\n".join(lines)


def _shown(text: str) -> str:
    """Control characters (escape sequences, new lines) as Python escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _record(entry: JournalEntry) -> dict[str, Any]:
    payload: Any = entry.payload
    if payload is not None:
        with contextlib.suppress(ValueError):  # else kept as text
            payload = json.loads(payload)
    return {
        "job_id": entry.job_id,
        "ref": entry.ref,
        "status": entry.status,
        "updated_at": _when(entry),
        "error": entry.error,
        "http_status": entry.http_status,
        "api_id": entry.api_id,
        "attempts": entry.attempts,
        "url": entry.url,
        "payload": payload,
    }
