"""The entry point: help, version, the missing-extra hint, and import isolation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plivo_phlo_async import __version__

from .conftest import SECRET_TOKEN, invoke

COMMANDS = ["demo", "run", "get", "get-run", "mpc", "member", "emulator"]


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_every_command() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_never_shows_the_token_from_the_environment(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAHELPTESTAUTHID0001")

    result = invoke(command, "--help")

    assert result.exit_code == 0
    assert SECRET_TOKEN not in result.output
    if command not in ("demo", "emulator"):
        assert "PLIVO_AUTH_TOKEN" in result.stdout  # the variable's name, not its value


def test_without_the_extra_main_prints_a_one_line_hint_and_exits_2() -> None:
    # sys.modules[name] = None makes "import name" raise ImportError.
    result = python(
        "import sys; sys.modules['typer'] = None\n"
        "from plivo_phlo_async.cli import main\n"
        "main(['--help'])"
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == 'plivo-phlo needs the cli extra: pip install "plivo-phlo-async[cli]"\n'


def test_without_rich_too() -> None:
    result = python(
        "import sys; sys.modules['rich'] = None\n"
        "from plivo_phlo_async.cli import main\n"
        "main(['get', 'x'])"
    )

    assert result.returncode == 2
    assert "[cli]" in result.stderr


def test_the_core_package_never_imports_the_cli() -> None:
    # (httpx itself imports click and rich when they are installed, for its own CLI.)
    result = python(
        "import sys, plivo_phlo_async, plivo_phlo_async.bulk\n"
        "loaded = [m for m in sys.modules if m.startswith('plivo_phlo_async.cli')\n"
        "          or m.split('.')[0] in ('typer', 'shellingham')]\n"
        "print(loaded)"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_module_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "plivo_phlo_async.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
    assert __version__ in result.stdout
