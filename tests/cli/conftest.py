"""Fixtures for the CLI tests: a loopback emulator and a way to invoke commands.

Commands run in-process through typer's CliRunner (each one starts its own
event loop, so these tests are synchronous) or, where a real process is the
point (signals, the missing extra), as ``python -m plivo_phlo_async.cli``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plivo_phlo_async.cli._app import app
from plivo_phlo_async.emulator import (
    DEFAULT_AUTH_ID,
    DEFAULT_AUTH_TOKEN,
    EmulatorServer,
    PhloEmulator,
    run_emulator,
)

#: A token nobody else uses, to search every output for.
SECRET_TOKEN = "s3cr3t-TOKEN-do-not-print-7f1c"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """One loopback emulator per module (the default seed, 300 per 5 s, no faults)."""
    with run_emulator() as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> PhloEmulator:
    """The server's emulator, back to its seed for each test."""
    server.emulator.reset()
    return server.emulator


@pytest.fixture
def base_url(server: EmulatorServer) -> str:
    return server.base_url


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's credentials in the environment, as a user would set them."""
    monkeypatch.setenv("PLIVO_AUTH_ID", DEFAULT_AUTH_ID)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``plivo-phlo ARGS`` in-process and capture stdout and stderr apart."""
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def cli_process(
    args: Sequence[str], *, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[str]:
    """``python -m plivo_phlo_async.cli ARGS`` as a real process."""
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "plivo_phlo_async.cli", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
