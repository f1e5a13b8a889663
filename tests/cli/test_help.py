"""Every command's --help at narrow and wide terminals: nothing cut, no
``<bool>`` on flags, every choice whole (issue 19 item 6)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main

from plivo_phlo_async.cli._app import app
from plivo_phlo_async.types._params import MEMBER_ACTIONS, NODE_ACTIONS, ROLES

from .conftest import invoke

WIDTHS = (60, 80, 120)


ROOT: Any = typer.main.get_group(app)


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group, as the words that name it (the root is ())."""
    found = [path]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = _commands(ROOT)


def _help(command: tuple[str, ...], width: int) -> str:
    result = invoke(*command, "--help", env={"COLUMNS": str(width), "TERMINAL_WIDTH": ""})
    assert result.exit_code == 0, result.output
    return result.stdout


def _words(text: str) -> set[str]:
    return set(re.findall(r"[\w+-]+", text))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "root")
def test_help_shows_no_bool_and_cuts_nothing(command: tuple[str, ...], width: int) -> None:
    text = _help(command, width)

    assert "<bool>" not in text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    target = ROOT
    for name in command:
        target = target.commands[name]
    words = _words(text)
    for param in target.params:
        if param.param_type_name == "argument":
            assert param.metavar in text
        elif not param.hidden:
            assert set(param.opts) <= words, param.opts


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("command", "choices"),
    [(("mpc",), NODE_ACTIONS), (("member",), MEMBER_ACTIONS), (("mpc",), ROLES)],
)
def test_every_choice_appears_whole(
    command: tuple[str, ...], choices: tuple[str, ...], width: int
) -> None:
    words = _words(_help(command, width))

    assert {choice.replace("_", "-") for choice in choices} <= words
