"""plivo-phlo run: CSV/JSONL to PHLO runs, dry-run, outcomes file, journal, exit codes."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plivo_phlo_async.cli import _run
from plivo_phlo_async.cli._io import Validation
from plivo_phlo_async.emulator import DEFAULT_AUTH_ID, DEFAULT_PHLO_ID, PhloEmulator

from .conftest import SECRET_TOKEN, invoke, write

pytestmark = pytest.mark.usefixtures("credentials")

RUN_PATH = f"/v1/account/{DEFAULT_AUTH_ID}/phlo/{DEFAULT_PHLO_ID}"
CSV = "to,First Name,amount\n+14155550001,Ann,10\n+14155550002,Bob,20\n+14155550003,Cy,30\n"


def run(base_url: str, *args: str) -> Any:
    return invoke("run", DEFAULT_PHLO_ID, *args, "--base-url", base_url)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_run_per_csv_row_with_the_header_as_keys(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = run(base_url, "--from-csv", str(source))

    assert result.exit_code == 0, result.output
    bodies = [request.json for request in emulator.requests]
    assert all(request.path == RUN_PATH for request in emulator.requests)
    assert sorted(bodies, key=lambda body: body["to"]) == [
        {"to": "+14155550001", "First Name": "Ann", "amount": "10"},
        {"to": "+14155550002", "First Name": "Bob", "amount": "20"},
        {"to": "+14155550003", "First Name": "Cy", "amount": "30"},
    ]
    assert "succeeded" in result.stdout
    assert "total" in result.stdout


def test_the_output_file_has_one_outcome_per_row(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    output = tmp_path / "outcomes.jsonl"

    result = run(base_url, "--from-csv", str(source), "--output", str(output))

    assert result.exit_code == 0
    records = sorted(lines(output), key=lambda record: record["ref"])
    assert [record["ref"] for record in records] == [2, 3, 4]
    run_ids = {a.payload["to"]: a.run_id for a in emulator.executions("run")}
    for record, number in zip(records, sorted(run_ids), strict=True):
        assert record["status"] == "succeeded"
        assert record["api_id"] == run_ids[number]
        assert record["attempts"] == 1
        assert record["error_type"] is None
        assert record["from_journal"] is False
        assert len(record["job_id"]) == 64  # derived from the content


def test_jsonl_payloads_keep_their_json_types(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.jsonl", '{"to": "+14155550001", "n": 1, "vip": true}\n\n{"to": "2"}\n'
    )

    result = run(base_url, "--from-jsonl", str(source))

    assert result.exit_code == 0, result.output
    bodies = sorted((request.json for request in emulator.requests), key=str)
    assert bodies == [{"to": "+14155550001", "n": 1, "vip": True}, {"to": "2"}]


def test_dry_run_checks_every_row_and_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = run(base_url, "--from-csv", str(source), "--dry-run")

    assert result.exit_code == 0
    assert "3 rows, all valid" in result.stdout
    assert "nothing was sent" in result.stdout
    assert emulator.requests == []


def test_dry_run_needs_no_credentials(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLIVO_AUTH_ID")
    monkeypatch.delenv("PLIVO_AUTH_TOKEN")
    source = write(tmp_path / "in.csv", CSV)

    assert run(base_url, "--from-csv", str(source), "--dry-run").exit_code == 0


def test_dry_run_reports_invalid_rows_by_line_number(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "to,name\n+1,a\n+2\n+3,c\n+4,d,extra\n")

    result = run(base_url, "--from-csv", str(source), "--dry-run")

    assert result.exit_code == 2
    assert "line 3: has 1 values" in result.stdout
    assert "line 5: has 3 values" in result.stdout
    assert "2 of 4 rows are invalid (lines 3, 5)" in result.stdout
    assert emulator.requests == []


def test_dry_run_reports_invalid_jsonl_payloads(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", '{"to": "1"}\n{"to": NaN}\n[1]\n{"": 1}\n')

    result = run(base_url, "--from-jsonl", str(source), "--dry-run")

    assert result.exit_code == 2
    for line in ("line 2:", "line 3:", "line 4:"):
        assert line in result.stdout
    assert "line 1:" not in result.stdout
    assert emulator.requests == []


def test_a_real_run_with_an_invalid_row_sends_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "to,name\n+1,a\n+2\n")

    result = run(base_url, "--from-csv", str(source))

    assert result.exit_code == 2
    assert "line 3" in result.stderr
    assert "nothing was sent" in result.stderr
    assert emulator.requests == []


def test_an_invalid_phlo_id_exits_2(emulator: PhloEmulator, base_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = invoke("run", "../x", "--from-csv", str(source), "--base-url", base_url)

    assert result.exit_code == 2
    assert "PHLO_ID" in result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize(
    "args",
    [
        [],  # no input
        ["--from-csv", "{csv}", "--from-jsonl", "{csv}"],
        ["--from-csv", "{csv}", "--rate", "300"],
        ["--from-csv", "{csv}", "--rate", "0/5"],
        ["--from-csv", "{csv}", "--rate", "10/0"],
        ["--from-csv", "{csv}", "--rate", "300/5", "--no-rate-limit"],
        ["--from-csv", "{csv}", "--concurrency", "0"],
        ["--from-csv", "{csv}", "--retry-failed"],  # needs --journal
        ["--from-csv", "{missing}"],
        ["--from-csv", "{csv}", "--job-id-column", "nope"],
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, args: list[str]
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    filled = [arg.format(csv=source, missing=tmp_path / "missing.csv") for arg in args]

    result = run(base_url, *filled)

    assert result.exit_code == 2, result.output
    assert emulator.requests == []


@pytest.mark.parametrize("value", ["0", "-3", "10001", "10000000"])
def test_a_concurrency_outside_1_to_10000_exits_2_with_one_line(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, value: str
) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = run(base_url, "--from-csv", str(source), "--concurrency", value)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"plivo-phlo: --concurrency must be from 1 to 10000, not {value}\n"
    assert emulator.requests == []


def test_rate_option_is_accepted(emulator: PhloEmulator, base_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = run(base_url, "--from-csv", str(source), "--rate", "100/1", "--concurrency", "2")

    assert result.exit_code == 0, result.output
    assert len(emulator.requests) == 3


def test_job_id_column_names_the_jobs_and_is_not_sent(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "id,to\ncust-1,+1\ncust-2,+2\n")
    output = tmp_path / "out.jsonl"

    result = run(
        base_url, "--from-csv", str(source), "--job-id-column", "id", "--output", str(output)
    )

    assert result.exit_code == 0, result.output
    assert sorted(request.json["to"] for request in emulator.requests) == ["+1", "+2"]
    assert all("id" not in request.json for request in emulator.requests)
    assert sorted(record["job_id"] for record in lines(output)) == ["cust-1", "cust-2"]


def test_an_outcome_unknown_job_exits_1_and_is_listed(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    output = tmp_path / "out.jsonl"
    emulator.inject("error", method="POST", status=503)

    result = run(base_url, "--from-csv", str(source), "--output", str(output), "--concurrency", "1")

    assert result.exit_code == 1
    by_status = Counter(record["status"] for record in lines(output))
    assert by_status == {"succeeded": 2, "outcome_unknown": 1}
    [unknown] = [record for record in lines(output) if record["status"] == "outcome_unknown"]
    assert unknown["http_status"] == 503
    assert unknown["error_type"] == "ServerOutcomeUnknownError"
    assert unknown["attempts"] == 1
    assert "Outcome unknown: 1 jobs" in result.stdout
    assert len(emulator.requests) == 3  # not retried


def test_429s_are_waited_out(emulator: PhloEmulator, base_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", CSV)
    output = tmp_path / "out.jsonl"
    emulator.inject("rate_limit", method="POST", retry_after=0)

    result = run(base_url, "--from-csv", str(source), "--output", str(output), "--concurrency", "1")

    assert result.exit_code == 0, result.output
    assert len(emulator.requests) == 4
    assert sorted(record["attempts"] for record in lines(output)) == [1, 1, 2]


def test_a_journal_rerun_sends_nothing_again(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "journal.sqlite"
    output = tmp_path / "out.jsonl"
    emulator.inject("drop_after", method="POST")  # the first job ran; its answer was lost
    first = run(
        base_url, "--from-csv", str(source), "--journal", str(journal), "--concurrency", "1"
    )
    assert first.exit_code == 1
    assert len(emulator.executions("run")) == 3

    second = run(
        base_url, "--from-csv", str(source), "--journal", str(journal), "--output", str(output)
    )

    assert second.exit_code == 1  # the outcome-unknown job still needs a decision
    assert len(emulator.requests) == 3  # nothing new was sent
    records = lines(output)
    assert all(record["from_journal"] for record in records)
    assert Counter(record["status"] for record in records) == {
        "succeeded": 2,
        "outcome_unknown": 1,
    }
    assert "3 jobs settled by the journal" in second.stdout


def test_retry_failed_sends_only_the_definite_failures(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "journal.sqlite"
    emulator.inject("error", method="POST", status=503)  # outcome unknown: never re-sent
    emulator.inject("rate_limit", method="POST", times=3, retry_after=0)  # 3 x 429: failed
    args = ["--from-csv", str(source), "--journal", str(journal), "--concurrency", "1"]
    assert run(base_url, *args).exit_code == 1
    sent = len(emulator.requests)

    again = run(base_url, *args, "--retry-failed")

    assert again.exit_code == 1  # still one outcome unknown
    assert len(emulator.requests) == sent + 1


def test_the_token_is_not_in_the_output_or_the_outcomes(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", SECRET_TOKEN)  # refused by the emulator
    source = write(tmp_path / "in.csv", CSV)
    output = tmp_path / "out.jsonl"

    result = run(base_url, "--from-csv", str(source), "--output", str(output))

    assert result.exit_code == 3  # stopped: the credentials were refused
    assert {record["error_type"] for record in lines(output)} == {"AuthenticationError"}
    assert SECRET_TOKEN not in result.output
    assert SECRET_TOKEN not in output.read_text()


def test_a_journal_in_a_missing_directory_exits_2(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", CSV)

    result = run(base_url, "--from-csv", str(source), "--journal", str(tmp_path / "no" / "j"))

    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert emulator.requests == []


@pytest.mark.parametrize("kind", ["text", "other-sqlite"])
def test_a_file_that_is_not_a_journal_is_refused_and_left_alone(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, kind: str
) -> None:
    source = write(tmp_path / "in.csv", CSV)
    journal = tmp_path / "precious.db"
    if kind == "text":
        journal.write_text("not a database")
    else:
        with sqlite3.connect(journal) as db:
            db.execute("CREATE TABLE customers (name TEXT)")
        db.close()
    before = journal.read_bytes()

    result = run(base_url, "--from-csv", str(source), "--journal", str(journal))

    assert result.exit_code == 2
    assert "is not a plivo-phlo journal" in result.stderr
    assert journal.read_bytes() == before
    assert emulator.requests == []


def test_a_header_only_file_runs_nothing_and_exits_0(
    emulator: PhloEmulator, base_url: str, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.csv", "to,name\n")

    result = run(base_url, "--from-csv", str(source))

    assert result.exit_code == 0, result.output
    assert emulator.requests == []


def test_a_file_that_changes_after_the_check_stops_the_run_with_exit_1(
    emulator: PhloEmulator, base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write(tmp_path / "in.csv", "to,name\n+1,a\n+2\n+3,c\n")
    output = tmp_path / "out.jsonl"
    # As if line 3 had been fine when the file was checked.
    monkeypatch.setattr(_run, "validate", lambda source, phlo_id: Validation(rows=3))

    result = run(base_url, "--from-csv", str(source), "--output", str(output), "--concurrency", "1")

    assert result.exit_code == 1
    assert "line 3 became invalid" in result.stderr
    assert [record["ref"] for record in lines(output)] == [2]  # read before the error
    assert [request.json["to"] for request in emulator.requests] == ["+1"]
