"""The ``plivo-phlo`` typer application: one command per function."""

from __future__ import annotations

from typing import Annotated

import typer

from .._version import __version__
from ._campaign import campaign_app
from ._demo import demo
from ._help import HelpCommand, HelpGroup
from ._journal import journal_app
from ._run import run
from ._serve import emulator
from ._single import get, get_run, member, mpc

app = typer.Typer(
    cls=HelpGroup,
    name="plivo-phlo",
    help="Plivo PHLOs from the command line: single requests, bulk runs from CSV or "
    "JSONL, and a local emulator. Try `plivo-phlo demo` (no account needed).",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks show local variables, which would include credentials.
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"plivo-phlo (plivo-phlo-async) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Plivo PHLOs from the command line."""


app.command("demo", cls=HelpCommand)(demo)
app.command("run", cls=HelpCommand)(run)
app.command("get", cls=HelpCommand)(get)
app.command("get-run", cls=HelpCommand)(get_run)
app.command("mpc", cls=HelpCommand)(mpc)
app.command("member", cls=HelpCommand)(member)
app.command("emulator", cls=HelpCommand)(emulator)
app.add_typer(journal_app, name="journal")
app.add_typer(campaign_app, name="campaign")
