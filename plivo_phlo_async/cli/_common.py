"""What every command shares: credentials, the client, errors and exit codes.

The exit codes are explained in docs/cli.md ("Exit status"); 3 and 4 mean
the jobs not yet sent were skipped: fix the cause and run again.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import typer

from .._client import PhloClient
from .._exceptions import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    InvalidParameterError,
    PermissionDeniedError,
    PlivoError,
)
from ..types import PlivoObject

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNREACHABLE = 4
EXIT_INTERRUPTED = 130

CREDENTIALS_PANEL = "Credentials and endpoint"

# The token's option never shows a default (click only ever shows the declared
# default, never the environment's value, but say so explicitly) and is never
# printed by any command.
AuthIdOption = Annotated[
    str | None,
    typer.Option(
        "--auth-id",
        envvar="PLIVO_AUTH_ID",
        show_envvar=True,
        show_default=False,
        help="Plivo auth id.",
        rich_help_panel=CREDENTIALS_PANEL,
    ),
]
AuthTokenOption = Annotated[
    str | None,
    typer.Option(
        "--auth-token",
        envvar="PLIVO_AUTH_TOKEN",
        show_envvar=True,
        show_default=False,
        help="Plivo auth token. Prefer the environment variable: options end up in "
        "shell history and process lists.",
        rich_help_panel=CREDENTIALS_PANEL,
    ),
]
BaseUrlOption = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="PLIVO_PHLO_BASE_URL",
        show_envvar=True,
        help="PHLO API base URL; plain http is accepted for a loopback host only "
        "(e.g. the emulator's http://127.0.0.1:PORT/v1) or a host named in "
        "PLIVO_PHLO_INSECURE_HTTP_HOSTS.",
        rich_help_panel=CREDENTIALS_PANEL,
    ),
]


#: How ``run`` and ``campaign submit`` read the Redis of the shared rate limit.
_REDIS_OPTIONS = {
    "--redis": ("URL", "PLIVO_PHLO_REDIS_URL"),
    "--redis-key-prefix": ("PREFIX", "PLIVO_PHLO_REDIS_KEY_PREFIX"),
}


def redis_option(flag: str, help: str, **extra: Any) -> Any:
    """``--redis`` or ``--redis-key-prefix``: where the account's shared limit is kept."""
    metavar, envvar = _REDIS_OPTIONS[flag]
    return typer.Option(flag, metavar=metavar, envvar=envvar, show_envvar=True, help=help, **extra)


#: What a 401 or 403 asks of the user, from ``run`` and single commands alike.
CREDENTIALS_HINT = "Check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN (or --auth-id/--auth-token)"


def sentence(text: str) -> str:
    """``text`` ending in one period: Plivo's messages often end in their own."""
    return text.rstrip().rstrip(".") + "."


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    typer.echo(f"plivo-phlo: {message}", err=True)
    raise typer.Exit(code)


def make_client(auth_id: str | None, auth_token: str | None, base_url: str) -> PhloClient:
    """A client from the options (or their environment variables).

    Missing or malformed settings exit with status 2 before anything is sent;
    no message ever contains the token.
    """
    if not auth_id:
        fail("no auth id: pass --auth-id or set PLIVO_AUTH_ID")
    if not auth_token:
        fail("no auth token: set PLIVO_AUTH_TOKEN (or pass --auth-token)")
    try:
        return PhloClient(auth_id, auth_token, base_url=base_url)
    except ConfigurationError as exc:
        fail(f"configuration error: {exc}")


def describe_error(error: BaseException) -> str:
    """One line: the error's type, its message, and what it means."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, APIStatusError) and error.api_id and error.api_id not in text:
        text += f" [api_id {error.api_id}]"
    if getattr(error, "outcome_unknown", False) and "outcome unknown" not in text.lower():
        text += "; outcome unknown: it may have been executed, so it was not retried"
    return text


def exit_for_error(error: PlivoError) -> NoReturn:
    """Report a failed single request: 2 if it was never sent, 3 if Plivo
    refused the credentials (as ``run``), else 1."""
    if isinstance(error, InvalidParameterError):
        fail(f"invalid input, nothing sent: {error}", EXIT_USAGE)
    if isinstance(error, ConfigurationError):
        fail(f"configuration error: {error}", EXIT_USAGE)
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        fail(f"{sentence(describe_error(error))} {CREDENTIALS_HINT}.", EXIT_AUTH)
    if error.outcome_unknown:
        fail(
            f"outcome unknown: {describe_error(error)}. Check whether it took effect "
            "before sending it again.",
            EXIT_FAILED,
        )
    fail(f"error: {describe_error(error)}", EXIT_FAILED)


def print_json(model: PlivoObject) -> None:
    """Print an answer as indented JSON on stdout (unknown fields included)."""
    data: dict[str, Any] = model.model_dump(mode="json")
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
