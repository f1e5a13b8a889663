"""Help that reads well at any terminal width: ``cls=`` for every command.

typer's rich panels put each option in a seven-column table whose cells are
cut with an ellipsis when the terminal is narrow (``--trigger-so…``, a
truncated default URL), fold type names mid-word and show ``<bool>`` on every
flag. These classes keep typer's layout (usage, text, titled panels) but draw
each panel as two columns from click's own help record, which leaves the type
out for flags; the text wraps at spaces and no cell is ever cut.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer import rich_utils
from typer.core import TyperCommand, TyperGroup

__all__ = ["HelpCommand", "HelpGroup"]


def _options_panel(
    *, name: str, params: Sequence[Any], ctx: Any, console: Console, **_: object
) -> None:
    """One titled panel: "--name TYPE" (an argument: its metavar) on the left,
    the help and its extras (env var, default, required) on the right."""
    rows = []
    for param in params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, text = record
        if param.param_type_name == "argument" and param.metavar:
            names = param.metavar  # its type is in the text (the choices) or plain text
        rows.append((names, text))
    if not rows:
        return
    table = Table(show_header=False, box=None, expand=True, padding=(0, 1), pad_edge=False)
    table.add_column(overflow="fold", max_width=32)
    table.add_column(overflow="fold", ratio=1)
    for names, text in rows:
        table.add_row(rich_utils.highlighter(Text(names)), rich_utils.highlighter(Text(text)))
    console.print(
        Panel(
            table,
            border_style=rich_utils.STYLE_OPTIONS_PANEL_BORDER,
            title=name,
            title_align=rich_utils.ALIGN_OPTIONS_PANEL,
        )
    )


def _one_paragraph_per_block(paragraphs: list[str], markup_mode: str) -> str:
    """A docstring's hard line breaks are not the terminal's: rewrap paragraphs."""
    return "\n\n".join(paragraph.replace("\n", " ") for paragraph in paragraphs)


@contextmanager
def _compact_panels() -> Iterator[None]:
    saved = rich_utils._print_options_panel, rich_utils._fix_linebreaks
    rich_utils._print_options_panel = _options_panel
    rich_utils._fix_linebreaks = _one_paragraph_per_block
    try:
        yield
    finally:
        rich_utils._print_options_panel, rich_utils._fix_linebreaks = saved


class HelpCommand(TyperCommand):
    """A typer command whose ``--help`` uses the panels above."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _compact_panels():
            super().format_help(ctx, formatter)


class HelpGroup(TyperGroup):
    """A typer group whose ``--help`` uses the panels above."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with _compact_panels():
            super().format_help(ctx, formatter)
