"""plivo-phlo run stops at once on refused credentials (exit 3), when the API
cannot be reached and when the PHLO does not exist (exit 4), with one line that
says what to check; ``--check-phlo`` finds an unknown PHLO before any run."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async.cli._common import EXIT_AUTH, EXIT_UNREACHABLE
from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_PHLO_ID, PhloEmulator

from .conftest import SECRET_TOKEN, invoke, write

ROWS = 300
#: A well-formed PHLO id the emulator does not have (a typo).
UNKNOWN_PHLO = "00000000-0000-4000-8000-00000000a0ff"


def numbers_csv(tmp_path: Path, rows: int = ROWS) -> Path:
    return write(tmp_path / "in.csv", "to\n" + "".join(f"+1415555{n:04d}\n" for n in range(rows)))


def run(
    base_url: str, source: Path, output: Path, *args: str, phlo_id: str = DEFAULT_PHLO_ID
) -> Any:
    return invoke(
        "run",
        phlo_id,
        "--from-csv",
        str(source),
        "--base-url",
        base_url,
        "--output",
        str(output),
        "--no-rate-limit",
        *args,
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_refused_credentials_stop_the_run_with_exit_3(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", emulator.auth_id)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)  # not the emulator's
    output = tmp_path / "outcomes.jsonl"

    result = run(base_url, numbers_csv(tmp_path), output, "--concurrency", "16")

    assert result.exit_code == EXIT_AUTH == 3, result.output
    assert 1 <= len(emulator.requests) <= 16  # one request per worker at most
    assert emulator.executions("run") == []
    stop_lines = [line for line in result.stdout.splitlines() if line.startswith("Stopped:")]
    assert len(stop_lines) == 1
    (line,) = stop_lines
    assert line.startswith("Stopped: authentication failed (401): ")
    assert "Check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN" in line
    assert "The jobs not sent are skipped." in line
    written = records(output)
    assert sorted(r["ref"] for r in written) == list(range(2, ROWS + 2))  # every row
    skipped = [r for r in written if r["status"] == "skipped"]
    assert len(skipped) == ROWS - len(emulator.requests)
    assert all(r["reason"].startswith("stopped: authentication failed (401)") for r in skipped)
    assert {r["error_type"] for r in written if r["status"] == "failed"} == {"AuthenticationError"}
    assert SECRET_TOKEN not in result.output


@pytest.mark.usefixtures("credentials")
def test_an_unreachable_api_stops_the_run_with_exit_4(
    backoffs: list[float], closed_port: int, tmp_path: Path
) -> None:
    output = tmp_path / "outcomes.jsonl"

    result = run(f"http://127.0.0.1:{closed_port}/v1", numbers_csv(tmp_path), output)

    assert result.exit_code == EXIT_UNREACHABLE == 4, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Stopped:")]
    assert line.startswith(f"Stopped: cannot connect to 127.0.0.1:{closed_port}: ")
    assert "Check --base-url" in line
    assert "0 requests sent" in result.stdout  # none connected
    written = records(output)
    assert len(written) == ROWS
    assert all(r["attempts"] == 0 for r in written)
    assert sum(r["status"] == "skipped" for r in written) >= ROWS - 4


@pytest.mark.usefixtures("credentials")
def test_an_unresolvable_host_is_named_with_exit_4(
    backoffs: list[float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    output = tmp_path / "outcomes.jsonl"

    result = run("http://localhost:8123/v1", numbers_csv(tmp_path, 50), output)

    assert result.exit_code == EXIT_UNREACHABLE, result.output
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Stopped:")]
    assert line.startswith("Stopped: cannot resolve host name 'localhost': ")
    assert "Check the host name in --base-url (localhost)" in line
    assert {r["status"] for r in records(output)} == {"skipped"}


@pytest.mark.usefixtures("credentials")
def test_an_unknown_phlo_stops_the_run_with_exit_4(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    output = tmp_path / "outcomes.jsonl"

    result = run(
        base_url, numbers_csv(tmp_path), output, "--concurrency", "16", phlo_id=UNKNOWN_PHLO
    )

    assert result.exit_code == EXIT_UNREACHABLE == 4, result.output
    assert 1 <= len(emulator.requests) <= 16  # one request per worker at most
    assert {r.status for r in emulator.requests} == {404}
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Stopped:")]
    assert line.startswith(
        f"Stopped: PHLO {UNKNOWN_PHLO} not found (404). The jobs not sent are skipped. "
        "Check the PHLO id, and that the PHLO belongs to the account in PLIVO_AUTH_ID"
    )
    written = records(output)
    assert sorted(r["ref"] for r in written) == list(range(2, ROWS + 2))  # every row
    failed = [r for r in written if r["status"] == "failed"]
    assert len(failed) == len(emulator.requests)
    assert {(r["http_status"], r["error_type"]) for r in failed} == {(404, "NotFoundError")}
    skipped = [r for r in written if r["status"] == "skipped"]
    assert len(skipped) == ROWS - len(failed)
    assert {r["reason"] for r in skipped} == {f"stopped: PHLO {UNKNOWN_PHLO} not found (404)"}


def check_phlo(base_url: str, tmp_path: Path, phlo_id: str, *args: str) -> Any:
    return invoke(
        "run",
        phlo_id,
        "--from-csv",
        str(numbers_csv(tmp_path, 5)),
        "--base-url",
        base_url,
        "--check-phlo",
        *args,
    )


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry run", "run"])
def test_check_phlo_exits_4_before_any_run_for_an_unknown_phlo(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, dry_run: list[str]
) -> None:
    result = check_phlo(base_url, tmp_path, UNKNOWN_PHLO, *dry_run)

    assert result.exit_code == EXIT_UNREACHABLE, result.output
    assert result.stderr == (
        f"plivo-phlo: PHLO {UNKNOWN_PHLO} not found (404) for account {DEFAULT_AUTH_ID} at "
        f"{base_url.rstrip('/')}: check the PHLO id; no run was sent\n"
    )
    assert [(r.method, r.path) for r in emulator.requests] == [("GET", f"/v1/phlo/{UNKNOWN_PHLO}")]


@pytest.mark.usefixtures("credentials")
def test_check_phlo_with_dry_run_makes_one_lookup_and_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    result = check_phlo(base_url, tmp_path, DEFAULT_PHLO_ID, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "5 rows, all valid. Dry run: nothing was sent." in result.stdout
    assert f"PHLO {DEFAULT_PHLO_ID} exists (" in result.stdout
    assert [(r.method, r.path) for r in emulator.requests] == [
        ("GET", f"/v1/phlo/{DEFAULT_PHLO_ID}")
    ]


@pytest.mark.usefixtures("credentials")
def test_check_phlo_looks_the_phlo_up_before_the_run(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    result = check_phlo(base_url, tmp_path, DEFAULT_PHLO_ID)

    assert result.exit_code == 0, result.output
    methods = [r.method for r in emulator.requests]
    assert methods == ["GET"] + ["POST"] * 5
    assert len(emulator.executions("run")) == 5


def test_check_phlo_with_refused_credentials_exits_3_and_runs_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_ID", emulator.auth_id)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)

    result = check_phlo(base_url, tmp_path, DEFAULT_PHLO_ID)

    assert result.exit_code == EXIT_AUTH, result.output
    assert result.stderr.startswith("plivo-phlo: --check-phlo: AuthenticationError: ")
    assert result.stderr.endswith("; no run was sent\n")
    assert result.stderr.count("\n") == 1
    assert [r.method for r in emulator.requests] == ["GET"]
    assert SECRET_TOKEN not in result.output
