"""``plivo-phlo run``: trigger a PHLO once per row of a CSV or JSONL file.

The file is streamed twice: once to check and count every row (a broken row
stops the command before anything is sent; the progress bar has a total),
then lazily by the bulk runner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import anyio
import typer
from rich.console import Console
from rich.markup import escape

from .._client import DEFAULT_BASE_URL, PhloClient
from .._exceptions import (
    AuthenticationError,
    CannotConnectError,
    ConfigurationError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    PlivoError,
)
from .._ratelimit import DEFAULT_RATE_LIMIT, RateLimit, RateLimiterUnavailableError, check_redis
from .._validation import validate_path_id
from ..bulk import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    JournalError,
    cannot_connect_reason,
    is_database_url,
    open_journal,
)
from ._common import (
    CREDENTIALS_HINT,
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    AuthIdOption,
    AuthTokenOption,
    BaseUrlOption,
    describe_error,
    fail,
    make_client,
    redis_option,
    sentence,
)
from ._io import (
    InputChangedError,
    InputFormatError,
    OutcomeWriter,
    Source,
    Validation,
    run_jobs,
    validate,
)
from ._progress import DriveResult, drive, exit_code, print_summary

#: Invalid rows listed before "... and N more".
LISTED = 50

INPUT = "Input"
RUNNING = "Running"


def parse_rate(text: str) -> RateLimit:
    """``N/SECONDS`` (e.g. ``300/5``) as a :class:`RateLimit`."""
    requests, slash, window = text.partition("/")
    try:
        count = int(requests)
        per = float(window)
    except ValueError:
        count, per = 0, 0.0
    if not slash or count < 1 or not (0 < per < math.inf):
        raise typer.BadParameter(
            f"{text!r} is not N/SECONDS with N >= 1 and SECONDS > 0 (e.g. 300/5)",
            param_hint="--rate",
        )
    return RateLimit(count, per=per)


def _input_file(flag: str, help: str) -> Any:
    """``--from-csv`` or ``--from-jsonl``: a readable file."""
    return typer.Option(
        flag,
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help=help,
        rich_help_panel=INPUT,
    )


def check_concurrency(concurrency: int) -> None:
    """Exit 2 with one line unless 1 <= ``concurrency`` <= ``MAX_CONCURRENCY``
    (a typo such as 10000000 must not start millions of tasks)."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        fail(f"--concurrency must be from 1 to {MAX_CONCURRENCY}, not {concurrency}")


def run(
    phlo_id: Annotated[
        str, typer.Argument(metavar="PHLO_ID", help="The PHLO to trigger.", show_default=False)
    ],
    from_csv: Annotated[
        Path | None,
        _input_file(
            "--from-csv",
            "CSV with a header row: one run per row, the columns are the payload "
            "(values are sent as strings, keys exactly as in the header).",
        ),
    ] = None,
    from_jsonl: Annotated[
        Path | None,
        _input_file(
            "--from-jsonl", "JSON Lines: one JSON object per line, the payload of one run."
        ),
    ] = None,
    job_id_column: Annotated[
        str | None,
        typer.Option(
            "--job-id-column",
            metavar="COLUMN",
            help="Column (CSV) or key (JSONL) holding each row's job id for the journal; "
            "it is not sent. Without it, the id is a hash of the row's content.",
            rich_help_panel=INPUT,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check every row (payload, job id, PHLO id) and send nothing; "
            "exit 2 if any row is invalid.",
            rich_help_panel=INPUT,
        ),
    ] = False,
    check_phlo: Annotated[
        bool,
        typer.Option(
            "--check-phlo",
            help="Look the PHLO up first (one GET /phlo/PHLO_ID, the only request with "
            "--dry-run): exit 4 if this account has no such PHLO at --base-url, no run sent.",
            rich_help_panel=INPUT,
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            help=f"Requests in flight at most (1 to {MAX_CONCURRENCY}).",
            rich_help_panel=RUNNING,
        ),
    ] = DEFAULT_CONCURRENCY,
    rate: Annotated[
        str | None,
        typer.Option(
            "--rate",
            metavar="N/SECONDS",
            help="At most N requests started in any SECONDS window.",
            show_default=f"{DEFAULT_RATE_LIMIT.requests}/{DEFAULT_RATE_LIMIT.per:g}, "
            "Plivo's account limit",
            rich_help_panel=RUNNING,
        ),
    ] = None,
    no_rate_limit: Annotated[
        bool,
        typer.Option(
            "--no-rate-limit",
            help="No client-side rate limit (429s are still honoured).",
            rich_help_panel=RUNNING,
        ),
    ] = False,
    redis: Annotated[
        str | None,
        redis_option(
            "--redis",
            "Share the rate limit through Redis (redis://host:port/db) with every "
            "process and machine on this account (needs the redis extra).",
            rich_help_panel=RUNNING,
        ),
    ] = None,
    redis_key_prefix: Annotated[
        str,
        redis_option(
            "--redis-key-prefix",
            "With --redis: prefix of the limit's Redis keys (one limit per prefix and account).",
            rich_help_panel=RUNNING,
        ),
    ] = "",
    journal: Annotated[
        str | None,
        typer.Option(
            "--journal",
            metavar="PATH|URL",
            help="SQLite file, or postgresql://... URL (?journal_prefix=NAME names the "
            "campaign's tables): a re-run with the same journal sends only the jobs with no "
            "recorded outcome (after Ctrl-C, a crash or kill -9), and several runs on one "
            "journal never send a job twice.",
            rich_help_panel=RUNNING,
        ),
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="With --journal: send again the jobs an earlier run recorded as failed "
            "(never those with an unknown outcome).",
            rich_help_panel=RUNNING,
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            metavar="FILE",
            dir_okay=False,
            help="Write one JSON line per job: ref (line number), job_id, status, "
            "http_status, api_id, attempts, error_type, error, from_journal, reason.",
            rich_help_panel=RUNNING,
        ),
    ] = None,
    auth_id: AuthIdOption = None,
    auth_token: AuthTokenOption = None,
    base_url: BaseUrlOption = DEFAULT_BASE_URL,
) -> None:
    """Trigger PHLO_ID once per row of a CSV or JSONL file.

    Exit status: 0 when every job succeeded (now or, per the journal, in an
    earlier run); 1 when any failed or has an unknown outcome (or the file
    changed during the run); 2 for bad usage or invalid rows (nothing sent);
    3 when stopped because Plivo refused the credentials (401/403); 4 when
    stopped because the API could not be reached or the PHLO does not exist
    (404; with --check-phlo, before any run is sent); 130 when interrupted (Ctrl-C).
    """
    _escape_unencodable_output()
    check_concurrency(concurrency)
    if job_id_column == "":
        raise typer.BadParameter("must not be empty", param_hint="--job-id-column")
    source = source_of(from_csv, from_jsonl, job_id_column)
    rate_limit = _rate_limit(rate, no_rate_limit, redis, redis_key_prefix)
    if retry_failed and journal is None:
        raise typer.BadParameter("--retry-failed needs --journal")
    try:
        validate_path_id("phlo_id", phlo_id)
    except InvalidParameterError as exc:
        fail(f"invalid PHLO_ID: {exc.reason}")
    err = Console(stderr=True)
    out = Console()
    client = None if dry_run and not check_phlo else make_client(auth_id, auth_token, base_url)
    if journal is not None:
        _check_journal(journal, client)

    try:
        checked = validate(source, phlo_id)
    except InputFormatError as exc:
        fail(str(exc))
    if dry_run:
        _dry_run(out, checked, source, client, phlo_id)
    if checked.invalid_count:
        report_validation(err, checked, source)
        raise typer.Exit(EXIT_USAGE)
    assert client is not None

    writer: OutcomeWriter | None = None
    if output is not None:
        try:
            writer = OutcomeWriter(output)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")

    async def go() -> int:
        async with client:
            if rate_limit is not None and rate_limit.redis is not None:
                try:
                    await check_redis(rate_limit, client.auth_id)
                except RateLimiterUnavailableError as exc:
                    typer.echo(f"plivo-phlo: --redis: {exc}", err=True)
                    return EXIT_USAGE
            if check_phlo:
                await _check_phlo(client, phlo_id)
            runner = client.bulk(
                run_jobs(source, phlo_id),
                concurrency=concurrency,
                rate_limit=rate_limit,
                journal=journal,
                retry_failed=retry_failed,
            )
            result = await drive(
                runner,
                total=checked.rows,
                description=f"PHLO {phlo_id[:8]}",
                console=err,
                on_outcome=None if writer is None else writer.write,
                input_errors=(InputChangedError, InputFormatError, JournalError),
            )
        return _summarise(out, err, result, writer, output)

    try:
        code = anyio.run(go)
    finally:
        if writer is not None:
            writer.close()
    raise typer.Exit(code)


async def _check_phlo(client: PhloClient, phlo_id: str) -> str:
    """The PHLO's name, looked up before any run is sent; else exit with one
    line: 4 when it is not found (or the API cannot be reached), 3 when the
    credentials are refused, 1 for any other failure."""
    try:
        details = await client.phlo.get(phlo_id)
    except NotFoundError:
        fail(
            f"PHLO {phlo_id} not found (404) for account {client.auth_id} at "
            f"{client.base_url}: check the PHLO id; no run was sent",
            EXIT_UNREACHABLE,
        )
    except (AuthenticationError, PermissionDeniedError) as exc:
        fail(
            f"--check-phlo: {sentence(describe_error(exc))} {CREDENTIALS_HINT}; no run was sent",
            EXIT_AUTH,
        )
    except CannotConnectError as exc:
        fail(f"--check-phlo: {cannot_connect_reason(exc)}; no run was sent", EXIT_UNREACHABLE)
    except PlivoError as exc:
        fail(f"--check-phlo: {describe_error(exc)}; no run was sent", EXIT_FAILED)
    return details.name or ""


def _dry_run(
    out: Console, checked: Validation, source: Source, client: PhloClient | None, phlo_id: str
) -> NoReturn:
    """Report the rows; with a client (``--check-phlo``), look the PHLO up:
    the only request a dry run makes."""
    report_validation(out, checked, source)
    if checked.invalid_count:
        raise typer.Exit(EXIT_USAGE)
    if client is not None:

        async def check() -> str:
            async with client:
                return await _check_phlo(client, phlo_id)

        name = anyio.run(check)
        out.print(f"PHLO {escape(phlo_id)} exists ({escape(repr(name))}).", soft_wrap=True)
    raise typer.Exit(EXIT_OK)


def _summarise(
    out: Console,
    err: Console,
    result: DriveResult,
    writer: OutcomeWriter | None,
    output: Path | None,
) -> int:
    """Print how the run ended; its exit status."""
    if isinstance(result.input_error, JournalError):
        return _journal_failed(out, result, result.input_error, output)
    print_summary(out, result, output_hint=None if output is None else str(output))
    code = exit_code(result)
    if writer is not None and writer.error is not None:
        # The run went on; the summary above and the journal have every outcome.
        err.print(
            f"[red]Could not write {escape(str(writer.path))}[/] after "
            f"{writer.written} outcomes: {escape(str(writer.error))}",
            soft_wrap=True,
        )
        code = max(code, EXIT_FAILED)
    if result.input_error is not None:
        # The rows read before the error were sent: not a clean usage error.
        err.print(f"[red]Input error:[/] {escape(str(result.input_error))}", soft_wrap=True)
        return EXIT_FAILED
    return code


def source_of(from_csv: Path | None, from_jsonl: Path | None, job_id_column: str | None) -> Source:
    """The one input file given (``typer.BadParameter`` for none or both)."""
    if from_csv is not None and from_jsonl is None:
        return Source(from_csv, "csv", job_id_column)
    if from_jsonl is not None and from_csv is None:
        return Source(from_jsonl, "jsonl", job_id_column)
    raise typer.BadParameter("give exactly one of --from-csv FILE or --from-jsonl FILE")


def _rate_limit(
    rate: str | None, no_rate_limit: bool, redis: str | None, redis_key_prefix: str
) -> RateLimit | None:
    """The limit the rate options ask for (``typer.BadParameter`` when they contradict)."""
    if no_rate_limit and rate is not None:
        raise typer.BadParameter("--rate and --no-rate-limit contradict each other")
    rate_limit = None if no_rate_limit else DEFAULT_RATE_LIMIT if rate is None else parse_rate(rate)
    return rate_limit if redis is None else shared_limit(rate_limit, redis, redis_key_prefix)


def shared_limit(rate_limit: RateLimit | None, url: str, key_prefix: str) -> RateLimit:
    """The limit asked for (``--rate`` or the default), kept in Redis at ``url``."""
    if rate_limit is None:
        raise typer.BadParameter(
            "--redis shares the rate limit, --no-rate-limit turns it off", param_hint="--redis"
        )
    try:
        return dataclasses.replace(rate_limit, redis=url, key_prefix=key_prefix)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--redis") from None


def _escape_unencodable_output() -> None:
    """Print what stdout and stderr cannot encode as escapes instead of failing.

    A server's text (an error message) may hold a lone surrogate, which no
    encoding can write: printing it in the summary must not end the command
    with a traceback after every outcome was recorded.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


def _check_journal(location: str, client: PhloClient | None) -> None:
    """Refuse, before anything is sent, a journal the runner would refuse:
    not a journal, damaged, missing its ``-wal`` file, unreachable, or
    written for another account or base URL. Reads only (the runner checks
    again when it opens it)."""
    if not is_database_url(location):
        path = Path(location)
        if not location or path.is_dir():
            fail(f"--journal: {location!r} is not a file name")
        if not path.parent.is_dir():
            fail(f"--journal: directory {path.parent} does not exist")
        if not path.exists():
            return

    async def check() -> None:
        journal = await open_journal(
            location,
            auth_id=None if client is None else client.auth_id,
            base_url=None if client is None else client.base_url,
            create=not is_database_url(location),
            readonly=True,
        )
        await journal.aclose()

    try:
        anyio.run(check)
    except JournalError as exc:
        if is_database_url(location) and exc.missing:
            return  # created by the run
        fail(f"--journal: {exc}")


def _journal_failed(
    out: Console, result: DriveResult, error: JournalError, output: Path | None
) -> int:
    """The journal failed: one line, exit 2 if nothing was sent; else the
    summary too (every job has its outcome; the run stopped at the failure)."""
    if result.report.requests_sent == 0:
        typer.echo(f"plivo-phlo: {error}; nothing was sent", err=True)
        return EXIT_USAGE
    print_summary(out, result, output_hint=None if output is None else str(output))
    typer.echo(f"plivo-phlo: the run stopped: {error}", err=True)
    code = exit_code(result)
    return code if code != EXIT_OK else EXIT_FAILED


def report_validation(console: Console, checked: Validation, source: Source) -> None:
    """Every invalid row (up to ``LISTED``) and the verdict; or that all are valid."""
    name = escape(str(source.path))
    if not checked.invalid_count:
        console.print(
            f"{name}: {checked.rows} rows, all valid. Dry run: nothing was sent.",
            soft_wrap=True,
        )
        return
    for row in checked.invalid[:LISTED]:
        console.print(f"line {row.ref}: {escape(row.reason)}", highlight=False, soft_wrap=True)
    hidden = checked.invalid_count - LISTED
    if hidden > 0:
        console.print(f"... and {hidden} more invalid rows", soft_wrap=True)
    lines = ", ".join(str(row.ref) for row in checked.invalid[:LISTED])
    console.print(
        f"[red]{name}: {checked.invalid_count} of {checked.rows} rows are invalid[/] "
        f"(lines {lines}{', ...' if hidden > 0 else ''}); nothing was sent.",
        soft_wrap=True,
    )
