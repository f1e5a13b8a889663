"""Reading CSV and JSONL rows: line numbers, keys kept exactly, every problem found."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from plivo_phlo_async import PlivoError, ServerOutcomeUnknownError
from plivo_phlo_async.bulk import Outcome, OutcomeStatus, RunJob
from plivo_phlo_async.cli._io import (
    InputChangedError,
    InputFormatError,
    InvalidRow,
    Source,
    iter_jobs,
    outcome_line,
    outcome_record,
    validate,
)

from .conftest import write

PHLO = "phlo-1"


def rows(path: Path, fmt: str = "csv", column: str | None = None) -> list[RunJob | InvalidRow]:
    return list(iter_jobs(Source(path, fmt, column), PHLO))  # type: ignore[arg-type]


def test_csv_keys_are_kept_exactly_and_values_stay_strings(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "to, First Name,Amount\n+14155550100, Ann ,007\n")

    [job] = rows(path)

    assert isinstance(job, RunJob)
    assert job.phlo_id == PHLO
    assert dict(job.payload) == {"to": "+14155550100", " First Name": " Ann ", "Amount": "007"}
    assert job.job_id is None


def test_csv_ref_is_the_line_where_the_row_starts(tmp_path: Path) -> None:
    # A quoted value spanning two lines, and a blank line: refs follow the file.
    path = write(tmp_path / "in.csv", 'to,note\n1,"two\nlines"\n\n2,x\n')

    jobs = rows(path)

    assert [job.ref for job in jobs] == [2, 5]
    assert isinstance(jobs[0], RunJob)
    assert jobs[0].payload["note"] == "two\nlines"


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeffto\n+1415\n".encode())

    [job] = rows(path)

    assert isinstance(job, RunJob)
    assert list(job.payload) == ["to"]


def test_csv_rows_with_the_wrong_width_are_invalid(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,b\n1,2\n1\n1,2,3\n")

    jobs = rows(path)

    assert isinstance(jobs[0], RunJob)
    assert jobs[1] == InvalidRow(3, "has 1 values, the header has 2 columns")
    assert jobs[2] == InvalidRow(4, "has 3 values, the header has 2 columns")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a,,b\n1,2,3\n", "column 2 has no name"),
        ("a,b,a\n1,2,3\n", "duplicate column names ['a']"),
    ],
)
def test_a_bad_header_rejects_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "in.csv", text)

    with pytest.raises(InputFormatError, match=message.replace("[", r"\[")):
        rows(path)


def test_a_row_that_is_not_utf8_is_invalid_and_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"to\n\xff\xfe\n+1415\n")

    jobs = rows(path)

    assert isinstance(jobs[0], InvalidRow)
    assert jobs[0].ref == 2
    assert "is not UTF-8 text (invalid start byte at byte 1 of the line)" in jobs[0].reason
    assert isinstance(jobs[1], RunJob)
    assert jobs[1].ref == 3


def test_a_header_that_is_not_utf8_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"t\xe9l\n+1415\n")  # Latin-1

    with pytest.raises(InputFormatError, match=r"line 1 \(the header\) is not UTF-8"):
        rows(path)


def test_csv_job_id_column_is_taken_out_of_the_payload(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id,to\nA-1,+1415\n,+1416\nA-1,+1417\n")

    jobs = rows(path, column="id")

    assert isinstance(jobs[0], RunJob)
    assert (jobs[0].job_id, dict(jobs[0].payload)) == ("A-1", {"to": "+1415"})
    assert jobs[1] == InvalidRow(3, "empty job id in column 'id'")
    assert jobs[2] == InvalidRow(4, "job id 'A-1' already used on line 2")


def test_a_missing_job_id_column_rejects_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "to\n+1415\n")

    with pytest.raises(InputFormatError, match="no column 'id'"):
        rows(path, column="id")


def test_jsonl_keeps_json_types_and_counts_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        '{"to": "+1415", "n": 7, "vip": true, "tags": ["a"]}\n\n{"to": "+1416"}\n',
    )

    jobs = rows(path, "jsonl")

    assert [job.ref for job in jobs] == [1, 3]
    assert isinstance(jobs[0], RunJob)
    assert dict(jobs[0].payload) == {"to": "+1415", "n": 7, "vip": True, "tags": ["a"]}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json}", "not a valid JSON object"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"text"', "must be a JSON object, not a string"),
        ('{"to": 1, "to": 2}', "duplicate key 'to'"),
        ('{"to": NaN}', "JSON-serialisable"),
        ('{"": "x"}', "keys must be non-empty strings"),
    ],
)
def test_invalid_jsonl_lines(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "in.jsonl", '{"to": "+1415"}\n' + line + "\n")

    jobs = rows(path, "jsonl")

    assert isinstance(jobs[0], RunJob)
    assert isinstance(jobs[1], InvalidRow)
    assert jobs[1].ref == 2
    assert reason in jobs[1].reason


def test_jsonl_job_ids_may_be_strings_or_integers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        '{"id": 17, "to": "1"}\n{"id": "x", "to": "2"}\n{"to": "3"}\n{"id": true, "to": "4"}\n',
    )

    jobs = rows(path, "jsonl", column="id")

    assert [getattr(job, "job_id", None) for job in jobs[:2]] == ["17", "x"]
    assert isinstance(jobs[0], RunJob)
    assert dict(jobs[0].payload) == {"to": "1"}
    assert jobs[2] == InvalidRow(3, "no 'id' key (for --job-id-column)")
    assert isinstance(jobs[3], InvalidRow)


def test_validate_counts_every_row_and_lists_the_invalid_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,b\n1,2\n3\n4,5\n6\n")

    checked = validate(Source(path, "csv"), PHLO)

    assert checked.rows == 4
    assert checked.valid == 2
    assert [row.ref for row in checked.invalid] == [3, 5]


def test_outcome_record_is_flat_json() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/v1/account/MA/phlo/phlo-1")
    error = ServerOutcomeUnknownError(
        "POST ... failed with 503", response=httpx.Response(503, request=request)
    )
    job = RunJob(PHLO, {"to": "1"}, ref=4)
    outcome = Outcome(
        job,
        4,
        "abc",
        OutcomeStatus.OUTCOME_UNKNOWN,
        http_status=503,
        attempts=1,
        error=error,
        reason="POST ... failed with 503",
    )

    assert outcome_record(outcome) == {
        "ref": 4,
        "job_id": "abc",
        "status": "outcome_unknown",
        "http_status": 503,
        "api_id": None,
        "attempts": 1,
        "error_type": "ServerOutcomeUnknownError",
        "error": "POST ... failed with 503",
        "from_journal": False,
        "reason": "POST ... failed with 503",
    }


def test_validate_keeps_the_first_invalid_rows_and_counts_them_all(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,b\n" + "1\n" * 5 + "1,2\n")

    checked = validate(Source(path, "csv"), PHLO, keep=2)

    assert (checked.rows, checked.invalid_count, checked.valid) == (6, 5, 1)
    assert [row.ref for row in checked.invalid] == [2, 3]


def test_an_outcome_line_with_a_lone_surrogate_is_valid_utf8_and_keeps_the_value() -> None:
    job = RunJob(PHLO, {"to": "1"}, ref=3)
    outcome = Outcome(job, 3, "abc", OutcomeStatus.SUCCEEDED, api_id="run-\ud800", attempts=1)

    line = outcome_line(outcome)

    assert line.endswith("\n")
    assert line.encode("utf-8")  # no lone surrogate left
    assert json.loads(line)["api_id"] == "run-\ud800"


def test_an_unreadable_file_is_one_of_the_packages_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "")

    with pytest.raises(PlivoError, match="is empty: a CSV needs a header row") as caught:
        rows(path)

    assert isinstance(caught.value, InputFormatError)
    assert issubclass(InputChangedError, PlivoError)
