"""A client that cannot be built (a credential that is not text, a broken proxy or
CA setting in the environment) exits 2 with one line naming the setting, before
anything is sent, and never prints the token."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_PHLO_ID, PhloEmulator

from .conftest import SECRET_TOKEN, cli_process, invoke


def test_a_token_with_a_byte_that_is_not_utf8_exits_2_with_one_line(
    emulator: PhloEmulator, base_url: str
) -> None:
    token = os.fsdecode(SECRET_TOKEN.encode() + b"\xff")  # as the shell's $'...\xff' gives it
    process = cli_process(
        ["get", DEFAULT_PHLO_ID, "--base-url", base_url],
        env={"PLIVO_AUTH_ID": DEFAULT_AUTH_ID, "PLIVO_AUTH_TOKEN": token},
    )
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 2, stderr
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "PLIVO_AUTH_TOKEN" in stderr
    assert SECRET_TOKEN not in stderr
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("PLIVO_AUTH_ID", "MA:XXXXXXXXXXXXXXXXX", "auth id must not contain ':'"),
        ("HTTPS_PROXY", "ftp://proxy.example.com", "HTTPS_PROXY"),
        ("SSL_CERT_FILE", "{tmp}/missing.pem", "SSL_CERT_FILE"),
    ],
)
def test_a_broken_setting_in_the_environment_exits_2_with_one_line(
    emulator: PhloEmulator,
    base_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    variable: str,
    value: str,
    named: str,
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", DEFAULT_AUTH_ID)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv(variable, value.format(tmp=tmp_path))

    result = invoke("get", DEFAULT_PHLO_ID, "--base-url", base_url)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "configuration error" in result.stderr
    assert named in result.stderr
    assert SECRET_TOKEN not in result.output
    assert emulator.requests == []
